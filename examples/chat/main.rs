//! A chat with rooms, in the gateway style, with a browser page.
//!
//! `cargo run --example chat`, then open http://127.0.0.1:8080/ in two browser tabs (set `PORT`
//! to move it). `curl -d 'hello all' http://127.0.0.1:8080/announce` speaks to everyone.
//!
//! Several instances behind one Redis act as one chat: run each with
//! `REDIS_URL=redis://127.0.0.1:6379 PORT=8081 cargo run --example chat --features redis`
//! (another `PORT` each). Rooms, member lists and the user count then span the instances.
//!
//! The chat keeps no state of its own: a client's room is its hub room, its name its presence
//! text, so everything it knows is what the hub (and with a backplane, the cluster) knows.
//!
//! Sessions are resumable for two minutes (`resume = "2m"`): a client whose connection drops
//! comes back (`/chat?resume`, then `$resume`) still in its room, under its name, and receives
//! the messages it missed; it counts as connected meanwhile. The README's "Resumable sessions"
//! has the protocol.
//!
//! Wire contract on `/chat`:
//! - `{"event":"join","data":{"room":R,"name":N},"id":K}` → `{"ack":K,"data":{"members":[..]}}`
//!   (the names in R, sorted, N included, at most 100); a client is in one room at a time;
//!   a name of 1–32 characters and a room of 1–64, or an error message (status 400);
//! - `{"event":"message","data":{"text":T}}` → every other member of the sender's room gets
//!   `{"event":"message","data":{"from":N,"room":R,"text":T}}`; before a join, an error message;
//! - `{"event":"leave"}` leaves the room;
//! - after every join, leave and disconnect (a session's end: a close, or two minutes away),
//!   every client gets `{"event":"users","data":{"count":C}}`;
//! - `POST /announce` with a text body → every client gets `{"event":"announce","data":TEXT}` (202).

use axum::response::Html;
use axum::routing::{get, post};
use gateway::prelude::*;
use serde::{Deserialize, Serialize};

const CHAT: &str = "/chat";

/// What one join may ask for and get back: a client must not make the server store or send
/// much on its behalf (300 members with 16 KB names would make every join's answer 4.6 MB).
const MAX_NAME_CHARS: usize = 32;
const MAX_ROOM_CHARS: usize = 64;
const MAX_MEMBERS_LISTED: usize = 100;

#[derive(Deserialize)]
#[cfg_attr(feature = "contract", derive(schemars::JsonSchema))]
struct Join {
    room: String,
    name: String,
}

#[derive(Serialize)]
#[cfg_attr(feature = "contract", derive(schemars::JsonSchema))]
struct Members {
    members: Vec<String>,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "contract", derive(schemars::JsonSchema))]
struct Say {
    text: String,
}

/// A message as the room hears it.
#[derive(Serialize)]
#[cfg_attr(feature = "contract", derive(schemars::JsonSchema))]
struct Said {
    from: Option<String>,
    room: String,
    text: String,
}

/// How many clients are connected.
#[derive(Serialize)]
#[cfg_attr(feature = "contract", derive(schemars::JsonSchema))]
struct Users {
    count: usize,
}

/// The chat; who is where lives in the hub.
pub(crate) struct ChatGateway;

#[gateway(
    "chat",
    ping = "20s",
    max_message = "16KiB",
    resume = "2m",
    emits("message" = Said, "users" = Users, "announce" = String)
)]
impl ChatGateway {
    #[subscribe("join")]
    async fn join(
        &self,
        #[body] join: Json<Join>,
        conn: Connection,
        hub: Hub,
    ) -> Result<Ack<Members>, WsError> {
        let Json(Join { room, name }) = join;
        check_length("name", &name, MAX_NAME_CHARS)?;
        check_length("room", &room, MAX_ROOM_CHARS)?;
        leave_room(&conn);
        conn.set_presence(&name);
        conn.join(&room);
        announce_users(&hub);
        let mut members: Vec<String> = hub
            .room(&room)
            .presence()
            .into_iter()
            .filter_map(|(_, name)| name)
            .collect();
        members.sort();
        members.truncate(MAX_MEMBERS_LISTED);
        Ok(Ack(Members { members }))
    }

    #[subscribe("message")]
    async fn message(
        &self,
        #[body] say: Json<Say>,
        conn: Connection,
        hub: Hub,
    ) -> Result<(), WsError> {
        let room = conn
            .rooms()
            .pop()
            .ok_or_else(|| WsError::bad_request("join a room before sending messages"))?;
        let message = Said {
            from: conn.presence(),
            room: room.clone(),
            text: say.0.text,
        };
        hub.room(room).except(conn.id()).emit("message", &message);
        Ok(())
    }

    #[subscribe("leave")]
    async fn leave(&self, conn: Connection, hub: Hub) {
        leave_room(&conn);
        announce_users(&hub);
    }

    #[on_disconnect]
    async fn left(&self, hub: Hub) {
        announce_users(&hub);
    }
}

/// A name or a room of 1 to `max` characters.
fn check_length(what: &str, value: &str, max: usize) -> Result<(), WsError> {
    if (1..=max).contains(&value.chars().count()) {
        Ok(())
    } else {
        Err(WsError::bad_request(format!(
            "a {what} has 1 to {max} characters"
        )))
    }
}

/// A client is in one room at a time.
fn leave_room(conn: &Connection) {
    for room in conn.rooms() {
        conn.leave(room);
    }
}

/// Tells every client how many are connected.
fn announce_users(hub: &Hub) {
    let count = hub.path(CHAT).count();
    hub.path(CHAT).emit("users", &Users { count });
}

/// The chat: the gateway, its page, and `POST /announce`.
pub(crate) fn app() -> App {
    // Below the open-file limit of the machines it runs on; past it, clients get HTTP 503.
    let app = App::new()
        .max_connections(10_000)
        .gateway(ChatGateway)
        .serve_client();
    #[cfg(feature = "contract")]
    let app = app.serve_asyncapi("/asyncapi.json", "gateway chat", "1.0.0");
    let hub = app.hub();
    app.route("/", get(|| async { Html(include_str!("index.html")) }))
        .route(
            "/announce",
            post(move |text: String| async move {
                hub.path(CHAT).emit("announce", &text);
                StatusCode::ACCEPTED
            }),
        )
}

/// The app, joined to the other instances through Redis when `REDIS_URL` is set.
async fn clustered(app: App) -> Result<App, Box<dyn std::error::Error>> {
    let Ok(url) = std::env::var("REDIS_URL") else {
        return Ok(app);
    };
    #[cfg(feature = "redis")]
    {
        let backplane = gateway::backplane::RedisBackplane::connect(&url).await?;
        println!("instance {} of the cluster at {url}", backplane.instance());
        Ok(app.backplane(backplane))
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = app;
        Err(format!("REDIS_URL={url} needs the backplane: run with `--features redis`").into())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo run --example chat --features contract -- asyncapi > chat.asyncapi.json`
    #[cfg(feature = "contract")]
    if std::env::args().nth(1).as_deref() == Some("asyncapi") {
        println!("{:#}", app().asyncapi("gateway chat", "1.0.0"));
        return Ok(());
    }
    let app = clustered(app()).await?;
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    print!("{}", app.routes_table());
    let drained =
        gateway::serve_on_with_shutdown(listener, app, gateway::shutdown_signal()).await?;
    println!("drained {drained} connections");
    Ok(())
}
