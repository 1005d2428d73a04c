//! Server-Sent Events: `#[sse("path")]` methods return a
//! stream of events, and [`SseEmitter`] pushes events to every open SSE client of a path.

mod serve;

pub use crate::hub::emitter::{
    Event, IntoEvent, SseEmitter, UnknownSsePath, SSE_QUEUE_BYTES, SSE_QUEUE_EVENTS,
};
pub(crate) use serve::EventStream;

use futures_core::Stream;
use futures_util::stream::{self, BoxStream};
use futures_util::StreamExt;
use std::sync::Arc;

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
