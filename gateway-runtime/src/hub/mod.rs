//! [`Hub`]: reaches every connection of the app, from handlers and from plain axum handlers.

pub(crate) mod backplane;
mod cluster;
pub(crate) mod emitter;
#[cfg(feature = "redis")]
pub(crate) mod journaling;
pub(crate) mod member;
mod registry;
mod rooms;
mod streams;
mod target;
#[cfg(feature = "redis")]
mod wire;

use crate::base::ids::ConnectionId;
use crate::base::send::SendError;
pub use crate::base::settings::SlowConsumer;
use crate::hub::backplane::{Backplane, ClusterEvent};
use crate::hub::emitter::SseRoutes;
pub(crate) use cluster::Cluster;
use member::Member;
use registry::Registry;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
pub(crate) use target::Scope;
pub use target::Target;
use tungstenite::Message;

/// Every connection of the app (cheap to clone; all clones are the same hub).
///
/// Get it as a handler parameter (`hub: Hub`), or from [`App::hub`](crate::App::hub) before
/// serving to use it in plain axum handlers (an HTTP `POST` that pushes to WebSocket clients).
///
/// Sending never waits for a client: each connection has a bounded outbound queue, and a client
/// whose queue is full is handled by the slow-consumer policy (by default it is closed with 1008
/// "slow consumer"; see [`SlowConsumer`]). A message sent to many clients is encoded once and its
/// bytes are shared by every queue.
///
/// With a [`Backplane`] (see [`App::backplane`](crate::App::backplane)) the hub spans every
/// instance of the service: sends reach the clients of all instances, and counts, members and
/// presence answer for the whole cluster.
///
/// ```
/// # async fn demo(hub: gateway::hub::Hub, me: gateway::connection::ConnectionId) {
/// hub.broadcast("everyone");
/// hub.room("lobby").except(me).send("everyone in the lobby but me");
/// hub.path("/chat").emit("tick", &42);
/// println!("{} connected", hub.connection_count());
/// # }
/// ```
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// A hub that does not keep it alive (what a backplane's tasks hold).
#[derive(Clone)]
pub struct WeakHub(Weak<Inner>);

impl WeakHub {
    /// The hub, while its app is alive.
    pub(crate) fn upgrade(&self) -> Option<Hub> {
        self.0.upgrade().map(|inner| Hub { inner })
    }
}

impl std::fmt::Debug for WeakHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("WeakHub").field(&self.upgrade()).finish()
    }
}

struct Inner {
    /// This instance's connections.
    local: RwLock<Registry<Arc<dyn Member>>>,
    /// The other instances, once a backplane is attached.
    cluster: OnceLock<Cluster>,
    /// The journal of resumable sessions, in a cluster (Redis).
    #[cfg(feature = "redis")]
    journal: OnceLock<Box<dyn journaling::Journaling>>,
    /// The app has resumable endpoints: in a cluster, sends go through the journal too.
    #[cfg(feature = "redis")]
    journaling: std::sync::atomic::AtomicBool,
    /// The sequence part of the next connection id.
    next_id: AtomicU64,
    /// The SSE emitter of each `#[sse]` path.
    sse: SseRoutes,
    /// Server-Sent Events responses being streamed by this instance.
    event_streams: AtomicUsize,
    /// Set when the drain begins: every event stream ends.
    event_streams_end: tokio::sync::watch::Sender<bool>,
    /// Woken whenever the last connection (or event stream) leaves.
    emptied: tokio::sync::Notify,
    delivered: AtomicU64,
    dropped: AtomicU64,
    evicted: AtomicU64,
}

/// Counters since the app started.
///
/// ```
/// # fn demo(hub: gateway::hub::Hub) {
/// let stats = hub.stats();
/// println!("{} connected, {} evicted as too slow", stats.connections, stats.evicted);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubStats {
    /// Connections open now.
    pub connections: usize,
    /// Rooms with at least one member.
    pub rooms: usize,
    /// Messages queued for clients by the hub.
    pub delivered: u64,
    /// Messages not queued because a client's queue was full (policy `Drop`).
    pub dropped: u64,
    /// Clients closed because their queue was full (policy `Close`).
    pub evicted: u64,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                local: RwLock::default(),
                cluster: OnceLock::new(),
                #[cfg(feature = "redis")]
                journal: OnceLock::new(),
                #[cfg(feature = "redis")]
                journaling: std::sync::atomic::AtomicBool::new(false),
                next_id: AtomicU64::new(1),
                sse: SseRoutes::default(),
                event_streams: AtomicUsize::new(0),
                event_streams_end: tokio::sync::watch::Sender::new(false),
                emptied: tokio::sync::Notify::new(),
                delivered: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                evicted: AtomicU64::new(0),
            }),
        }
    }
}

