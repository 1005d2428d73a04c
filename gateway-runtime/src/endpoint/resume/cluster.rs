//! The journal as this instance follows it (feature `redis`; see `resume::journal`): its
//! resumable sessions as the journal has them, what each entry delivers to them, checkpoints,
//! and requests to resume a session that another instance held. The hub reaches it through
//! [`Journaling`].

use super::replay_of;
use crate::base::ids::ConnectionId;
use crate::base::protocol::FreshReason;
use crate::base::settings::ResumeLimits;
use crate::base::token::Token;
use crate::call::connection::Connection;
use crate::endpoint::resume::journal::{EntryId, Folded, Journaled, Mark, Record};
use crate::endpoint::resume::replay::Replay;
use crate::hub::backplane::ClusterEvent;
use crate::hub::journaling::Journaling;
use crate::hub::{Hub, Scope};
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tungstenite::Message;

/// The journal as this instance follows it.
pub(crate) struct Journal {
    /// One lock for the sessions and the last entry applied: a session that opens takes every
    /// entry after the one it records, and no earlier one.
    state: Mutex<State>,
    /// What the journal's reader is asked: resumes of sessions of another instance, and the
    /// answers it waits for.
    reader: mpsc::UnboundedSender<ForReader>,
}

/// What the hub hands the journal's reader.
pub(crate) enum ForReader {
    /// Resume a session this instance does not hold.
    Restore(Restore),
    /// The instance asked to let session `token` go has (see `ClusterEvent::Released`).
    Released(Arc<str>),
}

struct State {
    sessions: HashMap<ConnectionId, Connection>,
    /// The last entry applied; `None` until the reader has begun.
    position: Option<EntryId>,
    /// The number the next entry should have (entries are numbered as they are appended);
    /// `None` until known.
    next: Option<u64>,
}

/// What becomes of a request to resume a session this instance does not hold: the session
/// rebuilt to `at`, the entry the reader has reached, or why it cannot be.
pub(crate) type Restored = Result<(Record, Folded, EntryId), FreshReason>;

/// A request to resume a session this instance does not hold.
pub(crate) struct Restore {
    pub(crate) token: Token,
    /// The route of the endpoint the client resumes on: the session must be its.
    pub(crate) endpoint: &'static str,
    /// The last message number the client has.
    pub(crate) after: u64,
    pub(crate) limits: ResumeLimits,
    /// Called by the reader, before it reads on: with the session rebuilt, it opens the
    /// session here (or begins a fresh one, telling the client why).
    pub(crate) install: Box<dyn FnOnce(Restored) + Send>,
}

impl Journal {
    pub(crate) fn new(reader: mpsc::UnboundedSender<ForReader>) -> Self {
        Self {
            state: Mutex::new(State {
                sessions: HashMap::new(),
                position: None,
                next: None,
            }),
            reader,
        }
    }

    /// A resumable session opened here: the entry after which the journal is its (`None`
    /// before the reader has begun: it then begins the session where it begins).
    pub(crate) fn open(&self, connection: &Connection) -> Option<EntryId> {
        let mut state = crate::base::sync::lock(&self.state);
        state.sessions.insert(connection.id(), connection.clone());
        state.position
    }

    /// The reader begins after `entry` (or, reconnected, goes on from where it was): sessions
    /// opened before it begin there.
    pub(crate) fn start_at(&self, hub: &Hub, entry: EntryId, number: Option<u64>) {
        let mut state = crate::base::sync::lock(&self.state);
        if state.position.is_some() {
            return;
        }
        state.position = Some(entry);
        state.next = Some(number.unwrap_or(0) + 1);
        let opened: Vec<Connection> = state.sessions.values().cloned().collect();
        // Outside the lock: a checkpoint looks at where the reader is.
        drop(state);
        for connection in &opened {
            begin_at(hub, connection, entry);
        }
    }

    /// Whether the reader's starting point is known: sessions opened now begin at the
    /// entry it has reached.
    pub(crate) fn started(&self) -> bool {
        self.position().is_some()
    }

    /// The last entry applied (or where the reader begins).
    pub(crate) fn position(&self) -> Option<EntryId> {
        crate::base::sync::lock(&self.state).position
    }

