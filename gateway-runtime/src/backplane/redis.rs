//! [`RedisBackplane`]: several instances of a service share one Redis.
//!
//! Built on the `redis` crate (redis-rs): it is the Redis project's own Rust client, the most
//! used one, and its tokio support covers all we need (a multiplexed connection for commands, a
//! pub/sub connection), with no extra runtime. Reconnecting is ours, because after a Redis
//! restart an instance must also re-announce what Redis forgot (its presence) and reload what
//! it missed (the others').
//!
//! What travels, under the namespace `ns` (default `gateway`):
//! - channel `ns:bus`: every event of every instance (sends, connects, joins, heartbeats);
//! - channel `ns:to:N`: `Hub::send_to` a client of instance `N`;
//! - keys `ns:members:N` (id → path), `ns:presence:N` (id → text), `ns:rooms:N` ("id room"),
//!   `ns:instance:N` (N's claim on its number): what a starting instance loads to learn who is
//!   connected elsewhere. They expire [`LIVENESS`](RedisBackplane::LIVENESS) after N's last heartbeat.

use super::sealed::Link;
use super::{decode, encode, Attached, Backplane, Event, MAX_INSTANCE};
use crate::connection::ConnectionId;
use crate::hub::{Cluster, WeakHub};
use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, AsyncConnectionConfig, Client, Pipeline};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long connecting to Redis, or one command, may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// The longest pause between two attempts to reach Redis again.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The backplane could not start.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The URL is not a Redis URL.
    #[error("`{url}` is not a Redis URL ({source}); write it like `redis://127.0.0.1:6379`")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        source: redis::RedisError,
    },
    /// Redis did not answer.
    #[error(
        "cannot reach Redis at {addr} for the backplane: {source}; start Redis, fix the URL, or \
         build with `RedisBackplane::builder(url).start_degraded()` to serve without it until \
         it is reachable"
    )]
    Unreachable {
        /// The address tried.
        addr: String,
        /// Why it failed.
        source: redis::RedisError,
    },
    /// Every instance number tried was taken.
    #[error("could not claim an instance number in Redis at {addr}: all tried were taken")]
    NoInstanceNumber {
        /// The address of Redis.
        addr: String,
    },
}

/// A [`Backplane`] over Redis pub/sub (cargo feature `redis`): every instance of a service
/// connects to the same Redis, and their hubs act as one.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use gateway::prelude::*;
/// use gateway::RedisBackplane;
///
/// let backplane = RedisBackplane::connect("redis://127.0.0.1:6379").await?;
/// let app = App::new().backplane(backplane);
/// # Ok(()) }
/// ```
///
/// - Each hub send is published once and delivered by every other instance to its own clients
///   (the sending instance has already delivered to its own). Payloads travel as bytes and are
///   never re-encoded per recipient.
/// - Connection ids carry the instance's number, claimed in Redis at start, so they are unique
///   across instances.
/// - Connects, disconnects, joins, leaves and presence texts are published and kept in Redis, so
///   every instance knows every client; an instance that dies without cleaning up is forgotten
///   within 12 s ([`LIVENESS`](RedisBackplane::LIVENESS) after its last
///   [`HEARTBEAT`](RedisBackplane::HEARTBEAT)).
/// - Sending never waits for Redis: events wait in a bounded queue (see
///   [`RedisBackplaneBuilder::outbox`]) and go out in pipelined batches, so neither a slow Redis
///   nor a slow instance ever blocks a handler or another instance.
///
/// **When Redis goes away**, local delivery goes on. The backplane reconnects by itself (within
/// a second of Redis being back), re-announces its clients and reloads the others'. Sends made
/// meanwhile wait in the queue and go out on reconnect; what does not fit is dropped with a
/// warning (the presence is then re-announced whole, so it stays right), and the batch being
/// written when the connection broke is lost. What other instances publish while this one is
/// disconnected does not reach it (Redis pub/sub keeps nothing).
pub struct RedisBackplane {
    /// Taken by the app the backplane is given to.
    link: Mutex<Option<RedisLink>>,
    instance: u16,
}

