//! Real-time servers from annotated methods: `#[controller]` and `#[gateway]` turn handler
//! methods into WebSocket (and Server-Sent Events) routes on axum, with the connection loop,
//! heartbeats, close handshake, limits, binding, error replies, rooms and fan-out done for you.
//!
//! ```
//! use gateway::prelude::*;
//!
//! struct Echo;
//!
//! #[controller("")]
//! impl Echo {
//!     /// ws://…/echo answers every message.
//!     #[websocket("echo")]
//!     async fn echo(&self, #[body] message: String) -> String {
//!         format!("Echo: {message}")
//!     }
//! }
//!
//! struct Chat;
//!
//! #[gateway("chat")]
//! impl Chat {
//!     /// `{"event":"say","data":"hi","id":1}` → the room hears it, the sender gets an ack.
//!     #[subscribe("say")]
//!     async fn say(&self, #[body] text: String, conn: Connection, hub: Hub) -> Ack<usize> {
//!         Ack(hub.all().except(conn.id()).emit("said", &text))
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let app = App::new().controller(Echo).gateway(Chat);
//! let addr = gateway::test::start(app).await;        // or gateway::serve("0.0.0.0:8080", app)
//! let mut client = gateway::test::Client::connect(addr, "/echo").await;
//! assert_eq!(client.ask("hi").await, "Echo: hi");
//! # });
//! ```
//!
//! Where things are:
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`prelude`] | what nearly every app imports: `use gateway::prelude::*;` |
//! | [`app`] | [`App`]'s settings, what a build can fail with, graceful shutdown |
//! | [`extract`] | binding handler parameters: `Json`, `Extension`, your own extractors |
//! | [`reply`] | what handlers return: text, bytes, `Json`, `Ack`, streams |
//! | [`error`] | [`WsError`](error::WsError), the error every failure becomes |
//! | [`connection`] | one client: [`Connection`](connection::Connection), its id, sending to it |
//! | [`hub`] | every client: rooms, paths, broadcasts, presence |
//! | [`sse`] | Server-Sent Events: `#[sse]` streams and pushing to them |
//! | [`lifecycle`] | middleware, guards, interceptors, catchers, observers, and ready-made ones |
//! | [`close`] | closing a connection, close codes |
//! | [`resume`] | resumable sessions: their bounds, why a client got a fresh one |
//! | [`backplane`] | several instances as one (Redis) |
//! | `test` | a real server and client for your tests (feature `test`) |
//!
//! The README is the guide: the wire format, recipes, limits, performance and operations.

pub use gateway_macros::{controller, gateway, websocket};
pub use gateway_runtime::{
    serve, serve_on, serve_on_with_shutdown, serve_with_shutdown, shutdown_signal, App,
};

/// Everything a typical app needs: `use gateway::prelude::*;`.
pub mod prelude {
    pub use crate::close::close_code;
    pub use gateway_macros::{controller, gateway, websocket};
    pub use gateway_runtime::{
        serve, serve_on, Ack, AnswerError, App, BearerToken, Bytes, CloseSummary, CloseWebSocket,
        Connection, ConnectionId, Each, Extension, FromContext, Hub, IntoResponse, Json, Message,
        RateLimit, RequireHeader, Response, StatusCode, Stream, TracingObserver, WsError,
    };
}

/// Building an app: its settings' defaults, what a build can fail with, the routers it becomes,
/// and graceful shutdown.
pub mod app {
    pub use gateway_runtime::{
        App, BuildError, Drainer, RouteInfo, RouteKind, Routers, CLIENT_PATH,
        DEFAULT_CLOSE_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT,
        DEFAULT_INBOUND_BUDGET, DEFAULT_MAX_CLIENT_REQUESTS, DEFAULT_MAX_FRAMES,
        DEFAULT_MAX_MESSAGE, DEFAULT_MAX_REQUEST_HEAD, DEFAULT_MESSAGE_TIMEOUT,
        DEFAULT_OUTBOUND_BYTES, DEFAULT_OUTBOUND_QUEUE, DEFAULT_SLOW_CONSUMER_TIMEOUT,
    };
}

