//! Graceful shutdown: refuse new connections, close the open ones with 1001 after what is queued
//! for them, and wait for them to end, up to a deadline.

use crate::base::close::close_code;
use crate::hub::Hub;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Shuts an app's connections down gracefully. Get it from [`App::drainer`](crate::App::drainer)
/// before serving; [`serve_with_shutdown`](crate::serve_with_shutdown) uses it for you. With a
/// plain `axum::serve(..).with_graceful_shutdown(signal)`, drain inside the signal:
/// `with_graceful_shutdown(async move { signal.await; drainer.drain().await; })`. axum's graceful
/// shutdown does not wait for upgraded connections, and waits for event streams until they end.
///
/// ```no_run
/// # async fn demo(app: gateway::App, listener: tokio::net::TcpListener) -> std::io::Result<()> {
/// let drainer = app.drainer();
/// let router = app.into_router().expect("no duplicate paths");
/// axum::serve(listener, router)
///     .with_graceful_shutdown(async move {
///         gateway::shutdown_signal().await;
///         let drained = drainer.drain().await;
///         println!("drained {drained} connections");
///     })
///     .await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Drainer {
    hub: Hub,
    draining: Arc<AtomicBool>,
    timeout: Duration,
}

impl Drainer {
    pub(crate) fn new(hub: Hub, draining: Arc<AtomicBool>, timeout: Duration) -> Self {
        Self {
            hub,
            draining,
            timeout,
        }
    }

    /// From now on, new upgrade requests get HTTP 503.
    pub fn refuse_new_connections(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Refuses new connections, sends every open connection what is queued for it and then
    /// Close 1001 "server shutting down", ends every Server-Sent Events stream (the client sees
    /// the stream end; `EventSource` reconnects to another instance), and waits until all have
    /// ended or the drain timeout passed. Returns how many connections and event streams were
    /// open when the drain began.
    pub async fn drain(&self) -> usize {
        self.refuse_new_connections();
        let open = self
            .hub
            .close_all(close_code::GOING_AWAY, "server shutting down")
            + self.hub.end_event_streams();
        if tokio::time::timeout(self.timeout, self.hub.until_empty())
            .await
            .is_err()
        {
            tracing::warn!(
                left = self.hub.local_count(),
                "drain timeout: dropping the connections that did not close"
            );
        }
        open
    }

    /// How long a drain waits for connections to end.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }
}
