//! [`RedisBackplane`]: several instances of a service share one Redis.
//!
//! Built on the `redis` crate (redis-rs): it is the Redis project's own Rust client, the most
//! used one, and its tokio support covers all we need (a multiplexed connection for commands, a
//! pub/sub connection), with no extra runtime. Reconnecting is ours, because after a Redis
//! restart an instance must also re-announce what Redis forgot (its presence) and reload what
//! it missed (the others').
//!
//! What Redis holds, and how: [`store`]. The task that carries events: [`session`].

mod backlog;
mod fold;
mod link;
mod reader;
mod store;

use crate::endpoint::resume::cluster;
use crate::hub::backplane::sealed::Link;
use crate::hub::backplane::{Attached, Backplane, ClusterEvent, MAX_INSTANCE};
use backlog::Backlog;
use link::{connect, RedisLink};
use redis::Client;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::Keys;
use tokio::sync::mpsc;

/// The backplane could not start.
///
/// ```no_run
/// # async fn demo() {
/// use gateway::backplane::RedisBackplane;
/// match RedisBackplane::connect("redis://127.0.0.1:6379").await {
///     Ok(backplane) => println!("instance {}", backplane.instance()),
///     Err(error) => eprintln!("{error}"), // names the address and what to do
/// }
/// # }
/// ```
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
    /// The Redis is older than 6.2, which the backplane's commands need.
    #[error("Redis at {addr} is version {version}; the backplane needs Redis 6.2 or newer")]
    TooOld {
        /// The address of Redis.
        addr: String,
        /// The version it reports.
        version: String,
    },
}