/// How to connect: [`RedisBackplane::builder`].
#[derive(Debug, Clone)]
pub struct RedisBackplaneBuilder {
    url: String,
    namespace: String,
    start_degraded: bool,
    outbox: Outbox,
}

/// How much may wait for Redis.
#[derive(Debug, Clone, Copy)]
struct Outbox {
    events: usize,
    bytes: usize,
}

impl RedisBackplaneBuilder {
    /// Keeps this service's channels and keys apart from others sharing the Redis (default
    /// `gateway`). Instances of one service must use the same namespace.
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = namespace.to_owned();
        self
    }

    /// When Redis is unreachable at start, starts anyway as a single instance and joins the
    /// cluster once Redis answers (instead of failing). The instance number is then picked at
    /// random rather than claimed, so two instances could share it, with a chance of about
    /// one in 65,535 per other instance.
    pub fn start_degraded(mut self) -> Self {
        self.start_degraded = true;
        self
    }

    /// How much may wait for Redis while it is slow or unreachable: `events` hub operations
    /// (default [`RedisBackplane::OUTBOX`]) holding at most `bytes` of message payload (default
    /// [`RedisBackplane::OUTBOX_BYTES`]). Beyond that, new events are dropped with a warning.
    pub fn outbox(mut self, events: usize, bytes: usize) -> Self {
        self.outbox = Outbox {
            events: events.max(1),
            bytes,
        };
        self
    }

    /// Connects to Redis and claims an instance number.
    ///
    /// # Errors
    /// [`RedisError::InvalidUrl`]; [`RedisError::Unreachable`] unless
    /// [`start_degraded`](Self::start_degraded); [`RedisError::NoInstanceNumber`].
    pub async fn connect(self) -> Result<RedisBackplane, RedisError> {
        let client = Client::open(self.url.as_str()).map_err(|source| RedisError::InvalidUrl {
            url: self.url.clone(),
            source,
        })?;
        let keys = Keys {
            namespace: self.namespace,
        };
        let addr = client.get_connection_info().addr().to_string();
        let token = random();
        let instance = match claim_instance(&client, &keys, token).await {
            Ok(Some(instance)) => instance,
            Ok(None) => return Err(RedisError::NoInstanceNumber { addr }),
            Err(source) if self.start_degraded => {
                let instance = random_instance();
                tracing::warn!(%addr, %source, instance, "Redis unreachable; starting degraded");
                instance
            }
            Err(source) => return Err(RedisError::Unreachable { addr, source }),
        };
        tracing::info!(%addr, instance, "backplane connected to Redis");
        Ok(RedisBackplane {
            link: Mutex::new(Some(RedisLink {
                client,
                keys,
                instance,
                token,
                outbox: self.outbox,
            })),
            instance,
        })
    }
}

impl RedisBackplane {
    /// How often an instance tells the others it is alive.
    pub const HEARTBEAT: Duration = Duration::from_secs(2);

    /// How long an instance may stay silent before the others forget its clients (it died
    /// without saying goodbye). With the heartbeat, a dead instance's clients leave the presence
    /// of the others within `LIVENESS + HEARTBEAT` (12 s).
    pub const LIVENESS: Duration = Duration::from_secs(10);

    /// How many events may wait for Redis by default (see [`RedisBackplaneBuilder::outbox`]).
    pub const OUTBOX: usize = 65_536;

    /// How many payload bytes may wait for Redis by default: 64 MiB.
    pub const OUTBOX_BYTES: usize = 64 << 20;

    /// Connects to the Redis at `url` (`redis://host:port`, `redis://:password@host:port/db`)
    /// with the default settings; see [`builder`](Self::builder).
    ///
    /// # Errors
    /// As [`RedisBackplaneBuilder::connect`]: a bad URL, or Redis unreachable.
    pub async fn connect(url: &str) -> Result<Self, RedisError> {
        Self::builder(url).connect().await
    }

    /// Settings before connecting: namespace, degraded start.
    pub fn builder(url: &str) -> RedisBackplaneBuilder {
        RedisBackplaneBuilder {
            url: url.to_owned(),
            namespace: "gateway".to_owned(),
            start_degraded: false,
            outbox: Outbox {
                events: Self::OUTBOX,
                bytes: Self::OUTBOX_BYTES,
            },
        }
    }

