//! The hub's Server-Sent Events side: the emitter of each `#[sse]` path, and the count of
//! event streams being served (a drain ends them and waits for them).

use super::{route_path, Hub};
use crate::hub::emitter::{SseEmitter, UnknownSsePath};
use std::sync::atomic::Ordering;

impl Hub {
    /// The emitter that pushes events to the SSE clients of `path`, an `#[sse]` route's path
    /// as written or with its leading `/` (`"/feed"` or `"feed"`).
    ///
    /// # Panics
    /// Once the app is built, when no `#[sse]` route serves `path`: a mistyped path would
    /// otherwise deliver nothing and say nothing. (Before, any path may be asked for; building
    /// the app then fails with [`BuildError::UnknownSsePath`](crate::BuildError) unless a
    /// route serves it.) [`Hub::try_sse`] returns the error instead.
    #[track_caller]
    pub fn sse(&self, path: impl AsRef<str>) -> SseEmitter {
        self.try_sse(path)
            .unwrap_or_else(|unknown| panic!("{unknown}"))
    }

    /// As [`Hub::sse`], with an unknown path as an error rather than a panic.
    ///
    /// # Errors
    /// [`UnknownSsePath`] (naming the paths served) once the app is built, when no `#[sse]`
    /// route serves `path`.
    pub fn try_sse(&self, path: impl AsRef<str>) -> Result<SseEmitter, UnknownSsePath> {
        self.inner.sse.get(&route_path(path.as_ref()))
    }

    /// The app is built with these `#[sse]` paths.
    pub(crate) fn serve_sse<'a>(
        &self,
        paths: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), UnknownSsePath> {
        self.inner.sse.serve(paths)
    }

    /// Counts an event stream as open until the returned guard is dropped.
    pub(crate) fn open_event_stream(&self) -> OpenEventStream {
        self.inner.event_streams.fetch_add(1, Ordering::AcqRel);
        OpenEventStream { hub: self.clone() }
    }

    pub(super) fn event_stream_count(&self) -> usize {
        self.inner.event_streams.load(Ordering::Acquire)
    }

    /// Ends every event stream (and those opened from now on); returns how many were open.
    pub(crate) fn end_event_streams(&self) -> usize {
        self.inner.event_streams_end.send_replace(true);
        self.event_stream_count()
    }

    /// Resolves once the event streams are to end (at once if they already are).
    pub(crate) fn event_streams_ended(&self) -> impl std::future::Future<Output = ()> + Send {
        let mut ended = self.inner.event_streams_end.subscribe();
        async move {
            // The sender lives in the hub this stream holds: `Err` cannot happen before the end.
            let _ = ended.wait_for(|ended| *ended).await.map(drop);
        }
    }
}

/// An event stream being served: counted by the hub (a drain waits for it) until dropped.
pub(crate) struct OpenEventStream {
    hub: Hub,
}

impl Drop for OpenEventStream {
    fn drop(&mut self) {
        self.hub.inner.event_streams.fetch_sub(1, Ordering::AcqRel);
        self.hub.wake_if_empty();
    }
}
