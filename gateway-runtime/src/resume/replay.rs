//! [`Replay`]: what a resumable connection keeps to resume exactly where its client left off.
//! Every data message written to the client gets the next number; a copy (its bytes shared, not
//! copied) stays until the client acknowledges it.

use super::sessions::Sessions;
use super::token::Token;
use super::ResumeLimits;
use crate::context::payload;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tungstenite::Message;

pub(crate) struct Replay {
    token: Token,
    /// The endpoint's sessions: this one's entry, the limits, the parked sessions' totals.
    sessions: Arc<Sessions>,
    /// The client is away: messages for it wait in the outbound queue, counted against the
    /// session's buffer and the app-wide parked bytes.
    parked: AtomicBool,
    /// A resume on another connection takes this session over once this one has closed.
    handover: AtomicBool,
    sent: Mutex<Sent>,
}

#[derive(Default)]
struct Sent {
    /// The number of the last message written (0 before the first).
    last: u64,
    /// The messages written and not yet acknowledged: numbers `last - len + 1 ..= last`.
    unacked: VecDeque<Message>,
    /// Payload bytes in `unacked`.
    bytes: usize,
    /// The buffer overflowed and was dropped: the session can no longer resume exactly.
    lost: bool,
}

impl Replay {
    pub(crate) fn new(sessions: Arc<Sessions>) -> Self {
        Self {
            token: Token::random(),
            sessions,
            parked: AtomicBool::new(false),
            handover: AtomicBool::new(false),
            sent: Mutex::default(),
        }
    }

    pub(crate) fn token(&self) -> Token {
        self.token
    }

    pub(crate) fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    fn limits(&self) -> &ResumeLimits {
        self.sessions.limits()
    }

    /// Numbers a data message about to be written, keeping a copy until it is acknowledged.
    /// Past the buffer's limits the session is lost (a client that never acknowledges, like one
    /// that ignores the protocol, costs a bounded buffer and nothing else).
    pub(crate) fn number(&self, message: &Message) {
        let size = payload(message).len();
        let limits = *self.limits();
        let mut sent = self.lock();
        sent.last += 1;
        if sent.lost {
            return;
        }
        if sent.unacked.len() >= limits.buffer_messages || sent.bytes + size > limits.buffer_bytes {
            sent.lose();
            return;
        }
        sent.bytes += size;
        sent.unacked.push_back(message.clone());
    }

    /// The client has every message up to `seq`.
    pub(crate) fn ack(&self, seq: u64) {
        let mut sent = self.lock();
        sent.forget_through(seq);
    }

    /// The messages after `seq`, to write again in order; `None` when the session cannot
    /// continue exactly there (the buffer was lost, or `seq` is outside what was written and
    /// not yet acknowledged).
    pub(crate) fn after(&self, seq: u64) -> Option<Vec<Message>> {
        let mut sent = self.lock();
        let first_kept = sent.last - sent.unacked.len() as u64;
        if sent.lost || seq < first_kept || seq > sent.last {
            return None;
        }
        sent.forget_through(seq);
        Some(sent.unacked.iter().cloned().collect())
    }

    /// Messages and payload bytes kept for replay.
    pub(crate) fn buffered(&self) -> (usize, usize) {
        let sent = self.lock();
        (sent.unacked.len(), sent.bytes)
    }

    pub(crate) fn is_lost(&self) -> bool {
        self.lock().lost
    }

    /// Drops what was kept: the session can no longer resume exactly.
    pub(crate) fn lose(&self) {
        self.lock().lose();
    }

    pub(crate) fn is_parked(&self) -> bool {
        self.parked.load(Ordering::Acquire)
    }

    pub(crate) fn set_parked(&self, parked: bool) {
        self.parked.store(parked, Ordering::Release);
    }

    pub(crate) fn request_handover(&self) {
        self.handover.store(true, Ordering::Release);
    }

    /// Whether a handover was requested (and not yet taken).
    pub(crate) fn handing_over(&self) -> bool {
        self.handover.load(Ordering::Acquire)
    }

    /// Whether a handover was requested since the last call.
    pub(crate) fn take_handover(&self) -> bool {
        self.handover.swap(false, Ordering::AcqRel)
    }

    fn lock(&self) -> MutexGuard<'_, Sent> {
        crate::sync::lock(&self.sent)
    }
}

impl Sent {
    fn forget_through(&mut self, seq: u64) {
        let seq = seq.min(self.last);
        let first_kept = self.last - self.unacked.len() as u64;
        for _ in first_kept..seq {
            if let Some(message) = self.unacked.pop_front() {
                self.bytes -= payload(&message).len();
            }
        }
        if self.unacked.is_empty() {
            // Give the memory back: a burst must not stay allocated on an idle connection.
            self.unacked = VecDeque::new();
        }
    }

    fn lose(&mut self) {
        self.lost = true;
        self.unacked = VecDeque::new();
        self.bytes = 0;
    }
}