/// A [`Backplane`] over Redis pub/sub (cargo feature `redis`): every instance of a service
/// connects to the same Redis, and their hubs act as one.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use gateway::prelude::*;
/// use gateway::backplane::RedisBackplane;
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
///   within 12 s ([`LIVENESS`](RedisBackplane::LIVENESS) plus one
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
///
/// ```no_run
/// # async fn demo() -> Result<(), gateway::backplane::RedisError> {
/// use gateway::backplane::RedisBackplane;
/// let backplane = RedisBackplane::builder("redis://127.0.0.1:6379")
///     .namespace("chat")
///     .start_degraded()
///     .connect()
///     .await?;
/// # let _ = backplane; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisBackplaneBuilder {
    url: String,
    namespace: String,
    start_degraded: bool,
    outbox: Outbox,
    journal_bytes: usize,
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

    /// How many bytes the journal of resumable sessions may hold in Redis (default
    /// [`RedisBackplane::JOURNAL_BYTES`]), each entry counted as its frame plus
    /// [`RedisBackplane::JOURNAL_ENTRY_OVERHEAD`]. Past it, the oldest entries are trimmed as
    /// new ones are added; a session whose checkpoint is older than the oldest entry left then
    /// resumes elsewhere as `lost` (on its own instance it still resumes from memory).
    pub fn journal_bytes(mut self, bytes: usize) -> Self {
        self.journal_bytes = bytes;
        self
    }

    /// Connects to Redis and claims an instance number.
    ///
    /// # Errors
    /// [`RedisError::InvalidUrl`]; [`RedisError::Unreachable`] unless
    /// [`start_degraded`](Self::start_degraded); [`RedisError::TooOld`];
    /// [`RedisError::NoInstanceNumber`].
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
        let mut reached = true;
        let instance = match claim_instance(&client, &keys, token).await {
            Ok(Claimed::Number(instance)) => instance,
            Ok(Claimed::AllTaken) => return Err(RedisError::NoInstanceNumber { addr }),
            Ok(Claimed::TooOld(version)) => return Err(RedisError::TooOld { addr, version }),
            Err(source) if self.start_degraded => {
                let instance = random_instance();
                tracing::warn!(%addr, %source, instance, "Redis unreachable; starting degraded");
                reached = false;
                instance
            }
            Err(source) => return Err(RedisError::Unreachable { addr, source }),
        };
        tracing::info!(%addr, instance, "backplane connected to Redis");
        Ok(RedisBackplane {
            link: Mutex::new(Some(RedisLink {
                client,
                own: keys.own(instance),
                keys,
                instance,
                token,
                outbox: self.outbox,
                journal_bytes: self.journal_bytes,
                reached,
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

    /// How many bytes the journal of resumable sessions holds in Redis by default (with
    /// resumable endpoints): 256 MiB. A session resumes on another instance only if the
    /// journal still holds every entry since its checkpoint; see
    /// [`RedisBackplaneBuilder::journal_bytes`].
    pub const JOURNAL_BYTES: usize = 256 << 20;

    /// What each journal entry counts for besides its frame: about what Redis spends on an
    /// entry of a stream (its id, its field name, its node's bookkeeping).
    pub const JOURNAL_ENTRY_OVERHEAD: usize = 64;

    /// Connects to the Redis at `url` (`redis://host:port`, `redis://:password@host:port/db`)
    /// with the default settings; see [`builder`](Self::builder).
    ///
    /// # Errors
    /// As [`RedisBackplaneBuilder::connect`]: a bad URL, Redis unreachable or older than 6.2,
    /// no free instance number.
    pub async fn connect(url: &str) -> Result<Self, RedisError> {
        Self::builder(url).connect().await
    }

    /// Settings before connecting: namespace, degraded start, outbox size, journal size.
    pub fn builder(url: &str) -> RedisBackplaneBuilder {
        RedisBackplaneBuilder {
            url: url.to_owned(),
            namespace: "gateway".to_owned(),
            start_degraded: false,
            outbox: Outbox {
                events: Self::OUTBOX,
                bytes: Self::OUTBOX_BYTES,
            },
            journal_bytes: Self::JOURNAL_BYTES,
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
        let link = crate::base::sync::lock(&self.link).take()?;
        let Outbox {
            events: capacity,
            bytes: budget,
        } = link.outbox;
        let (sender, events) = mpsc::channel(capacity);
        let backlog = Arc::new(Backlog::new(capacity, budget, link.reached));
        let outbox = {
            let backlog = Arc::clone(&backlog);
            move |event: ClusterEvent| {
                let bytes = event.weight();
                let before = backlog.bytes.fetch_add(bytes, Ordering::Relaxed);
                let refused = if before + bytes > budget {
                    Some(event)
                } else {
                    match sender.try_send(event) {
                        Err(mpsc::error::TrySendError::Full(event)) => Some(event),
                        // Queued, or the task has ended with the app.
                        _ => None,
                    }
                };
                match refused {
                    Some(event) => {
                        backlog.bytes.fetch_sub(bytes, Ordering::Relaxed);
                        backlog.dropped(&event);
                    }
                    None => backlog.queued(capacity - sender.capacity()),
                }
            }
        };
        Some(Attached {
            instance: self.instance,
            outbox: Arc::new(outbox),
            pressure: Arc::clone(&backlog.pressure),
            start: Box::new(move |hub| {
                let (reader, requests) = mpsc::unbounded_channel();
                if let Some(app) = hub.upgrade() {
                    app.attach_journal(Box::new(cluster::Journal::new(reader)));
                }
                let keys = Arc::new(Keys {
                    namespace: link.keys.namespace.clone(),
                });
                let client = link.client.clone();
                tokio::spawn(reader::follow(
                    client,
                    keys,
                    link.instance,
                    hub.clone(),
                    requests,
                ));
                tokio::spawn(link.run(hub, events, backlog));
            }),
        })
    }
}

/// What claiming an instance number at start came to.
enum Claimed {
    Number(u16),
    /// Every number tried was taken.
    AllTaken,
    /// The Redis is older than 6.2 (its version).
    TooOld(String),
}

/// Checks the Redis version, then claims a free instance number.
async fn claim_instance(client: &Client, keys: &Keys, token: u64) -> redis::RedisResult<Claimed> {
    let mut redis = connect(client).await?;
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut redis)
        .await?;
    let version = info
        .lines()
        .find_map(|line| line.strip_prefix("redis_version:"))
        .unwrap_or_default()
        .trim();
    let mut numbers = version
        .split('.')
        .map(|part| part.parse::<u32>().unwrap_or(0));
    if (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0)) < (6, 2) {
        return Ok(Claimed::TooOld(version.to_owned()));
    }
    for _ in 0..32 {
        let instance = random_instance();
        let claimed: Option<String> = keys
            .claim_if_free(instance, token)
            .query_async(&mut redis)
            .await?;
        if claimed.is_some() {
            return Ok(Claimed::Number(instance));
        }
    }
    Ok(Claimed::AllTaken)
}

fn random() -> u64 {
    RandomState::new().build_hasher().finish()
}

fn random_instance() -> u16 {
    // 1 ..= MAX_INSTANCE: 0 is a single instance's number.
    (random() % u64::from(MAX_INSTANCE)) as u16 + 1
}