impl Hub {
    /// Connects the hub to the other instances through `backplane` (once per hub).
    pub(crate) fn attach(&self, backplane: &dyn Backplane) {
        let Some(attached) = backplane.attach() else {
            return;
        };
        let start = attached.start;
        // A session resumed elsewhere keeps its id; an instance that later takes this one's
        // number must not mint that id again: its ids start at a random point.
        #[cfg(feature = "redis")]
        self.inner.next_id.store(
            crate::base::ids::ConnectionId::random_start(),
            Ordering::Relaxed,
        );
        let cluster = Cluster::new(attached.instance, attached.outbox, attached.pressure);
        assert!(
            self.inner.cluster.set(cluster).is_ok(),
            "an app has one backplane: `App::backplane` was called twice"
        );
        start(self.downgrade());
    }

    fn downgrade(&self) -> WeakHub {
        WeakHub(Arc::downgrade(&self.inner))
    }

    /// How full the backplane's queue is, with a backplane.
    pub(crate) fn pressure(&self) -> Option<&crate::hub::backplane::Pressure> {
        self.cluster().map(Cluster::pressure)
    }

    /// The other instances, once a backplane is attached.
    pub(crate) fn cluster(&self) -> Option<&Cluster> {
        self.inner.cluster.get()
    }

    /// A new connection id, unique across the instances of a cluster.
    pub(crate) fn next_id(&self) -> ConnectionId {
        let instance = self.cluster().map_or(0, Cluster::instance);
        ConnectionId::new(instance, self.inner.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Queues a message for one client, on this instance or (with a backplane) another.
    ///
    /// # Errors
    /// [`SendError::Closed`] when no such client is connected; [`SendError::QueueFull`] when its
    /// queue is full (the slow-consumer policy has then been applied). For a client of another
    /// instance, `Ok` means the message was handed to the backplane.
    pub fn send_to(&self, id: ConnectionId, message: impl Into<Message>) -> Result<(), SendError> {
        if let Some(member) = self.local().members.get(&id) {
            if !member.value.takes_fan_out() {
                self.send_through_journal(id, member.value.as_ref(), message.into());
                return Ok(());
            }
            return self.deliver(member.value.as_ref(), message.into());
        }
        match self.cluster() {
            Some(cluster) if cluster.knows(id) => {
                self.publish_to(id, message.into());
                Ok(())
            }
            _ => Err(SendError::Closed),
        }
    }

    /// Sends `message` to a local member whose messages come back through the journal (see
    /// [`Member::takes_fan_out`]): it goes to the backplane, and is written when it returns.
    pub(crate) fn send_through_journal(
        &self,
        id: ConnectionId,
        member: &dyn Member,
        message: Message,
    ) {
        member.sent_through_journal();
        self.publish_to(id, message);
    }

    /// Hands a message for client `id` to the backplane (for a client elsewhere, or one whose
    /// messages come back through the journal).
    fn publish_to(&self, id: ConnectionId, message: Message) {
        if let Some(cluster) = self.cluster() {
            cluster.publish(ClusterEvent::DeliverTo { id, message });
        }
    }

    /// Queues a message for every client of the app; returns how many local clients got it.
    pub fn broadcast(&self, message: impl Into<Message>) -> usize {
        self.all().send(message)
    }

    /// Every client of the app, to narrow with [`Target::except`].
    pub fn all(&self) -> Target<'_> {
        Target::new(self, Scope::All)
    }

    /// The clients connected to one endpoint path (`"/chat"`, or as written in the route:
    /// `"chat"`).
    pub fn path(&self, path: impl AsRef<str>) -> Target<'_> {
        Target::new(self, Scope::Path(route_path(path.as_ref()).into_owned()))
    }

