//! Server-Sent Events: `#[sse("path")]` methods return a
//! stream of events, and [`SseEmitter`] pushes events to every open SSE client of a path.

mod emitter;
mod serve;

pub(crate) use emitter::SseRoutes;
pub use emitter::{SseEmitter, UnknownSsePath, SSE_QUEUE_BYTES, SSE_QUEUE_EVENTS};
pub(crate) use serve::EventStream;

use futures_core::Stream;
use futures_util::stream::{self, BoxStream};
use futures_util::StreamExt;
use std::sync::Arc;

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

/// One generated `#[sse]` method: opens its stream on a shared controller.
pub trait SseHandler<C>: Send + Sync + 'static {
    /// The method's events for one client.
    fn open(controller: Arc<C>) -> BoxStream<'static, Event>;
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
