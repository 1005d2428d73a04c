//! The backplane's task: one connection to Redis at a time, carrying events both ways, and
//! reconnecting (with the re-announce and reload that entails) whenever Redis goes away.

mod presence;

use super::backlog::Backlog;
use super::store::{self, Keys, OwnKeys};
use super::{Outbox, RedisBackplane};
use crate::hub::backplane::{decode, encode, peek, ClusterEvent};
use crate::hub::{Cluster, WeakHub};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ErrorKind};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

/// How long connecting to Redis, or one command, may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// The first pause before reaching Redis again, doubled on each failure ...
const MIN_BACKOFF: Duration = Duration::from_millis(50);

/// ... up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How long this instance's own heartbeat may take to come back through its subscription
/// before the subscription counts as stalled (frames pile up in the client meanwhile).
const MAX_LAG: Duration = Duration::from_secs(5);

/// How many frames of other instances wait between the subscription's reader and the loop.
const FRAMES_WAITING: usize = 1024;

/// A connection for commands, bounded by [`TIMEOUT`].
pub(super) async fn connect(client: &Client) -> redis::RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(TIMEOUT))
        .set_response_timeout(Some(TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// Everything the backplane's task needs.
pub(super) struct RedisLink {
    pub(super) client: Client,
    pub(super) keys: Keys,
    /// This instance's own names among them.
    pub(super) own: OwnKeys,
    pub(super) instance: u16,
    pub(super) token: u64,
    pub(super) outbox: Outbox,
    /// The journal's byte budget in Redis.
    pub(super) journal_bytes: usize,
    /// Redis answered at start (not degraded): until the first session with it fails, a
    /// full queue is Redis being slow, not away.
    pub(super) reached: bool,
}

/// Why a session with Redis ended.
enum Ended {
    /// The app is gone: stop.
    AppGone,
    /// Redis went away or failed a command: reconnect.
    Lost(redis::RedisError),
}

impl From<redis::RedisError> for Ended {
    fn from(error: redis::RedisError) -> Self {
        Self::Lost(error)
    }
}

impl RedisLink {
    /// Carries events until the app is gone, reconnecting whenever Redis goes away.
    pub(super) async fn run(
        self,
        hub: WeakHub,
        mut events: mpsc::Receiver<ClusterEvent>,
        backlog: Arc<Backlog>,
    ) {
        let mut session = Session {
            link: &self,
            hub,
            backlog,
            previous_connection: None,
            echo_pending: None,
        };
        let mut backoff = MIN_BACKOFF;
        let mut lost_at: Option<Instant> = None;
        loop {
            let began = Instant::now();
            let ended = session.run(&mut events, &mut lost_at).await;
            session.backlog.set_connected(false);
            let Ended::Lost(error) = ended else {
                return;
            };
            // Only a session that held resets the pause: one that fails right after starting
            // (a command this Redis refuses) must not reconnect in a tight loop.
            if began.elapsed() > RedisBackplane::HEARTBEAT * 2 {
                backoff = MIN_BACKOFF;
            }
            if lost_at.is_none() {
                tracing::warn!(%error, "backplane lost Redis; reconnecting");
                lost_at = Some(Instant::now());
            }
            if events.is_closed() {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// The backplane's task: one connection to Redis at a time.
struct Session<'link> {
    link: &'link RedisLink,
    hub: WeakHub,
    backlog: Arc<Backlog>,
    /// The Redis client id of the previous session's command connection: it is cut off
    /// before this instance is announced again, so none of its late writes land after.
    previous_connection: Option<i64>,
    /// When the heartbeat still on its way back through the subscription was published.
    echo_pending: Option<Instant>,
}

impl Session<'_> {
    /// One connection to Redis: subscribe, claim the instance number, announce this instance,
    /// load the others, then carry events both ways until something fails.
    async fn run(
        &mut self,
        events: &mut mpsc::Receiver<ClusterEvent>,
        lost_at: &mut Option<Instant>,
    ) -> Ended {
        let link = self.link;
        let connected = tokio::time::timeout(TIMEOUT, async {
            let redis = connect(&link.client).await?;
            let mut pubsub = link.client.get_async_pubsub().await?;
            pubsub.subscribe(&link.own.bus).await?;
            pubsub.subscribe(&link.own.inbox).await?;
            Ok::<_, redis::RedisError>((redis, pubsub))
        });
        let (mut redis, pubsub) = match connected.await {
            Ok(Ok(connected)) => connected,
            Ok(Err(error)) => return Ended::Lost(error),
            Err(_) => return Ended::Lost(timed_out()),
        };
        self.echo_pending = None;
        let started = async {
            self.fence(&mut redis).await?;
            self.claim(&mut redis).await?;
            self.start_journal(&mut redis).await?;
            self.announce(events, &mut redis).await?;
            self.load_all(&mut redis).await
        };
        if let Err(ended) = started.await {
            return ended;
        }
        if let Some(lost_at) = lost_at.take() {
            tracing::info!(after = ?lost_at.elapsed(), "backplane reconnected to Redis");
        }
        self.backlog.set_connected(true);
        let (mut frames, echoed) = read_subscription(pubsub.into_on_message(), link.instance);
        let mut heartbeat = tokio::time::interval(RedisBackplane::HEARTBEAT);
        let mut batch = Vec::with_capacity(256);
        loop {
            let step = tokio::select! {
                frame = frames.recv() => match frame {
                    Some(frame) => self.receive(frame, &mut redis).await,
                    None => Err(Ended::Lost(connection_closed())),
                },
                () = echoed.notified() => {
                    self.echo_pending = None;
                    Ok(())
                }
                count = events.recv_many(&mut batch, 512) => {
                    if count == 0 {
                        return Ended::AppGone;
                    }
                    self.backlog.taken(&batch, events.len());
                    let dropped = self
                        .backlog
                        .sends_dropped
                        .swap(false, Ordering::Relaxed)
                        .then_some(ClusterEvent::Dropped);
                    let sends = batch.iter().any(ClusterEvent::is_send);
                    let published = self
                        .publish(dropped.into_iter().chain(batch.drain(..)), &mut redis)
                        .await;
                    if events.is_empty() {
                        self.backlog.drained();
                    }
                    if published.is_err() && sends {
                        // The batch is gone with the connection: its sends were dropped.
                        self.backlog.sends_dropped.store(true, Ordering::Relaxed);
                    }
                    match published {
                        Ok(()) if self.backlog.gap.load(Ordering::Relaxed) => {
                            self.announce(events, &mut redis).await
                        }
                        other => other.map_err(Ended::from),
                    }
                }
                _ = heartbeat.tick() => self.heartbeat(events, &mut redis).await,
            };
            if let Err(ended) = step {
                return ended;
            }
        }
    }

    /// Runs `f` on the hub's cluster state; `AppGone` once the app is.
    fn cluster<R>(&self, f: impl FnOnce(&Cluster) -> R) -> Result<R, Ended> {
        let hub = self.hub.upgrade().ok_or(Ended::AppGone)?;
        let cluster = hub.cluster().ok_or(Ended::AppGone)?;
        Ok(f(cluster))
    }

    /// Handles one frame from the bus or this instance's inbox.
    async fn receive(
        &mut self,
        frame: Bytes,
        redis: &mut MultiplexedConnection,
    ) -> Result<(), Ended> {
        let (origin, event) = match decode(frame) {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::warn!(%error, "ignoring a backplane frame");
                return Ok(());
            }
        };
        let hub = self.hub.upgrade().ok_or(Ended::AppGone)?;
        let cluster = hub.cluster().ok_or(Ended::AppGone)?;
        // An instance not heard from before (new, or forgotten while silent) is loaded whole.
        if cluster.heard_from(origin) || event == ClusterEvent::Announce {
            self.load(origin, redis).await?;
        }
        hub.receive(origin, event);
        Ok(())
    }

    /// Sends events in one pipeline: each is published, and presence changes are also
    /// written to this instance's keys.
    async fn publish(
        &self,
        events: impl Iterator<Item = ClusterEvent>,
        redis: &mut MultiplexedConnection,
    ) -> redis::RedisResult<()> {
        let link = self.link;
        let mut events = events.peekable();
        if events.peek().is_none() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        let mut stored = false;
        let journaling = self.hub.upgrade().is_some_and(|hub| hub.is_journaling());
        let mut journal = link.keys.journal_append(link.journal_bytes);
        let mut journal_entries = 0;
        for event in events {
            match &event {
                ClusterEvent::Checkpoint {
                    token,
                    record,
                    window_ms,
                } => {
                    let ttl_ms = super::reader::checkpoint_ttl_ms(*window_ms);
                    let checkpoint = link.keys.checkpoint(token, record, link.instance, ttl_ms);
                    pipe.add_command(checkpoint).ignore();
                    continue;
                }
                ClusterEvent::Forget { token } => {
                    pipe.del(link.keys.session(token)).ignore();
                    continue;
                }
                _ => {}
            }
            stored |= link.own.record(&mut pipe, &event);
            let frame = encode(link.instance, &event);
            if journaling && event.journaled() {
                journal.arg(&frame);
                journal_entries += 1;
            }
            match &event {
                ClusterEvent::DeliverTo { id, .. } => {
                    let location = self.cluster(|cluster| cluster.location(*id)).ok().flatten();
                    pipe.publish(link.keys.inbox(location.unwrap_or(id.instance())), frame)
                }
                ClusterEvent::Released { to, .. } => pipe.publish(link.keys.inbox(*to), frame),
                _ => pipe.publish(&link.own.bus, frame),
            }
            .ignore();
        }
        if stored {
            link.own.keep_alive(&mut pipe);
        }
        if journal_entries > 0 {
            pipe.add_command(journal).ignore();
        }
        pipe.query_async(redis).await
    }

    /// Tells the others this instance is alive and renews its keys; announces it whole again
    /// when Redis lost any of them (restart, flush, eviction) or events were dropped; forgets
    /// the instances that went silent; gives up on a subscription that has stalled.
    async fn heartbeat(
        &mut self,
        events: &mut mpsc::Receiver<ClusterEvent>,
        redis: &mut MultiplexedConnection,
    ) -> Result<(), Ended> {
        if self
            .echo_pending
            .is_some_and(|published| published.elapsed() > MAX_LAG)
        {
            return Err(Ended::Lost(lagging()));
        }
        let link = self.link;
        let expected = self.hub.upgrade().ok_or(Ended::AppGone)?.local_holdings();
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(&link.own.claim)
            .arg(link.token)
            .arg("PX")
            .arg(store::ttl_ms())
            .arg("GET");
        for key in &link.own.clients {
            pipe.exists(key);
        }
        link.own.keep_alive(&mut pipe);
        pipe.publish(
            &link.own.bus,
            encode(link.instance, &ClusterEvent::Heartbeat),
        )
        .ignore();
        let (owner, members, presence, rooms): (Option<u64>, bool, bool, bool) =
            pipe.query_async(redis).await?;
        self.echo_pending.get_or_insert_with(Instant::now);
        self.check_owner(owner);
        // A key this instance should have and Redis has not: Redis lost it.
        let missing = (expected.members && !members)
            || (expected.presence && !presence)
            || (expected.rooms && !rooms);
        let lost = owner.is_none() || missing;
        if lost || self.backlog.gap.load(Ordering::Relaxed) {
            self.announce(events, redis).await?;
        }
        for instance in self.cluster(|cluster| cluster.forget_silent(RedisBackplane::LIVENESS))? {
            tracing::info!(instance, "forgot a silent instance and its clients");
        }
        Ok(())
    }
}

/// A load error that retrying will not fix: the keys hold something else.
fn unreadable(error: &redis::RedisError) -> bool {
    matches!(
        error.kind(),
        ErrorKind::UnexpectedReturnType | ErrorKind::Parse
    ) || error.code() == Some("WRONGTYPE")
}

fn lagging() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::other(
        "the subscription is stalled: this instance's heartbeat did not come back",
    ))
}

fn timed_out() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut))
}

