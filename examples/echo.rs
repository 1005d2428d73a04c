//! The benchmark and conformance server: `/echo` returns every message unchanged (text as text,
//! binary as binary), `/broadcast` sends every text message to every `/broadcast` client, the
//! sender included.
//!
//! `cargo run --release --example echo` (set `PORT` to move it off 9001). With `--features redis`
//! and `REDIS_URL` set, instances share their hub through Redis (the harness's cluster scenario).

use gateway::prelude::*;

const BROADCAST: &str = "/broadcast";

/// `/echo` and `/broadcast`, the routes the harness drives.
#[derive(Debug)]
pub struct Echo;

#[controller("")]
impl Echo {
    #[websocket("echo", max_message = "16MiB", ping = "30s")]
    async fn echo(&self, #[body] message: Message) -> Message {
        message
    }

    #[websocket("broadcast", mode = ReceiveOnly, ping = "30s")]
    async fn broadcast(&self, #[body] message: Message, hub: Hub) {
        if let Message::Text(_) = message {
            hub.path(BROADCAST).send(message);
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "9001".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    let app = App::new().controller(Echo);
    #[cfg(feature = "redis")]
    let app = match std::env::var("REDIS_URL") {
        Ok(url) => app.backplane(
            gateway::backplane::RedisBackplane::connect(&url)
                .await
                .map_err(std::io::Error::other)?,
        ),
        Err(_) => app,
    };
    println!("listening on ws://{}", listener.local_addr()?);
    gateway::serve_on(listener, app).await
}