    /// The clients in a room (see [`Connection::join`](crate::Connection::join)).
    pub fn room(&self, room: impl AsRef<str>) -> Target<'_> {
        Target::new(self, Scope::Room(room.as_ref().to_owned()))
    }

    /// How many clients are connected (to every instance, with a backplane).
    pub fn connection_count(&self) -> usize {
        self.local_count() + self.cluster().map_or(0, Cluster::count)
    }

    /// How many clients are connected to this instance.
    pub(crate) fn local_count(&self) -> usize {
        self.local().members.len()
    }

    /// This instance's counters: connections, rooms, messages delivered and dropped, clients
    /// evicted.
    pub fn stats(&self) -> HubStats {
        let local = self.local();
        HubStats {
            connections: local.members.len(),
            rooms: local.room_count(),
            delivered: self.inner.delivered.load(Ordering::Relaxed),
            dropped: self.inner.dropped.load(Ordering::Relaxed),
            evicted: self.inner.evicted.load(Ordering::Relaxed),
        }
    }

    /// Adds connection `id` on `path`.
    pub(crate) fn register(&self, id: ConnectionId, member: Arc<dyn Member>, path: Arc<str>) {
        let mut local = self.local_mut();
        local.insert(id, member, Arc::clone(&path));
        self.tell_cluster(|| ClusterEvent::Connected { id, path });
    }

    /// The app has resumable endpoints: in a cluster, what is sent goes through the journal.
    #[cfg(feature = "redis")]
    pub(crate) fn enable_journaling(&self) {
        self.inner.journaling.store(true, Ordering::Release);
    }

    #[cfg(feature = "redis")]
    pub(crate) fn is_journaling(&self) -> bool {
        self.inner.journaling.load(Ordering::Acquire)
    }

    /// The journal of resumable sessions, in a cluster whose app has resumable endpoints.
    #[cfg(feature = "redis")]
    pub(crate) fn journaling(&self) -> Option<&dyn journaling::Journaling> {
        self.inner.journal.get().map(Box::as_ref)
    }

    /// Follows the journal from now on (once, by the Redis backplane).
    #[cfg(feature = "redis")]
    pub(crate) fn attach_journal(&self, journal: Box<dyn journaling::Journaling>) {
        let _ = self.inner.journal.set(journal);
    }

    /// Forgets a connection and takes it out of every room it was in.
    pub(crate) fn unregister(&self, id: ConnectionId) {
        let mut local = self.local_mut();
        let Some(member) = local.remove(id) else {
            return;
        };
        #[cfg(feature = "redis")]
        if let Some(journal) = self.journaling() {
            journal.close(id);
        }
        self.tell_cluster(|| ClusterEvent::Disconnected {
            id,
            rooms: member.rooms,
        });
        drop(local);
        self.wake_if_empty();
    }

    /// No local connection and no event stream is left.
    fn is_empty(&self) -> bool {
        self.local_count() == 0 && self.event_stream_count() == 0
    }

    /// Wakes [`Hub::until_empty`] if nothing is left.
    pub(super) fn wake_if_empty(&self) {
        if self.is_empty() {
            self.inner.emptied.notify_waiters();
        }
    }

    /// Asks every local connection to close; returns how many there were.
    pub(crate) fn close_all(&self, code: u16, reason: &str) -> usize {
        let local = self.local();
        for member in local.members.values() {
            member.value.request_close(code, reason);
        }
        local.members.len()
    }

    /// Resolves once no local connection and no event stream is left.
    pub(crate) async fn until_empty(&self) {
        loop {
            let emptied = self.inner.emptied.notified();
            tokio::pin!(emptied);
            // Registered before checking, so a last connection leaving in between is not missed.
            emptied.as_mut().enable();
            if self.is_empty() {
                return;
            }
            emptied.await;
        }
    }

    /// Tells the other instances about a change to the local registry. Called with the registry
    /// locked, so changes to one connection reach them in the order they were made.
    pub(super) fn tell_cluster(&self, event: impl FnOnce() -> ClusterEvent) {
        if let Some(cluster) = self.cluster() {
            cluster.publish(event());
        }
    }

    /// Queues `message` for one member, applying its slow-consumer policy when its queue is full.
    pub(super) fn deliver(&self, member: &dyn Member, message: Message) -> Result<(), SendError> {
        match member.queue(message) {
            Ok(()) => {
                self.inner.delivered.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(SendError::QueueFull) => {
                match member.slow_consumer() {
                    SlowConsumer::Close => {
                        if member.evict() {
                            self.inner.evicted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    SlowConsumer::Drop => {
                        self.inner.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(SendError::QueueFull)
            }
            Err(error) => Err(error),
        }
    }

    pub(super) fn local(&self) -> RwLockReadGuard<'_, Registry<Arc<dyn Member>>> {
        crate::base::sync::read(&self.inner.local)
    }

    pub(super) fn local_mut(&self) -> RwLockWriteGuard<'_, Registry<Arc<dyn Member>>> {
        crate::base::sync::write(&self.inner.local)
    }
}

/// A route's path as the router holds it: with its leading `/`.
pub(super) fn route_path(path: &str) -> std::borrow::Cow<'_, str> {
    if path.starts_with('/') {
        path.into()
    } else {
        format!("/{path}").into()
    }
}
