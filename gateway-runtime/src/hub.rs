//! [`Hub`]: reaches every connection of the app, from handlers and from plain axum handlers.

use crate::backplane::{Backplane, LocalBackplane};
use crate::connection::{Connection, ConnectionId, SendError};
use crate::sse::SseEmitter;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tungstenite::{Message, Utf8Bytes};

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
/// ```
/// # async fn demo(hub: gateway::Hub, me: gateway::ConnectionId) {
/// hub.broadcast("everyone");
/// hub.room("lobby").except(me).send("everyone in the lobby but me");
/// hub.path("/chat").send_json(&serde_json::json!({"event": "tick"}));
/// println!("{} connected", hub.connection_count());
/// # }
/// ```
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    registry: RwLock<Registry>,
    /// The SSE emitter of each path, made on first use.
    emitters: RwLock<HashMap<String, SseEmitter>>,
    /// Woken whenever the last connection leaves.
    emptied: tokio::sync::Notify,
    backplane: Arc<dyn Backplane>,
    delivered: AtomicU64,
    dropped: AtomicU64,
    evicted: AtomicU64,
}

#[derive(Default)]
struct Registry {
    members: HashMap<ConnectionId, Member>,
    rooms: HashMap<Arc<str>, HashSet<ConnectionId>>,
}

struct Member {
    connection: Connection,
    path: Arc<str>,
    rooms: Vec<Arc<str>>,
}

/// What happens when a client's outbound queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlowConsumer {
    /// Close the client with 1008 "slow consumer" (the default): it cannot keep up, and
    /// buffering more for it would grow memory without bound.
    #[default]
    Close,
    /// Drop the message for that client and count it in [`HubStats::dropped`].
    Drop,
}

/// Counters since the app started.
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
        Self::with_backplane(Arc::new(LocalBackplane))
    }
}

