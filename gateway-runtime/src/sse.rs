//! Server-Sent Events (Serinus `SseController` / `SseEmitter`): `#[sse("path")]` methods return a
//! stream of events, and [`SseEmitter`] pushes events to every open SSE client of a path.

use crate::hub::Hub;
use futures_core::Stream;
use futures_util::stream::{self, BoxStream, PollNext};
use futures_util::StreamExt;
use std::sync::Arc;
use tokio::sync::broadcast;

/// One server-sent event: `Event::default().event("name").data("text").id("7")`, with
/// `retry(..)` and `comment(..)` too (axum's type).
pub use axum::response::sse::Event;

/// How many events may wait for a slow SSE client before it skips the oldest.
const EMITTER_BACKLOG: usize = 256;

/// A type an `#[sse]` stream may yield: an [`Event`], or text sent as an unnamed event's data.
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

/// Pushes events to every SSE client of one path, from anywhere: `hub.sse("/example/events")`.
/// Clients connected later do not get earlier events. With a backplane, it reaches the SSE
/// clients of its own instance only.
#[derive(Clone)]
pub struct SseEmitter {
    sender: broadcast::Sender<Event>,
}

impl SseEmitter {
    pub(crate) fn new() -> Self {
        Self {
            sender: broadcast::channel(EMITTER_BACKLOG).0,
        }
    }

    /// Sends `event` to every open SSE client of the path; returns how many there are.
    pub fn send(&self, event: impl IntoEvent) -> usize {
        self.sender.send(event.into_event()).unwrap_or(0)
    }

    /// The events sent from now on.
    fn subscribe(&self) -> impl Stream<Item = Event> + Send + 'static {
        stream::unfold(self.sender.subscribe(), |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(event) => return Some((event, receiver)),
                    // A client too slow for the backlog skips what it missed and goes on.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
    }
}

/// One generated `#[sse]` method: opens its stream on a shared controller.
pub trait SseHandler<C>: Send + Sync + 'static {
    /// The method's events for one client.
    fn open(controller: Arc<C>) -> BoxStream<'static, Event>;
}

/// The method's events, then (interleaved, the method's first when both are ready) what the
/// path's emitter sends. The emitter is subscribed before the response starts, so nothing sent
/// after the client connected is missed.
pub(crate) fn events<C, H: SseHandler<C>>(
    controller: Arc<C>,
    hub: &Hub,
    path: &str,
) -> impl Stream<Item = Result<Event, std::convert::Infallible>> + Send + 'static {
    let pushed = hub.sse(path).subscribe();
    stream::select_with_strategy(H::open(controller), pushed, |_: &mut ()| PollNext::Left).map(Ok)
}

/// Helpers the `#[sse]` expansion calls.
pub fn stream_of<S>(stream: S) -> BoxStream<'static, Event>
where
    S: Stream + Send + 'static,
    S::Item: IntoEvent,
{
    stream.map(IntoEvent::into_event).boxed()
}

/// The stream an `async fn` method returns, once its future resolves.
pub fn stream_after<F, S>(future: F) -> BoxStream<'static, Event>
where
    F: std::future::Future<Output = S> + Send + 'static,
    S: Stream + Send + 'static,
    S::Item: IntoEvent,
{
    stream::once(future)
        .flatten()
        .map(IntoEvent::into_event)
        .boxed()
}