fn connection_closed() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
}

/// Reads the subscription in a task of its own, so that publishing never holds it up: this
/// instance's own events come back on the bus, and unread they would pile up, unbounded,
/// inside the Redis client (a flood of large messages took an instance past 1 GB, and its
/// heartbeat's echo came late enough to count the link as stalled). Its own are passed at once
/// after reading their first bytes (its heartbeat's echo is signalled); what other instances
/// sent waits for the loop in a bounded queue. The task ends with the subscription or when
/// the loop lets go of the queue.
fn read_subscription(
    messages: impl Stream<Item = redis::Msg> + Send + 'static,
    instance: u16,
) -> (mpsc::Receiver<Bytes>, Arc<Notify>) {
    let (sender, frames) = mpsc::channel(FRAMES_WAITING);
    let echoed = Arc::new(Notify::new());
    let echo = Arc::clone(&echoed);
    tokio::spawn(async move {
        let mut messages = std::pin::pin!(messages);
        loop {
            let message = tokio::select! {
                message = messages.next() => message,
                () = sender.closed() => return,
            };
            let Some(message) = message else {
                return;
            };
            let frame = message.get_payload_bytes();
            match peek(frame) {
                Some((origin, heartbeat)) if origin == instance => {
                    if heartbeat {
                        echo.notify_one();
                    }
                }
                _ => {
                    if sender.send(Bytes::copy_from_slice(frame)).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    (frames, echoed)
}
