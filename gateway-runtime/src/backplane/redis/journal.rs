//! The journal's reader: follows the stream `ns:journal` in order and applies each entry to
//! this instance's resumable sessions (see `resume::journal`), and between reads resumes
//! sessions other instances held: it asks a live holder to let go, then folds the session's
//! checkpoint and the entries after it up to where it has read, so the session misses nothing
//! and gets nothing twice.

use super::session::connect;
use super::store::Keys;
use super::RedisBackplane;
use crate::backplane::{decode, encode, Event};
use crate::connection::ConnectionId;
use crate::hub::{Restore, WeakHub};
use crate::resume::journal::{EntryId, Fold, Record};
use crate::resume::FreshReason;
use bytes::Bytes;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};
use redis::{Client, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long one read waits for new entries: also about how long a resume may wait for the
/// reader (a read cut short still holds its connection in Redis until then). Short enough for
/// a quick resume, long enough to cost nothing idle (50 reads a second).
const BLOCK: Duration = Duration::from_millis(20);

/// How long a read waits while a resume waits for a holder to let go.
const RECHECK: Duration = Duration::from_millis(5);

/// Entries read or folded per command.
const BATCH: usize = 512;

/// How long a resume waits for the instance holding the session to let it go.
const RELEASE_WAIT: Duration = Duration::from_secs(2);

/// A resume waiting for its session's holder to let go.
struct Pending {
    restore: Restore,
    record: Record,
    /// The instance asked to let go, until the registry no longer has the client there.
    holder: Option<u16>,
    deadline: Instant,
}

/// Follows the journal for as long as the app lives, reconnecting after Redis failures.
pub(super) async fn follow(
    client: Client,
    keys: Arc<Keys>,
    instance: u16,
    hub: WeakHub,
    mut restores: mpsc::UnboundedReceiver<Restore>,
) {
    let mut position: Option<EntryId> = None;
    let mut pending: Vec<Pending> = Vec::new();
    // Only an app with resumable endpoints has a journal to follow.
    loop {
        match hub.upgrade() {
            Some(app) if app.is_journaling() => break,
            Some(_) => tokio::time::sleep(BLOCK).await,
            None => return,
        }
    }
    loop {
        let connected = async {
            Ok::<_, redis::RedisError>((connect(&client).await?, connect(&client).await?))
        };
        let (mut reader, mut commands) = match connected.await {
            Ok(connections) => connections,
            Err(_) => {
                if hub.upgrade().is_none() {
                    return;
                }
                tokio::time::sleep(BLOCK * 5).await;
                continue;
            }
        };
        let mut follower = Follower {
            keys: &keys,
            instance,
            hub: &hub,
            commands: &mut commands,
        };
        let failed = async {
            // The backplane sets where the journal begins, before it adds to it.
            while position.is_none() {
                let Some(app) = hub.upgrade() else {
                    return Ok(());
                };
                position = app.journal().and_then(crate::hub::Journal::position);
                drop(app);
                if position.is_none() {
                    tokio::time::sleep(BLOCK).await;
                }
            }
            loop {
                let at = position.unwrap_or_default();
                let mut still = Vec::new();
                for waiting in pending.drain(..) {
                    if let Some(waiting) = follower.finish(waiting, at).await? {
                        still.push(waiting);
                    }
                }
                pending = still;
                // A resume waiting for a holder to let go is looked at again soon; a new one
                // interrupts the wait (a read cut short reads the same entries next time).
                let block = if pending.is_empty() { BLOCK } else { RECHECK };
                tokio::select! {
                    biased;
                    Some(restore) = restores.recv() => {
                        if let Some(waiting) = follower.begin(restore).await? {
                            pending.push(waiting);
                        }
                    }
                    read = read(&keys, &hub, &mut reader, at, block) => match read? {
                        Some(last) => position = Some(last),
                        None if hub.upgrade().is_none() => return Ok(()),
                        None => {}
                    },
                }
            }
        };
        let result: redis::RedisResult<()> = failed.await;
        if result.is_ok() {
            return;
        }
        tokio::time::sleep(BLOCK * 5).await;
    }
}

struct Follower<'a> {
    keys: &'a Keys,
    instance: u16,
    hub: &'a WeakHub,
    commands: &'a mut MultiplexedConnection,
}

