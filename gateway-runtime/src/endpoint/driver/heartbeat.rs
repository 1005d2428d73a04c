//! Server-side pings: when to ping, and when a silent client has timed out.

use std::time::Duration;
use tokio::time::Instant;

/// A deadline the timer can hold when no heartbeat is configured (the branch is then disabled).
pub(super) fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// Server-side pings: one every `interval`; no Pong within `timeout` of a Ping ends the connection.
pub(super) struct Heartbeat {
    interval: Duration,
    timeout: Duration,
    next_ping: Instant,
    pong_deadline: Option<Instant>,
}

pub(super) enum Beat {
    Ping,
    TimedOut,
    Wait,
}

impl Heartbeat {
    pub(super) fn new(interval: Duration, timeout: Duration) -> Self {
        Self {
            interval,
            timeout,
            next_ping: Instant::now() + interval,
            pong_deadline: None,
        }
    }

    pub(super) fn deadline(&self) -> Instant {
        self.pong_deadline
            .map_or(self.next_ping, |deadline| deadline.min(self.next_ping))
    }

    pub(super) fn on_timer(&mut self, now: Instant) -> Beat {
        if self.pong_deadline.is_some_and(|deadline| deadline <= now) {
            return Beat::TimedOut;
        }
        if self.next_ping > now {
            return Beat::Wait;
        }
        self.next_ping = now + self.interval;
        self.pong_deadline.get_or_insert(now + self.timeout);
        Beat::Ping
    }

    pub(super) fn on_pong(&mut self) {
        self.pong_deadline = None;
    }
}
