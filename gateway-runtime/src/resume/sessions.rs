//! [`Sessions`]: one resumable endpoint's sessions by token: the live ones (so a resume can take
//! one over), the parked ones (waiting for their client, bounded in count and bytes app-wide by
//! the endpoint), and a short memory of ended ones (so a client learns *why* it cannot resume).

use super::protocol::FreshReason;
use super::token::Token;
use super::ResumeLimits;
use crate::connection::Connection;
use crate::handshake::Handshake;
use crate::io::Socket;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// A client asking to continue its session on a new connection.
pub(crate) struct Resumption {
    pub(crate) socket: Socket,
    /// The last message number the client has.
    pub(crate) after: u64,
    /// The new connection's upgrade request (the session keeps its first one).
    pub(crate) handshake: Handshake,
    pub(crate) started: Instant,
}

pub(crate) struct Sessions {
    window: Duration,
    limits: ResumeLimits,
    state: Mutex<State>,
}

struct State {
    window: Duration,
    limits: ResumeLimits,
    entries: HashMap<Token, Entry>,
    /// Parked sessions, oldest first, with the park they were parked by (an entry parked again
    /// later has a newer one; the stale pair is skipped).
    parked_order: VecDeque<(Token, u64)>,
    parks: u64,
    parked_count: usize,
    parked_bytes: usize,
    /// Sessions that ended without their client, and why, for one window.
    ended: HashMap<Token, FreshReason>,
    ended_order: VecDeque<(Token, Instant)>,
}

enum Entry {
    Live {
        connection: Connection,
        /// A resume that arrived while this connection was still open: it takes over when the
        /// old connection has closed.
        pending: Option<Box<Resumption>>,
    },
    Parked {
        handover: oneshot::Sender<Box<Resumption>>,
        park: u64,
        messages: usize,
        bytes: usize,
    },
}

/// What a session whose connection ended does next.
pub(crate) enum Parking {
    /// A resume was already waiting for it.
    Resumed(Box<Resumption>),
    /// Wait for one, until the window ends.
    Wait(oneshot::Receiver<Box<Resumption>>),
}

impl Sessions {
    pub(crate) fn new(window: Duration, limits: ResumeLimits) -> Self {
        Self {
            window,
            limits,
            state: Mutex::new(State {
                window,
                limits,
                entries: HashMap::new(),
                parked_order: VecDeque::new(),
                parks: 0,
                parked_count: 0,
                parked_bytes: 0,
                ended: HashMap::new(),
                ended_order: VecDeque::new(),
            }),
        }
    }

    pub(crate) fn window(&self) -> Duration {
        self.window
    }

    pub(crate) fn limits(&self) -> &ResumeLimits {
        &self.limits
    }

    /// A new session's connection is open.
    pub(crate) fn open(&self, token: Token, connection: Connection) {
        let entry = Entry::Live {
            connection,
            pending: None,
        };
        self.lock().entries.insert(token, entry);
    }

    /// Hands `resumption` to session `token`: at once if it is parked; once its connection has
    /// closed if it is live (that connection is asked to close, with 4000). Otherwise the
    /// resumption comes back with the reason the session cannot resume.
    pub(crate) fn claim(
        &self,
        token: Token,
        resumption: Box<Resumption>,
    ) -> Result<(), (Box<Resumption>, FreshReason)> {
        let mut state = self.lock();
        let Some(entry) = state.entries.get_mut(&token) else {
            let reason = state.ended.get(&token).copied();
            return Err((resumption, reason.unwrap_or(FreshReason::Unknown)));
        };
        match entry {
            Entry::Live {
                connection,
                pending,
            } => {
                // A later resume replaces an earlier one still waiting: the newest connection
                // is the client's.
                *pending = Some(resumption);
                connection.request_handover();
                Ok(())
            }
            Entry::Parked { .. } => {
                let Some(Entry::Parked {
                    handover, bytes, ..
                }) = state.entries.remove(&token)
                else {
                    unreachable!("matched as parked above")
                };
                state.unpark(bytes);
                match handover.send(resumption) {
                    Ok(()) => Ok(()),
                    // Its task ended the session at this very moment.
                    Err(resumption) => Err((resumption, FreshReason::Expired)),
                }
            }
        }
    }