    /// This instance's number in the cluster (the high bits of its connection ids).
    pub fn instance(&self) -> u16 {
        self.instance
    }
}

impl std::fmt::Debug for RedisBackplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackplane")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl Backplane for RedisBackplane {}

impl Link for RedisBackplane {
    fn attach(&self) -> Option<Attached> {
        let link = self
            .link
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()?;
        let Outbox {
            events: capacity,
            bytes: budget,
        } = link.outbox;
        let (sender, events) = mpsc::channel(capacity);
        let backlog = Arc::new(Backlog::default());
        let outbox = {
            let backlog = Arc::clone(&backlog);
            move |event: Event| {
                let bytes = queued_bytes(&event);
                let before = backlog.bytes.fetch_add(bytes, Ordering::Relaxed);
                if before + bytes > budget || sender.try_send(event).is_err() {
                    backlog.bytes.fetch_sub(bytes, Ordering::Relaxed);
                    backlog.overflowed();
                }
            }
        };
        Some(Attached {
            instance: self.instance,
            outbox: Arc::new(outbox),
            start: Box::new(move |hub| {
                tokio::spawn(link.run(hub, events, backlog));
            }),
        })
    }
}

/// What waits between the hub and Redis, besides the events themselves.
#[derive(Default)]
struct Backlog {
    /// Payload bytes queued.
    bytes: AtomicUsize,
    /// An event was dropped since the last announce: the others' picture of this instance may
    /// have a gap, so it is announced whole again.
    gap: AtomicBool,
}

impl Backlog {
    fn overflowed(&self) {
        if !self.gap.swap(true, Ordering::Relaxed) {
            tracing::warn!("backplane queue full (Redis slow or unreachable): dropping events");
        }
    }