    /// Where a session with nothing left to acknowledge stands: its count, and its rooms and
    /// presence at the last entry the reader applied (every entry up to there has reached it:
    /// a checkpoint that moves with the journal, not only with the entries addressed to it).
    /// `None` while anything of it waits: a message queued or unacknowledged. Looked at with
    /// the reader held, so no entry arrives in between.
    fn settled(&self, replay: &Replay, journaled: &Journaled) -> Option<(u64, Mark)> {
        let state = crate::base::sync::lock(&self.state);
        if journaled.has_queued() {
            return None;
        }
        let count = replay.settled()?;
        let mut mark = journaled.view();
        mark.entry = mark.entry.max(state.position?);
        Some((count, mark))
    }

    /// Asks the reader to resume a session held elsewhere.
    pub(crate) fn restore(&self, restore: Restore) {
        let sent = self.reader.send(ForReader::Restore(restore));
        if let Err(mpsc::error::SendError(ForReader::Restore(restore))) = sent {
            (restore.install)(Err(FreshReason::Unknown));
        }
    }

    /// Applies the journal's next entry, written by instance `origin`, to this instance's
    /// resumable sessions.
    pub(crate) fn apply(&self, hub: &Hub, entry: EntryId, origin: u16, event: &ClusterEvent) {
        let mut state = crate::base::sync::lock(&self.state);
        match event {
            ClusterEvent::Deliver {
                scope,
                except,
                message,
            } => {
                for (id, connection) in &state.sessions {
                    if except.contains(id) {
                        continue;
                    }
                    let Some(journal) = replay_of(connection).and_then(|r| r.journal()) else {
                        continue;
                    };
                    let addressed = match scope {
                        Scope::All => true,
                        Scope::Path(path) => connection.handshake().uri().path() == &**path,
                        Scope::Room(room) => journal.in_room(room),
                    };
                    if addressed {
                        deliver(hub, connection, entry, message.clone());
                    }
                }
            }
            ClusterEvent::DeliverTo { id, message } => {
                if let Some(connection) = state.sessions.get(id) {
                    deliver(hub, connection, entry, message.clone());
                    if origin == hub.cluster().map_or(0, crate::hub::Cluster::instance) {
                        if let Some(journal) = replay_of(connection).and_then(|r| r.journal()) {
                            journal.returned();
                        }
                    }
                }
            }
            ClusterEvent::Joined { id, room } | ClusterEvent::Left { id, room } => {
                let joined = matches!(event, ClusterEvent::Joined { .. });
                if let Some(journal) = session_journal(&state, *id) {
                    journal.set_room(entry, room, joined);
                }
            }
            ClusterEvent::Presence { id, presence } => {
                if let Some(journal) = session_journal(&state, *id) {
                    journal.set_presence(entry, Arc::clone(presence));
                }
            }
            ClusterEvent::Dropped => {
                tracing::warn!(
                    origin,
                    "an instance dropped sends (its queue to Redis was full): the sessions here are lost"
                );
                state.lose_every_session();
            }
            _ => {}
        }
        state.position = Some(entry);
    }

    /// Renews every session's checkpoint that has moved (see [`Hub::checkpoint`]): run every
    /// few seconds, so the journal a resume elsewhere must read stays short.
    pub(crate) fn sweep_checkpoints(&self, hub: &Hub) {
        let sessions: Vec<Connection> = crate::base::sync::lock(&self.state)
            .sessions
            .values()
            .cloned()
            .collect();
        for connection in &sessions {
            checkpoint(hub, connection, false);
        }
    }

    /// The next entry to apply is numbered `number`. One further on than expected means the
    /// journal trimmed entries before this reader read them (it fell that far behind): every
    /// session here may have missed a message in them, so each is lost, and a live one is
    /// closed (1011) so its client learns it when it resumes, rather than going on with a gap.
    /// (A number lower than expected is a Redis that restarted empty: counting starts again.)
    pub(crate) fn number(&self, number: Option<u64>) {
        let Some(number) = number else {
            return;
        };
        let mut state = crate::base::sync::lock(&self.state);
        if let Some(next) = state.next.filter(|next| number > *next) {
            tracing::warn!(
                missed = number - next,
                "the journal's reader fell behind its trimming: the sessions here are lost"
            );
            state.lose_every_session();
        }
        state.next = Some(number + 1);
    }

    /// The journal's next entry cannot be read (another version's, or not ours): any session
    /// here may have missed a message in it (the bus carried the same unreadable frame), so
    /// each is lost and a live one closed, as for entries trimmed before they were read.
    pub(crate) fn skip(&self, entry: EntryId) {
        let mut state = crate::base::sync::lock(&self.state);
        state.lose_every_session();
        state.position = Some(entry);
    }
}

