//! A chat with rooms, in the gateway style, with a browser page.
//!
//! `cargo run --example chat`, then open http://127.0.0.1:8080/ in two browser tabs (set `PORT`
//! to move it). `curl -d 'hello all' http://127.0.0.1:8080/announce` speaks to everyone.
//!
//! Wire contract on `/chat`:
//! - `{"event":"join","data":{"room":R,"name":N},"id":K}` → `{"ack":K,"data":{"members":[..]}}`
//!   (the names in R, sorted, N included); a client is in one room at a time;
//! - `{"event":"message","data":{"text":T}}` → every other member of the sender's room gets
//!   `{"event":"message","data":{"from":N,"room":R,"text":T}}`; before a join, an error message;
//! - `{"event":"leave"}` leaves the room;
//! - after every join, leave and disconnect, every client gets `{"event":"users","data":{"count":C}}`;
//! - `POST /announce` with a text body → every client gets `{"event":"announce","data":TEXT}` (202).

use axum::response::Html;
use axum::routing::{get, post};
use gateway::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;

const CHAT: &str = "/chat";

#[derive(Deserialize)]
struct Join {
    room: String,
    name: String,
}

#[derive(Serialize)]
struct Members {
    members: Vec<String>,
}

#[derive(Deserialize)]
struct Say {
    text: String,
}

/// Who is where: the chat's own state, next to the hub's rooms.
#[derive(Default)]
pub struct ChatGateway {
    seats: Mutex<HashMap<ConnectionId, Seat>>,
}

#[derive(Clone)]
struct Seat {
    name: String,
    room: String,
}

#[gateway("chat", ping = "20s", max_message = "16KiB")]
impl ChatGateway {
    #[subscribe("join")]
    async fn join(&self, #[body] join: Json<Join>, conn: Connection, hub: Hub) -> Ack<Members> {
        let Json(Join { room, name }) = join;
        if let Some(previous) = self.seat_of(conn.id()) {
            conn.leave(&previous.room);
        }
        conn.join(&room);
        self.seats().insert(
            conn.id(),
            Seat {
                name,
                room: room.clone(),
            },
        );
        announce_users(&hub);
        Ack(Members {
            members: self.names_in(&room),
        })
    }

    #[subscribe("message")]
    async fn message(
        &self,
        #[body] say: Json<Say>,
        conn: Connection,
        hub: Hub,
    ) -> Result<(), WsError> {
        let seat = self
            .seat_of(conn.id())
            .ok_or_else(|| WsError::bad_request("join a room before sending messages"))?;
        let message = json!({
            "event": "message",
            "data": {"from": seat.name, "room": seat.room, "text": say.0.text},
        });
        hub.room(&seat.room).except(conn.id()).send_json(&message)?;
        Ok(())
    }

    #[subscribe("leave")]
    async fn leave(&self, conn: Connection, hub: Hub) {
        if let Some(seat) = self.seats().remove(&conn.id()) {
            conn.leave(&seat.room);
        }
        announce_users(&hub);
    }

    #[on_disconnect]
    async fn left(&self, conn: Connection, hub: Hub) {
        self.seats().remove(&conn.id());
        announce_users(&hub);
    }
}

impl ChatGateway {
    fn seats(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, Seat>> {
        self.seats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn seat_of(&self, id: ConnectionId) -> Option<Seat> {
        self.seats().get(&id).cloned()
    }

    fn names_in(&self, room: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .seats()
            .values()
            .filter(|seat| seat.room == room)
            .map(|seat| seat.name.clone())
            .collect();
        names.sort();
        names
    }
}

/// Tells every client how many are connected.
fn announce_users(hub: &Hub) {
    let count = hub.path(CHAT).count();
    hub.path(CHAT)
        .send_json(&json!({"event": "users", "data": {"count": count}}))
        .ok();
}

/// The chat: the gateway, its page, and `POST /announce`.
pub fn app() -> App {
    let app = App::new().controller(ChatGateway::default());
    let hub = app.hub();
    app.route("/", get(|| async { Html(include_str!("index.html")) }))
        .route(
            "/announce",
            post(move |text: String| async move {
                hub.path(CHAT)
                    .send_json(&json!({"event": "announce", "data": text}))
                    .ok();
                StatusCode::ACCEPTED
            }),
        )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let drained =
        gateway::serve_on_with_shutdown(listener, app(), gateway::shutdown_signal()).await?;
    println!("drained {drained} connections");
    Ok(())
}
