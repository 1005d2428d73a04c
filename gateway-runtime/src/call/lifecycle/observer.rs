//! [`Observer`]: sees every connection attempt open and, later, its whole outcome.

use crate::base::handshake::Handshake;
use crate::base::ids::ConnectionId;
use axum::http::StatusCode;
use futures_util::future::BoxFuture;
use std::future::Future;
use std::time::Duration;

/// Watches connections: `on_open` when the upgrade request arrives (before middleware and
/// guards), `on_close` with a [`CloseSummary`] when it is over, including when a middleware or
/// guard refused it. Observers run app → controller → method, for both hooks.
///
/// ```
/// use gateway::lifecycle::{CloseSummary, Handshake, Observer};
///
/// struct CountCloses(std::sync::atomic::AtomicU64);
///
/// impl Observer for CountCloses {
///     async fn on_close(&self, summary: &CloseSummary) {
///         self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an observer",
    label = "this value is used as an observer but does not implement `Observer`",
    note = "implement `gateway::lifecycle::Observer` for `{Self}`"
)]
pub trait Observer: Send + Sync + 'static {
    /// The upgrade request has arrived.
    fn on_open(&self, handshake: &Handshake) -> impl Future<Output = ()> + Send {
        let _ = handshake;
        async {}
    }

    /// A resumable session's client came back on a new connection (after that connection's
    /// `on_open` and the middleware and guards admitted it). `on_close` comes once, when the
    /// session ends for good.
    fn on_resume(&self, resumed: &Resumed) -> impl Future<Output = ()> + Send {
        let _ = resumed;
        async {}
    }

    /// The connection is over (or was refused before the upgrade).
    fn on_close(&self, summary: &CloseSummary) -> impl Future<Output = ()> + Send {
        let _ = summary;
        async {}
    }
}

/// Who ended a connection.
///
/// ```
/// use gateway::lifecycle::{CloseSummary, ClosedBy, Observer};
///
/// /// Counts the connections the server had to end.
/// struct ServerCloses(std::sync::atomic::AtomicU64);
///
/// impl Observer for ServerCloses {
///     async fn on_close(&self, summary: &CloseSummary) {
///         if summary.closed_by == ClosedBy::Server {
///             self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         }
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedBy {
    /// The server sent the first Close frame (a handler, a ping timeout, a limit, a panic).
    Server,
    /// The client sent the first Close frame.
    Client,
    /// The TCP connection ended without a Close frame.
    Network,
    /// A middleware or guard answered the upgrade request with this status; no upgrade happened.
    Rejected(StatusCode),
}

/// The whole outcome of one connection, given to [`Observer::on_close`].
///
/// ```
/// use gateway::prelude::*;
///
/// struct Chat;
///
/// #[gateway("chat")]
/// impl Chat {
///     #[on_disconnect]
///     async fn left(&self, summary: CloseSummary) {
///         println!("{} left after {:?}: {:?}", summary.path, summary.duration, summary.code);
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct CloseSummary {
    /// The client's id; `None` when the connection was refused before the upgrade.
    pub client_id: Option<ConnectionId>,
    /// The request path (`/example/websocket`).
    pub path: String,
    /// Who ended it.
    pub closed_by: ClosedBy,
    /// The close code of the first Close frame, if there was one.
    pub code: Option<u16>,
    /// The reason of the first Close frame (empty if none).
    pub reason: String,
    /// From the upgrade request to the end.
    pub duration: Duration,
    /// Data messages received from the client.
    pub messages_in: u64,
    /// Data messages sent to the client.
    pub messages_out: u64,
    /// What went wrong, if the end was caused by an error (a panic, a protocol error).
    pub error: Option<String>,
}

pub(crate) trait DynObserver: Send + Sync {
    fn on_open<'a>(&'a self, handshake: &'a Handshake) -> BoxFuture<'a, ()>;
    fn on_resume<'a>(&'a self, resumed: &'a Resumed) -> BoxFuture<'a, ()>;
    fn on_close<'a>(&'a self, summary: &'a CloseSummary) -> BoxFuture<'a, ()>;
}

impl<O: Observer> DynObserver for O {
    fn on_open<'a>(&'a self, handshake: &'a Handshake) -> BoxFuture<'a, ()> {
        Box::pin(Observer::on_open(self, handshake))
    }

    fn on_resume<'a>(&'a self, resumed: &'a Resumed) -> BoxFuture<'a, ()> {
        Box::pin(Observer::on_resume(self, resumed))
    }

    fn on_close<'a>(&'a self, summary: &'a CloseSummary) -> BoxFuture<'a, ()> {
        Box::pin(Observer::on_close(self, summary))
    }
}

/// A client came back and its session goes on, given to [`Observer::on_resume`].
///
/// [`Observer::on_resume`]: Observer::on_resume
#[derive(Debug, Clone)]
pub struct Resumed {
    /// The session's client (the same id as before).
    pub client_id: ConnectionId,
    /// The endpoint's path.
    pub path: String,
    /// How long the client was away.
    pub away: Duration,
    /// Messages written again: sent before the drop and not acknowledged, then those queued
    /// while it was away follow as new ones.
    pub replayed: usize,
}