impl Follower<'_> {
    /// Starts a resume: reads the session's checkpoint and, when another live instance holds
    /// the session, asks it to let go. `None` when it is answered at once.
    async fn begin(&mut self, restore: Restore) -> redis::RedisResult<Option<Pending>> {
        let token = restore.token.to_string();
        let stored: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.keys.session(&token))
            .query_async(self.commands)
            .await?;
        let Some(record) = stored.as_deref().and_then(Record::decode) else {
            (restore.install)(Err(FreshReason::Unknown));
            return Ok(None);
        };
        let holder = record.owner;
        let held_elsewhere = holder != self.instance && self.held_by(record.id, holder);
        if held_elsewhere {
            let release = encode(
                self.instance,
                &Event::Release {
                    token: Arc::from(token.as_str()),
                },
            );
            redis::cmd("PUBLISH")
                .arg(self.keys.inbox(holder))
                .arg(release)
                .query_async::<()>(self.commands)
                .await?;
        }
        Ok(Some(Pending {
            restore,
            record,
            holder: held_elsewhere.then_some(holder),
            deadline: Instant::now() + RELEASE_WAIT,
        }))
    }

    /// Whether the cluster registry says instance `holder` serves client `id`.
    fn held_by(&self, id: u64, holder: u16) -> bool {
        self.hub.upgrade().is_some_and(|hub| {
            hub.cluster()
                .is_some_and(|cluster| cluster.location(ConnectionId(id)) == Some(holder))
        })
    }

    /// Finishes a resume once its session's holder has let go (or is gone): folds the
    /// journal from the checkpoint to `at` and hands the session over. The resume comes back
    /// while it must wait on.
    async fn finish(
        &mut self,
        waiting: Pending,
        at: EntryId,
    ) -> redis::RedisResult<Option<Pending>> {
        let still_held = waiting
            .holder
            .is_some_and(|holder| self.held_by(waiting.record.id, holder));
        if still_held && Instant::now() < waiting.deadline {
            return Ok(Some(waiting));
        }
        let Pending {
            restore, record, ..
        } = waiting;
        let folded = self
            .fold(record.clone(), restore.after, restore.limits, at)
            .await?;
        (restore.install)(folded.map(|folded| (record, folded, at)));
        Ok(None)
    }

    /// The session from its checkpoint through the journal up to `at`.
    async fn fold(
        &mut self,
        record: Record,
        after: u64,
        limits: crate::resume::ResumeLimits,
        at: EntryId,
    ) -> redis::RedisResult<Result<crate::resume::journal::Folded, FreshReason>> {
        let Some(from) = EntryId::parse(&record.position) else {
            return Ok(Err(FreshReason::Unknown));
        };
        // Entries trimmed from the journal's start may have been the session's.
        let first: StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.keys.journal())
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(1)
            .query_async(self.commands)
            .await?;
        let first = first
            .ids
            .first()
            .and_then(|entry| EntryId::parse(&entry.id));
        if first.is_some_and(|first| first > from) && from != EntryId::default() {
            return Ok(Err(FreshReason::Lost));
        }
        let mut fold = match Fold::new(record, after, limits) {
            Ok(fold) => fold,
            Err(reason) => return Ok(Err(reason)),
        };
        let mut cursor = from;
        while cursor < at {
            let range: StreamRangeReply = redis::cmd("XRANGE")
                .arg(self.keys.journal())
                .arg(format!("({cursor}"))
                .arg(at.to_string())
                .arg("COUNT")
                .arg(BATCH)
                .query_async(self.commands)
                .await?;
            let before = cursor;
            for entry in &range.ids {
                let Some((id, event)) = entry_of(entry) else {
                    continue;
                };
                // An entry that cannot be read may have been the session's.
                let Some((_, event)) = event else {
                    return Ok(Err(FreshReason::Lost));
                };
                if let Err(reason) = fold.apply(id, &event) {
                    return Ok(Err(reason));
                }
                cursor = id;
            }
            if cursor == before {
                break;
            }
        }
        Ok(fold.finish())
    }
}

/// Reads the entries after `after` (waiting up to `block` for some) and applies them; the
/// last one read, if any. Cut short while it waits, it has applied nothing.
async fn read(
    keys: &Keys,
    hub: &WeakHub,
    reader: &mut MultiplexedConnection,
    after: EntryId,
    block: Duration,
) -> redis::RedisResult<Option<EntryId>> {
    let read: Option<StreamReadReply> = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(BATCH)
        .arg("BLOCK")
        .arg(block.as_millis() as u64)
        .arg("STREAMS")
        .arg(keys.journal())
        .arg(after.to_string())
        .query_async(reader)
        .await?;
    let Some(hub) = hub.upgrade() else {
        return Ok(None);
    };
    let Some(journal) = hub.journal() else {
        return Ok(None);
    };
    let mut last = None;
    let entries = read
        .into_iter()
        .flat_map(|read| read.keys)
        .flat_map(|key| key.ids);
    for entry in entries {
        let Some((id, event)) = entry_of(&entry) else {
            continue;
        };
        match event {
            Some((origin, event)) => journal.apply(&hub, id, origin, &event),
            None => journal.skip(id),
        }
        last = Some(id);
    }
    Ok(last)
}

/// A journal entry's id, with its origin and event when it is one of ours (`None`, with a
/// warning, for one that cannot be read: written by another version, or not by us at all).
fn entry_of(entry: &StreamId) -> Option<(EntryId, Option<(u16, Event)>)> {
    let id = EntryId::parse(&entry.id)?;
    let Some(Value::BulkString(frame)) = entry.map.get("e") else {
        tracing::warn!(entry = %entry.id, "a journal entry without an event");
        return Some((id, None));
    };
    match decode(Bytes::copy_from_slice(frame)) {
        Ok(event) => Some((id, Some(event))),
        Err(error) => {
            tracing::warn!(%error, entry = %entry.id, "a journal entry that cannot be read");
            Some((id, None))
        }
    }
}

/// How long Redis keeps a parked session's checkpoint after its instance was last heard from.
pub(super) fn checkpoint_ttl_ms(window_ms: u64) -> u64 {
    window_ms + RedisBackplane::LIVENESS.as_millis() as u64
}
