//! Test helpers: start an app on 127.0.0.1:0 and talk to it over a real TCP socket.
#![allow(dead_code)] // each test binary uses a different subset

pub mod raw;

use futures_util::{SinkExt, StreamExt};
use gateway::App;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// `/echo` answers every text message with itself.
pub struct Echo;

#[gateway::controller("")]
impl Echo {
    #[websocket("echo")]
    async fn echo(&self, #[body] message: String) -> String {
        message
    }
}

/// Long enough for a loaded CI machine, short enough that a hang fails the test.
pub const WAIT: Duration = Duration::from_secs(10);

/// Serves `app` on a free port of 127.0.0.1 for the rest of the test.
pub async fn start(app: App) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(gateway::serve_on(listener, app));
    addr
}

pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect(addr: SocketAddr, path: &str) -> Client {
        Self::connect_with(addr, path, &[])
            .await
            .expect("the upgrade was refused")
    }

    /// Connects with extra handshake headers; `Err(status)` when the server refuses the upgrade.
    pub async fn connect_with(
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Client, u16> {
        let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(Client { socket }),
            Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(error) => panic!("connecting to {path}: {error}"),
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket.send(Message::text(text)).await.unwrap();
    }

    pub async fn send_binary(&mut self, bytes: impl Into<Vec<u8>>) {
        self.socket
            .send(Message::binary(bytes.into()))
            .await
            .unwrap();
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

    pub async fn recv_text(&mut self) -> String {
        match self.next_data().await {
            Message::Text(text) => text.to_string(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

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
        self.socket.close(Some(frame)).await.unwrap();
        self.next().await
    }
}
