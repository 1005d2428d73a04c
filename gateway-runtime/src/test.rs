//! Testing an app the way clients use it: [`start`] serves an [`App`] on a free port of
//! 127.0.0.1, and [`Client`] talks to it over a real WebSocket (tokio-tungstenite). Enable with
//! the `test` feature, in `[dev-dependencies]`:
//! `gateway = { version = "..", features = ["test"] }`.
//!
//! Every call waits at most [`WAIT`] and panics with a message saying what did not happen, so a
//! test reads as the behaviour it checks:
//!
//! ```
//! use gateway::prelude::*;
//! use gateway::test::{start, Client};
//!
//! struct Echo;
//!
//! #[controller("")]
//! impl Echo {
//!     #[websocket("echo")]
//!     async fn echo(&self, #[body] message: String) -> String {
//!         format!("Echo: {message}")
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let addr = start(App::new().controller(Echo)).await;
//! let mut client = Client::connect(addr, "/echo").await;
//! assert_eq!(client.ask("hi").await, "Echo: hi");
//! assert_eq!(Client::connect_with(addr, "/nowhere", &[]).await.err(), Some(404));
//! # });
//! ```

use crate::app::App;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any [`Client`] call waits: long enough for a loaded CI machine, short enough that a
/// hang fails the test.
pub const WAIT: Duration = Duration::from_secs(10);

/// Serves `app` on a free port of 127.0.0.1 for the rest of the test (the server's task ends
/// with the test's runtime).
///
/// # Panics
/// When no port can be bound.
pub async fn start(app: App) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a port on 127.0.0.1");
    let addr = listener.local_addr().expect("the bound address");
    tokio::spawn(crate::serve_on(listener, app));
    addr
}

/// A WebSocket client for tests. Pings are answered automatically.
pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
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
            Ok((socket, _)) => Ok(Client { socket }),
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
        tokio::time::timeout(WAIT, self.socket.next())
            .await
            .expect("timed out waiting for a message")
            .expect("the connection ended without a Close frame")
            .expect("the connection failed")
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

    /// The next data message, which must be JSON text.
    pub async fn recv_json(&mut self) -> serde_json::Value {
        let text = self.recv_text().await;
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    }

    /// Sends `text` and returns the text reply.
    pub async fn ask(&mut self, text: &str) -> String {
        self.send_text(text).await;
        self.recv_text().await
    }

    /// Waits for the server's Close frame and returns its code and reason.
    pub async fn expect_close(&mut self) -> (u16, String) {
        match self.next_data().await {
            Message::Close(Some(frame)) => (u16::from(frame.code), frame.reason.to_string()),
            Message::Close(None) => (u16::from(CloseCode::Status), String::new()),
            other => panic!("expected a Close frame, got {other:?}"),
        }
    }

    /// After the server's Close: reads on so tungstenite answers it, until the connection ends.
    pub async fn close_reply(&mut self) {
        while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, self.socket.next()).await {}
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

/// One event read by an [`SseReader`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` name, if any.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The `id:`, if any.
    pub id: Option<String>,
}

/// A Server-Sent Events client for tests: `GET path` and read events one by one.
pub struct SseReader {
    stream: tokio::io::BufReader<TcpStream>,
    /// Decoded body text not yet parsed into events.
    pending: String,
}

impl SseReader {
    /// Opens the event stream at `path`.
    ///
    /// # Panics
    /// When the server does not answer `200` with `text/event-stream`.
    pub async fn connect(addr: SocketAddr, path: &str) -> SseReader {
        match Self::connect_with(addr, path, &[]).await {
            Ok(reader) => reader,
            Err(status) => panic!("not an event stream: HTTP {status}"),
        }
    }

    /// Opens the event stream at `path` with extra request headers; `Err(status)` when the
    /// server answers with another status than `200` (403 from a guard, ..).
    ///
    /// # Panics
    /// When the connection fails, or a `200` is not an event stream.
    pub async fn connect_with(
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<SseReader, u16> {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let stream = TcpStream::connect(addr).await.expect("connect");
        let mut stream = tokio::io::BufReader::new(stream);
        let extra: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{extra}\r\n"
        );
        stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .expect("send the request");
        let mut head = String::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(WAIT, stream.read_line(&mut line)).await;
            assert!(
                matches!(read, Ok(Ok(1..))),
                "the server did not answer {path}"
            );
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|status| status.parse().ok())
            .unwrap_or(0);
        if status != 200 {
            return Err(status);
        }
        assert!(
            head.to_ascii_lowercase().contains("text/event-stream"),
            "not an event stream: {head}"
        );
        Ok(SseReader {
            stream,
            pending: String::new(),
        })
    }

    /// The next event (keep-alive comments are skipped).
    ///
    /// # Panics
    /// When none arrives within [`WAIT`] or the stream ends.
    pub async fn next_event(&mut self) -> SseEvent {
        self.try_next_event()
            .await
            .expect("the event stream ended before an event")
    }

    /// Waits for the server to end the stream (its last chunk) and says which events came
    /// before the end.
    ///
    /// # Panics
    /// When the stream does not end within [`WAIT`].
    pub async fn expect_end(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.try_next_event().await {
            events.push(event);
        }
        events
    }

    /// The next event, or `None` once the server ended the stream.
    async fn try_next_event(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..end + 2).collect();
                match parse_event(&block) {
                    Some(event) => return Some(event),
                    None => continue, // a comment (keep-alive) or `retry:` alone
                }
            }
            let chunk = tokio::time::timeout(WAIT, self.read_chunk())
                .await
                .expect("timed out waiting for the event stream")?;
            self.pending.push_str(&chunk);
        }
    }

    /// One chunk of the chunked response body; `None` for the last (empty) chunk.
    async fn read_chunk(&mut self) -> Option<String> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt};
        let mut size = String::new();
        self.stream
            .read_line(&mut size)
            .await
            .expect("read a chunk size");
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunked event stream");
        if size == 0 {
            return None;
        }
        let mut chunk = vec![0; size + 2];
        self.stream
            .read_exact(&mut chunk)
            .await
            .expect("read a chunk");
        chunk.truncate(size);
        Some(String::from_utf8(chunk).expect("UTF-8 events"))
    }
}

/// One event block (up to its blank line); `None` when it holds no event.
fn parse_event(block: &str) -> Option<SseEvent> {
    let mut event = SseEvent::default();
    let mut data = Vec::new();
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event.event = Some(value.to_owned()),
            "data" => data.push(value),
            "id" => event.id = Some(value.to_owned()),
            _ => {} // comments and retry
        }
    }
    if data.is_empty() && event.event.is_none() {
        return None;
    }
    event.data = data.join("\n");
    Some(event)
}
