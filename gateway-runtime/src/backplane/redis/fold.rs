//! Rebuilding a session from the journal: its checkpoint, then the entries after it up to where
//! the reader is, then what the reader applied meanwhile; bounded in how far back it reads.

use super::store::Keys;
use crate::base::protocol::FreshReason;
use crate::endpoint::resume::cluster::Restore;
use crate::endpoint::resume::journal::{EntryId, Fold, Record};
use crate::hub::backplane::{decode, ClusterEvent};
use bytes::Bytes;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamRangeReply};
use redis::Value;

/// Entries read or folded per command.
pub(super) const BATCH: usize = 512;

/// How far past a session's checkpoint a fold reads (and how much of what the reader applies
/// meanwhile it keeps), in entries and in bytes: a session further behind cannot be rebuilt
/// elsewhere (`lost`). A session's checkpoint moves with the journal when its client has
/// acknowledged everything (and every few seconds, see the reader's `SWEEP`), so a client
/// that acknowledges is this far behind only after as many entries in the time it was away:
/// 200,000 is a few seconds of a flood of small messages.
pub(super) const FOLD_ENTRIES: usize = 200_000;
pub(super) const FOLD_BYTES: usize = 32 << 20;

/// A resume whose fold runs: the entries the reader applies meanwhile are kept for it, to be
/// folded in when the fold has reached where the reader was when it began.
pub(super) struct Folding {
    pub(super) restore: Restore,
    pub(super) record: Record,
    pub(super) claim: String,
    /// Entries after the fold's end, in order, as the reader applied them.
    pub(super) catch_up: Vec<(EntryId, ClusterEvent)>,
    /// What they carry, in bytes.
    pub(super) catch_up_bytes: usize,
    /// They exceeded [`FOLD_ENTRIES`] or [`FOLD_BYTES`]: the session is too far behind.
    pub(super) overflowed: bool,
}

impl Folding {
    /// An entry the reader applied while the fold ran.
    pub(super) fn keep(&mut self, entry: EntryId, event: &ClusterEvent) {
        if self.overflowed {
            return;
        }
        self.catch_up_bytes += event.weight();
        if self.catch_up.len() >= FOLD_ENTRIES || self.catch_up_bytes > FOLD_BYTES {
            self.overflowed = true;
            self.catch_up = Vec::new();
            return;
        }
        self.catch_up.push((entry, event.clone()));
    }
}

/// The session from its checkpoint through the journal up to `at`, reading at most
/// [`FOLD_ENTRIES`] entries and [`FOLD_BYTES`] bytes of them (past that: `lost`).
pub(super) async fn fold(
    keys: &Keys,
    mut commands: MultiplexedConnection,
    record: Record,
    after: u64,
    limits: crate::base::settings::ResumeLimits,
    at: EntryId,
) -> redis::RedisResult<Result<Fold, FreshReason>> {
    let Some(from) = EntryId::parse(&record.position) else {
        return Ok(Err(FreshReason::Unknown));
    };
    // Entries trimmed from the journal's start may have been the session's.
    let first: StreamRangeReply = redis::cmd("XRANGE")
        .arg(keys.journal())
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut commands)
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
    let (mut cursor, mut entries, mut bytes) = (from, 0, 0);
    while cursor < at {
        let range: StreamRangeReply = redis::cmd("XRANGE")
            .arg(keys.journal())
            .arg(format!("({cursor}"))
            .arg(at.to_string())
            .arg("COUNT")
            .arg(BATCH)
            .query_async(&mut commands)
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
            entries += 1;
            bytes += event.weight();
            if entries > FOLD_ENTRIES || bytes > FOLD_BYTES {
                return Ok(Err(FreshReason::Lost));
            }
            if let Err(reason) = fold.apply(id, &event) {
                return Ok(Err(reason));
            }
            cursor = id;
        }
        if cursor == before {
            break;
        }
    }
    Ok(Ok(fold))
}

/// A journal entry's number (see `Keys::journal_append`; `None` for one written without).
pub(super) fn number_of(entry: &StreamId) -> Option<u64> {
    match entry.map.get("n")? {
        Value::BulkString(digits) => std::str::from_utf8(digits).ok()?.parse().ok(),
        Value::Int(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// A journal entry's id, with its origin and event when it is one of ours (`None`, with a
/// warning, for one that cannot be read: written by another version, or not by us at all).
pub(super) fn entry_of(entry: &StreamId) -> Option<(EntryId, Option<(u16, ClusterEvent)>)> {
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
