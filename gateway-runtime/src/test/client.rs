//! [`Client`]: a WebSocket client that talks to the app as a real one does.

use super::resume::{Resume, ServerSays, Session};
use super::WAIT;
use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A WebSocket client for tests. Pings are answered automatically. Examples: the
/// [module](crate::test), [`Client::request`].
pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Messages that arrived while [`Client::request`] waited for its answer, in order: the
    /// next reads return them first.
    set_aside: VecDeque<Message>,
    /// The `id` of the next [`Client::request`].
    next_id: u64,
    /// The session, on a resumable gateway (once its `$session` was read).
    session: Option<Session>,
    /// How the server answered the last `$resume` (read by [`Client::resume`]).
    resumed: Option<Resume>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("set_aside", &self.set_aside)
            .field("next_id", &self.next_id)
            .field("seq", &self.session.as_ref().map(|session| session.seq))
            .finish_non_exhaustive()
    }
}

/// The error answer to a [`Client::request`]: `{"ack": id, "error": .., "status": ..}` (an
/// example is at [`Client::request`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RequestError {
    /// The error's status (400 for the client's fault, 404 for an unknown event, ..).
    pub status: u16,
    /// The error's message.
    pub error: String,
}

/// What one read brought.
enum Step {
    /// A resume protocol message, taken in.
    Heard,
    Read(Option<Result<Message, tungstenite::Error>>),
}

/// An answer to a request: the data, or an error.
#[derive(Deserialize)]
struct Answer {
    ack: Option<u64>,
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(flatten)]
    error: Option<RequestError>,
}

impl Client {
    /// Connects to `path` (with its query, if any).
    ///
    /// # Panics
    /// When the server refuses the upgrade.
    pub async fn connect(addr: SocketAddr, path: &str) -> Client {
        Self::connect_with(addr, path, &[])
            .await
            .expect("the upgrade was refused")
    }

