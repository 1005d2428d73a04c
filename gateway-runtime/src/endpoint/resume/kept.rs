//! [`KeptBytes`]: the payload bytes every resumable session of the app keeps for its client,
//! each distinct payload counted once however many sessions keep it. A room message kept for
//! 300 sessions is one buffer in memory, and counts as one here: the budget measures what the
//! process really holds, not each session's share of it.
//!
//! A payload is known by its address: clones of a message share their bytes, so every session
//! that keeps one keeps the same address. Counting is sharded by address, so sessions writing
//! at once rarely meet on a lock.

use crate::base::sync::lock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// How many locks the count is spread over.
const SHARDS: usize = 16;

/// The payload bytes resumable sessions keep, app-wide, against a budget.
#[derive(Debug)]
pub(crate) struct KeptBytes {
    /// Kept payloads by address: their length and how many keep them.
    shards: [Mutex<HashMap<usize, Held>>; SHARDS],
    /// Bytes of distinct payloads kept now.
    total: AtomicUsize,
    /// Resumable sessions that may keep something.
    sessions: AtomicUsize,
    budget: usize,
}

#[derive(Debug, Clone, Copy)]
struct Held {
    len: usize,
    holders: usize,
}

impl KeptBytes {
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::default()),
            total: AtomicUsize::new(0),
            sessions: AtomicUsize::new(0),
            budget,
        }
    }

    /// One more session keeps `payload`.
    pub(crate) fn keep(&self, payload: &[u8]) {
        if payload.is_empty() {
            return;
        }
        let address = payload.as_ptr() as usize;
        let mut shard = lock(self.shard(address));
        let held = shard.entry(address).or_insert(Held {
            len: payload.len(),
            holders: 0,
        });
        held.holders += 1;
        if held.holders == 1 {
            self.total.fetch_add(payload.len(), Ordering::AcqRel);
        }
    }

    /// One session no longer keeps `payload`.
    pub(crate) fn release(&self, payload: &[u8]) {
        if payload.is_empty() {
            return;
        }
        let address = payload.as_ptr() as usize;
        let mut shard = lock(self.shard(address));
        let Some(held) = shard.get_mut(&address) else {
            return;
        };
        held.holders -= 1;
        if held.holders == 0 {
            let len = held.len;
            shard.remove(&address);
            self.total.fetch_sub(len, Ordering::AcqRel);
        }
    }

    /// Whether a session keeping `share` bytes (its own count, shared payloads included) must
    /// let go: over the budget, every session above its fair share (the budget divided among
    /// the sessions) does; at twice the budget, any session that keeps more does.
    pub(crate) fn over(&self, share: usize) -> bool {
        let total = self.total.load(Ordering::Acquire);
        if total <= self.budget {
            return false;
        }
        let sessions = self.sessions.load(Ordering::Acquire).max(1);
        total > 2 * self.budget || share > self.budget / sessions
    }

    /// A session opened (`true`) or ended.
    pub(crate) fn count_session(&self, opened: bool) {
        if opened {
            self.sessions.fetch_add(1, Ordering::AcqRel);
        } else {
            self.sessions.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Bytes of distinct payloads kept now.
    #[cfg(test)]
    fn total(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }

    fn shard(&self, address: usize) -> &Mutex<HashMap<usize, Held>> {
        // Allocations are aligned: the low bits say little.
        &self.shards[(address >> 4) % SHARDS]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn a_payload_kept_by_many_counts_once_until_the_last_lets_go() {
        let kept = KeptBytes::new(1 << 20);
        let message = Bytes::from(vec![7u8; 1000]);
        let copies: Vec<Bytes> = (0..300).map(|_| message.clone()).collect();
        for copy in &copies {
            kept.keep(copy);
        }
        assert_eq!(kept.total(), 1000);
        let other = Bytes::from(vec![7u8; 500]);
        kept.keep(&other);
        assert_eq!(
            kept.total(),
            1500,
            "the same bytes elsewhere are another payload"
        );
        for copy in &copies[1..] {
            kept.release(copy);
        }
        assert_eq!(kept.total(), 1500);
        kept.release(&copies[0]);
        kept.release(&other);
        assert_eq!(kept.total(), 0);
    }

    #[test]
    fn over_the_budget_only_sessions_above_their_fair_share_let_go() {
        let kept = KeptBytes::new(1000);
        for _ in 0..4 {
            kept.count_session(true);
        }
        let big = Bytes::from(vec![0u8; 1200]);
        kept.keep(&big);
        assert!(kept.over(1200), "the one that holds it all");
        assert!(!kept.over(100), "a small one, under 1000 / 4");
        let more = Bytes::from(vec![0u8; 900]);
        kept.keep(&more);
        assert!(kept.over(100), "at twice the budget, anyone");
    }
}