impl Hub {
    pub(crate) fn with_backplane(backplane: Arc<dyn Backplane>) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry: RwLock::default(),
                emitters: RwLock::default(),
                emptied: tokio::sync::Notify::new(),
                backplane,
                delivered: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                evicted: AtomicU64::new(0),
            }),
        }
    }

    /// Queues a message for one client.
    ///
    /// # Errors
    /// [`SendError::Closed`] when no such client is connected; [`SendError::QueueFull`] when its
    /// queue is full (the slow-consumer policy has then been applied).
    pub fn send_to(&self, id: ConnectionId, message: impl Into<Message>) -> Result<(), SendError> {
        let registry = self.read();
        let member = registry.members.get(&id).ok_or(SendError::Closed)?;
        self.deliver(member, message.into())
    }

    /// Queues a message for every client of the app; returns how many got it.
    pub fn broadcast(&self, message: impl Into<Message>) -> usize {
        self.all().send(message)
    }

    /// Every client of the app, to narrow with [`Target::except`].
    pub fn all(&self) -> Target<'_> {
        Target::new(self, Scope::All)
    }

    /// The clients connected to one endpoint path (`/chat`).
    pub fn path(&self, path: &str) -> Target<'_> {
        Target::new(self, Scope::Path(path.to_owned()))
    }

    /// The clients in a room (see [`Connection::join`]).
    pub fn room(&self, room: &str) -> Target<'_> {
        Target::new(self, Scope::Room(room.to_owned()))
    }

    /// The emitter that pushes events to the SSE clients of `path` (an `#[sse]` route).
    pub fn sse(&self, path: &str) -> SseEmitter {
        let known = self
            .inner
            .emitters
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(path)
            .cloned();
        known.unwrap_or_else(|| {
            self.inner
                .emitters
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .entry(path.to_owned())
                .or_insert_with(SseEmitter::new)
                .clone()
        })
    }

    /// How many clients are connected.
    pub fn connection_count(&self) -> usize {
        self.read().members.len()
    }

    /// Counters: connections, rooms, messages delivered and dropped, clients evicted.
    pub fn stats(&self) -> HubStats {
        let registry = self.read();
        HubStats {
            connections: registry.members.len(),
            rooms: registry.rooms.len(),
            delivered: self.inner.delivered.load(Ordering::Relaxed),
            dropped: self.inner.dropped.load(Ordering::Relaxed),
            evicted: self.inner.evicted.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn register(&self, connection: &Connection, path: &str) {
        let member = Member {
            connection: connection.clone(),
            path: Arc::from(path),
            rooms: Vec::new(),
        };
        self.write().members.insert(connection.id(), member);
    }

    /// Forgets a connection and takes it out of every room it was in.
    pub(crate) fn unregister(&self, id: ConnectionId) {
        let mut registry = self.write();
        let Some(member) = registry.members.remove(&id) else {
            return;
        };
        for room in member.rooms {
            registry.leave_room(&room, id);
        }
        if registry.members.is_empty() {
            self.inner.emptied.notify_waiters();
        }
    }

    /// Asks every connection to close; returns how many there were.
    pub(crate) fn close_all(&self, code: u16, reason: &str) -> usize {
        let registry = self.read();
        for member in registry.members.values() {
            member.connection.request_close(code, reason);
        }
        registry.members.len()
    }

    /// Resolves once no connection is left.
    pub(crate) async fn until_empty(&self) {
        loop {
            let emptied = self.inner.emptied.notified();
            tokio::pin!(emptied);
            // Registered before checking, so a last connection leaving in between is not missed.
            emptied.as_mut().enable();
            if self.connection_count() == 0 {
                return;
            }
            emptied.await;
        }
    }

    pub(crate) fn join(&self, id: ConnectionId, room: &str) {
        let mut registry = self.write();
        let Registry { members, rooms } = &mut *registry;
        let Some(member) = members.get_mut(&id) else {
            return;
        };
        if member.rooms.iter().any(|joined| &**joined == room) {
            return;
        }
        let room: Arc<str> = rooms
            .get_key_value(room)
            .map_or_else(|| Arc::from(room), |(name, _)| Arc::clone(name));
        member.rooms.push(Arc::clone(&room));
        rooms.entry(room).or_default().insert(id);
    }

    pub(crate) fn leave(&self, id: ConnectionId, room: &str) {
        let mut registry = self.write();
        let Some(member) = registry.members.get_mut(&id) else {
            return;
        };
        let before = member.rooms.len();
        member.rooms.retain(|joined| &**joined != room);
        if member.rooms.len() != before {
            registry.leave_room(room, id);
        }
    }

    pub(crate) fn rooms_of(&self, id: ConnectionId) -> Vec<String> {
        self.read()
            .members
            .get(&id)
            .map(|member| member.rooms.iter().map(|room| room.to_string()).collect())
            .unwrap_or_default()
    }

    /// Queues `message` for one member, applying its slow-consumer policy when its queue is full.
    fn deliver(&self, member: &Member, message: Message) -> Result<(), SendError> {
        match member.connection.send(message) {
            Ok(()) => {
                self.inner.delivered.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(SendError::QueueFull) => {
                match member.connection.slow_consumer() {
                    SlowConsumer::Close => {
                        if member.connection.evict() {
                            self.inner.evicted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    SlowConsumer::Drop => {
                        self.inner.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(SendError::QueueFull)
            }
            Err(SendError::Closed) => Err(SendError::Closed),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Registry> {
        // The registry holds plain maps that every writer leaves consistent, so a panic in
        // another thread cannot have broken it.
        self.inner
            .registry
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Registry> {
        self.inner
            .registry
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Registry {
    fn leave_room(&mut self, room: &str, id: ConnectionId) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(&id);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
    }
}

/// Which clients a hub message is for, before exceptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every client.
    All,
    /// The clients of one endpoint path.
    Path(String),
    /// The members of one room.
    Room(String),
}

/// A set of clients to send to: [`Hub::all`], [`Hub::path`] or [`Hub::room`], minus
/// [`except`](Target::except)ions.
#[must_use = "a target sends nothing until `send` is called"]
pub struct Target<'hub> {
    hub: &'hub Hub,
    scope: Scope,
    except: Vec<ConnectionId>,
}

impl<'hub> Target<'hub> {
    fn new(hub: &'hub Hub, scope: Scope) -> Self {
        Self {
            hub,
            scope,
            except: Vec::new(),
        }
    }

    /// Leaves one client out (typically the sender).
    pub fn except(mut self, id: ConnectionId) -> Self {
        self.except.push(id);
        self
    }

    /// Queues `message` for every client in the target; returns how many got it. The message's
    /// bytes are shared, not copied, between recipients.
    pub fn send(self, message: impl Into<Message>) -> usize {
        let message = message.into();
        let delivered =
            self.for_each_member(|member| self.hub.deliver(member, message.clone()).is_ok());
        self.hub
            .inner
            .backplane
            .publish(&self.scope, &self.except, &message);
        delivered
    }

    /// Encodes `value` as JSON once and sends it as a text message to every client in the target.
    ///
    /// # Errors
    /// When `value` cannot be encoded as JSON; nothing is sent then.
    pub fn send_json<T: Serialize + ?Sized>(self, value: &T) -> Result<usize, serde_json::Error> {
        let text = serde_json::to_string(value)?;
        Ok(self.send(Message::Text(Utf8Bytes::from(text))))
    }

    /// The ids of the clients in the target.
    pub fn members(&self) -> Vec<ConnectionId> {
        let mut ids = Vec::new();
        self.for_each_member(|member| {
            ids.push(member.connection.id());
            true
        });
        ids
    }

    /// How many clients are in the target.
    pub fn count(&self) -> usize {
        self.for_each_member(|_| true)
    }

    /// Calls `visit` on every member in the target; returns how many visits returned `true`.
    fn for_each_member(&self, mut visit: impl FnMut(&Member) -> bool) -> usize {
        let registry = self.hub.read();
        let included = |member: &&Member| !self.except.contains(&member.connection.id());
        let mut count = 0;
        let mut counted = |member: &Member| count += usize::from(visit(member));
        match &self.scope {
            Scope::All => registry
                .members
                .values()
                .filter(included)
                .for_each(&mut counted),
            Scope::Path(path) => registry
                .members
                .values()
                .filter(|member| &*member.path == path)
                .filter(included)
                .for_each(&mut counted),
            Scope::Room(room) => {
                let ids = registry.rooms.get(room.as_str()).into_iter().flatten();
                ids.filter_map(|id| registry.members.get(id))
                    .filter(included)
                    .for_each(&mut counted)
            }
        }
        count
    }
}
