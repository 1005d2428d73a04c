//! [`SseEmitter`]: pushes events to every open client of one `#[sse]` path, each through a
//! bounded queue; [`SseRoutes`]: the emitter of each path the app serves.

use crate::base::send::SendError;
use crate::base::settings::DEFAULT_SLOW_CONSUMER_TIMEOUT;
use crate::base::sync::{lock, read, write};
use crate::io::outbound::Outbound;
use axum::response::sse::Sse;
use axum::response::IntoResponse;
use bytes::Bytes;
use futures_core::Stream;
use futures_util::stream;
use futures_util::FutureExt;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::Notify;

/// One server-sent event: `Event::default().event("name").data("text").id("7")`, with
/// `retry(..)` and `comment(..)` too (axum's type).
pub use axum::response::sse::Event;

/// A type an `#[sse]` stream may yield: an [`Event`], or text sent as an unnamed event's data.
///
/// ```
/// use gateway::prelude::*;
/// use gateway::sse::Event;
///
/// struct Ticker;
///
/// #[controller("")]
/// impl Ticker {
///     /// Plain strings become unnamed events' data; `Event`s carry a name and an id.
///     #[sse("ticks")]
///     fn ticks(&self) -> impl Stream<Item = Event> + Send + 'static {
///         futures_util::stream::iter([Event::default().event("tick").id("1").data("1")])
///     }
/// }
/// ```
pub trait IntoEvent {
    /// Converts the value.
    fn into_event(self) -> Event;
}

impl IntoEvent for Event {
    fn into_event(self) -> Event {
        self
    }
}

impl IntoEvent for String {
    fn into_event(self) -> Event {
        Event::default().data(self)
    }
}

impl IntoEvent for &'static str {
    fn into_event(self) -> Event {
        Event::default().data(self)
    }
}

/// How many pushed events may wait for one SSE client before it counts as behind.
pub const SSE_QUEUE_EVENTS: usize = 256;

/// How many bytes of pushed events may wait for one SSE client before it counts as behind:
/// 1 MiB.
pub const SSE_QUEUE_BYTES: usize = 1 << 20;

/// Pushes events to every SSE client of one path, from anywhere: `hub.sse("/example/events")`.
/// Clients connected later do not get earlier events. With a backplane, it reaches the SSE
/// clients of its own instance only.
///
/// An event is encoded once and its bytes are shared by every client. Each client has a bounded
/// queue, as a WebSocket client does ([`SSE_QUEUE_EVENTS`] events, [`SSE_QUEUE_BYTES`] bytes):
/// a client that stays behind for 5 s, or falls twice that far behind, is dropped (its
/// connection closed; browsers' `EventSource` reconnects by itself), so a stalled reader holds
/// no more than that.
///
/// ```
/// # fn demo(hub: gateway::hub::Hub) {
/// use gateway::sse::Event;
/// let emitter = hub.sse("/feed");
/// emitter.send(Event::default().event("price").data("42"));
/// emitter.send("plain data");
/// # }
/// ```
#[derive(Clone)]
pub struct SseEmitter {
    clients: Arc<Mutex<Vec<Weak<ClientQueue>>>>,
}

impl std::fmt::Debug for SseEmitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseEmitter")
            .field("clients", &lock(&self.clients).len())
            .finish()
    }
}

/// What waits for one SSE client.
struct ClientQueue {
    events: Outbound<Bytes>,
    ready: Notify,
}

impl SseEmitter {
    pub(crate) fn new() -> Self {
        Self {
            clients: Arc::default(),
        }
    }

    /// Sends `event` to every open SSE client of the path; returns how many got it (clients
    /// too far behind are dropped instead).
    pub fn send(&self, event: impl IntoEvent) -> usize {
        let bytes = encode(event.into_event());
        let mut sent = 0;
        lock(&self.clients).retain(|client| {
            let Some(client) = client.upgrade() else {
                return false;
            };
            let accepted = client.push(bytes.clone());
            sent += usize::from(accepted);
            accepted
        });
        sent
    }

