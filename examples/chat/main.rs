//! A chat with rooms, in the gateway style, with a browser page.
//!
//! `cargo run --example chat`, then open http://127.0.0.1:8080/ in two browser tabs (set `PORT`
//! to move it). `curl -H 'authorization: Bearer TOKEN' -d 'hello all'
//! http://127.0.0.1:8080/announce` speaks to everyone: the token is `ANNOUNCE_TOKEN`, or one
//! the example makes up and prints when it starts. It serves the hosts `localhost` and
//! `127.0.0.1` (`CHAT_HOSTS=chat.example.com,localhost` to change them).
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
//! - `{"event":"ready","id":K}` asks every other member of the sender's room on this instance
//!   `{"event":"ready?","data":{"from":N},"id":J}`, waits up to 10 s for their answers
//!   (`{"ack":J,"data":true}`), and answers `{"ack":K,"data":{"ready":X,"not_ready":Y}}`
//!   (no answer, or an error answer, is not ready); one check per room at a time, else an error
//!   (status 409);
//! - when joins, leaves and disconnects (a session's end: a close, or two minutes away) have
//!   changed how many are connected, every client gets `{"event":"users","data":{"count":C}}`,
//!   at most once a second (clients coming and going by the thousand cost each client one
//!   message a second, and a parked session's buffer at most two minutes' worth);
//! - `POST /announce` with a text body of at most 4 KiB and `Authorization: Bearer TOKEN` → every
//!   client gets `{"event":"announce","data":TEXT}` (202); without the token 401, larger 413.

use axum::extract::DefaultBodyLimit;
use axum::http::{header::AUTHORIZATION, HeaderMap, HeaderValue};
use axum::response::Html;
use axum::routing::{get, post};
use futures_util::StreamExt;
use gateway::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

const CHAT: &str = "/chat";

/// How often, at most, every client hears how many are connected.
const USERS_EVERY: Duration = Duration::from_secs(1);

/// The longest announcement: far below what a parked session keeps (1 MiB), so one
/// announcement cannot cost any session its resume.
const MAX_ANNOUNCE: usize = 4 << 10;

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

/// Who asks the room whether it is ready.
#[derive(Serialize)]
struct ReadyCheck {
    from: Option<String>,
}

/// How the room answered a ready check.
#[derive(Serialize)]
#[cfg_attr(feature = "contract", derive(schemars::JsonSchema))]
struct Readiness {
    ready: usize,
    not_ready: usize,
}

/// How many clients are connected.
#[derive(Serialize)]
#[cfg_attr(feature = "contract", derive(schemars::JsonSchema))]
struct Users {
    count: usize,
}

/// The chat; who is where lives in the hub.
pub(crate) struct ChatGateway {
    users: Arc<UsersCount>,
    /// The rooms with a ready check running: one at a time each, so no one can fill a member's
    /// requests waiting for answers (64) with checks of their own.
    checking: Mutex<HashSet<String>>,
}

/// A ready check running in a room, until dropped (however the handler ends).
struct Checking<'a> {
    rooms: &'a Mutex<HashSet<String>>,
    room: String,
}

impl<'a> Checking<'a> {
    /// `None` when the room has a check running already.
    fn begin(rooms: &'a Mutex<HashSet<String>>, room: &str) -> Option<Self> {
        lock(rooms).insert(room.to_owned()).then(|| Self {
            rooms,
            room: room.to_owned(),
        })
    }
}

impl Drop for Checking<'_> {
    fn drop(&mut self) {
        lock(self.rooms).remove(&self.room);
    }
}

fn lock(rooms: &Mutex<HashSet<String>>) -> MutexGuard<'_, HashSet<String>> {
    rooms
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Tells every client how many are connected, at most once per [`USERS_EVERY`], while the
/// count keeps changing.
#[derive(Default)]
struct UsersCount {
    changed: AtomicBool,
    /// A task is telling them.
    ticking: AtomicBool,
}

