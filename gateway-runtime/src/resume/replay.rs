//! [`Replay`]: what a resumable connection keeps to resume exactly where its client left off.
//! Every data message written to the client gets the next number; a copy (its bytes shared, not
//! copied) stays until the client acknowledges it.

#[cfg(feature = "redis")]
use super::journal::{Journaled, Mark};
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
    /// In a cluster: what the session's messages and checkpoints come from.
    #[cfg(feature = "redis")]
    journal: Option<Box<Journaled>>,
    /// Its client resumed on another instance: the session ends here without ending.
    #[cfg(feature = "redis")]
    released: AtomicBool,
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
    /// In a cluster, where each message of `unacked` came from in the journal.
    #[cfg(feature = "redis")]
    marks: VecDeque<Mark>,
    /// Where the last acknowledged message came from: the session's next checkpoint.
    #[cfg(feature = "redis")]
    acked: Option<Mark>,
}

impl Replay {
    pub(crate) fn new(sessions: Arc<Sessions>) -> Self {
        Self::with_token(sessions, Token::random(), Sent::default())
    }

    fn with_token(sessions: Arc<Sessions>, token: Token, sent: Sent) -> Self {
        Self {
            token,
            sessions,
            parked: AtomicBool::new(false),
            handover: AtomicBool::new(false),
            sent: Mutex::new(sent),
            #[cfg(feature = "redis")]
            journal: None,
            #[cfg(feature = "redis")]
            released: AtomicBool::new(false),
        }
    }

    /// A session of a cluster, whose messages come through the journal.
    #[cfg(feature = "redis")]
    pub(crate) fn journaled(mut self, journal: Journaled) -> Self {
        self.journal = Some(Box::new(journal));
        self
    }

    /// Session `token` resumed from another instance: `missed` are messages `last - len + 1`
    /// to `last`, not yet acknowledged.
    #[cfg(feature = "redis")]
    pub(crate) fn restored(
        sessions: Arc<Sessions>,
        token: Token,
        last: u64,
        missed: Vec<(Message, Mark)>,
        acked: Mark,
    ) -> Self {
        let mut sent = Sent {
            last,
            acked: Some(acked),
            ..Sent::default()
        };
        for (message, mark) in missed {
            sent.bytes += payload(&message).len();
            sent.unacked.push_back(message);
            sent.marks.push_back(mark);
        }
        Self::with_token(sessions, token, sent)
    }

    /// The session's journal state, in a cluster.
    #[cfg(feature = "redis")]
    pub(crate) fn journal(&self) -> Option<&Journaled> {
        self.journal.as_deref()
    }

    /// Its client resumed on another instance.
    #[cfg(feature = "redis")]
    pub(crate) fn release(&self) {
        self.released.store(true, Ordering::Release);
    }

    #[cfg(feature = "redis")]
    pub(crate) fn is_released(&self) -> bool {
        self.released.load(Ordering::Acquire)
    }

    /// Where the journal began for the session: its first checkpoint, at message 0.
    #[cfg(feature = "redis")]
    pub(crate) fn begin_at(&self, mark: Mark) {
        self.lock().acked = Some(mark);
    }

    /// The checkpoint the acknowledgements have reached: the count and where it came from.
    #[cfg(feature = "redis")]
    pub(crate) fn acked(&self) -> Option<(u64, Mark)> {
        let sent = self.lock();
        let count = sent.last - sent.unacked.len() as u64;
        sent.acked.clone().map(|mark| (count, mark))
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
        #[cfg(feature = "redis")]
        let mark = self.journal().and_then(Journaled::written);
        let mut sent = self.lock();
        sent.last += 1;
        if sent.lost {
            return;
        }
        if !limits.fits(sent.unacked.len(), sent.bytes, size) {
            sent.lose();
            return;
        }
        sent.bytes += size;
        sent.unacked.push_back(message.clone());
        #[cfg(feature = "redis")]
        sent.marks.extend(mark);
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
            #[cfg(feature = "redis")]
            if let Some(mark) = self.marks.pop_front() {
                self.acked = Some(mark);
            }
        }
        if self.unacked.is_empty() {
            // Give the memory back: a burst must not stay allocated on an idle connection.
            self.unacked = VecDeque::new();
            #[cfg(feature = "redis")]
            {
                self.marks = VecDeque::new();
            }
        }
    }

    fn lose(&mut self) {
        self.lost = true;
        self.unacked = VecDeque::new();
        self.bytes = 0;
        #[cfg(feature = "redis")]
        {
            self.marks = VecDeque::new();
        }
    }
}
