//! Resumable sessions (`#[gateway("path", resume = "2m")]`): a client whose connection drops
//! comes back within the window with the same [`ConnectionId`], rooms, presence and stored
//! values, and receives every message it missed, once, in order, before anything new. The wire
//! protocol is in the README ("Resumable sessions"); in short: the server's first message is
//! `$session` with a token, every data message it sends after that is numbered (1, 2, 3, … in
//! the order written, implicitly), the client acknowledges with `$ack`, and a client that
//! reconnects with `?resume` sends `$resume` with its token and the last number it has.
//!
//! [`ConnectionId`]: crate::ConnectionId

#[cfg(feature = "redis")]
pub(crate) mod journal;
pub(crate) mod kept;
pub(crate) mod replay;
pub(crate) mod sessions;

use crate::base::handshake::Handshake;
pub use crate::base::protocol::FreshReason;
use crate::call::connection::ConnectionId;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// How many messages a session keeps for its client (written but not acknowledged, and queued
/// while it is away) by default.
pub const DEFAULT_RESUME_BUFFER_MESSAGES: usize = 1024;

/// How many payload bytes a session keeps for its client by default: 1 MiB.
pub const DEFAULT_RESUME_BUFFER_BYTES: usize = 1 << 20;

/// How many sessions an endpoint keeps parked (client away) by default.
pub const DEFAULT_PARKED_SESSIONS: usize = 10_000;

/// How many payload bytes all resumable sessions of the app keep by default, each distinct
/// payload counted once: 256 MiB.
pub const DEFAULT_KEPT_BYTES: usize = 256 << 20;

/// The bounds on what resumable sessions keep (see [`App::resume_limits`]).
///
/// A session past its buffer is *lost*: it keeps nothing more, and its client is told `lost`
/// when it tries to resume. So is one that keeps more than its share (the budget divided among
/// the sessions) while the app keeps more than [`kept_bytes`](Self::kept_bytes), and any
/// session that keeps more at twice that budget. Past [`parked_sessions`](Self::parked_sessions)
/// a parked session ends (its client is told `expired`): the oldest of the client (see
/// [`ClientKey`]) that has the most parked. So one client, from one address or as one identity,
/// ends only its own sessions for as long as it has more parked than anyone else.
///
/// ```
/// use gateway::prelude::*;
/// use gateway::resume::ResumeLimits;
///
/// let app = App::new().resume_limits(ResumeLimits {
///     buffer_messages: 256,
///     ..ResumeLimits::default()
/// });
/// ```
///
/// [`App::resume_limits`]: crate::App::resume_limits
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumeLimits {
    /// Messages one session keeps for its client.
    pub buffer_messages: usize,
    /// Payload bytes one session keeps for its client.
    pub buffer_bytes: usize,
    /// Sessions one endpoint keeps parked.
    pub parked_sessions: usize,
    /// Payload bytes all resumable sessions of the app keep (written and not acknowledged, or
    /// waiting for a client that is away), each distinct payload counted once however many
    /// sessions keep it.
    pub kept_bytes: usize,
}

impl Default for ResumeLimits {
    fn default() -> Self {
        Self {
            buffer_messages: DEFAULT_RESUME_BUFFER_MESSAGES,
            buffer_bytes: DEFAULT_RESUME_BUFFER_BYTES,
            parked_sessions: DEFAULT_PARKED_SESSIONS,
            kept_bytes: DEFAULT_KEPT_BYTES,
        }
    }
}

impl ResumeLimits {
    /// Whether one more message of `size` bytes fits a session's buffer holding `messages`
    /// messages of `bytes` bytes.
    pub(crate) fn fits(&self, messages: usize, bytes: usize, size: usize) -> bool {
        messages < self.buffer_messages && bytes + size <= self.buffer_bytes
    }
}

/// Whose a resumable session is, for the fairness of the parked-session bound (see
/// [`ResumeLimits`]). By default a client is its address (IPv6 by its /64 prefix, which one
/// host typically owns whole); behind a proxy every client has the proxy's address, so a
/// middleware that knows who the client is (a user id, the forwarded address) says so:
///
/// ```
/// use gateway::lifecycle::{Handshake, Middleware, Response};
/// use gateway::resume::ClientKey;
///
/// struct ForwardedFor;
///
/// impl Middleware for ForwardedFor {
///     async fn handle(&self, handshake: &mut Handshake) -> Result<(), Response> {
///         if let Some(address) = handshake.header("x-forwarded-for").map(str::to_owned) {
///             handshake.insert_data(ClientKey::new(address));
///         }
///         Ok(())
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey(Client);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Client {
    Named(Arc<str>),
    Address(IpAddr),
}

impl ClientKey {
    /// The client called `name` (an identity, or an address the app trusts).
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Self(Client::Named(name.into()))
    }

    /// The key a middleware attached, else the client's address (IPv6 by its /64 prefix).
    pub(crate) fn of(handshake: &Handshake) -> Self {
        if let Some(key) = handshake.data::<ClientKey>() {
            return key.clone();
        }
        let address = match handshake.remote_addr().map(|addr| addr.ip()) {
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
            },
            Some(v4) => v4,
            // Not known (the server was not started with connect info): one shared client.
            None => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        };
        Self(Client::Address(address))
    }
}

/// A client came back and its session goes on, given to [`Observer::on_resume`].
///
/// [`Observer::on_resume`]: crate::Observer::on_resume
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
