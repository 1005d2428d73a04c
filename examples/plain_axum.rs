//! The baseline the benchmark compares against: plain axum 0.8, written the way its docs show
//! (`WebSocketUpgrade`, a `recv`/`send` loop, `tokio::sync::broadcast` for the broadcast route).
//!
//! `READ_BUFFER=4096` sets the WebSocket read buffer (axum's default is 128 KiB); `PORT` the port.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tokio::sync::broadcast;

#[derive(Clone)]
struct Shared {
    broadcast: broadcast::Sender<Message>,
    read_buffer: Option<usize>,
}

fn configured(upgrade: WebSocketUpgrade, shared: &Shared) -> WebSocketUpgrade {
    match shared.read_buffer {
        Some(bytes) => upgrade.read_buffer_size(bytes),
        None => upgrade,
    }
}

async fn echo(upgrade: WebSocketUpgrade, State(shared): State<Shared>) -> Response {
    configured(upgrade, &shared)
        .max_message_size(16 << 20)
        .on_upgrade(|mut socket: WebSocket| async move {
            while let Some(Ok(message)) = socket.recv().await {
                if matches!(message, Message::Text(_) | Message::Binary(_))
                    && socket.send(message).await.is_err()
                {
                    break;
                }
            }
        })
}

async fn broadcast_route(upgrade: WebSocketUpgrade, State(shared): State<Shared>) -> Response {
    configured(upgrade, &shared).on_upgrade(move |mut socket: WebSocket| async move {
        let mut receiver = shared.broadcast.subscribe();
        loop {
            tokio::select! {
                incoming = socket.recv() => match incoming {
                    Some(Ok(message @ Message::Text(_))) => { shared.broadcast.send(message).ok(); }
                    Some(Ok(_)) => {}
                    _ => break,
                },
                outgoing = receiver.recv() => match outgoing {
                    Ok(message) => if socket.send(message).await.is_err() { break },
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
        }
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "9002".to_owned());
    let read_buffer = std::env::var("READ_BUFFER")
        .ok()
        .and_then(|bytes| bytes.parse().ok());
    let shared = Shared {
        broadcast: broadcast::channel(1024).0,
        read_buffer,
    };
    let app = Router::new()
        .route("/echo", get(echo))
        .route("/broadcast", get(broadcast_route))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
