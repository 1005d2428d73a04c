//! Testing an app the way clients use it: [`start`] serves an [`App`](crate::App) on a free port of
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