    /// Accounts for events taken off the queue.
    fn taken(&self, events: &[Event]) {
        let bytes = events.iter().map(queued_bytes).sum();
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// What an event counts against the outbox's bytes: its payload.
fn queued_bytes(event: &Event) -> usize {
    match event {
        Event::Deliver { message, .. } | Event::DeliverTo { message, .. } => message.len(),
        _ => 0,
    }
}

/// The names of the channels and keys.
struct Keys {
    namespace: String,
}

impl Keys {
    fn bus(&self) -> String {
        format!("{}:bus", self.namespace)
    }

    fn inbox(&self, instance: u16) -> String {
        format!("{}:to:{instance}", self.namespace)
    }

    fn claim(&self, instance: u16) -> String {
        format!("{}:instance:{instance}", self.namespace)
    }

    fn members(&self, instance: u16) -> String {
        format!("{}:members:{instance}", self.namespace)
    }

    fn presence(&self, instance: u16) -> String {
        format!("{}:presence:{instance}", self.namespace)
    }

    fn rooms(&self, instance: u16) -> String {
        format!("{}:rooms:{instance}", self.namespace)
    }

    /// The three keys that hold an instance's clients.
    fn store(&self, instance: u16) -> [String; 3] {
        [
            self.members(instance),
            self.presence(instance),
            self.rooms(instance),
        ]
    }
}

/// Claims a free instance number: `Ok(None)` when every number tried was taken.
async fn claim_instance(
    client: &Client,
    keys: &Keys,
    token: u64,
) -> redis::RedisResult<Option<u16>> {
    let mut redis = connect(client).await?;
    for _ in 0..32 {
        let instance = random_instance();
        let claimed: Option<String> = redis::cmd("SET")
            .arg(keys.claim(instance))
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(RedisBackplane::LIVENESS.as_millis() as u64)
            .query_async(&mut redis)
            .await?;
        if claimed.is_some() {
            return Ok(Some(instance));
        }
    }
    Ok(None)
}

async fn connect(client: &Client) -> redis::RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(TIMEOUT))
        .set_response_timeout(Some(TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

fn random() -> u64 {
    RandomState::new().build_hasher().finish()
}

fn random_instance() -> u16 {
    // 1 ..= MAX_INSTANCE: 0 is a single instance's number.
    (random() % u64::from(MAX_INSTANCE)) as u16 + 1
}

/// Everything the backplane's task needs.
struct RedisLink {
    client: Client,
    keys: Keys,
    instance: u16,
    token: u64,
    outbox: Outbox,
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
    async fn run(self, hub: WeakHub, mut events: mpsc::Receiver<Event>, backlog: Arc<Backlog>) {
        let mut session = Session {
            link: &self,
            hub,
            backlog,
        };
        let mut backoff = Duration::from_millis(50);
        let mut lost_at: Option<Instant> = None;
        loop {
            match session.run(&mut events, &mut lost_at).await {
                Ended::AppGone => return,
                Ended::Lost(error) => {
                    if lost_at.is_none() {
                        tracing::warn!(%error, "backplane lost Redis; reconnecting");
                        lost_at = Some(Instant::now());
                        backoff = Duration::from_millis(50);
                    }
                }
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
}

impl Session<'_> {
    /// One connection to Redis: subscribe, claim the instance number, announce this instance,
    /// load the others, then carry events both ways until something fails.
    async fn run(
        &mut self,
        events: &mut mpsc::Receiver<Event>,
        lost_at: &mut Option<Instant>,
    ) -> Ended {
        let link = self.link;
        let connected = tokio::time::timeout(TIMEOUT, async {
            let redis = connect(&link.client).await?;
            let mut pubsub = link.client.get_async_pubsub().await?;
            pubsub.subscribe(link.keys.bus()).await?;
            pubsub.subscribe(link.keys.inbox(link.instance)).await?;
            Ok::<_, redis::RedisError>((redis, pubsub))
        });
        let (mut redis, pubsub) = match connected.await {
            Ok(Ok(connected)) => connected,
            Ok(Err(error)) => return Ended::Lost(error),
            Err(_) => return Ended::Lost(timed_out()),
        };
        let started = async {
            self.claim(&mut redis).await?;
            self.announce(events, &mut redis).await?;
            self.load_all(&mut redis).await
        };
        if let Err(ended) = started.await {
            return ended;
        }
        if let Some(lost_at) = lost_at.take() {
            tracing::info!(after = ?lost_at.elapsed(), "backplane reconnected to Redis");
        }
        let mut messages = pubsub.into_on_message();
        let mut heartbeat = tokio::time::interval(RedisBackplane::HEARTBEAT);
        let mut batch = Vec::with_capacity(256);
        loop {
            let step = tokio::select! {
                message = messages.next() => match message {
                    Some(message) => {
                        let frame = Bytes::copy_from_slice(message.get_payload_bytes());
                        self.receive(frame, &mut redis).await
                    }
                    None => Err(Ended::Lost(connection_closed())),
                },
                count = events.recv_many(&mut batch, 512) => {
                    if count == 0 {
                        return Ended::AppGone;
                    }
                    self.backlog.taken(&batch);
                    let published = self.publish(batch.drain(..), &mut redis).await;
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

    /// Claims this instance's number again: Redis may have restarted empty, or (after a
    /// degraded start) never have seen the claim.
    async fn claim(&self, redis: &mut MultiplexedConnection) -> Result<(), Ended> {
        let link = self.link;
        let claimed: Option<String> = redis::cmd("SET")
            .arg(link.keys.claim(link.instance))
            .arg(link.token)
            .arg("NX")
            .arg("PX")
            .arg(RedisBackplane::LIVENESS.as_millis() as u64)
            .query_async(redis)
            .await?;
        if claimed.is_none() {
            let owner: Option<u64> = redis.get(link.keys.claim(link.instance)).await?;
            self.check_owner(owner);
        }
        Ok(())
    }

    /// Shouts when another instance holds this one's number: their connection ids collide.
    fn check_owner(&self, owner: Option<u64>) {
        if owner.is_some_and(|owner| owner != self.link.token) {
            tracing::error!(
                instance = self.link.instance,
                "another instance claims this instance's number: connection ids may collide; \
                 restart one of them"
            );
        }
    }

    /// Rewrites this instance's clients into Redis (which may have restarted empty, or dropped
    /// events) and tells the others to reload them. Presence changes still queued are covered
    /// by the rewrite and dropped; queued sends are published after it.
    async fn announce(
        &self,
        events: &mut mpsc::Receiver<Event>,
        redis: &mut MultiplexedConnection,
    ) -> Result<(), Ended> {
        let hub = self.hub.upgrade().ok_or(Ended::AppGone)?;
        let link = self.link;
        let (facts, sends) = hub.local_facts(|| {
            self.backlog.gap.store(false, Ordering::Relaxed);
            let mut sends = Vec::new();
            while let Ok(event) = events.try_recv() {
                if event.member().is_none() {
                    sends.push(event);
                }
            }
            sends
        });
        drop(hub);
        self.backlog.taken(&sends);
        let mut pipe = redis::pipe();
        pipe.atomic().del(&link.keys.store(link.instance)).ignore();
        for fact in &facts {
            link.store(&mut pipe, fact);
        }
        link.keep_alive(&mut pipe);
        pipe.publish(link.keys.bus(), encode(link.instance, &Event::Announce))
            .ignore();
        pipe.query_async::<()>(redis).await?;
        self.publish(sends.into_iter(), redis).await?;
        Ok(())
    }

    /// Loads every other instance's clients, and forgets those of instances that have none
    /// in Redis any more.
    async fn load_all(&self, redis: &mut MultiplexedConnection) -> Result<(), Ended> {
        let link = self.link;
        let pattern = format!("{}:members:*", link.keys.namespace);
        let mut found = Vec::new();
        {
            let mut keys = redis.scan_match::<_, String>(&pattern).await?;
            while let Some(key) = keys.next_item().await {
                if let Some(instance) = key?.rsplit(':').next().and_then(|n| n.parse().ok()) {
                    found.push(instance);
                }
            }
        }
        found.retain(|instance| *instance != link.instance);
        self.cluster(|cluster| cluster.forget_all_but(&found))?;
        for instance in found {
            self.load(instance, redis).await?;
        }
        Ok(())
    }

    /// Replaces what the hub knows of `instance`'s clients with what Redis holds. Unreadable
    /// entries (written by something else) are skipped with a warning.
    async fn load(&self, instance: u16, redis: &mut MultiplexedConnection) -> Result<(), Ended> {
        let keys = &self.link.keys;
        type Stored = (
            HashMap<String, String>,
            HashMap<String, String>,
            Vec<String>,
        );
        let stored: redis::RedisResult<Stored> = redis::pipe()
            .hgetall(keys.members(instance))
            .hgetall(keys.presence(instance))
            .smembers(keys.rooms(instance))
            .query_async(redis)
            .await;
        let (members, presence, rooms) = match stored {
            Ok(stored) => stored,
            Err(error) if error.is_io_error() || error.is_timeout() => return Err(error.into()),
            Err(error) => {
                tracing::warn!(%error, instance, "ignoring an instance's unreadable presence");
                Stored::default()
            }
        };
        let id = |text: &str| text.parse().ok().map(ConnectionId);
        let mut facts = Vec::with_capacity(members.len() + presence.len() + rooms.len());
        facts.extend(members.into_iter().filter_map(|(member, path)| {
            Some(Event::Connected {
                id: id(&member)?,
                path: path.into(),
            })
        }));
        facts.extend(presence.into_iter().filter_map(|(member, presence)| {
            Some(Event::Presence {
                id: id(&member)?,
                presence: presence.into(),
            })
        }));
        facts.extend(rooms.iter().filter_map(|entry| {
            let (member, room) = entry.split_once(' ')?;
            Some(Event::Joined {
                id: id(member)?,
                room: room.into(),
            })
        }));
        self.cluster(|cluster| {
            cluster.heard_from(instance);
            cluster.replace(instance, facts);
        })
    }

    /// Runs `f` on the hub's cluster state; `AppGone` once the app is.
    fn cluster<R>(&self, f: impl FnOnce(&Cluster) -> R) -> Result<R, Ended> {
        let hub = self.hub.upgrade().ok_or(Ended::AppGone)?;
        let cluster = hub.cluster_state().ok_or(Ended::AppGone)?;
        Ok(f(cluster))
    }

    /// Handles one frame from the bus or this instance's inbox.
    async fn receive(&self, frame: Bytes, redis: &mut MultiplexedConnection) -> Result<(), Ended> {
        let (origin, event) = match decode(frame) {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::warn!(%error, "ignoring a backplane frame");
                return Ok(());
            }
        };
        if origin == self.link.instance {
            return Ok(());
        }
        // An instance not heard from before (new, or forgotten while silent) is loaded whole.
        let known = self.cluster(|cluster| !cluster.heard_from(origin))?;
        if !known || event == Event::Announce {
            self.load(origin, redis).await?;
        }
        let hub = self.hub.upgrade().ok_or(Ended::AppGone)?;
        hub.receive(origin, event);
        Ok(())
    }

    /// Sends events in one pipeline: each is published, and presence changes are also
    /// written to this instance's keys.
    async fn publish(
        &self,
        events: impl Iterator<Item = Event>,
        redis: &mut MultiplexedConnection,
    ) -> redis::RedisResult<()> {
        let link = self.link;
        let mut events = events.peekable();
        if events.peek().is_none() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        let mut stored = false;
        for event in events {
            stored |= link.store(&mut pipe, &event);
            let channel = match &event {
                Event::DeliverTo { id, .. } => link.keys.inbox(id.instance()),
                _ => link.keys.bus(),
            };
            pipe.publish(channel, encode(link.instance, &event))
                .ignore();
        }
        if stored {
            link.keep_alive(&mut pipe);
        }
        pipe.query_async(redis).await
    }

    /// Tells the others this instance is alive and renews its keys, re-announcing it when they
    /// were lost (Redis restarted or evicted them); forgets the instances that went silent.
    async fn heartbeat(
        &self,
        events: &mut mpsc::Receiver<Event>,
        redis: &mut MultiplexedConnection,
    ) -> Result<(), Ended> {
        let link = self.link;
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(link.keys.claim(link.instance))
            .arg(link.token)
            .arg("PX")
            .arg(RedisBackplane::LIVENESS.as_millis() as u64)
            .arg("GET");
        link.keep_alive(&mut pipe);
        pipe.publish(link.keys.bus(), encode(link.instance, &Event::Heartbeat))
            .ignore();
        let (owner,): (Option<u64>,) = pipe.query_async(redis).await?;
        self.check_owner(owner);
        if owner.is_none() {
            self.announce(events, redis).await?;
        }
        for instance in self.cluster(|cluster| cluster.forget_silent(RedisBackplane::LIVENESS))? {
            tracing::info!(instance, "forgot a silent instance and its clients");
        }
        Ok(())
    }
}

impl RedisLink {
    /// Adds the commands that record a presence change in this instance's keys; `false` when
    /// the event is not one.
    fn store(&self, pipe: &mut Pipeline, event: &Event) -> bool {
        let [members, presence, rooms] = self.keys.store(self.instance);
        match event {
            Event::Connected { id, path } => pipe.hset(members, id.0, &**path),
            Event::Disconnected { id, rooms: left } => {
                pipe.hdel(members, id.0).ignore().hdel(presence, id.0);
                if !left.is_empty() {
                    let entries: Vec<String> =
                        left.iter().map(|room| room_entry(*id, room)).collect();
                    pipe.ignore().srem(rooms, entries);
                }
                pipe
            }
            Event::Joined { id, room } => pipe.sadd(rooms, room_entry(*id, room)),
            Event::Left { id, room } => pipe.srem(rooms, room_entry(*id, room)),
            Event::Presence { id, presence: text } => pipe.hset(presence, id.0, &**text),
            _ => return false,
        }
        .ignore();
        true
    }

    /// Renews the lifetime of this instance's keys (the claim is renewed by the heartbeat).
    fn keep_alive(&self, pipe: &mut Pipeline) {
        let ttl = RedisBackplane::LIVENESS.as_millis() as i64;
        for key in self.keys.store(self.instance) {
            pipe.pexpire(key, ttl).ignore();
        }
    }
}

/// How a client's room membership is stored: "id room".
fn room_entry(id: ConnectionId, room: &str) -> String {
    format!("{} {room}", id.0)
}

fn timed_out() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut))
}

fn connection_closed() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
}
