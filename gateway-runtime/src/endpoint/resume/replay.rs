//! [`Replay`]: what a resumable session keeps to resume exactly where its client left off.
//! Every data message written to the client gets the next number; a copy (its bytes shared, not
//! copied) stays until the client acknowledges it. While the client is away, what is sent to it
//! waits here too. Everything kept counts against the session's buffer and, once per distinct
//! payload, against the app's [`KeptBytes`](super::kept::KeptBytes).

#[cfg(feature = "redis")]
use super::journal::{Journaled, Mark};
use super::kept::KeptBytes;
use super::sessions::Sessions;
use crate::base::protocol::FreshReason;
use crate::base::send::payload;
use crate::base::send::SendError;
use crate::base::settings::ResumeLimits;
use crate::base::token::Token;
use crate::call::connection::SessionState;
use crate::io::outbound::Outbound;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tungstenite::Message;

pub(crate) struct Replay {
    token: Token,
    /// The endpoint's sessions: this one's entry, the limits, the parked sessions' totals.
    sessions: Arc<Sessions>,
    /// A resume on another connection takes this session over once this one has closed.
    handover: AtomicBool,
    sent: Mutex<Sent>,
    /// In a cluster: what the session's messages and checkpoints come from.
    #[cfg(feature = "redis")]
    journal: Option<Box<Journaled>>,
    /// Its client resumed on another instance: the session ends here without ending.
    released: AtomicBool,
}

