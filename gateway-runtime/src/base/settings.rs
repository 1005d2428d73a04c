//! The app's settings in one place: the builder fills them, and every endpoint and connection
//! reads the same value (shared by `Arc`, never copied field by field).

use crate::endpoint::resume::ResumeLimits;
use crate::hub::SlowConsumer;
use crate::io::limits::{DEFAULT_INBOUND_BUDGET, DEFAULT_MAX_FRAMES, DEFAULT_MESSAGE_TIMEOUT};
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

/// The largest HTTP request head (request line and headers) [`serve`](crate::app::serve) reads:
/// 16 KiB. Browsers send a few KiB; hyper's own default (about 400 KB) lets every connection
/// make the server hold that much.
pub const DEFAULT_MAX_REQUEST_HEAD: usize = 16 << 10;

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
