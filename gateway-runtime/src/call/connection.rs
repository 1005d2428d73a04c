//! [`Connection`]: one connected client, as handlers and the rest of the app see it.

use crate::base::envelope::{event_message, json_text};
use crate::base::handshake::Handshake;
use crate::base::ids::ConnectionId;
use crate::base::send::SendError;
use crate::base::settings::{Settings, SlowConsumer};
use crate::base::sync::lock;
use crate::call::closer::CloseWebSocket;
use crate::call::services::Services;
use crate::call::stored::{Owner, Stored};
use crate::endpoint::resume::replay::Replay;
use crate::hub::Hub;
use crate::io::direct::{Direct, Sent};
use crate::io::outbound::Outbound;
use serde::Serialize;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use tokio::sync::Notify;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, Utf8Bytes};

/// One connected client (cheap to clone; every clone is the same client).
///
/// Bind it as a handler parameter (`conn: Connection`). Messages given to
/// [`send`](Self::send) reach the client in order, ahead of the current handler's reply: written
/// into its socket at once when the connection has nothing else to write, otherwise through its
/// bounded outbound queue.
///
/// ```
/// use gateway::prelude::*;
///
/// struct Rooms;
///
/// #[controller("")]
/// impl Rooms {
///     #[websocket("rooms/{room}")]
///     async fn join(&self, #[param("room")] room: String, conn: Connection) {
///         conn.join(&room);
///         conn.emit("joined", &room).ok();
///     }
/// }
/// ```
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
}

struct Shared {
    id: ConnectionId,
    handshake: Handshake,
    services: Arc<Services>,
    hub: Hub,
    slow_consumer: SlowConsumer,
    /// Set once the client fell too far behind; the loop stops writing to it and closes.
    evicted: AtomicBool,
    eviction: Notify,
    /// Woken when the loop has something to do besides reading: a queued message, a close
    /// request, an eviction.
    wake: Notify,
    /// The app's values ([`Connection::insert`]) and each component's ([`Connection::with_local`]).
    stored: Stored,
    outbound: Outbound,
    close_request: Mutex<Option<CloseFrame>>,
    /// Whether `close_request` may hold a frame, readable without the lock.
    close_pending: AtomicBool,
    /// What a resumable session keeps to resume (`#[gateway(.., resume = "..")]` only).
    replay: Option<Box<Replay>>,
    /// The socket senders write straight into while the loop has nothing to write (set once
    /// the connection is upgraded; plain TCP without resumable sessions).
    direct: OnceLock<Weak<Direct>>,
}

impl Connection {
    pub(crate) fn open(
        id: ConnectionId,
        handshake: Handshake,
        (hub, services, settings): (&Hub, &Arc<Services>, &Settings),
        replay: Option<Replay>,
    ) -> Self {
        let shared = Arc::new(Shared {
            id,
            handshake,
            services: Arc::clone(services),
            hub: hub.clone(),
            slow_consumer: settings.slow_consumer,
            evicted: AtomicBool::new(false),
            eviction: Notify::new(),
            wake: Notify::new(),
            stored: Stored::default(),
            outbound: Outbound::new(
                settings.outbound_queue,
                settings.outbound_bytes,
                settings.slow_consumer_timeout,
            ),
            close_request: Mutex::new(None),
            close_pending: AtomicBool::new(false),
            replay: replay.map(Box::new),
            direct: OnceLock::new(),
        });
        Self { shared }
    }

    /// This client's id, unique within the app (and the cluster, with a backplane).
    pub fn id(&self) -> ConnectionId {
        self.shared.id
    }

    /// The upgrade request this connection was opened with.
    pub fn handshake(&self) -> &Handshake {
        &self.shared.handshake
    }

    /// The handshake's headers (they stay fixed for the connection).
    pub fn headers(&self) -> &axum::http::HeaderMap {
        self.shared.handshake.headers()
    }

