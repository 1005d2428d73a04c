//! Resumable sessions across instances (feature `redis`). In a cluster, every message for a
//! resumable session passes through one journal, a Redis stream that every instance reads in
//! the same order: an instance delivers a session's messages from there, and another instance
//! resumes the session by folding the same entries from the session's last checkpoint. A send
//! to a room costs one journal entry, whoever is in it.
//!
//! What a session keeps for this: its [`Journaled`] state (the rooms and presence the journal
//! gives it, where each queued message came from, what it sent that has not come back); what
//! Redis keeps: a [`Record`] per session (its checkpoint), written when its client
//! acknowledges (at most once per [`CHECKPOINT_EVERY`]) and when it parks.

use crate::base::protocol::FreshReason;
use crate::base::send::payload;
use crate::base::settings::ResumeLimits;
use crate::hub::backplane::ClusterEvent;
use crate::hub::Scope;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tungstenite::Message;

/// How often a session's checkpoint may be rewritten as its client acknowledges.
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// A journal entry's id: a Redis stream id, `ms-seq`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct EntryId {
    ms: u64,
    seq: u64,
}

impl EntryId {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (ms, seq) = text.split_once('-')?;
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Where a queued message came from in the journal, with the session's rooms and presence
/// there: what a checkpoint at that message records.
#[derive(Debug, Clone)]
pub(crate) struct Mark {
    pub(crate) entry: EntryId,
    pub(crate) rooms: Arc<[Arc<str>]>,
    pub(crate) presence: Option<Arc<str>>,
}

/// A journaled session's state on the instance that holds it.
pub(crate) struct Journaled {
    /// The session's rooms and presence as the journal has them so far (what decides what
    /// the journal delivers to it, on every instance alike).
    view: Mutex<Mark>,
    /// The marks of the messages queued for the client, in order, until they are written.
    queued: Mutex<VecDeque<Mark>>,
    /// Messages this instance put in the journal for the session that have not come back.
    in_flight: AtomicUsize,
    /// When the checkpoint was last written, and what it said (its entry and count).
    checkpointed: Mutex<Option<(Instant, EntryId, u64)>>,
}

impl Journaled {
    /// A session whose journal begins after `entry`, with these rooms and presence.
    pub(crate) fn new(entry: EntryId, rooms: &[String], presence: Option<&str>) -> Self {
        Self {
            view: Mutex::new(Mark {
                entry,
                rooms: rooms.iter().map(|room| Arc::from(room.as_str())).collect(),
                presence: presence.map(Arc::from),
            }),
            queued: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            checkpointed: Mutex::new(None),
        }
    }

    /// Entry `entry` put the session in (or took it out of) `room`.
    pub(crate) fn set_room(&self, entry: EntryId, room: &Arc<str>, member: bool) {
        let mut view = crate::base::sync::lock(&self.view);
        let mut rooms: Vec<Arc<str>> = view.rooms.iter().filter(|r| *r != room).cloned().collect();
        if member {
            rooms.push(Arc::clone(room));
        }
        view.rooms = rooms.into();
        view.entry = entry;
    }

    /// Entry `entry` set the session's presence.
    pub(crate) fn set_presence(&self, entry: EntryId, presence: Arc<str>) {
        let mut view = crate::base::sync::lock(&self.view);
        view.presence = Some(presence);
        view.entry = entry;
    }

    /// Whether the journal has the session in `room`.
    pub(crate) fn in_room(&self, room: &str) -> bool {
        crate::base::sync::lock(&self.view)
            .rooms
            .iter()
            .any(|joined| &**joined == room)
    }

    /// Entry `entry` is a message for the session, queued now: its mark.
    pub(crate) fn queue(&self, entry: EntryId) {
        let mark = {
            let mut view = crate::base::sync::lock(&self.view);
            view.entry = entry;
            view.clone()
        };
        crate::base::sync::lock(&self.queued).push_back(mark);
    }

    /// The message just marked could not be queued after all.
    pub(crate) fn unqueue(&self) {
        crate::base::sync::lock(&self.queued).pop_back();
    }

    /// The mark of the oldest queued message, which is being written.
    pub(crate) fn written(&self) -> Option<Mark> {
        crate::base::sync::lock(&self.queued).pop_front()
    }

    /// This instance put a message for the session in the journal.
    pub(crate) fn sent(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    /// One of them came back.
    pub(crate) fn returned(&self) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Messages sent to the journal that have not come back.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// The session's rooms and presence at the last entry the journal gave it.
    pub(crate) fn view(&self) -> Mark {
        crate::base::sync::lock(&self.view).clone()
    }

    /// Messages from the journal wait to be written to the client.
    pub(crate) fn has_queued(&self) -> bool {
        !crate::base::sync::lock(&self.queued).is_empty()
    }

    /// Whether a checkpoint at `entry`, message `count`, is worth writing now (and, if so,
    /// notes that it is): it says something new, and the last one is older than
    /// [`CHECKPOINT_EVERY`] (or `now` asks for it at once).
    pub(crate) fn checkpoint_due(
        &self,
        at: Instant,
        entry: EntryId,
        count: u64,
        now: bool,
    ) -> bool {
        let mut last = crate::base::sync::lock(&self.checkpointed);
        if let Some((written, was_entry, was_count)) = *last {
            let recent = at.duration_since(written) < CHECKPOINT_EVERY;
            if (was_entry, was_count) == (entry, count) || (recent && !now) {
                return false;
            }
        }
        *last = Some((at, entry, count));
        true
    }
}

/// A session's checkpoint, as Redis keeps it: what another instance resumes it from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) id: u64,
    /// The route of the endpoint that made the session: it resumes there only (a record
    /// without one resumes nowhere).
    #[serde(default)]
    pub(crate) endpoint: String,
    pub(crate) path: String,
    /// The instance holding the session.
    pub(crate) owner: u16,
    pub(crate) rooms: Vec<String>,
    pub(crate) presence: Option<String>,
    /// The client has every message up to this number.
    pub(crate) count: u64,
    /// The journal entry of message `count` (or of the session's start): the fold begins
    /// after it.
    pub(crate) position: String,
    /// The session can no longer resume exactly (its messages overflowed what it keeps).
    #[serde(default)]
    pub(crate) lost: bool,
}

impl Record {
    /// The record at `mark`, message `count`, of a session of `endpoint` (its route) on `path`.
    pub(crate) fn at(
        id: u64,
        (endpoint, path): (&str, &str),
        owner: u16,
        count: u64,
        mark: &Mark,
    ) -> Self {
        Self {
            id,
            endpoint: endpoint.to_owned(),
            path: path.to_owned(),
            owner,
            rooms: mark.rooms.iter().map(ToString::to_string).collect(),
            presence: mark.presence.as_deref().map(str::to_owned),
            count,
            position: mark.entry.to_string(),
            lost: false,
        }
    }