    /// The events sent from now on, as their bytes; the stream fails once the client is
    /// dropped as too slow.
    pub(crate) fn subscribe(&self) -> impl Stream<Item = Result<Bytes, TooSlow>> + Send + 'static {
        let client = Arc::new(ClientQueue {
            events: Outbound::new(
                SSE_QUEUE_EVENTS,
                SSE_QUEUE_BYTES,
                DEFAULT_SLOW_CONSUMER_TIMEOUT,
            ),
            ready: Notify::new(),
        });
        let mut clients = lock(&self.clients);
        // Clients that left are pruned by `send`; with no sends, before the list reallocates
        // (amortized: not a pass over every client per subscription).
        if clients.len() == clients.capacity() {
            clients.retain(|client| client.strong_count() > 0);
        }
        clients.push(Arc::downgrade(&client));
        drop(clients);
        stream::unfold(Some(client), |client| async move {
            let client = client?;
            loop {
                if let Some(event) = client.events.pop() {
                    return Some((Ok(event), Some(client)));
                }
                if client.events.is_closed() {
                    return Some((Err(TooSlow), None));
                }
                // A push between the check and here leaves a permit: no wake-up is lost.
                client.ready.notified().await;
            }
        })
    }
}

impl ClientQueue {
    /// Queues an event; a client too far behind is dropped instead (its stream then fails).
    /// `false` when the client did not get it.
    fn push(&self, event: Bytes) -> bool {
        let queued = match self.events.push(event) {
            Ok(()) => true,
            Err(SendError::QueueFull) => {
                self.events.close();
                false
            }
            Err(_) => return false, // closed already
        };
        self.ready.notify_one();
        queued
    }
}

/// The emitter of each `#[sse]` path. Before the app is built any path may be asked for (its
/// emitter is made then, and the build checks that a route serves it); afterwards only the
/// paths the routes serve.
#[derive(Default)]
pub(crate) struct SseRoutes {
    emitters: std::sync::RwLock<Routes>,
}

#[derive(Default)]
struct Routes {
    by_path: std::collections::HashMap<String, SseEmitter>,
    /// The app is built: `by_path` holds exactly its `#[sse]` paths.
    built: bool,
}

/// [`Hub::try_sse`](crate::Hub::try_sse) was asked for a path no `#[sse]` route serves.
///
/// ```
/// # fn demo(hub: gateway::hub::Hub) {
/// match hub.try_sse("/feeed") {
///     Ok(emitter) => { emitter.send("hi"); }
///     Err(unknown) => eprintln!("{unknown}"), // names the paths the app serves
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no #[sse] route serves `{path}`; the app's event streams are at: {}", known.join(", "))]
pub struct UnknownSsePath {
    /// The path asked for.
    pub path: String,
    /// The paths the app's `#[sse]` routes serve.
    pub known: Vec<String>,
}

impl SseRoutes {
    /// The emitter of `path` (with a leading `/`).
    pub(crate) fn get(&self, path: &str) -> Result<SseEmitter, UnknownSsePath> {
        if let Some(emitter) = read(&self.emitters).by_path.get(path) {
            return Ok(emitter.clone());
        }
        let mut routes = write(&self.emitters);
        if routes.built {
            return Err(UnknownSsePath {
                path: path.to_owned(),
                known: routes.known(),
            });
        }
        Ok(routes
            .by_path
            .entry(path.to_owned())
            .or_insert_with(SseEmitter::new)
            .clone())
    }

    /// The app is built with these `#[sse]` paths; `Err` names a path asked for before that no
    /// route serves.
    pub(crate) fn serve<'a>(
        &self,
        paths: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), UnknownSsePath> {
        let mut routes = write(&self.emitters);
        let paths: Vec<&str> = paths.into_iter().collect();
        if let Some(unknown) = routes
            .by_path
            .keys()
            .find(|path| !paths.contains(&path.as_str()))
        {
            return Err(UnknownSsePath {
                path: unknown.clone(),
                known: paths.iter().map(|path| (*path).to_owned()).collect(),
            });
        }
        for path in paths {
            routes
                .by_path
                .entry(path.to_owned())
                .or_insert_with(SseEmitter::new);
        }
        routes.built = true;
        Ok(())
    }
}

impl Routes {
    fn known(&self) -> Vec<String> {
        let mut known: Vec<String> = self.by_path.keys().cloned().collect();
        known.sort();
        known
    }
}

/// Why an SSE client's stream ended early: it fell too far behind.
#[derive(Debug, thiserror::Error)]
#[error("the SSE client fell too far behind and was dropped")]
pub(crate) struct TooSlow;

/// An event as it goes on the wire (axum encodes it; its `Sse` body yields it at once).
pub(crate) fn encode(event: Event) -> Bytes {
    let once = stream::iter([Ok::<_, std::convert::Infallible>(event)]);
    let body = Sse::new(once).into_response().into_body();
    match axum::body::to_bytes(body, usize::MAX).now_or_never() {
        Some(Ok(bytes)) => bytes,
        _ => unreachable!("a one-event SSE body is ready at once"),
    }
}