    /// The session's connection ended and the session may wait for its client; `connection`
    /// becomes reachable again by a resume. Parking it may end the oldest parked sessions, to
    /// keep within the app's bounds.
    pub(crate) fn park(&self, token: Token, buffered: (usize, usize)) -> Parking {
        let mut state = self.lock();
        if let Some(Entry::Live {
            pending: pending @ Some(_),
            ..
        }) = state.entries.get_mut(&token)
        {
            let resumption = pending.take().expect("matched as Some");
            return Parking::Resumed(resumption);
        }
        let (sender, receiver) = oneshot::channel();
        state.parks += 1;
        let park = state.parks;
        let (messages, bytes) = buffered;
        state.entries.insert(
            token,
            Entry::Parked {
                handover: sender,
                park,
                messages,
                bytes,
            },
        );
        state.parked_order.push_back((token, park));
        state.parked_count += 1;
        state.parked_bytes += bytes;
        state.keep_within();
        Parking::Wait(receiver)
    }

    /// The window passed: ends the session if it is still parked (`true`); `false` when a
    /// resume claimed it meanwhile (the resumption is in the parked task's receiver).
    pub(crate) fn expire(&self, token: Token) -> bool {
        let mut state = self.lock();
        if !matches!(state.entries.get(&token), Some(Entry::Parked { .. })) {
            return false;
        }
        state.remove(token);
        state.remember(token, FreshReason::Expired);
        true
    }

    /// A message for parked session `token`: counted against its buffer and the app's parked
    /// bytes. `false` when it does not fit: the session is lost and ended.
    pub(crate) fn admit_while_parked(&self, token: Token, size: usize) -> bool {
        let mut state = self.lock();
        let fits = match state.entries.get_mut(&token) {
            Some(Entry::Parked {
                messages, bytes, ..
            }) if self.limits.fits(*messages, *bytes, size) => {
                *messages += 1;
                *bytes += size;
                true
            }
            Some(Entry::Parked { .. }) => false,
            // Not parked (any more): the live connection's own bounds apply.
            _ => return true,
        };
        if !fits {
            state.remove(token);
            state.remember(token, FreshReason::Lost);
            return false;
        }
        state.parked_bytes += size;
        state.keep_within();
        true
    }

    /// The session ended for good; a later resume gets `reason` (or `unknown`).
    pub(crate) fn end(&self, token: Token, reason: Option<FreshReason>) {
        let mut state = self.lock();
        state.remove(token);
        if let Some(reason) = reason {
            state.remember(token, reason);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }
}

impl State {
    fn remove(&mut self, token: Token) {
        if let Some(Entry::Parked { bytes, .. }) = self.entries.remove(&token) {
            self.unpark(bytes);
        }
    }

    fn unpark(&mut self, bytes: usize) {
        self.parked_count -= 1;
        self.parked_bytes -= bytes;
    }

    /// Ends the oldest parked sessions while the parked ones exceed the app's bounds. Ending
    /// one drops its handover, which wakes its task to end it for good.
    fn keep_within(&mut self) {
        while self.parked_count > self.limits.parked_sessions
            || self.parked_bytes > self.limits.parked_bytes
        {
            let Some((token, park)) = self.parked_order.pop_front() else {
                break;
            };
            if matches!(self.entries.get(&token), Some(Entry::Parked { park: current, .. }) if *current == park)
            {
                self.remove(token);
                self.remember(token, FreshReason::Expired);
            }
        }
        // Pairs of sessions no longer parked accumulate only as fast as sessions park.
        while self
            .parked_order
            .front()
            .is_some_and(|(token, park)| !matches!(self.entries.get(token), Some(Entry::Parked { park: current, .. }) if current == park))
        {
            self.parked_order.pop_front();
        }
    }

    /// Remembers why `token` ended, for one window, within the parked sessions' count bound.
    fn remember(&mut self, token: Token, reason: FreshReason) {
        let now = Instant::now();
        while let Some((oldest, at)) = self.ended_order.front() {
            let stale = now.duration_since(*at) > self.window;
            if !stale && self.ended.len() < self.limits.parked_sessions {
                break;
            }
            self.ended.remove(oldest);
            self.ended_order.pop_front();
        }
        if self.ended.insert(token, reason).is_none() {
            self.ended_order.push_back((token, now));
        }
    }
}