    pub(crate) fn encode(&self) -> bytes::Bytes {
        serde_json::to_vec(self)
            .map(bytes::Bytes::from)
            .unwrap_or_default()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

/// A session rebuilt from its checkpoint and the journal after it.
#[derive(Debug)]
pub(crate) struct Folded {
    pub(crate) rooms: Vec<String>,
    pub(crate) presence: Option<String>,
    /// The number of the last message the session has been sent.
    pub(crate) count: u64,
    /// The messages after the client's, in order, with where each came from.
    pub(crate) missed: Vec<(Message, Mark)>,
    /// Where the client's last message came from: the session's checkpoint now.
    pub(crate) acked: Mark,
}

/// Folds journal entries, in order, into a session's state from its checkpoint.
pub(crate) struct Fold {
    id: u64,
    path: String,
    after: u64,
    limits: ResumeLimits,
    folded: Folded,
    bytes: usize,
}

impl Fold {
    /// Starts at `record` for a client that has every message up to `after`.
    ///
    /// # Errors
    /// `lost` when the client asks for messages before the checkpoint (it acknowledged them);
    /// `unknown` for a record no instance wrote (a count no session reaches).
    pub(crate) fn new(
        record: Record,
        after: u64,
        limits: ResumeLimits,
    ) -> Result<Self, FreshReason> {
        // Counts stay below 2^53 (safe as JSON numbers): past that, not a record of ours, and
        // counting on from it could overflow.
        if record.count >= 1 << 53 {
            return Err(FreshReason::Unknown);
        }
        if record.lost || after < record.count {
            return Err(FreshReason::Lost);
        }
        let acked = Mark {
            entry: EntryId::parse(&record.position).ok_or(FreshReason::Unknown)?,
            rooms: record
                .rooms
                .iter()
                .map(|room| Arc::from(room.as_str()))
                .collect(),
            presence: record.presence.as_deref().map(Arc::from),
        };
        Ok(Self {
            id: record.id,
            path: record.path,
            after,
            limits,
            folded: Folded {
                rooms: record.rooms,
                presence: record.presence,
                count: record.count,
                missed: Vec::new(),
                acked,
            },
            bytes: 0,
        })
    }

    /// The next journal entry.
    ///
    /// # Errors
    /// `lost` when the messages missed exceed what a session keeps.
    pub(crate) fn apply(
        &mut self,
        entry: EntryId,
        event: &ClusterEvent,
    ) -> Result<(), FreshReason> {
        let me = |id: &crate::base::ids::ConnectionId| id.0 == self.id;
        let rooms = &mut self.folded.rooms;
        let message = match event {
            ClusterEvent::Deliver {
                scope,
                except,
                message,
            } => {
                let addressed = match scope {
                    Scope::All => true,
                    Scope::Path(path) => *path == self.path,
                    Scope::Room(room) => rooms.iter().any(|joined| joined == room),
                };
                if !addressed || except.iter().any(me) {
                    return Ok(());
                }
                message
            }
            ClusterEvent::DeliverTo { id, message } if me(id) => message,
            ClusterEvent::Joined { id, room } if me(id) => {
                if !rooms.iter().any(|joined| **joined == **room) {
                    rooms.push(room.to_string());
                }
                return Ok(());
            }
            ClusterEvent::Left { id, room } if me(id) => {
                rooms.retain(|joined| **joined != **room);
                return Ok(());
            }
            ClusterEvent::Presence { id, presence } if me(id) => {
                self.folded.presence = Some(presence.to_string());
                return Ok(());
            }
            ClusterEvent::Dropped => return Err(FreshReason::Lost),
            _ => return Ok(()),
        };
        self.folded.count += 1;
        let mark = || Mark {
            entry,
            rooms: self
                .folded
                .rooms
                .iter()
                .map(|room| Arc::from(room.as_str()))
                .collect(),
            presence: self.folded.presence.as_deref().map(Arc::from),
        };
        if self.folded.count == self.after {
            self.folded.acked = mark();
        }
        if self.folded.count > self.after {
            let size = payload(message).len();
            if !self.limits.fits(self.folded.missed.len(), self.bytes, size) {
                return Err(FreshReason::Lost);
            }
            self.bytes += size;
            let mark = mark();
            self.folded.missed.push((message.clone(), mark));
        }
        Ok(())
    }

    /// The session as the journal leaves it.
    ///
    /// # Errors
    /// `lost` when the client claims messages the session was never sent.
    pub(crate) fn finish(self) -> Result<Folded, FreshReason> {
        if self.after > self.folded.count {
            return Err(FreshReason::Lost);
        }
        Ok(self.folded)
    }
}

#[cfg(test)]
mod tests;
