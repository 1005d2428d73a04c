//! Endpoints: a handler with its options and lifecycle as its connections see it, and the
//! [`Controller`] and [`Gateway`] traits that register them.

pub(crate) mod driver;
pub(crate) mod resume;
pub(crate) mod sse;
pub(crate) mod upgrade;

use crate::app::shared::AppShared;
use crate::base::error::WsError;
use crate::call::context::MessageContext;
use crate::call::lifecycle::Lifecycle;
use crate::call::reply::Reply;
use crate::endpoint::resume::sessions::Sessions;
use futures_util::future::BoxFuture;
use std::future::Future;
use std::marker::PhantomData;
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

/// One generated handler: binds its parameters from a [`MessageContext`], calls the user's method
/// on the controller and turns its value into a [`Reply`]. `#[controller]` implements it on a
/// marker type per method. The connection loop calls it through one trait object, so the loop
/// is compiled once for every endpoint (the call's future is boxed per message).
pub trait Handler<C>: Send + Sync + 'static {
    /// One call of the user's method.
    fn call<'a>(
        controller: &'a C,
        ctx: &'a MessageContext,
    ) -> impl Future<Output = Reply> + Send + 'a;

    /// The `id` of the request in `ctx` that an error answers (a gateway's event envelope);
    /// `None` where messages carry no ids.
    fn request_id(ctx: &MessageContext) -> Option<u64> {
        let _ = ctx;
        None
    }

    /// After the connection ended (a gateway's `#[on_disconnect]`); the summary is in `ctx`.
    fn on_disconnect<'a>(
        controller: &'a C,
        ctx: &'a MessageContext,
    ) -> impl Future<Output = ()> + Send + 'a {
        let _ = (controller, ctx);
        async {}
    }

    /// On every error, before the catchers (a gateway's `#[on_error]`).
    fn on_error<'a>(
        controller: &'a C,
        ctx: &'a MessageContext,
        error: &'a WsError,
    ) -> impl Future<Output = ()> + Send + 'a {
        let _ = (controller, ctx, error);
        async {}
    }
}

/// A type whose `impl` block carries `#[controller("prefix")]`: it lists its endpoints.
///
/// Implemented by the macro; add a controller to an app with [`App::controller`](crate::App::controller).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a controller",
    label = "`.controller(..)` takes a type whose `impl` carries `#[controller(\"prefix\")]`",
    note = "a type whose `impl` carries `#[gateway(\"path\")]` is added with `.gateway(..)`"
)]
pub trait Controller: Send + Sync + 'static {
    /// Adds every endpoint of this controller to `endpoints`.
    fn register(self: Arc<Self>, endpoints: &mut crate::app::router::Endpoints);
}

/// A type whose `impl` block carries `#[gateway("path")]`: one endpoint routing events.
///
/// Implemented by the macro; add a gateway to an app with [`App::gateway`](crate::App::gateway).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a gateway",
    label = "`.gateway(..)` takes a type whose `impl` carries `#[gateway(\"path\")]`",
    note = "a type whose `impl` carries `#[controller(\"prefix\")]` is added with `.controller(..)`"
)]
pub trait Gateway: Send + Sync + 'static {
    /// Adds the gateway's endpoint to `endpoints`.
    fn register(self: Arc<Self>, endpoints: &mut crate::app::router::Endpoints);
}

/// One WebSocket endpoint as its connections see it: its handler, options and components, and
/// what the whole app shares.
pub(crate) struct Endpoint {
    pub(crate) handler: Box<dyn Dispatch>,
    pub(crate) options: EndpointOptions,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) app: Arc<AppShared>,
    /// The sessions of a resumable endpoint.
    pub(crate) sessions: Option<Arc<Sessions>>,
}

impl Endpoint {
    /// Handler `H` on `controller`.
    pub(crate) fn new<C, H>(
        controller: Arc<C>,
        route: &'static str,
        options: EndpointOptions,
        lifecycle: Lifecycle,
        app: Arc<AppShared>,
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
            handler: Box::new(Bound::<C, H> {
                controller,
                handler: PhantomData,
            }),
            options,
            lifecycle,
            app,
            sessions,
        }
    }
}

/// A generated handler with its controller, as the connection loop calls it.
pub(crate) trait Dispatch: Send + Sync + 'static {
    fn call<'a>(&'a self, ctx: &'a MessageContext) -> BoxFuture<'a, Reply>;
    fn request_id(&self, ctx: &MessageContext) -> Option<u64>;
    fn on_disconnect<'a>(&'a self, ctx: &'a MessageContext) -> BoxFuture<'a, ()>;
    fn on_error<'a>(&'a self, ctx: &'a MessageContext, error: &'a WsError) -> BoxFuture<'a, ()>;
}

struct Bound<C, H> {
    controller: Arc<C>,
    handler: PhantomData<fn() -> H>,
}

impl<C: Send + Sync + 'static, H: Handler<C>> Dispatch for Bound<C, H> {
    fn call<'a>(&'a self, ctx: &'a MessageContext) -> BoxFuture<'a, Reply> {
        Box::pin(H::call(&self.controller, ctx))
    }

    fn request_id(&self, ctx: &MessageContext) -> Option<u64> {
        H::request_id(ctx)
    }

    fn on_disconnect<'a>(&'a self, ctx: &'a MessageContext) -> BoxFuture<'a, ()> {
        Box::pin(H::on_disconnect(&self.controller, ctx))
    }

    fn on_error<'a>(&'a self, ctx: &'a MessageContext, error: &'a WsError) -> BoxFuture<'a, ()> {
        Box::pin(H::on_error(&self.controller, ctx, error))
    }
}