    /// Connects with extra handshake headers; `Err(status)` when the server answers the upgrade
    /// request with an HTTP status instead (403 from a guard, 503 when full, ..).
    ///
    /// # Panics
    /// When a header is not valid, or the TCP connection fails.
    pub async fn connect_with(
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Client, u16> {
        let mut request = format!("ws://{addr}{path}")
            .into_client_request()
            .expect("a valid WebSocket URL");
        for (name, value) in headers {
            request.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                value.parse().expect("a header value"),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(Client {
                socket,
                set_aside: VecDeque::new(),
                next_id: 1,
                session: None,
                resumed: None,
            }),
            Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(error) => panic!("connecting to {path}: {error}"),
        }
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: &str) {
        self.send(Message::text(text)).await;
    }

    /// Sends a binary message.
    pub async fn send_binary(&mut self, bytes: impl Into<Vec<u8>>) {
        self.send(Message::binary(bytes.into())).await;
    }

    /// Sends `value` as a JSON text message.
    pub async fn send_json<T: Serialize + ?Sized>(&mut self, value: &T) {
        let text = serde_json::to_string(value).expect("a value that encodes as JSON");
        self.send(Message::text(text)).await;
    }

    /// Sends any message.
    ///
    /// # Panics
    /// When the connection is gone.
    pub async fn send(&mut self, message: Message) {
        self.socket.send(message).await.expect("send a message");
    }

    /// The next text, binary, close or ping message (pongs are answered by tungstenite).
    pub async fn next(&mut self) -> Message {
        if let Some(message) = self.set_aside.pop_front() {
            return message;
        }
        self.read()
            .await
            .expect("timed out waiting for a message")
            .expect("the connection ended without a Close frame")
            .expect("the connection failed")
    }

    /// The next message off the socket, within [`WAIT`].
    async fn read(
        &mut self,
    ) -> Result<Option<Result<Message, tungstenite::Error>>, tokio::time::error::Elapsed> {
        self.read_until(tokio::time::Instant::now() + WAIT).await
    }

    /// The next message off the socket before `deadline`, the resume protocol's taken in.
    async fn read_until(
        &mut self,
        deadline: tokio::time::Instant,
    ) -> Result<Option<Result<Message, tungstenite::Error>>, tokio::time::error::Elapsed> {
        loop {
            if let Step::Read(read) = self.step(deadline).await? {
                return Ok(read);
            }
        }
    }

    /// Reads one message: a resume protocol message is taken in here; the app's data messages
    /// are counted once a session has begun.
    async fn step(
        &mut self,
        deadline: tokio::time::Instant,
    ) -> Result<Step, tokio::time::error::Elapsed> {
        let read = tokio::time::timeout_at(deadline, self.socket.next()).await?;
        match &read {
            Some(Ok(Message::Text(text))) => {
                if let Some(said) = ServerSays::parse(text) {
                    self.heard(said);
                    return Ok(Step::Heard);
                }
                // The answer to a `$ping` is not numbered (a test may still read it).
                if !text.starts_with(r#"{"event":"$pong""#) {
                    self.count();
                }
            }
            Some(Ok(Message::Binary(_))) => self.count(),
            _ => {}
        }
        Ok(Step::Read(read))
    }

    fn count(&mut self) {
        if let Some(session) = &mut self.session {
            session.seq += 1;
        }
    }

    fn heard(&mut self, said: ServerSays) {
        match said {
            ServerSays::Session { token, reason } => {
                self.session = Some(Session { token, seq: 0 });
                self.resumed = reason.map(Resume::Fresh);
            }
            ServerSays::Resumed { seq, replay } => {
                if let Some(session) = &mut self.session {
                    session.seq = seq;
                }
                self.resumed = Some(Resume::Resumed { replay });
            }
        }
    }

    /// The session of a resumable gateway (`#[gateway(.., resume = "..")]`): its token and the
    /// number of the last message read. Waits for the server's `$session` if it has not been
    /// read yet.
    ///
    /// # Panics
    /// When no `$session` arrives (the endpoint is not resumable).
    pub async fn session(&mut self) -> Session {
        while self.session.is_none() {
            self.read_protocol(
                "no `$session` arrived: is the gateway resumable (`resume = \"..\"`)?",
            )
            .await;
        }
        self.session.clone().expect("read above")
    }

    /// Acknowledges every message read so far (`{"event":"$ack","data":N}`): the server may
    /// forget them.
    pub async fn ack(&mut self) {
        let seq = self.session().await.seq;
        self.send_json(&serde_json::json!({"event": "$ack", "data": seq}))
            .await;
    }

    /// Connects to `path?resume` and asks to resume `session` (from [`session`](Self::session)
    /// on the client whose connection was lost). The answer says whether the session goes on
    /// (the missed messages are the next reads) or a fresh one began, and why.
    ///
    /// # Panics
    /// When the server refuses the upgrade or does not answer.
    pub async fn resume(addr: SocketAddr, path: &str, session: &Session) -> (Client, Resume) {
        Self::resume_with(addr, path, session, &[])
            .await
            .unwrap_or_else(|status| panic!("the resume's handshake was refused with {status}"))
    }

    /// [`resume`](Self::resume) with these handshake headers (the credentials a guard checks
    /// again); `Err` is the HTTP status of a refused handshake.
    ///
    /// # Panics
    /// As [`resume`](Self::resume), but for a refusal.
    pub async fn resume_with(
        addr: SocketAddr,
        path: &str,
        session: &Session,
        headers: &[(&str, &str)],
    ) -> Result<(Client, Resume), u16> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut client =
            Self::connect_with(addr, &format!("{path}{separator}resume"), headers).await?;
        client.session = Some(session.clone());
        let request = serde_json::json!({
            "event": "$resume",
            "data": {"token": session.token, "seq": session.seq},
        });
        client.send_json(&request).await;
        while client.resumed.is_none() {
            client.read_protocol("no answer to `$resume`").await;
            // Closed before an answer: another connection resumed the session meanwhile.
            if let Some(Message::Close(Some(frame))) = client.set_aside.back() {
                if u16::from(frame.code) == crate::base::close::close_code::RESUMED_ELSEWHERE {
                    return Ok((client, Resume::TakenOver));
                }
            }
        }
        let answer = client.resumed.take().expect("read above");
        Ok((client, answer))
    }

    /// Reads one message, keeping a data message for the next reads.
    async fn read_protocol(&mut self, missing: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        match self.step(deadline).await.expect(missing) {
            Step::Heard => {}
            Step::Read(Some(Ok(message))) => self.set_aside.push_back(message),
            Step::Read(other) => panic!("{missing}: the connection ended ({other:?})"),
        }
    }

    /// The next data message, skipping pings.
    pub async fn next_data(&mut self) -> Message {
        loop {
            match self.next().await {
                Message::Ping(_) | Message::Pong(_) => continue,
                other => return other,
            }
        }
    }

