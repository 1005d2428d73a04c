//! The app's settings in one place: the builder fills them, and every endpoint and connection
//! reads the same value (shared by `Arc`, never copied field by field).

use std::time::Duration;

/// The largest message accepted by default: 1 MiB. tungstenite's own default (64 MiB) lets one
/// client make the server buffer 64 MiB.
pub const DEFAULT_MAX_MESSAGE: usize = 1 << 20;

/// How long the server waits for the client's Close after sending its own.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How many messages may wait for a client before it counts as behind (see
/// [`App::outbound_queue`](crate::App::outbound_queue)).
pub const DEFAULT_OUTBOUND_QUEUE: usize = 1024;

/// How many payload bytes may wait for a client before it counts as behind: 4 MiB (see
/// [`App::outbound_bytes`](crate::App::outbound_bytes)).
pub const DEFAULT_OUTBOUND_BYTES: usize = 4 << 20;

/// How long a client may stay behind before the slow-consumer policy applies.
pub const DEFAULT_SLOW_CONSUMER_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a client may take to send its whole HTTP request (the upgrade request included)
/// before its connection is dropped.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest HTTP request head (request line and headers) [`serve`](crate::serve) reads:
/// 16 KiB. Browsers send a few KiB; hyper's own default (about 400 KB) lets every connection
/// make the server hold that much.
pub const DEFAULT_MAX_REQUEST_HEAD: usize = 16 << 10;

/// How many of the server's requests may wait for one client's answers by default (see
/// [`App::max_client_requests`](crate::App::max_client_requests)).
pub const DEFAULT_MAX_CLIENT_REQUESTS: usize = 64;

/// How long a graceful shutdown waits for clients to answer the Close by default.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections allowed when the process's open-file limit cannot be read.
const FALLBACK_MAX_CONNECTIONS: usize = 10_000;

/// Descriptors kept for listeners, files and outgoing connections (Redis, databases).
const SPARE_DESCRIPTORS: usize = 100;

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) max_message: usize,
    pub(crate) close_timeout: Duration,
    pub(crate) outbound_queue: usize,
    pub(crate) outbound_bytes: usize,
    pub(crate) slow_consumer: SlowConsumer,
    pub(crate) slow_consumer_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_request_head: usize,
    pub(crate) drain_timeout: Duration,
    pub(crate) max_frames: u32,
    pub(crate) message_timeout: Duration,
    pub(crate) inbound_budget: usize,
    pub(crate) resume_limits: ResumeLimits,
    pub(crate) max_client_requests: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_message: DEFAULT_MAX_MESSAGE,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            outbound_queue: DEFAULT_OUTBOUND_QUEUE,
            outbound_bytes: DEFAULT_OUTBOUND_BYTES,
            slow_consumer: SlowConsumer::default(),
            slow_consumer_timeout: DEFAULT_SLOW_CONSUMER_TIMEOUT,
            max_connections: default_max_connections(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_request_head: DEFAULT_MAX_REQUEST_HEAD,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            max_frames: DEFAULT_MAX_FRAMES,
            message_timeout: DEFAULT_MESSAGE_TIMEOUT,
            inbound_budget: DEFAULT_INBOUND_BUDGET,
            resume_limits: ResumeLimits::default(),
            max_client_requests: DEFAULT_MAX_CLIENT_REQUESTS,
        }
    }
}

/// The default for [`App::max_connections`](crate::App::max_connections): what the process's
/// open-file limit allows, less a few spare descriptors, so a flood of idle clients gets HTTP
/// 503 before the process runs out of descriptors (and new clients would time out instead).
pub(crate) fn default_max_connections() -> usize {
    open_file_limit()
        .map_or(FALLBACK_MAX_CONNECTIONS, |limit| {
            limit.saturating_sub(SPARE_DESCRIPTORS)
        })
        .max(1)
}

/// The soft `RLIMIT_NOFILE`, from `/proc/self/limits` (Linux).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_connection_limit_stays_under_the_open_file_limit() {
        let limit = super::open_file_limit().expect("Linux /proc/self/limits");
        assert!(super::default_max_connections() < limit);
    }
}

/// How many frames one message may have by default. Browsers send a message as one frame;
/// libraries that fragment use frames of kilobytes, so 1,024 covers a 1 MiB message in 1 KiB
/// pieces, while endless empty continuation frames end quickly.
pub const DEFAULT_MAX_FRAMES: u32 = 1024;

/// How long a client may take to complete a message it started, by default.
pub const DEFAULT_MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// How many bytes all incomplete messages of the app may hold at once, by default: 64 MiB.
pub const DEFAULT_INBOUND_BUDGET: usize = 64 << 20;

/// What happens when a client's outbound queue is full.
///
/// ```
/// use gateway::prelude::*;
/// use gateway::hub::SlowConsumer;
///
/// // A ticker where a late price is worthless: drop what does not fit, keep the client.
/// let app = App::new().slow_consumer(SlowConsumer::Drop);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlowConsumer {
    /// Close the client with 1008 "slow consumer" (the default): it cannot keep up, and
    /// buffering more for it would grow memory without bound.
    #[default]
    Close,
    /// Drop the message for that client and count it in [`HubStats::dropped`](crate::HubStats::dropped).
    Drop,
}

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
/// [`ClientKey`](crate::ClientKey)) that has the most parked. So one client, from one address or as one identity,
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
