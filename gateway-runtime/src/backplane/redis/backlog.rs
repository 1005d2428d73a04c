//! [`Backlog`]: what waits between the hub and Redis besides the events themselves, and the
//! backpressure it puts on clients while Redis is slow.

use crate::hub::backplane::{ClusterEvent, Pressure};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// What waits between the hub and Redis, besides the events themselves.
pub(super) struct Backlog {
    /// Bytes queued (payloads, names, texts).
    pub(super) bytes: AtomicUsize,
    /// The queue's bounds, in events and bytes.
    pub(super) capacity: usize,
    pub(super) budget: usize,
    /// Redis is connected: a full queue is Redis being slow, and the senders are slowed.
    pub(super) connected: AtomicBool,
    pub(super) pressure: Arc<Pressure>,
    /// A presence change was dropped since the last announce: the others' picture of this
    /// instance may have a gap, so it is announced whole again.
    pub(super) gap: AtomicBool,
    /// Events were dropped since the queue last drained: said once.
    pub(super) warned: AtomicBool,
    /// A send was dropped: the journal is told before the next events (see
    /// [`ClusterEvent::Dropped`]).
    pub(super) sends_dropped: AtomicBool,
}

impl Backlog {
    /// A backlog in front of a Redis that is `connected` (it answered at start) or not yet.
    pub(super) fn new(capacity: usize, budget: usize, connected: bool) -> Self {
        Self {
            bytes: AtomicUsize::new(0),
            capacity,
            budget,
            connected: AtomicBool::new(connected),
            pressure: Arc::default(),
            gap: AtomicBool::new(false),
            warned: AtomicBool::new(false),
            sends_dropped: AtomicBool::new(false),
        }
    }

    /// An event was queued; `events` are queued now. Past half the queue while Redis is
    /// connected, clients are not read until it drains.
    pub(super) fn queued(&self, events: usize) {
        let half_full =
            events > self.capacity / 2 || self.bytes.load(Ordering::Relaxed) > self.budget / 2;
        if half_full && self.connected.load(Ordering::Relaxed) {
            self.pressure.rise();
        }
    }

    pub(super) fn dropped(&self, event: &ClusterEvent) {
        if event.member().is_some() {
            self.gap.store(true, Ordering::Relaxed);
        }
        if event.is_send() {
            self.sends_dropped.store(true, Ordering::Relaxed);
        }
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!("backplane queue full (Redis slow or unreachable): dropping events");
        }
    }

    /// Accounts for events taken off the queue; `left` are still queued. Down to a quarter,
    /// clients are read again.
    pub(super) fn taken(&self, events: &[ClusterEvent], left: usize) {
        let bytes: usize = events.iter().map(ClusterEvent::weight).sum();
        let before = self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        if left <= self.capacity / 4 && before - bytes <= self.budget / 4 {
            self.pressure.ease();
        }
    }

    /// Redis is connected, or not: while it is not, senders are not slowed (the queue waits
    /// for Redis, and what does not fit is dropped).
    pub(super) fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
        if !connected {
            self.pressure.ease();
        }
    }

    /// The queue has drained: a later drop is said again.
    pub(super) fn drained(&self) {
        self.warned.store(false, Ordering::Relaxed);
    }
}
