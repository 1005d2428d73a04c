//! The Revali WebSocket documentation, in code: every route shows one feature.
//!
//! Run it with `cargo run --example tour` (set `PORT` to move it off 8080), then talk to it with
//! any WebSocket client, e.g. `websocat ws://127.0.0.1:8080/example/websocket`.

use gateway::lifecycle::{Handshake, Middleware};
use gateway::prelude::*;
use gateway::reply::Stream;
use gateway::sse::Event;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Deserialize)]
#[cfg_attr(feature = "contract", derive(schemars::JsonSchema))]
struct Greet {
    name: String,
}

#[derive(Serialize)]
#[cfg_attr(feature = "contract", derive(schemars::JsonSchema))]
struct Greeting {
    greeting: String,
}

/// Where the tour's Server-Sent Events are served.
const EVENTS: &str = "/example/events";

/// Who `/example/whoami` is talking to, attached by [`UserFromHeader`] during the handshake.
#[derive(Clone)]
struct User {
    name: String,
}

/// Reads `x-user` before the upgrade; without it the client gets HTTP 401 and no WebSocket.
struct UserFromHeader;

impl Middleware for UserFromHeader {
    async fn handle(&self, handshake: &mut Handshake) -> Result<(), Response> {
        let Some(name) = handshake.header("x-user") else {
            return Err((StatusCode::UNAUTHORIZED, "send an x-user header").into_response());
        };
        let user = User {
            name: name.to_owned(),
        };
        handshake.insert_data(user);
        Ok(())
    }
}

/// Controller state is shared by every connection: `&self` in each handler.
#[derive(Default)]
pub(crate) struct ExampleController {
    received: AtomicU64,
}

#[controller("example")]
impl ExampleController {
    /// Replies to every message; a binary frame of UTF-8 binds to `String` too. Every message
    /// is also pushed to the clients of `/example/events`.
    #[websocket("websocket")]
    async fn echo(&self, #[body] message: String, hub: Hub) -> String {
        hub.sse(EVENTS)
            .send(Event::default().event("echo").data(&message));
        format!("Echo: {message}")
    }

    /// Server-Sent Events: `connected` first, then an `echo` event for every message sent to
    /// `/example/websocket` (pushed there through `hub.sse(..)`).
    #[sse("events")]
    async fn events(&self) -> impl Stream<Item = Event> + Send + 'static {
        futures_util::stream::once(async { Event::default().event("connected").data("hello") })
    }

    /// Counts what it receives and never answers.
    #[websocket("receive", mode = ReceiveOnly)]
    async fn receive(&self, #[body] _message: Bytes) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }

    /// Sends how many messages `/example/receive` has received, then closes with 1000.
    #[websocket("received", mode = SendOnly)]
    async fn received(&self) -> String {
        self.received.load(Ordering::Relaxed).to_string()
    }

    /// Sends `Hello World`, then closes with 1000.
    #[websocket("send", mode = SendOnly)]
    async fn send(&self) -> &'static str {
        "Hello World"
    }

    /// Closing from a handler: the reply goes out first, then the Close frame.
    #[websocket("close")]
    async fn close(&self, #[body] message: String, closer: CloseWebSocket) -> String {
        match message.as_str() {
            "close" => {
                closer.close(close_code::NORMAL, "Normal Closure").ok();
                "Goodbye".to_owned()
            }
            // The framework cuts the reason to 123 bytes on a character boundary.
            "close-long" => {
                closer.close(4000, &"é".repeat(200)).ok();
                "Goodbye".to_owned()
            }
            "close-bad" => match closer.close(999, "not a valid code") {
                Err(_) => "invalid close code".to_owned(),
                Ok(()) => "closing".to_owned(),
            },
            _ => format!("Echo: {message}"),
        }
    }

    /// Pings every second; a client that stops answering is closed with 1011.
    #[websocket("ping", ping = "1s")]
    async fn ping(&self, #[body] message: String) -> String {
        format!("Echo: {message}")
    }

    /// Runs once on connect (no body), then for every message.
    #[websocket("connect", trigger_on_connect)]
    async fn connect(&self, #[body] message: Option<String>) -> String {
        match message {
            None => "Hello World".to_owned(),
            Some(message) => format!("Echo: {message}"),
        }
    }

    /// JSON in, JSON out; malformed JSON gets the default error message.
    #[websocket("json")]
    async fn json(&self, #[body] request: Json<Greet>) -> Json<Greeting> {
        Json(Greeting {
            greeting: format!("Hello, {}", request.name),
        })
    }

    /// One field of a JSON message (Revali's `@Body(['message'])`).
    #[websocket("field")]
    async fn field(&self, #[body("message")] message: String) -> String {
        format!("Echo: {message}")
    }

    /// A handshake header; optional.
    #[websocket("headers")]
    async fn headers(&self, #[header("x-user")] user: Option<String>) -> String {
        format!("user: {}", user.as_deref().unwrap_or("anonymous"))
    }

    /// A path parameter and a required query parameter.
    #[websocket("rooms/{room}")]
    async fn rooms(
        &self,
        #[param("room")] room: String,
        #[query("user")] user: String,
        #[body] message: String,
    ) -> String {
        format!("{user}@{room}: {message}")
    }

    /// Only for clients with `authorization: Bearer letmein`; others get HTTP 403 and no upgrade.
    #[websocket("secret")]
    #[guard(BearerToken::new(|token| token == "letmein"))]
    async fn secret(&self, #[body] message: String) -> String {
        format!("Echo: {message}")
    }

    /// A middleware attaches the user during the handshake; the handler takes it as `#[data]`.
    #[websocket("whoami")]
    #[middleware(UserFromHeader)]
    async fn whoami(&self, #[data] user: User) -> String {
        format!("you are {}", user.name)
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // `cargo run --example tour --features contract -- asyncapi > tour.asyncapi.json`
    #[cfg(feature = "contract")]
    if std::env::args().nth(1).as_deref() == Some("asyncapi") {
        let app = App::new().controller(ExampleController::default());
        println!("{:#}", app.asyncapi("gateway tour", "1.0.0"));
        return Ok(());
    }
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    // Below the open-file limit of the machines it runs on; past it, clients get HTTP 503.
    let app = App::new()
        .max_connections(10_000)
        .controller(ExampleController::default());
    print!("{}", app.routes_table());
    let drained =
        gateway::serve_on_with_shutdown(listener, app, gateway::shutdown_signal()).await?;
    println!("drained {drained} connections");
    Ok(())
}
