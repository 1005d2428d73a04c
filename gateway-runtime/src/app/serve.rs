//! Serving an [`App`] on a TCP listener, forever or until a shutdown signal.
//!
//! The accept loop is our own (rather than `axum::serve`) for one reason: a hyper timer, without
//! which hyper's header-read timeout does nothing, so a client that opens TCP connections and
//! never finishes a request (slowloris) would hold them forever.

use crate::app::App;
use axum::extract::connect_info::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::time::Duration;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{mpsc, watch};

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
/// [`serve_on_with_shutdown`]). Returns how many connections and event streams were drained.
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
/// down", every Server-Sent Events stream ends, and the server waits for the clients' Close
/// replies (and the event streams' last bytes) up to the drain timeout ([`App::drain_timeout`],
/// 10 s by default). Returns how many connections and event streams were drained.
///
/// ```no_run
/// # async fn run(app: gateway::App) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let drained = gateway::serve_on_with_shutdown(listener, app, gateway::shutdown_signal()).await?;
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
    // One configuration for every connection (each `serve_connection` copies what it needs).
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(routers.handshake_timeout)
        .max_buf_size(routers.max_request_head);
    let drain_timeout = drainer.timeout();
    let mut servers = vec![accept_loop(
        listener,
        routers.main,
        stopped.clone(),
        http.clone(),
        drain_timeout,
    )];
    for (port, router) in routers.own_ports {
        let listener = TcpListener::bind((ip, port)).await?;
        servers.push(accept_loop(
            listener,
            router,
            stopped.clone(),
            http.clone(),
            drain_timeout,
        ));
    }
    // The drain begins with the signal, while the HTTP connections finish: an event stream is
    // both (the drain ends it, then its HTTP connection closes), and both wait at most the
    // drain timeout.
    let shutdown = async {
        signal.await;
        drainer.refuse_new_connections();
        stop.send(true).ok();
        drainer.drain().await
    };
    let (_, drained) = tokio::join!(futures_util::future::join_all(servers), shutdown);
    Ok(drained)
}

/// Accepts connections until `stopped`, then lets the HTTP connections still open finish their
/// requests, for up to `drain_timeout` (upgraded WebSocket connections are the drainer's).
async fn accept_loop(
    listener: TcpListener,
    router: Router,
    mut stopped: watch::Receiver<bool>,
    http: http1::Builder,
    drain_timeout: Duration,
) {
    // Every connection task holds a sender; when all are gone, `open.recv()` ends.
    let (connection_open, mut open) = mpsc::channel::<()>(1);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = until_stopped(&mut stopped) => break,
        };
        // Small messages must not wait for Nagle's algorithm.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            tower_service::Service::call(&mut router.clone(), request)
        });
        let mut stopped = stopped.clone();
        let connection_open = connection_open.clone();
        let connection = http
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        tokio::spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(error) = served {
                        tracing::trace!(%error, "HTTP connection ended with an error");
                    }
                }
                () = until_stopped(&mut stopped) => {
                    connection.as_mut().graceful_shutdown();
                    connection.await.ok();
                }
            }
            drop(connection_open);
        });
    }
    drop(connection_open);
    if tokio::time::timeout(drain_timeout, open.recv())
        .await
        .is_err()
    {
        tracing::warn!("drain timeout: leaving the HTTP connections that did not finish");
    }
}

/// Resolves once the shutdown signal has fired (or its sender is gone).
async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    // The borrow `wait_for` returns is dropped here: it must not live across an await.
    let _ = stopped.wait_for(|stopped| *stopped).await.map(drop);
}

/// Accept errors are transient (a client gave up) or mean the process is out of file
/// descriptors; either way the server goes on, pausing briefly in the second case so it does not
/// spin.
async fn accept_failed(error: io::Error) {
    let per_connection = matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    );
    if !per_connection {
        tracing::error!(%error, "accepting a connection failed; retrying shortly");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
