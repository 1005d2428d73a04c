//! [`Connection`]: one connected client, as handlers and the rest of the app see it.

use crate::base::envelope::{event_message, json_text};
use crate::base::handshake::Handshake;
use crate::base::ids::ConnectionId;
use crate::base::send::SendError;
use crate::base::settings::{Settings, SlowConsumer};
use crate::base::sync::lock;
use crate::call::ask::{Request, Waiting};
use crate::call::closer::CloseWebSocket;
use crate::call::services::Services;
use crate::call::stored::{Owner, Stored};
use crate::hub::member::Member;
use crate::hub::Hub;
use crate::io::direct::{Direct, Sent};
use crate::io::outbound::Outbound;
use serde::Serialize;
use std::any::Any;
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
    session: Option<Box<dyn SessionState>>,
    /// The socket senders write straight into while the loop has nothing to write (set once
    /// the connection is upgraded; plain TCP without resumable sessions).
    direct: OnceLock<Weak<Direct>>,
    /// The server's requests waiting for the client's answers (made at the first request).
    waiting: OnceLock<Box<Waiting>>,
    max_client_requests: usize,
}

impl Connection {
    pub(crate) fn open(
        id: ConnectionId,
        handshake: Handshake,
        (hub, services, settings): (&Hub, &Arc<Services>, &Settings),
        session: Option<Box<dyn SessionState>>,
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
            session,
            direct: OnceLock::new(),
            waiting: OnceLock::new(),
            max_client_requests: settings.max_client_requests,
        });
        Self { shared }
    }

    /// This client's id, unique within the app (and the cluster, with a backplane).
    pub fn id(&self) -> ConnectionId {
        self.shared.id
    }

    /// Asks the client and waits for its answer: sends `{"event": event, "data": data, "id": N}`,
    /// and resolves with the `data` of the client's `{"ack": N, "data": ..}` as a `T` (the
    /// official client answers with `client.handle(event, handler)`). Fails with the client's
    /// error answer, after the timeout (10 s, or [`Request::timeout`]), when the connection
    /// ends for good, or when too many requests wait for this client
    /// ([`App::max_client_requests`](crate::App::max_client_requests)). On a resumable gateway
    /// the request waits in the session while the client is away, within its timeout.
    ///
    /// ```
    /// use gateway::prelude::*;
    /// use std::time::Duration;
    ///
    /// struct Quiz;
    ///
    /// #[gateway("quiz")]
    /// impl Quiz {
    ///     #[subscribe("start")]
    ///     async fn start(&self, conn: Connection) -> Ack<String> {
    ///         let answer = conn
    ///             .request::<String>("question", &"2 + 2?")
    ///             .timeout(Duration::from_secs(30))
    ///             .await;
    ///         Ack(match answer {
    ///             Ok(text) if text == "4" => "right".to_owned(),
    ///             Ok(_) => "wrong".to_owned(),
    ///             Err(error) => error.to_string(),
    ///         })
    ///     }
    /// }
    /// ```
    pub fn request<T>(&self, event: &str, data: &(impl Serialize + ?Sized)) -> Request<T> {
        Request::new(self.clone(), event, data)
    }

    /// The client answered the server's request `id` (an answer nobody waits for is dropped).
    pub(crate) fn answered(&self, id: u64, answer: crate::base::protocol::Answer) {
        if let Some(waiting) = self.shared.waiting.get() {
            waiting.answered(id, answer);
        }
    }

    /// The requests waiting for this client's answers.
    pub(crate) fn waiting(&self) -> &Waiting {
        self.shared.waiting.get_or_init(Box::default)
    }

    /// How many requests may wait for this client's answers.
    pub(crate) fn max_requests(&self) -> usize {
        self.shared.max_client_requests
    }

    /// The connection ended for good: its requests fail, and nothing more is queued.
    pub(crate) fn end(&self) {
        self.outbound().close();
        if let Some(waiting) = self.shared.waiting.get() {
            waiting.end();
        }
    }

    /// The connection as one of the hub's members, if it is one of ours.
    pub(crate) fn of_member(member: Arc<dyn Member>) -> Option<Self> {
        let shared = member.into_any().downcast::<Shared>().ok()?;
        Some(Self { shared })
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
        if !self.as_member().takes_fan_out() {
            // In a cluster, a resumable session's messages come from the journal.
            let hub = &self.shared.hub;
            hub.send_through_journal(self.id(), self.as_member(), message);
            return Ok(());
        }
        self.queue(message)
    }

    /// Queues a message for this client (the hub's delivery; `send` for everything else).
    pub(crate) fn queue(&self, message: Message) -> Result<(), SendError> {
        self.shared.queue(message)
    }

    /// This connection as the hub holds it.
    pub(crate) fn member(&self) -> Arc<dyn Member> {
        Arc::clone(&self.shared) as Arc<dyn Member>
    }

    /// This connection as the hub reaches it.
    pub(crate) fn as_member(&self) -> &dyn Member {
        &*self.shared
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

    /// Asks to close with `code` (the first request wins); a parked session, which has no
    /// connection to close, ends.
    pub(crate) fn request_close(&self, code: u16, reason: &str) {
        self.shared.request_close(code, reason);
    }

    /// Asks the loop to close the connection with `code` (the first request wins), and
    /// nothing more.
    pub(crate) fn ask_to_close(&self, code: u16, reason: &str) {
        self.shared.ask_to_close(code, reason);
    }

    /// What a resumable session keeps to resume, on a resumable endpoint.
    pub(crate) fn session_state(&self) -> Option<&dyn SessionState> {
        self.shared.session.as_deref()
    }

    /// The close a handler asked for, if any (taken once).
    pub(crate) fn take_close_request(&self) -> Option<CloseFrame> {
        if !self.shared.close_pending.load(Ordering::Acquire) {
            return None;
        }
        self.close_request_slot().take()
    }

    /// Forgets a request to close with `code`, unless `keep` (looked at under the request's
    /// lock) says it stands.
    pub(crate) fn withdraw_close_request(&self, code: u16, keep: impl FnOnce() -> bool) {
        let mut request = self.close_request_slot();
        let asked = request.as_ref().map(|frame| u16::from(frame.code));
        if asked == Some(code) && !keep() {
            *request = None;
        }
    }

    /// Resolves once the loop has been woken (see `Shared::wake`) since the last call.
    pub(crate) async fn woken(&self) {
        self.shared.wake.notified().await;
    }

    /// Whether the loop has more to do than write what is queued: a close was asked for, or
    /// the client was evicted.
    pub(crate) fn must_stop(&self) -> bool {
        self.shared.close_pending.load(Ordering::Acquire) || self.is_evicted()
    }

    /// Wakes the loop again, for a wake it took but left to its next turn.
    pub(crate) fn wake_again(&self) {
        self.shared.wake.notify_one();
    }

    fn close_request_slot(&self) -> MutexGuard<'_, Option<CloseFrame>> {
        self.shared.close_request_slot()
    }
}

