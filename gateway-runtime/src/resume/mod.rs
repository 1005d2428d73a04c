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
pub(crate) mod protocol;
pub(crate) mod replay;
pub(crate) mod sessions;
pub(crate) mod token;

use crate::connection::ConnectionId;
pub use protocol::FreshReason;
use std::time::Duration;

/// How many messages a session keeps for its client (written but not acknowledged, and queued
/// while it is away) by default.
pub const DEFAULT_RESUME_BUFFER_MESSAGES: usize = 1024;

/// How many payload bytes a session keeps for its client by default: 1 MiB.
pub const DEFAULT_RESUME_BUFFER_BYTES: usize = 1 << 20;

/// How many sessions an endpoint keeps parked (client away) by default.
pub const DEFAULT_PARKED_SESSIONS: usize = 10_000;

/// How many payload bytes an endpoint's parked sessions keep by default: 256 MiB.
pub const DEFAULT_PARKED_BYTES: usize = 256 << 20;

/// The bounds on what resumable sessions keep (see [`App::resume_limits`]).
///
/// A session past its buffer is *lost*: it keeps nothing more, and its client is told `lost`
/// when it tries to resume. Past the parked bounds the oldest parked session ends (its client
/// is told `expired`).
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
    /// Payload bytes one endpoint's parked sessions keep in all.
    pub parked_bytes: usize,
}

impl Default for ResumeLimits {
    fn default() -> Self {
        Self {
            buffer_messages: DEFAULT_RESUME_BUFFER_MESSAGES,
            buffer_bytes: DEFAULT_RESUME_BUFFER_BYTES,
            parked_sessions: DEFAULT_PARKED_SESSIONS,
            parked_bytes: DEFAULT_PARKED_BYTES,
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
