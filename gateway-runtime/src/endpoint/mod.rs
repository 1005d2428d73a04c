//! What runs behind one route: an endpoint (a handler with its options and lifecycle as its
//! connections see it), its upgrade, its connection loop (`driver`), resumable sessions whole
//! (`resume`), and the serving of `#[sse]` routes.

pub(crate) mod driver;
pub(crate) mod resume;
pub(crate) mod sse;
pub(crate) mod state;
pub(crate) mod upgrade;

use crate::call::handler::{Dispatch, Handler};
use crate::call::lifecycle::Lifecycle;
use crate::endpoint::resume::sessions::Sessions;
use crate::endpoint::state::AppState;
use std::sync::Arc;
use std::time::Duration;

/// How an endpoint exchanges messages with its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// One handler call per client message; the return value is sent back; the connection stays
    /// open until the client or a `CloseWebSocket` closes it.
    #[default]
    TwoWay,
    /// One handler call per client message; the server never sends data frames.
    ReceiveOnly,
    /// The handler runs once when the connection opens, its value is sent, then the server closes
    /// with 1000. Client messages are not dispatched.
    SendOnly,
}

/// The options of one `#[websocket]` endpoint.
#[derive(Debug, Clone, Copy)]
pub struct EndpointOptions {
    /// How messages flow.
    pub mode: Mode,
    /// Send a Ping this often; `None` disables pings.
    pub ping_interval: Option<Duration>,
    /// Close with 1011 when no Pong arrives this long after a Ping; `None` means the interval.
    pub ping_timeout: Option<Duration>,
    /// Also run the handler once right after the upgrade, with no body.
    pub trigger_on_connect: bool,
    /// The largest message accepted, in bytes; `None` uses the app's default.
    pub max_message: Option<usize>,
    /// How many of a connection's messages may be handled at once: 1 (the default) handles
    /// them strictly in order; more lets replies come back in the order handlers finish.
    pub concurrency: usize,
    /// Keep a dropped client's session this long for it to resume (a gateway's `resume`).
    pub resume: Option<Duration>,
}

impl Default for EndpointOptions {
    fn default() -> Self {
        Self {
            mode: Mode::default(),
            ping_interval: None,
            ping_timeout: None,
            trigger_on_connect: false,
            max_message: None,
            concurrency: 1,
            resume: None,
        }
    }
}

/// One WebSocket endpoint as its connections see it: its handler, options and components, and
/// what the whole app shares.
pub(crate) struct Endpoint {
    pub(crate) handler: Box<dyn Dispatch>,
    pub(crate) options: EndpointOptions,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) app: Arc<AppState>,
    /// The sessions of a resumable endpoint.
    pub(crate) sessions: Option<Arc<Sessions>>,
    /// A gateway: its clients speak the event envelope, and with it the protocol's `$ping` and
    /// answers to the server's requests.
    pub(crate) gateway: bool,
}

impl Endpoint {
    /// Handler `H` on `controller`.
    pub(crate) fn new<C, H>(
        controller: Arc<C>,
        route: &'static str,
        options: EndpointOptions,
        lifecycle: Lifecycle,
        app: Arc<AppState>,
        gateway: bool,
    ) -> Self
    where
        C: Send + Sync + 'static,
        H: Handler<C>,
    {
        let sessions = options.resume.map(|window| {
            let limits = app.settings.resume_limits;
            Arc::new(Sessions::new(route, window, limits, Arc::clone(&app.kept)))
        });
        #[cfg(feature = "redis")]
        if sessions.is_some() {
            app.hub.enable_journaling();
        }
        Self {
            handler: crate::call::handler::bind::<C, H>(controller),
            options,
            lifecycle,
            app,
            sessions,
            gateway,
        }
    }
}
