//! The journal's reader: follows the stream `ns:journal` in order and applies each entry to
//! this instance's resumable sessions (see `resume::journal`), and between reads resumes
//! sessions other instances held: it asks a live holder to let go, then folds the session's
//! checkpoint and the entries after it up to where it has read, so the session misses nothing
//! and gets nothing twice.

use super::fold::{entry_of, fold, number_of, Folding, BATCH};
use super::link::connect;
use super::store::Keys;
use super::RedisBackplane;
use crate::base::protocol::FreshReason;
use crate::base::token::Token;
use crate::endpoint::resume::cluster::{self, ForReader, Restore};
use crate::endpoint::resume::journal::{EntryId, Fold, Record};
use crate::hub::backplane::{encode, ClusterEvent};
use crate::hub::WeakHub;
use redis::aio::MultiplexedConnection;
use redis::streams::StreamReadReply;
use redis::Client;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// How long one read waits for new entries: also about how long a resume may wait for the
/// reader (a read cut short still holds its connection in Redis until then). Short enough for
/// a quick resume, long enough to cost nothing idle (50 reads a second).
const BLOCK: Duration = Duration::from_millis(20);

/// How long a read waits while a resume waits for a holder to let go.
const RECHECK: Duration = Duration::from_millis(5);

/// How long a resume waits for the instance holding the session to let it go.
const RELEASE_WAIT: Duration = Duration::from_secs(2);

/// How long one instance may hold the right to restore a session (past it, another may).
const RESTORE_CLAIM: Duration = Duration::from_secs(30);

/// Folds run at once, each in a task of its own beside the reader; others wait their turn.
const FOLDS_AT_ONCE: usize = 2;

/// How often every session's checkpoint is renewed where it moved.
const SWEEP: Duration = Duration::from_secs(5);

/// A resume waiting for its session's holder to let go.
struct Pending {
    restore: Restore,
    record: Record,
    /// The instance asked to let go, until it answers (or is no longer heard from).
    holder: Option<u16>,
    deadline: Instant,
    /// This instance's claim on restoring the session (see [`Keys::restoring`]).
    claim: String,
}

/// What a fold task hands back: the fold up to where it began, or why the session cannot be
/// rebuilt.
type FoldDone = (Token, redis::RedisResult<Result<Fold, FreshReason>>);

