//! [`Sessions`]: one resumable endpoint's sessions by token: the live ones (so a resume can take
//! one over), the parked ones (waiting for their client, bounded in count, fairly: per client
//! first, then the client with the most pays), and a short memory of ended ones (so a client
//! learns *why* it cannot resume).

use super::kept::KeptBytes;
use super::ClientKey;
use crate::base::handshake::Handshake;
use crate::base::protocol::FreshReason;
use crate::base::settings::ResumeLimits;
use crate::base::token::Token;
use crate::call::connection::Connection;
use crate::io::Socket;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
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
    /// The endpoint's route (`/rooms/{room}`): in a cluster, a session resumes on this
    /// endpoint only (one instance keeps an endpoint's sessions apart by this value itself).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    route: &'static str,
    window: Duration,
    limits: ResumeLimits,
    /// What every resumable session of the app keeps, against the app's budget.
    kept: Arc<KeptBytes>,
    state: Mutex<State>,
}

struct State {
    window: Duration,
    limits: ResumeLimits,
    entries: HashMap<Token, Entry>,
    /// Each client's parked sessions, oldest first (clients by [`ClientKey`], hashed).
    parked_by_client: HashMap<u64, VecDeque<Token>>,
    /// How many each client has parked, to find the one with the most.
    parked_counts: BTreeSet<(usize, u64)>,
    parked_count: usize,
    /// Hashes client keys unpredictably, so no client can aim at another's bucket.
    hasher: RandomState,
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
        connection: Connection,
        handover: oneshot::Sender<Box<Resumption>>,
        /// Whose it is.
        client: u64,
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
    pub(crate) fn new(
        route: &'static str,
        window: Duration,
        limits: ResumeLimits,
        kept: Arc<KeptBytes>,
    ) -> Self {
        Self {
            route,
            window,
            limits,
            kept,
            state: Mutex::new(State {
                window,
                limits,
                entries: HashMap::new(),
                parked_by_client: HashMap::new(),
                parked_counts: BTreeSet::new(),
                parked_count: 0,
                hasher: RandomState::new(),
                ended: HashMap::new(),
                ended_order: VecDeque::new(),
            }),
        }
    }

    pub(crate) fn window(&self) -> Duration {
        self.window
    }

    /// The endpoint's route.
    #[cfg(feature = "redis")]
    pub(crate) fn route(&self) -> &'static str {
        self.route
    }

    pub(crate) fn limits(&self) -> &ResumeLimits {
        &self.limits
    }

    /// What every resumable session of the app keeps.
    pub(crate) fn kept(&self) -> &KeptBytes {
        &self.kept
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
    /// closed if it is live (that connection is asked to close, with 4000). An earlier resume
    /// still waiting for that comes back, displaced: the newest connection is the client's.
    /// Otherwise the resumption comes back with the reason the session cannot resume.
    pub(crate) fn claim(
        &self,
        token: Token,
        resumption: Box<Resumption>,
    ) -> Result<Option<Box<Resumption>>, (Box<Resumption>, FreshReason)> {
        let mut state = self.lock();
        let Some(entry) = state.entries.get_mut(&token) else {
            let reason = state.ended.get(&token).copied();
            return Err((resumption, reason.unwrap_or(FreshReason::Unknown)));
        };
        if let Entry::Live {
            connection,
            pending,
        } = entry
        {
            let displaced = pending.replace(resumption);
            // With the resume it is for, under the lock (asking a connection to close never
            // comes back to these sessions): `park` withdraws it as it hands that resume over,
            // so no request outlives its resume, and none is withdrawn while it waits.
            super::request_handover(connection);
            return Ok(displaced);
        }
        let Some(Entry::Parked {
            connection,
            handover,
            client,
        }) = state.entries.remove(&token)
        else {
            unreachable!("an entry is live or parked")
        };
        state.unpark(token, client);
        match handover.send(resumption) {
            Ok(()) => {
                // Live again: a later resume takes this one over.
                let live = Entry::Live {
                    connection,
                    pending: None,
                };
                state.entries.insert(token, live);
                Ok(None)
            }
            // Its task ended the session at this very moment.
            Err(resumption) => Err((resumption, FreshReason::Expired)),
        }
    }

    /// The session's connection ended and the session may wait for its client (`client`, see
    /// [`ClientKey`]); `connection` becomes reachable again by a resume. Parking it may end
    /// another parked session, to keep within the endpoint's bound: the oldest of the client
    /// with the most parked.
    pub(crate) fn park(
        &self,
        token: Token,
        connection: &Connection,
        client: &ClientKey,
    ) -> Parking {
        let mut state = self.lock();
        if let Some(Entry::Live {
            pending: pending @ Some(_),
            ..
        }) = state.entries.get_mut(&token)
        {
            let resumption = pending.take().expect("matched as Some");
            // Every handover request so far was for this resume or one it displaced: none is
            // for the connection the session goes on with (a later claim asks again).
            super::drop_handover_request(connection);
            return Parking::Resumed(resumption);
        }
        let (sender, receiver) = oneshot::channel();
        let client = state.hasher.hash_one(client);
        state.entries.insert(
            token,
            Entry::Parked {
                connection: connection.clone(),
                handover: sender,
                client,
            },
        );
        state.count_parked(client, |tokens| tokens.push_back(token));
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

    /// The session ended for good; a later resume gets `reason` (or `unknown`). A resume that
    /// was waiting for its connection to close comes back, to begin afresh.
    pub(crate) fn end(&self, token: Token, reason: Option<FreshReason>) -> Option<Box<Resumption>> {
        let mut state = self.lock();
        let waiting = state.remove(token);
        if let Some(reason) = reason {
            state.remember(token, reason);
        }
        waiting
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        crate::base::sync::lock(&self.state)
    }
}

impl State {
    /// Removes the session's entry; a resume that waited for its live connection comes back.
    fn remove(&mut self, token: Token) -> Option<Box<Resumption>> {
        match self.entries.remove(&token)? {
            Entry::Parked { client, .. } => {
                self.unpark(token, client);
                None
            }
            Entry::Live { pending, .. } => pending,
        }
    }

    fn unpark(&mut self, token: Token, client: u64) {
        self.count_parked(client, |tokens| tokens.retain(|parked| *parked != token));
    }

    /// Changes `client`'s parked sessions with `change`, keeping the counts in step.
    fn count_parked(&mut self, client: u64, change: impl FnOnce(&mut VecDeque<Token>)) {
        let tokens = self.parked_by_client.entry(client).or_default();
        let before = tokens.len();
        change(tokens);
        let after = tokens.len();
        if after == 0 {
            self.parked_by_client.remove(&client);
        }
        self.parked_counts.remove(&(before, client));
        if after > 0 {
            self.parked_counts.insert((after, client));
        }
        self.parked_count = self.parked_count + after - before;
    }

    /// Ends parked sessions while there are more than the bound: each time the oldest of the
    /// client with the most. Ending one drops its handover, which wakes its task to end it for
    /// good.
    fn keep_within(&mut self) {
        while self.parked_count > self.limits.parked_sessions {
            let Some(&(_, most)) = self.parked_counts.last() else {
                break;
            };
            let Some(&token) = self.parked_by_client.get(&most).and_then(VecDeque::front) else {
                break;
            };
            self.remove(token);
            self.remember(token, FreshReason::Expired);
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