#[derive(Default)]
struct Sent {
    /// The client is away: what is sent to it waits in `waiting`.
    parked: bool,
    /// The number of the last message written (0 before the first).
    last: u64,
    /// The messages written and not yet acknowledged: numbers `last - len + 1 ..= last`.
    unacked: VecDeque<Message>,
    /// The messages sent while the client was away, not written yet (no numbers yet).
    waiting: VecDeque<Message>,
    /// Payload bytes in `unacked` and `waiting`.
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
        sessions.kept().count_session(true);
        for message in &sent.unacked {
            sessions.kept().keep(payload(message));
        }
        Self {
            token,
            sessions,
            handover: AtomicBool::new(false),
            sent: Mutex::new(sent),
            #[cfg(feature = "redis")]
            journal: None,
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

    /// Whether its client resumed on another instance (never, outside a cluster).
    pub(crate) fn is_released(&self) -> bool {
        self.released.load(Ordering::Acquire)
    }

    /// Where the journal began for the session: its first checkpoint, at message 0.
    #[cfg(feature = "redis")]
    pub(crate) fn begin_at(&self, mark: Mark) {
        self.lock().acked = Some(mark);
    }

    /// Every message written was acknowledged and none waits: the number of the last one.
    #[cfg(feature = "redis")]
    pub(crate) fn settled(&self) -> Option<u64> {
        let sent = self.lock();
        let settled = sent.unacked.is_empty() && sent.waiting.is_empty() && !sent.lost;
        settled.then_some(sent.last)
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
    /// Past the session's buffer, or over the app's budget with more than its share, the
    /// session is lost (a client that never acknowledges, like one that ignores the protocol,
    /// costs a bounded buffer and nothing else).
    pub(crate) fn number(&self, message: &Message) {
        #[cfg(feature = "redis")]
        let mark = self.journal().and_then(Journaled::written);
        let mut sent = self.lock();
        sent.last += 1;
        if sent.lost || !self.keep(&mut sent, message) {
            return;
        }
        sent.unacked.push_back(message.clone());
        #[cfg(feature = "redis")]
        sent.marks.extend(mark);
    }

    /// Queues a message for the client with `push` (its connection's outbound queue), or,
    /// while the client is away, keeps it waiting here. `Ok(true)` when it waits. A message
    /// that does not fit while the client is away loses the session, which ends (its client
    /// will be told `lost`): `Closed`. Checked and done under one lock with
    /// [`park`](Self::park), so no message overtakes another as the session parks.
    pub(crate) fn queue(
        &self,
        message: Message,
        push: impl FnOnce(Message) -> Result<(), SendError>,
    ) -> Result<bool, SendError> {
        let mut sent = self.lock();
        if !sent.parked {
            return push(message).map(|()| false);
        }
        if sent.lost {
            return Err(SendError::Closed);
        }
        if self.keep(&mut sent, &message) {
            sent.waiting.push_back(message);
            return Ok(true);
        }
        drop(sent);
        self.sessions.end(self.token, Some(FreshReason::Lost));
        Err(SendError::Closed)
    }

    /// The client is away: what its connection had queued (`queued`, taken under this
    /// session's lock) waits here from now on, with what is sent to it. `false` when that does
    /// not fit (the session is lost).
    pub(crate) fn park(&self, queued: impl FnOnce() -> VecDeque<Message>) -> bool {
        let mut sent = self.lock();
        sent.parked = true;
        for message in queued() {
            if sent.lost || !self.keep(&mut sent, &message) {
                return false;
            }
            sent.waiting.push_back(message);
        }
        !sent.lost
    }

    /// The client is back: what is sent to it is queued for its connection again.
    pub(crate) fn unpark(&self) {
        self.lock().parked = false;
    }

    /// Whether the client is away.
    pub(crate) fn is_parked(&self) -> bool {
        self.lock().parked
    }

    /// Counts one more message kept, unless it does not fit: then the session is lost.
    fn keep(&self, sent: &mut Sent, message: &Message) -> bool {
        let size = payload(message).len();
        let kept = self.sessions.kept();
        let messages = sent.unacked.len() + sent.waiting.len();
        if !self.limits().fits(messages, sent.bytes, size) || kept.over(sent.bytes + size) {
            sent.lose(kept);
            return false;
        }
        kept.keep(payload(message));
        sent.bytes += size;
        true
    }

    /// The client has every message up to `seq`.
    pub(crate) fn ack(&self, seq: u64) {
        let mut sent = self.lock();
        sent.forget_through(seq, self.sessions.kept());
    }

    /// For a client that has every message up to `seq`: the messages after it to write again
    /// (numbered already), and those that waited while it was away (to be numbered as they
    /// are written); `None` when the session cannot continue exactly there (it was lost, or
    /// `seq` is outside what was written and not yet acknowledged).
    pub(crate) fn after(&self, seq: u64) -> Option<(Vec<Message>, Vec<Message>)> {
        let mut sent = self.lock();
        let first_kept = sent.last - sent.unacked.len() as u64;
        if sent.lost || seq < first_kept || seq > sent.last {
            return None;
        }
        let kept = self.sessions.kept();
        sent.forget_through(seq, kept);
        let waiting: Vec<Message> = std::mem::take(&mut sent.waiting).into();
        for message in &waiting {
            sent.bytes -= payload(message).len();
            kept.release(payload(message));
        }
        Some((sent.unacked.iter().cloned().collect(), waiting))
    }

    pub(crate) fn is_lost(&self) -> bool {
        self.lock().lost
    }

    /// Drops what was kept: the session can no longer resume exactly.
    #[cfg(feature = "redis")]
    pub(crate) fn lose(&self) {
        self.lock().lose(self.sessions.kept());
    }

    pub(crate) fn request_handover(&self) {
        self.handover.store(true, Ordering::Release);
    }

    /// Whether the session goes on on another connection: a handover was requested (and not
    /// yet taken), or another instance took it.
    pub(crate) fn goes_on_elsewhere(&self) -> bool {
        self.handover.load(Ordering::Acquire) || self.is_released()
    }

    /// Whether a handover was requested since the last call.
    pub(crate) fn take_handover(&self) -> bool {
        self.handover.swap(false, Ordering::AcqRel)
    }

    fn lock(&self) -> MutexGuard<'_, Sent> {
        crate::base::sync::lock(&self.sent)
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        let kept = self.sessions.kept();
        self.lock().lose(kept);
        kept.count_session(false);
    }
}

impl Sent {
    fn forget_through(&mut self, seq: u64, kept: &KeptBytes) {
        let seq = seq.min(self.last);
        let first_kept = self.last - self.unacked.len() as u64;
        for _ in first_kept..seq {
            if let Some(message) = self.unacked.pop_front() {
                self.bytes -= payload(&message).len();
                kept.release(payload(&message));
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

    fn lose(&mut self, kept: &KeptBytes) {
        self.lost = true;
        for message in self.unacked.iter().chain(&self.waiting) {
            kept.release(payload(message));
        }
        self.unacked = VecDeque::new();
        self.waiting = VecDeque::new();
        self.bytes = 0;
        #[cfg(feature = "redis")]
        {
            self.marks = VecDeque::new();
        }
    }
}

impl SessionState for Replay {
    fn queue(&self, message: Message, outbound: &Outbound) -> Result<bool, SendError> {
        Replay::queue(self, message, |message| outbound.push(message))
    }

    fn close_requested(&self) {
        if self.is_parked() {
            // No connection to close: the session ends (its task wakes and ends it).
            self.sessions.end(self.token, None);
        }
    }

    fn takes_fan_out(&self) -> bool {
        #[cfg(feature = "redis")]
        return self.journal().is_none();
        #[cfg(not(feature = "redis"))]
        true
    }

    fn sent_through_journal(&self) {
        #[cfg(feature = "redis")]
        if let Some(journal) = self.journal() {
            journal.sent();
        }
    }
}
