//! The benchmark and conformance server: `/echo` returns every message unchanged (text as text,
//! binary as binary), `/broadcast` sends every text message to every `/broadcast` client, the
//! sender included. `/feed` and `/resumable` are one gateway without and with `resume`:
//! `{"event":"publish","data":T}` sends the text `T` to every client of the path (the harness's
//! resume scenario).
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

/// `/feed`: `publish` sends its text to every `/feed` client.
#[derive(Debug)]
pub struct Feed;

#[gateway("feed", ping = "30s")]
impl Feed {
    #[subscribe("publish")]
    async fn publish(&self, #[body] text: String, hub: Hub) {
        hub.path("/feed").send(text);
    }
}

/// `/resumable`: the same as `/feed`, with resumable sessions.
#[derive(Debug)]
pub struct ResumableFeed;

#[gateway("resumable", ping = "30s", resume = "2m")]
impl ResumableFeed {
    #[subscribe("publish")]
    async fn publish(&self, #[body] text: String, hub: Hub) {
        hub.path("/resumable").send(text);
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "9001".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    // The conformance suite (Autobahn, cases 9.3 and 9.4) sends 4 MiB messages in 64-byte
    // fragments: 65,536 frames or more, where the default allows 1,024 per message.
    let app = App::new()
        .max_frames(1 << 17)
        .controller(Echo)
        .gateway(Feed)
        .gateway(ResumableFeed);
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
    print!("{}", app.routes_table());
    gateway::serve_on(listener, app).await
}
