//! Serving one `#[sse]` route: each request through the route's middleware and guards, then an
//! event-stream body of the method's events and the path's pushes, with keep-alives, counted
//! by the hub until it ends (a drain ends it).

use super::{Event, SseHandler};
use crate::call::lifecycle::Lifecycle;
use crate::endpoint::state::AppState;
use crate::endpoint::upgrade::handshake_of;
use crate::hub::emitter::TooSlow;
use crate::hub::Hub;
use crate::io::sockets::SocketSlot;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_core::Stream;
use futures_util::stream::{self, BoxStream, PollNext};
use futures_util::StreamExt;
use std::sync::Arc;

/// One `#[sse]` route as its requests see it.
pub(crate) struct EventStream {
    /// The method's own events for one client.
    open: Box<dyn Fn() -> BoxStream<'static, Event> + Send + Sync>,
    path: &'static str,
    /// The app's, the controller's and the method's middleware and guards.
    lifecycle: Lifecycle,
    app: Arc<AppState>,
}

impl EventStream {
    /// Method `H` of `controller`, served at `path`.
    pub(crate) fn new<C, H>(
        controller: Arc<C>,
        path: &'static str,
        lifecycle: Lifecycle,
        app: Arc<AppState>,
    ) -> Self
    where
        C: Send + Sync + 'static,
        H: SseHandler<C>,
    {
        Self {
            open: Box::new(move || H::open(Arc::clone(&controller))),
            path,
            lifecycle,
            app,
        }
    }

    /// A request: refused while draining or at `max_connections`, then the route's middleware
    /// and guards, then the event stream.
    pub(crate) async fn serve(self: Arc<Self>, request: Request) -> Response {
        let (mut parts, _body) = request.into_parts();
        if let Err(refusal) = self.app.admit_host(&parts.headers) {
            return refusal;
        }
        let slot = match self.app.admit_socket() {
            Ok(slot) => slot,
            Err(refusal) => return refusal,
        };
        let authorized = match handshake_of(&mut parts).await {
            Ok(mut handshake) => self.lifecycle.authorize(&mut handshake).await,
            Err(rejection) => Err(rejection),
        };
        if let Err(refusal) = authorized {
            return refusal;
        }
        response(self.events(), &self.app.hub, slot)
    }

    /// The method's events, then (interleaved, the method's first when both are ready) what
    /// the path's emitter sends, as the bytes of an event-stream body. The emitter is subscribed
    /// before the response starts, so nothing sent after the client connected is missed.
    fn events(&self) -> impl Stream<Item = Result<Bytes, TooSlow>> + Send + 'static {
        let pushed = self.app.hub.sse(self.path).subscribe();
        let own = (self.open)().map(|event| Ok(crate::hub::emitter::encode(event)));
        stream::select_with_strategy(own, pushed, |_: &mut ()| PollNext::Left)
    }
}

/// How often an idle event stream carries a comment, so proxies do not take it for dead.
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// The HTTP answer that streams `events`, with a keep-alive comment every 15 s. The stream
/// counts as open in `hub` and holds its socket's `slot` while it is served, and ends when the
/// hub's drain begins.
fn response(
    events: impl Stream<Item = Result<Bytes, TooSlow>> + Send + 'static,
    hub: &Hub,
    slot: SocketSlot,
) -> axum::response::Response {
    use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
    let start = tokio::time::Instant::now() + KEEP_ALIVE;
    let ticks = tokio::time::interval_at(start, KEEP_ALIVE);
    // The keep-alive lives exactly as long as the body, so it carries the open-stream count.
    let open = (hub.open_event_stream(), slot);
    let keep_alive = stream::unfold((ticks, open), |(mut ticks, open)| async move {
        ticks.tick().await;
        Some((Ok(Bytes::from_static(b":\n\n")), (ticks, open)))
    });
    let body = stream::select_with_strategy(events, keep_alive, |_: &mut ()| PollNext::Left)
        .take_until(hub.event_streams_ended());
    (
        [
            (CONTENT_TYPE, "text/event-stream"),
            (CACHE_CONTROL, "no-cache"),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}