impl State {
    /// Every session here may have missed a message: each is lost (told so when it resumes),
    /// and a live one is closed (1011) so its client resumes and learns it.
    fn lose_every_session(&self) {
        for connection in self.sessions.values() {
            let Some(replay) = replay_of(connection) else {
                continue;
            };
            replay.lose();
            if !replay.is_parked() {
                connection.request_close(
                    crate::base::close::close_code::INTERNAL_ERROR,
                    "messages were lost",
                );
            }
        }
    }
}

/// A session's journal begins after `entry`: its first checkpoint.
pub(crate) fn begin_at(hub: &Hub, connection: &Connection, entry: EntryId) {
    let Some(replay) = replay_of(connection) else {
        return;
    };
    replay.begin_at(Mark {
        entry,
        rooms: Arc::from([]),
        presence: None,
    });
    checkpoint(hub, connection, true);
}

fn session_journal(state: &State, id: ConnectionId) -> Option<&Journaled> {
    replay_of(state.sessions.get(&id)?)?.journal()
}

/// Queues an entry's message for a session, with where it came from. A message that cannot be
/// queued (the client is too slow) breaks the session's count against the journal: lost.
fn deliver(hub: &Hub, connection: &Connection, entry: EntryId, message: Message) {
    let Some(replay) = replay_of(connection) else {
        return;
    };
    let Some(journal) = replay.journal() else {
        return;
    };
    journal.queue(entry);
    if hub.deliver(connection.as_member(), message).is_err() {
        journal.unqueue();
        replay.lose();
    }
}

/// The journal, in a cluster whose app has resumable endpoints.
pub(crate) fn journal(hub: &Hub) -> Option<&Journal> {
    let journaling: &dyn Any = hub.journaling()?;
    journaling.downcast_ref()
}

/// Writes the session's checkpoint, what another instance resumes it from: where its
/// client's acknowledgements have reached, or, with nothing left to acknowledge, where the
/// journal has reached (so that a resume elsewhere reads only what came after, however
/// long the client has been quiet); a lost session's says so. At most once per
/// `CHECKPOINT_EVERY` and only when it changed, unless `now`.
pub(crate) fn checkpoint(hub: &Hub, connection: &Connection, now: bool) {
    let (Some(cluster), Some(replay)) = (hub.cluster(), replay_of(connection)) else {
        return;
    };
    let Some(journal) = replay.journal() else {
        return;
    };
    let settled = self::journal(hub).and_then(|followed| followed.settled(replay, journal));
    let at = settled.or_else(|| replay.acked());
    let Some((count, mark)) = at else {
        return;
    };
    if !journal.checkpoint_due(Instant::now(), mark.entry, count, now) {
        return;
    }
    let place = (
        replay.sessions().route(),
        connection.handshake().uri().path(),
    );
    let mut record = Record::at(connection.id().0, place, cluster.instance(), count, &mark);
    record.lost = replay.is_lost();
    write_checkpoint(hub, connection, record);
}

/// Publishes `record` as the session's checkpoint.
pub(crate) fn write_checkpoint(hub: &Hub, connection: &Connection, record: Record) {
    let (Some(cluster), Some(replay)) = (hub.cluster(), replay_of(connection)) else {
        return;
    };
    cluster.publish(ClusterEvent::Checkpoint {
        token: Arc::from(replay.token().to_string()),
        record: record.encode(),
        window_ms: replay.sessions().window().as_millis() as u64,
    });
}

/// The session ended for good: its checkpoint goes.
pub(crate) fn forget_checkpoint(hub: &Hub, token: Token) {
    if let Some(cluster) = hub.cluster() {
        cluster.publish(ClusterEvent::Forget {
            token: Arc::from(token.to_string()),
        });
    }
}

impl Journaling for Journal {
    fn close(&self, id: ConnectionId) {
        crate::base::sync::lock(&self.state).sessions.remove(&id);
    }

    /// Another instance's client resumed a session held here: it ends here, without ending.
    fn release(&self, token: &str) {
        let Some(token) = Token::parse(token) else {
            return;
        };
        let held = crate::base::sync::lock(&self.state)
            .sessions
            .values()
            .find(|connection| replay_of(connection).is_some_and(|replay| replay.token() == token))
            .cloned();
        // Outside the journal's lock: letting go touches the endpoint's sessions.
        if let Some(connection) = held {
            super::release(&connection);
        }
    }

    fn released(&self, token: Arc<str>) {
        self.reader.send(ForReader::Released(token)).ok();
    }
}
