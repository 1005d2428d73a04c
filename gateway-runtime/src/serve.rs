//! Serving an [`App`] on a TCP listener.

use crate::app::App;
use axum::serve::ListenerExt;
use axum::Router;
use std::future::IntoFuture;
use std::io;
use std::net::SocketAddr;
use tokio::net::{TcpListener, ToSocketAddrs};

/// Binds `addr` and serves `app` until the process ends.
///
/// # Errors
/// When the address cannot be bound, the app fails to build (e.g. a duplicate path), or accepting
/// fails.
pub async fn serve(addr: impl ToSocketAddrs, app: App) -> io::Result<()> {
    serve_on(TcpListener::bind(addr).await?, app).await
}

/// Serves `app` on a listener you bound yourself (to print its address, or to use port 0).
///
/// # Errors
/// When the app fails to build (e.g. a duplicate path) or accepting fails.
///
/// Gateways with their own `port` are served on that port of the listener's IP address.
pub async fn serve_on(listener: TcpListener, app: App) -> io::Result<()> {
    let routers = app
        .into_routers()
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
    let ip = listener.local_addr()?.ip();
    let mut servers = vec![serve_router(listener, routers.main)];
    for (port, router) in routers.own_ports {
        let listener = TcpListener::bind((ip, port)).await?;
        servers.push(serve_router(listener, router));
    }
    futures_util::future::try_join_all(servers).await.map(drop)
}

fn serve_router(
    listener: TcpListener,
    router: Router,
) -> impl std::future::Future<Output = io::Result<()>> {
    // Small messages must not wait for Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .into_future()
}