    /// The client's address, when the server records it (see [`Handshake::remote_addr`]).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.shared.handshake.remote_addr()
    }

    /// Queues a message for this client without waiting.
    ///
    /// # Errors
    /// [`SendError::Closed`] once the connection has ended; [`SendError::QueueFull`] when the
    /// client has stopped reading and its queue is full.
    pub fn send(&self, message: impl Into<Message>) -> Result<(), SendError> {
        let message = message.into();
        #[cfg(feature = "redis")]
        if self.is_journaled() {
            // In a cluster, a resumable session's messages come from the journal.
            self.shared.hub.journal_send(self, message);
            return Ok(());
        }
        self.queue(message)
    }

    /// Queues a message for this client (the hub's delivery; `send` for everything else).
    pub(crate) fn queue(&self, message: Message) -> Result<(), SendError> {
        let outbound = &self.shared.outbound;
        if let Some(replay) = self.replay() {
            let waits = replay.queue(message, |message| outbound.push(message))?;
            if !waits {
                self.shared.wake.notify_one();
            }
            return Ok(());
        }
        let direct = self.shared.direct.get().and_then(Weak::upgrade);
        let sent = match direct {
            Some(direct) => direct.send(message, |message| outbound.push(message))?,
            None => outbound.push(message).map(|()| Sent::ToTheLoop)?,
        };
        if let Sent::ToTheLoop = sent {
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    /// Lets senders write straight into this connection's socket (see [`Direct`]).
    pub(crate) fn attach_direct(&self, direct: Weak<Direct>) {
        self.shared.direct.set(direct).ok();
    }

    /// Queues `value` encoded as JSON, as a text message.
    ///
    /// # Errors
    /// As [`send`](Self::send); [`SendError::Unencodable`] (and logged) when `value` cannot be
    /// encoded.
    pub fn send_json<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), SendError> {
        let text = json_text(value).ok_or(SendError::Unencodable)?;
        self.send(Message::Text(Utf8Bytes::from(text)))
    }

    /// Queues the event `{"event": event, "data": data}`, the gateway's wire format.
    ///
    /// ```
    /// # fn demo(conn: gateway::connection::Connection) {
    /// conn.emit("welcome", &serde_json::json!({"online": 3})).ok();
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`send_json`](Self::send_json).
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), SendError> {
        self.send(event_message(event, data).ok_or(SendError::Unencodable)?)
    }

    /// The connection's outbound queue (the loop's side of `send`).
    pub(crate) fn outbound(&self) -> &Outbound {
        &self.shared.outbound
    }

    /// The app's hub: every other connection.
    pub fn hub(&self) -> &Hub {
        &self.shared.hub
    }

    /// Joins a room (see [`Hub::room`]); joining twice is joining once. Rooms are left
    /// automatically when the connection ends.
    pub fn join(&self, room: impl AsRef<str>) {
        self.shared.hub.join(self.shared.id, room.as_ref());
    }

    /// Leaves a room (nothing happens if this client is not in it).
    pub fn leave(&self, room: impl AsRef<str>) {
        self.shared.hub.leave(self.shared.id, room.as_ref());
    }

    /// The rooms this client is in, in the order it joined them.
    pub fn rooms(&self) -> Vec<String> {
        self.shared.hub.rooms_of(self.shared.id)
    }

    /// Sets the short text others see next to this client in [`Target::presence`]
    /// (a name, a status, a small JSON object), on every instance with a backplane. It is
    /// forgotten when the connection ends.
    ///
    /// [`Target::presence`]: crate::Target::presence
    pub fn set_presence(&self, presence: impl AsRef<str>) {
        self.shared
            .hub
            .set_presence(self.shared.id, presence.as_ref());
    }

    /// This client's presence text, once [`set_presence`](Self::set_presence) was called.
    pub fn presence(&self) -> Option<String> {
        self.shared.hub.presence_of(self.shared.id)
    }

    pub(crate) fn slow_consumer(&self) -> SlowConsumer {
        self.shared.slow_consumer
    }

    /// Marks the client as too slow; the loop closes it with 1008. `true` the first time.
    pub(crate) fn evict(&self) -> bool {
        let first = !self.shared.evicted.swap(true, Ordering::AcqRel);
        if first {
            self.shared.eviction.notify_one();
            self.shared.wake.notify_one();
        }
        first
    }

    pub(crate) fn is_evicted(&self) -> bool {
        self.shared.evicted.load(Ordering::Acquire)
    }

    /// Resolves once the client has been evicted.
    pub(crate) async fn evicted(&self) {
        if !self.is_evicted() {
            self.shared.eviction.notified().await;
        }
    }

    /// The app's services (see [`App::provide`](crate::App::provide)).
    pub fn services(&self) -> &Services {
        &self.shared.services
    }

    /// Runs `f` on the state component `owner` keeps for this connection, of type `T` (made
    /// with `Default` on first use, dropped with the connection). Each component instance has
    /// its own: an app-wide `RateLimit::per_second(100)` and a method's `RateLimit::per_second(5)`
    /// on one connection count apart. Pass the component itself (`self`).
    ///
    /// ```
    /// # fn demo(conn: gateway::connection::Connection) {
    /// struct CountMessages;
    /// #[derive(Default)]
    /// struct Seen(u64);
    /// let component = CountMessages;
    /// let seen = conn.with_local(&component, |seen: &mut Seen| { seen.0 += 1; seen.0 });
    /// # }
    /// ```
    pub fn with_local<T, R>(&self, owner: &impl ?Sized, f: impl FnOnce(&mut T) -> R) -> R
    where
        T: Default + Send + 'static,
    {
        self.shared.stored.with(Owner::component(owner), f)
    }

    /// Stores `value` as this connection's `T`, replacing (and returning) the one before.
    /// It is dropped with the connection; [`Extension<T>`](crate::Extension) binds it as a
    /// handler parameter. One value per type: wrap values in types of your own (`Member`,
    /// `Bidder`) rather than storing a bare `String`.
    ///
    /// ```
    /// # fn demo(conn: gateway::connection::Connection) {
    /// #[derive(Clone)]
    /// struct Member { name: String }
    /// conn.insert(Member { name: "ada".into() });
    /// assert_eq!(conn.get::<Member>().unwrap().name, "ada");
    /// # }
    /// ```
    pub fn insert<T: Clone + Send + 'static>(&self, value: T) -> Option<T> {
        self.shared.stored.insert(Owner::App, value)
    }

    /// A copy of this connection's `T`, if one was stored.
    pub fn get<T: Clone + Send + 'static>(&self) -> Option<T> {
        self.shared.stored.get(Owner::App)
    }

    /// Takes this connection's `T` away, if one was stored.
    pub fn remove<T: Clone + Send + 'static>(&self) -> Option<T> {
        self.shared.stored.remove(Owner::App)
    }

    /// A [`CloseWebSocket`] for this client.
    pub fn closer(&self) -> CloseWebSocket {
        CloseWebSocket::new(self.clone())
    }

    pub(crate) fn request_close(&self, code: u16, reason: &str) {
        if let Some(replay) = self.parked() {
            // No connection to close: the session ends (its task wakes and ends it).
            replay.sessions().end(replay.token(), None);
        }
        self.set_close_request(code, reason);
    }

    /// Asks the loop to close the connection with `code` (the first request wins).
    fn set_close_request(&self, code: u16, reason: &str) {
        let mut request = self.close_request_slot();
        if request.is_none() {
            *request = Some(CloseFrame {
                code: code.into(),
                reason: Utf8Bytes::from(reason),
            });
            self.shared.close_pending.store(true, Ordering::Release);
            self.shared.wake.notify_one();
        }
    }

    /// What this session keeps to resume, on a resumable endpoint.
    pub(crate) fn replay(&self) -> Option<&Replay> {
        self.shared.replay.as_deref()
    }

    /// A resumable session of a cluster: its messages come from the journal.
    #[cfg(feature = "redis")]
    pub(crate) fn is_journaled(&self) -> bool {
        self.replay()
            .is_some_and(|replay| replay.journal().is_some())
    }

    /// Its client resumed this session on another instance: the session stops here without
    /// ending (no `#[on_disconnect]`; the other instance goes on with it).
    #[cfg(feature = "redis")]
    pub(crate) fn release(&self) {
        let Some(replay) = self.replay() else {
            return;
        };
        replay.release();
        self.request_close(
            crate::base::close::close_code::RESUMED_ELSEWHERE,
            "resumed on another connection",
        );
    }

    /// The session's replay state while its client is away.
    fn parked(&self) -> Option<&Replay> {
        self.replay().filter(|replay| replay.is_parked())
    }

    /// A resume of this session arrived on another connection: this one closes with 4000, and
    /// the session goes on there. (Never ends the session, even while it is still parked: a
    /// resume that took it a moment ago has not unparked it yet.)
    pub(crate) fn request_handover(&self) {
        if let Some(replay) = self.replay() {
            replay.request_handover();
        }
        self.set_close_request(
            crate::base::close::close_code::RESUMED_ELSEWHERE,
            "resumed on another connection",
        );
    }

    /// The close a handler asked for, if any (taken once).
    pub(crate) fn take_close_request(&self) -> Option<CloseFrame> {
        if !self.shared.close_pending.load(Ordering::Acquire) {
            return None;
        }
        self.close_request_slot().take()
    }

    /// Forgets a request to close with 4000 for a resume on another connection: one that the
    /// resume it was for has already been given the session through (see `Sessions::park`),
    /// so it is not for the connection the session goes on with. (Unless the session was
    /// released to another instance meanwhile: that request stands. Looked at under the
    /// request's lock, which a release takes after marking the session.)
    pub(crate) fn drop_handover_request(&self) {
        let mut request = self.close_request_slot();
        let code = request.as_ref().map(|frame| u16::from(frame.code));
        let released = self.replay().is_some_and(Replay::is_released);
        if code == Some(crate::base::close::close_code::RESUMED_ELSEWHERE) && !released {
            *request = None;
        }
    }

    /// Resolves once the loop has been woken (see `Shared::wake`) since the last call.
    pub(crate) async fn woken(&self) {
        self.shared.wake.notified().await;
    }

    fn close_request_slot(&self) -> MutexGuard<'_, Option<CloseFrame>> {
        lock(&self.shared.close_request)
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.shared.id)
            .finish()
    }
}