/// Follows the journal for as long as the app lives, reconnecting after Redis failures.
pub(super) async fn follow(
    client: Client,
    keys: Arc<Keys>,
    instance: u16,
    hub: WeakHub,
    mut requests: mpsc::UnboundedReceiver<ForReader>,
) {
    let mut position: Option<EntryId> = None;
    let mut pending: Vec<Pending> = Vec::new();
    let mut folding: HashMap<Token, Folding> = HashMap::new();
    let (folded, mut done) = mpsc::unbounded_channel::<FoldDone>();
    let folds = Arc::new(Semaphore::new(FOLDS_AT_ONCE));
    let mut sweep = tokio::time::interval(SWEEP);
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
                position = cluster::journal(&app).and_then(cluster::Journal::position);
                drop(app);
                if position.is_none() {
                    tokio::time::sleep(BLOCK).await;
                }
            }
            loop {
                let at = position.unwrap_or_default();
                let mut still = Vec::new();
                for waiting in pending.drain(..) {
                    if follower.is_ready(&waiting) {
                        let fold = follower.start_fold(&waiting, at, &folds, &folded);
                        folding.insert(waiting.restore.token, fold(waiting));
                    } else {
                        still.push(waiting);
                    }
                }
                pending = still;
                // A resume waiting for a holder to let go is looked at again soon; a new one
                // interrupts the wait (a read cut short reads the same entries next time).
                let block = if pending.is_empty() { BLOCK } else { RECHECK };
                tokio::select! {
                    biased;
                    Some(request) = requests.recv() => match request {
                        ForReader::Restore(restore) => {
                            if let Some(waiting) = follower.begin(restore).await? {
                                pending.push(waiting);
                            }
                        }
                        ForReader::Released(token) => {
                            let token = Token::parse(&token);
                            pending
                                .iter_mut()
                                .filter(|waiting| Some(waiting.restore.token) == token)
                                .for_each(|waiting| waiting.holder = None);
                        }
                    },
                    Some((token, fold)) = done.recv() => {
                        if let Some(resume) = folding.remove(&token) {
                            follower.complete(resume, fold, at).await?;
                        }
                    }
                    _ = sweep.tick() => {
                        if let Some(app) = hub.upgrade() {
                            if let Some(journal) = cluster::journal(&app) {
                                journal.sweep_checkpoints(&app);
                            }
                        }
                    }
                    read = read(&keys, &hub, &mut reader, at, block, &mut folding) => match read? {
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
    /// Starts a resume: claims the right to restore the session (one instance at a time: a
    /// second resume meanwhile is told `unknown`, never given a copy) and reads its
    /// checkpoint as the claim finds it (so after the last restore's hand-over), and, when
    /// another live instance holds the session, asks it to let go. `None` when it is
    /// answered at once.
    async fn begin(&mut self, restore: Restore) -> redis::RedisResult<Option<Pending>> {
        let token = restore.token.to_string();
        let claim = format!("{}:{}", self.instance, super::random());
        let (claimed, stored): (Option<String>, Option<Vec<u8>>) = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(self.keys.restoring(&token))
            .arg(&claim)
            .arg("NX")
            .arg("PX")
            .arg(RESTORE_CLAIM.as_millis() as u64)
            .cmd("GET")
            .arg(self.keys.session(&token))
            .query_async(self.commands)
            .await?;
        if claimed.is_none() {
            (restore.install)(Err(FreshReason::Unknown));
            return Ok(None);
        }
        // A session resumes only on the endpoint that made it (and so only through that
        // endpoint's middleware and guards, which ran on this connection's handshake).
        let record = stored
            .as_deref()
            .and_then(Record::decode)
            .filter(|record| record.endpoint == restore.endpoint);
        let Some(record) = record else {
            (restore.install)(Err(FreshReason::Unknown));
            self.keys
                .hand_over(&token, &claim, None)
                .query_async::<()>(self.commands)
                .await?;
            return Ok(None);
        };
        // Whatever it knows of the session's connections, the instance that holds it is asked
        // to let go, and answers once it has: the news of a connection there may not have
        // reached this instance yet.
        let holder = record.owner;
        let held_elsewhere = holder != self.instance && self.is_alive(holder);
        if held_elsewhere {
            let release = encode(
                self.instance,
                &ClusterEvent::Release {
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
            claim,
        }))
    }

    /// Whether instance `holder` is heard from.
    fn is_alive(&self, holder: u16) -> bool {
        self.hub.upgrade().is_some_and(|hub| {
            hub.cluster()
                .is_some_and(|cluster| cluster.is_alive(holder))
        })
    }

    /// Whether the resume may go on: its session's holder has let go (or is gone, or the
    /// wait is over).
    fn is_ready(&self, waiting: &Pending) -> bool {
        let still_held = waiting.holder.is_some_and(|holder| self.is_alive(holder));
        !still_held || Instant::now() >= waiting.deadline
    }

    /// Folds the journal from the resume's checkpoint up to `at` (where the reader is) in a
    /// task of its own, at most [`FOLDS_AT_ONCE`] at a time, so the reader goes on delivering
    /// meanwhile; what it applies after `at` is kept for the resume (see [`Folding`]).
    fn start_fold(
        &self,
        waiting: &Pending,
        at: EntryId,
        folds: &Arc<Semaphore>,
        folded: &mpsc::UnboundedSender<FoldDone>,
    ) -> impl FnOnce(Pending) -> Folding {
        let (folds, folded) = (Arc::clone(folds), folded.clone());
        let (keys, commands) = (self.keys.clone(), self.commands.clone());
        let (record, restore) = (waiting.record.clone(), &waiting.restore);
        let (token, after, limits) = (restore.token, restore.after, restore.limits);
        tokio::spawn(async move {
            let _turn = folds.acquire_owned().await;
            let fold = fold(&keys, commands, record, after, limits, at).await;
            folded.send((token, fold)).ok();
        });
        |waiting: Pending| Folding {
            restore: waiting.restore,
            record: waiting.record,
            claim: waiting.claim,
            catch_up: Vec::new(),
            catch_up_bytes: 0,
            overflowed: false,
        }
    }

    /// A fold is done: the entries the reader applied since it began are folded in, and the
    /// session is handed over at `at` (before the reader reads on); then the claim goes.
    async fn complete(
        &mut self,
        resume: Folding,
        fold: redis::RedisResult<Result<Fold, FreshReason>>,
        at: EntryId,
    ) -> redis::RedisResult<()> {
        let Folding {
            restore,
            record,
            claim,
            catch_up,
            overflowed,
            ..
        } = resume;
        let restored = match fold {
            Ok(Ok(mut fold)) if !overflowed => catch_up
                .iter()
                .try_for_each(|(entry, event)| fold.apply(*entry, event))
                .and_then(|()| fold.finish()),
            Ok(Ok(_)) => Err(FreshReason::Lost),
            Ok(Err(reason)) => Err(reason),
            Err(error) => {
                tracing::warn!(%error, "a resume's fold failed");
                Err(FreshReason::Unknown)
            }
        };
        // The session is this instance's from here: its checkpoint says so before the claim
        // goes, so the next resume elsewhere asks this instance to let go.
        let handed = restored.is_ok().then(|| {
            let mut mine = record.clone();
            mine.owner = self.instance;
            mine.encode()
        });
        (restore.install)(restored.map(|folded| (record, folded, at)));
        let token = restore.token.to_string();
        self.keys
            .hand_over(&token, &claim, handed.as_deref())
            .query_async::<()>(self.commands)
            .await
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
    folding: &mut HashMap<Token, Folding>,
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
    let Some(journal) = cluster::journal(&hub) else {
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
        journal.number(number_of(&entry));
        match event {
            Some((origin, event)) => {
                journal.apply(&hub, id, origin, &event);
                for resume in folding.values_mut() {
                    resume.keep(id, &event);
                }
            }
            None => {
                journal.skip(id);
                for resume in folding.values_mut() {
                    resume.overflowed = true;
                }
            }
        }
        last = Some(id);
    }
    Ok(last)
}

/// How long Redis keeps a parked session's checkpoint after its instance was last heard from.
pub(super) fn checkpoint_ttl_ms(window_ms: u64) -> u64 {
    window_ms + RedisBackplane::LIVENESS.as_millis() as u64
}
