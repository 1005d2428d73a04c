//! Serving an [`App`] on a TCP listener, forever or until a shutdown signal.

use crate::app::App;
use axum::serve::ListenerExt;
use axum::Router;
use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::watch;

/// Binds `addr` and serves `app` until the process ends.
///
/// # Errors
/// When the address cannot be bound, the app fails to build (e.g. a duplicate path), or accepting
/// fails.
pub async fn serve(addr: impl ToSocketAddrs, app: App) -> io::Result<()> {
    serve_on(TcpListener::bind(addr).await?, app).await
}

/// Serves `app` on a listener you bound yourself (to print its address, or to use port 0).
/// Gateways with their own `port` are served on that port of the listener's IP address.
///
/// # Errors
/// When the app fails to build (e.g. a duplicate path) or accepting fails.
pub async fn serve_on(listener: TcpListener, app: App) -> io::Result<()> {
    serve_on_with_shutdown(listener, app, std::future::pending())
        .await
        .map(drop)
}

/// Binds `addr` and serves `app` until `signal` resolves, then shuts down gracefully (see
/// [`serve_on_with_shutdown`]). Returns how many connections were drained.
///
/// # Errors
/// As [`serve`].
pub async fn serve_with_shutdown(
    addr: impl ToSocketAddrs,
    app: App,
    signal: impl Future<Output = ()> + Send + 'static,
) -> io::Result<usize> {
    serve_on_with_shutdown(TcpListener::bind(addr).await?, app, signal).await
}

/// Serves `app` on `listener` until `signal` resolves, then shuts down gracefully: no new
/// connections are accepted (an upgrade request still in flight gets HTTP 503), every open
/// connection gets the messages already queued for it and then Close 1001 "server shutting
/// down", and the server waits for the clients' Close replies up to the drain timeout
/// ([`App::drain_timeout`], 10 s by default). Returns how many connections were drained.
///
/// ```no_run
/// # async fn run(app: gateway::App) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let ctrl_c = async { tokio::signal::ctrl_c().await.ok(); };
/// let drained = gateway::serve_on_with_shutdown(listener, app, ctrl_c).await?;
/// println!("drained {drained} connections");
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// As [`serve_on`].
pub async fn serve_on_with_shutdown(
    listener: TcpListener,
    app: App,
    signal: impl Future<Output = ()> + Send + 'static,
) -> io::Result<usize> {
    let drainer = app.drainer();
    let routers = app
        .into_routers()
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
    let (stop, stopped) = watch::channel(false);
    let ip = listener.local_addr()?.ip();
    let mut servers = vec![serve_router(listener, routers.main, stopped.clone())];
    for (port, router) in routers.own_ports {
        let listener = TcpListener::bind((ip, port)).await?;
        servers.push(serve_router(listener, router, stopped.clone()));
    }
    let signal = {
        let drainer = drainer.clone();
        async move {
            signal.await;
            drainer.refuse_new_connections();
            stop.send(true).ok();
        }
    };
    tokio::spawn(signal);
    futures_util::future::try_join_all(servers).await?;
    Ok(drainer.drain().await)
}

fn serve_router(
    listener: TcpListener,
    router: Router,
    mut stopped: watch::Receiver<bool>,
) -> impl Future<Output = io::Result<()>> {
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
    .with_graceful_shutdown(async move {
        stopped.wait_for(|stopped| *stopped).await.ok();
    })
    .into_future()
}

/// Resolves on Ctrl-C, or on SIGTERM (what `kill`, systemd and container runtimes send): the
/// usual `signal` for [`serve_with_shutdown`].
pub async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