/// Binding handler parameters: `#[body]` types ([`FromBody`](extract::FromBody)), parameters
/// bound by type ([`FromContext`](extract::FromContext)), the per-connection
/// [`Extension`](extract::Extension), and the app's services.
pub mod extract {
    pub use gateway_runtime::{Extension, FromBody, FromContext, Json, MessageContext, Services};
}

/// What handlers return: [`IntoReply`](reply::IntoReply) for endpoints,
/// [`IntoEventReply`](reply::IntoEventReply) for a gateway's events, streams of replies with
/// [`Each`](reply::Each), and the message types.
pub mod reply {
    pub use gateway_runtime::{
        Ack, Bytes, Each, EventReply, IntoEventReply, IntoReply, Message, Reply, Stream, Utf8Bytes,
    };
}

/// [`WsError`](error::WsError): what binding failures, handlers' errors and panics become on
/// their way to the catchers.
pub mod error {
    pub use gateway_runtime::{ErrorOrigin, WsError};
}

/// One connected client: [`Connection`](connection::Connection), its
/// [`ConnectionId`](connection::ConnectionId), why a send can fail, and the server's requests
/// of clients ([`Connection::request`](connection::Connection::request)).
pub mod connection {
    pub use gateway_runtime::{
        AnswerError, Connection, ConnectionId, Request, Requests, SendError,
        DEFAULT_REQUEST_TIMEOUT,
    };
}

/// [`Hub`](hub::Hub): every client of the app, by room, path or id, on every instance.
pub mod hub {
    pub use gateway_runtime::{Hub, HubStats, SlowConsumer, Target};
}

/// Server-Sent Events: the [`Event`](sse::Event) an `#[sse]` method streams, and the
/// [`SseEmitter`](sse::SseEmitter) that pushes to a path's clients.
pub mod sse {
    pub use gateway_runtime::{
        Event, IntoEvent, SseEmitter, UnknownSsePath, SSE_QUEUE_BYTES, SSE_QUEUE_EVENTS,
    };
}

/// The components around every handler call, in the order they run, and ready-made ones.
pub mod lifecycle {
    pub use gateway_runtime::{
        BearerToken, Catcher, Caught, CloseSummary, ClosedBy, Guard, Handshake, Interceptor,
        IntoResponse, Middleware, Observer, RateLimit, Rejection, RequireHeader, Response,
        StatusCode, TracingObserver,
    };
}

/// Resumable sessions (`#[gateway("path", resume = "2m")]`): the bounds on what they keep,
/// what observers learn when a client comes back, and why a client got a fresh session. The
/// README's "Resumable sessions" has the wire protocol.
pub mod resume {
    pub use gateway_runtime::{
        ClientKey, FreshReason, ResumeLimits, Resumed, DEFAULT_KEPT_BYTES, DEFAULT_PARKED_SESSIONS,
        DEFAULT_RESUME_BUFFER_BYTES, DEFAULT_RESUME_BUFFER_MESSAGES,
    };
}

/// Closing a connection from a handler, and close codes by name.
pub mod close {
    pub use gateway_runtime::{
        close_code, CloseWebSocket, InvalidCloseCode, MAX_CLOSE_REASON_BYTES,
    };
}

/// Several instances of the service as one: [`Backplane`](backplane::Backplane), and with
/// feature `redis` the Redis one.
pub mod backplane {
    pub use gateway_runtime::{Backplane, LocalBackplane};
    #[cfg(feature = "redis")]
    pub use gateway_runtime::{RedisBackplane, RedisBackplaneBuilder, RedisError};
}

// `test`, when the runtime is built with its `test` feature (this crate's `test` feature, or a
// dev-dependency that asks for it); without it the glob brings nothing.
#[allow(unused_imports, unreachable_pub)]
pub use gateway_runtime::feature_modules::*;

/// What the code the macros generate refers to, versioned: macros of another release fail to
/// find it instead of misbehaving. Not an API.
#[doc(hidden)]
pub use gateway_runtime::__private as __private_0_1;

/// The README's examples, compiled and run as doctests so the guide stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;