impl Shared {
    fn ask_to_close(&self, code: u16, reason: &str) {
        let mut request = self.close_request_slot();
        if request.is_none() {
            *request = Some(CloseFrame {
                code: code.into(),
                reason: Utf8Bytes::from(reason),
            });
            self.close_pending.store(true, Ordering::Release);
            self.wake.notify_one();
        }
    }

    fn close_request_slot(&self) -> MutexGuard<'_, Option<CloseFrame>> {
        lock(&self.close_request)
    }
}

/// The hub holds a connection by its shared state, without another allocation.
impl Member for Shared {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn queue(&self, message: Message) -> Result<(), SendError> {
        let outbound = &self.outbound;
        if let Some(session) = self.session.as_deref() {
            let waits = session.queue(message, outbound)?;
            if !waits {
                self.wake.notify_one();
            }
            return Ok(());
        }
        let direct = self.direct.get().and_then(Weak::upgrade);
        let sent = match direct {
            Some(direct) => direct.send(message, |message| outbound.push(message))?,
            None => outbound.push(message).map(|()| Sent::ToTheLoop)?,
        };
        if let Sent::ToTheLoop = sent {
            self.wake.notify_one();
        }
        Ok(())
    }

    fn slow_consumer(&self) -> SlowConsumer {
        self.slow_consumer
    }

    fn evict(&self) -> bool {
        let first = !self.evicted.swap(true, Ordering::AcqRel);
        if first {
            self.eviction.notify_one();
            self.wake.notify_one();
        }
        first
    }

    fn request_close(&self, code: u16, reason: &str) {
        if let Some(session) = self.session.as_deref() {
            session.close_requested();
        }
        self.ask_to_close(code, reason);
    }

    fn takes_fan_out(&self) -> bool {
        self.session
            .as_deref()
            .is_none_or(SessionState::takes_fan_out)
    }

    fn sent_through_journal(&self) {
        if let Some(session) = self.session.as_deref() {
            session.sent_through_journal();
        }
    }
}

/// What a resumable session keeps, as its connection holds it: the endpoint layer implements it
/// (`endpoint::resume::replay`), and reaches its own type back through [`Any`].
pub(crate) trait SessionState: Any + Send + Sync {
    /// Queues `message` for the client: through `outbound` while it is connected (`false`),
    /// or kept for it while it is away (`true`).
    fn queue(&self, message: Message, outbound: &Outbound) -> Result<bool, SendError>;

    /// A close was asked for: a parked session, which has no connection to close, ends.
    fn close_requested(&self);

    /// See [`Member::takes_fan_out`].
    fn takes_fan_out(&self) -> bool;

    /// See [`Member::sent_through_journal`].
    fn sent_through_journal(&self);
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.shared.id)
            .finish()
    }
}