    /// The next data message, which must be text.
    pub async fn recv_text(&mut self) -> String {
        match self.next_data().await {
            Message::Text(text) => text.to_string(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// The next data message, which must be JSON text, decoded as `T` (a
    /// `serde_json::Value`, or a type of your own).
    pub async fn recv_json<T: DeserializeOwned>(&mut self) -> T {
        let text = self.recv_text().await;
        serde_json::from_str(&text).unwrap_or_else(|error| {
            panic!(
                "not JSON for a `{}` ({error}): {text}",
                std::any::type_name::<T>()
            )
        })
    }

    /// Sends the gateway request `{"event": event, "data": data, "id": N}` (a new `N` each call)
    /// and waits for its answer: `Ok(data)` from `{"ack": N, "data": ..}`, `Err` from
    /// `{"ack": N, "error": .., "status": ..}`. Messages that arrive meanwhile are kept for the
    /// next reads, in order.
    ///
    /// ```
    /// # use gateway::prelude::*;
    /// # use gateway::test::{start, Client};
    /// # struct Calc;
    /// # #[gateway("calc")]
    /// # impl Calc {
    /// #     #[subscribe("double")]
    /// #     async fn double(&self, #[body] Json(n): Json<i64>) -> Result<Ack<i64>, WsError> {
    /// #         if n < 0 { return Err(WsError::bad_request("negative")) }
    /// #         Ok(Ack(n * 2))
    /// #     }
    /// # }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let addr = start(App::new().gateway(Calc)).await;
    /// let mut client = Client::connect(addr, "/calc").await;
    /// assert_eq!(client.request::<i64>("double", &21).await, Ok(42));
    /// assert_eq!(client.request::<i64>("double", &-1).await.unwrap_err().status, 400);
    /// # });
    /// ```
    ///
    /// # Panics
    /// When no answer comes within [`WAIT`], or its `data` is not a `T`.
    pub async fn request<T: DeserializeOwned>(
        &mut self,
        event: &str,
        data: &(impl Serialize + ?Sized),
    ) -> Result<T, RequestError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send_json(&serde_json::json!({"event": event, "data": data, "id": id}))
            .await;
        loop {
            let message = self
                .read()
                .await
                .unwrap_or_else(|_| panic!("no answer to request {id} (`{event}`)"))
                .expect("the connection ended before the answer")
                .expect("the connection failed");
            let answer = match &message {
                Message::Text(text) => serde_json::from_str::<Answer>(text).ok(),
                _ => None,
            };
            match answer {
                Some(Answer {
                    ack: Some(ack),
                    error: Some(error),
                    ..
                }) if ack == id => return Err(error),
                Some(Answer {
                    ack: Some(ack),
                    data,
                    ..
                }) if ack == id => {
                    let data = data.unwrap_or_default();
                    return Ok(
                        serde_json::from_value(data.clone()).unwrap_or_else(|error| {
                            panic!(
                                "the answer to `{event}` is not a `{}` ({error}): {data}",
                                std::any::type_name::<T>()
                            )
                        }),
                    );
                }
                _ => self.set_aside.push_back(message),
            }
        }
    }

    /// Waits `within` and panics if a data message (or a Close) arrives meanwhile: for "the
    /// others did not hear it". Pings are answered and skipped.
    pub async fn expect_no_message(&mut self, within: Duration) {
        if let Some(message) = self.set_aside.pop_front() {
            panic!("expected no message, got {message:?}");
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match self.read_until(deadline).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(Some(Ok(message))) => panic!("expected no message, got {message:?}"),
                Ok(other) => panic!("expected no message, the connection ended: {other:?}"),
            }
        }
    }

    /// Sends `text` and returns the text reply.
    pub async fn ask(&mut self, text: &str) -> String {
        self.send_text(text).await;
        self.recv_text().await
    }

    /// Waits for the server's Close frame and returns its code and reason. The connection ends
    /// (and leaves the hub: its rooms, presence, counts) once the client answers the Close:
    /// [`close_reply`](Self::close_reply) does, as a browser does at once.
    pub async fn expect_close(&mut self) -> (u16, String) {
        match self.next_data().await {
            Message::Close(Some(frame)) => (u16::from(frame.code), frame.reason.to_string()),
            Message::Close(None) => (u16::from(CloseCode::Status), String::new()),
            other => panic!("expected a Close frame, got {other:?}"),
        }
    }

    /// After the server's Close: reads on so tungstenite answers it, until the connection ends.
    pub async fn close_reply(&mut self) {
        while let Ok(Some(Ok(_))) = self.read().await {}
    }

    /// Starts the close handshake from the client side (1000) and waits for the server's answer.
    pub async fn close(mut self) -> Message {
        let frame = tungstenite::protocol::CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        self.socket
            .close(Some(frame))
            .await
            .expect("send the Close frame");
        self.next().await
    }
}