impl UsersCount {
    /// The count may have changed: every client hears it within a second.
    fn changed(self: &Arc<Self>, hub: &Hub) {
        self.changed.store(true, Ordering::Release);
        if self.ticking.swap(true, Ordering::AcqRel) {
            return;
        }
        let (users, hub) = (Arc::clone(self), hub.clone());
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(USERS_EVERY);
            loop {
                ticks.tick().await;
                if users.changed.swap(false, Ordering::AcqRel) {
                    announce_users(&hub);
                    continue;
                }
                // Quiet for a second: stop, unless a change came just now.
                users.ticking.store(false, Ordering::Release);
                if !users.changed.load(Ordering::Acquire)
                    || users.ticking.swap(true, Ordering::AcqRel)
                {
                    return;
                }
            }
        });
    }
}

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
        self.users.changed(&hub);
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

    /// A ready check: the server asks the room, and counts the answers as they come.
    #[subscribe("ready")]
    async fn ready(&self, conn: Connection, hub: Hub) -> Result<Ack<Readiness>, WsError> {
        let room = conn
            .rooms()
            .pop()
            .ok_or_else(|| WsError::bad_request("join a room before a ready check"))?;
        let _checking = Checking::begin(&self.checking, &room)
            .ok_or_else(|| WsError::new(409, "a ready check of this room is running"))?;
        let asking = ReadyCheck {
            from: conn.presence(),
        };
        let answers: Vec<_> = hub
            .room(&room)
            .except(conn.id())
            .request::<bool>("ready?", &asking)
            .timeout(Duration::from_secs(10))
            .collect()
            .await;
        let ready = answers
            .iter()
            .filter(|(_, answer)| *answer == Ok(true))
            .count();
        Ok(Ack(Readiness {
            ready,
            not_ready: answers.len() - ready,
        }))
    }

    #[subscribe("leave")]
    async fn leave(&self, conn: Connection, hub: Hub) {
        leave_room(&conn);
        self.users.changed(&hub);
    }

    #[on_disconnect]
    async fn left(&self, hub: Hub) {
        self.users.changed(&hub);
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

/// The chat: the gateway, its page, and `POST /announce` for whoever holds `announce_token`.
pub(crate) fn app(announce_token: &str) -> App {
    let hosts = std::env::var("CHAT_HOSTS").unwrap_or_else(|_| "localhost,127.0.0.1".to_owned());
    // Below the open-file limit of the machines it runs on; past it, clients get HTTP 503.
    let app = App::new()
        .max_connections(10_000)
        .allow_hosts(hosts.split(',').map(str::trim))
        .gateway(ChatGateway {
            users: Arc::default(),
            checking: Mutex::default(),
        })
        .serve_client();
    #[cfg(feature = "contract")]
    let app = app.serve_asyncapi("/asyncapi.json", "gateway chat", "1.0.0");
    let hub = app.hub();
    let authorized = format!("Bearer {announce_token}");
    let announce = move |headers: HeaderMap, text: String| async move {
        let given = headers.get(AUTHORIZATION).map(HeaderValue::as_bytes);
        if given != Some(authorized.as_bytes()) {
            return StatusCode::UNAUTHORIZED;
        }
        hub.path(CHAT).emit("announce", &text);
        StatusCode::ACCEPTED
    };
    app.route("/", get(|| async { Html(include_str!("index.html")) }))
        .route(
            "/announce",
            post(announce).layer(DefaultBodyLimit::max(MAX_ANNOUNCE)),
        )
}

/// `ANNOUNCE_TOKEN`, or one made up for this run.
fn announce_token() -> String {
    use std::hash::{BuildHasher, RandomState};
    std::env::var("ANNOUNCE_TOKEN")
        .unwrap_or_else(|_| format!("{:016x}", RandomState::new().hash_one("announce")))
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
        println!("{:#}", app("").asyncapi("gateway chat", "1.0.0"));
        return Ok(());
    }
    let token = announce_token();
    let app = clustered(app(&token)).await?;
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    println!("announce: curl -H 'authorization: Bearer {token}' -d 'hello' http://{addr}/announce");
    print!("{}", app.routes_table());
    let drained =
        gateway::serve_on_with_shutdown(listener, app, gateway::shutdown_signal()).await?;
    println!("drained {drained} connections");
    Ok(())
}
