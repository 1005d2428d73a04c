//! Testing an app the way clients use it: [`start`] serves an [`App`] on a free port of
//! 127.0.0.1, and [`Client`] talks to it over a real WebSocket (tokio-tungstenite). Enable with
//! the `test` feature, in `[dev-dependencies]`:
//! `gateway = { version = "..", features = ["test"] }`.
//!
//! Every call waits at most [`WAIT`] and panics with a message saying what did not happen, so a
//! test reads as the behaviour it checks. [`SseReader`] reads an event stream, and [`http`]
//! sends a plain HTTP request (to routes added with [`App::route`](crate::App::route)).
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

mod client;
mod http;
mod resume;
mod sse;

pub use client::{Client, RequestError};
pub use http::{http, http_with, HttpResponse};
pub use resume::{Resume, Session};
pub use sse::{SseEvent, SseReader};

use crate::app::App;
use std::net::SocketAddr;
use std::time::Duration;

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
    tokio::spawn(crate::app::serve::serve_on(listener, app));
    addr
}
