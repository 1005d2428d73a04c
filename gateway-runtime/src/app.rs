//! [`App`]: the builder users add controllers to, and its conversion into an axum `Router`.

use crate::backplane::Backplane;
use crate::connection::Connection;
use crate::context::MessageContext;
use crate::drain::Drainer;
use crate::endpoint::{Controller, EndpointOptions, Gateway, Handler};
use crate::handshake::Handshake;
use crate::hub::{Hub, SlowConsumer};
use crate::inbound::InboundLimits;
use crate::lifecycle::{
    Catcher, CloseSummary, ClosedBy, Guard, Interceptor, Lifecycle, Middleware, Observer,
};
use crate::origin::OriginPolicy;
use crate::services::{DependencyKey, Services};
use crate::session::Session;
use crate::settings::Settings;
use crate::sse::SseHandler;
use crate::transport;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

/// The app could not be turned into routes.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Two handlers claim the same path.
    #[error(
        "path `{path}` is claimed by both `{first}` and `{second}`; give one of them another path"
    )]
    DuplicatePath {
        /// The path both claim.
        path: String,
        /// The handler registered first.
        first: &'static str,
        /// The handler registered second.
        second: &'static str,
    },
    /// A gateway wants its own port, which one router cannot give it.
    #[error("a gateway asks for its own port {port}; serve the app with `gateway::serve` or use `App::into_routers`")]
    OwnPort {
        /// The port it asks for.
        port: u16,
    },
    /// `hub.sse(path)` was used before the app was built for a path no `#[sse]` route serves.
    #[error("{0}")]
    UnknownSsePath(crate::sse::UnknownSsePath),
    /// A handler has a `#[dep]` parameter whose service was never provided.
    #[error("`{handler}` needs a `{service}` (a `#[dep]` parameter) but none was provided; add `.provide(..)` to the App")]
    MissingDependency {
        /// The handler with the `#[dep]` parameter.
        handler: &'static str,
        /// The service's type.
        service: &'static str,
    },
}

/// What every endpoint and connection of the app shares.
pub(crate) struct AppShared {
    pub(crate) settings: Settings,
    pub(crate) services: Arc<Services>,
    pub(crate) hub: Hub,
    /// The bounds on incomplete messages, with the app-wide count of what they hold.
    pub(crate) inbound: Arc<InboundLimits>,
    origins: OriginPolicy,
    draining: Arc<AtomicBool>,
}

impl AppShared {
    /// HTTP 503 while the server drains: no new connection or event stream opens.
    fn shutting_down(&self) -> Option<Response> {
        self.draining.load(Ordering::Acquire).then(|| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is shutting down",
            )
                .into_response()
        })
    }

    /// Why a new connection may not open now, as the HTTP answer, before anything else runs.
    fn refusal(&self, headers: &axum::http::HeaderMap) -> Option<Response> {
        if let Some(refusal) = self.shutting_down() {
            return Some(refusal);
        }
        if self.hub.local_count() >= self.settings.max_connections {
            return Some((StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response());
        }
        if !self.origins.admits(headers) {
            return Some(
                (
                    StatusCode::FORBIDDEN,
                    "cross-origin WebSocket handshakes are not allowed here",
                )
                    .into_response(),
            );
        }
        None
    }
}

/// A real-time application: controllers, app-wide lifecycle components, services and settings.
/// Serve it with [`serve`](crate::serve), or turn it into an `axum::Router` with
/// [`App::into_router`] to merge it into an existing axum application.
///
/// ```
/// use gateway::prelude::*;
///
/// struct Echo;
///
/// #[controller("")]
/// impl Echo {
///     #[websocket("echo")]
///     async fn echo(&self, #[body] message: String) -> String {
///         message
///     }
/// }
///
/// let router: axum::Router = App::new().controller(Echo).into_router().unwrap();
/// ```
#[must_use = "an App does nothing until it is served or turned into a router"]
pub struct App {
    routes: Routes,
    /// Plain axum routes served beside the WebSocket endpoints.
    http_routes: Vec<(String, MethodRouter)>,
    lifecycle: Lifecycle,
    services: Services,
    hub: Hub,
    settings: Settings,
    origins: OriginPolicy,
    draining: Arc<AtomicBool>,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    /// An app with no controllers and the default settings.
    pub fn new() -> Self {
        Self {
            routes: Routes::default(),
            http_routes: Vec::new(),
            lifecycle: Lifecycle::new(),
            services: Services::default(),
            hub: Hub::default(),
            settings: Settings::default(),
            origins: OriginPolicy::default(),
            draining: Arc::default(),
        }
    }

    /// Also accepts browser handshakes from these origins (`"https://app.example.com"`), besides
    /// pages of the server's own host. By default a browser page of another site is refused
    /// (403): browsers send the user's cookies with a WebSocket handshake to any site, so
    /// without this check any page could connect as the user (cross-site WebSocket hijacking).
    /// Clients that send no `Origin` (non-browser clients) always pass.
    pub fn allow_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut allowed = match self.origins {
            OriginPolicy::Allow(allowed) => allowed,
            _ => Vec::new(),
        };
        allowed.extend(origins.into_iter().map(Into::into));
        self.origins = OriginPolicy::Allow(allowed);
        self
    }

    /// Accepts browser handshakes from any origin: for endpoints that authenticate with tokens in
    /// the messages or the URL, never with cookies.
    pub fn allow_any_origin(mut self) -> Self {
        self.origins = OriginPolicy::Any;
        self
    }

    /// At most `connections` open at once on this instance; further upgrade requests get HTTP
    /// 503 (no upgrade). The default is what the process's open-file limit allows (`ulimit -n`)
    /// less 100 spare descriptors (10,000 where the limit cannot be read): past it, the process
    /// could not accept anyone, and new clients would time out instead of hearing 503.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.settings.max_connections = connections;
        self
    }

    /// The largest HTTP request head (request line and headers) that [`serve`](crate::serve)
    /// reads (default 16 KiB, at least 8 KiB); a larger one gets HTTP 431. Handshake headers are
    /// kept for the connection's life (handlers bind them), so this bounds what each client
    /// holds that way.
    pub fn max_request_head(mut self, bytes: usize) -> Self {
        self.settings.max_request_head = bytes.max(8 << 10);
        self
    }

    /// How many frames one message may be split into (default 1,024); more close the
    /// connection with 1009 `too many frames`. Bounds a client that never ends its message
    /// (endless empty continuation frames).
    pub fn max_frames(mut self, frames: u32) -> Self {
        self.settings.max_frames = frames.max(1);
        self
    }

    /// How long a client may take to complete a message it has started (default 30 s); past
    /// it the connection closes with 1008 `message timeout`. A client that sends most of a
    /// message and stalls cannot hold that memory longer.
    pub fn message_timeout(mut self, timeout: Duration) -> Self {
        self.settings.message_timeout = timeout;
        self
    }

    /// How many bytes the incomplete messages of all clients together may hold (default
    /// 64 MiB). A client whose message would go past it is closed with 1013 `server busy`
    /// (try again later), so clients that each send most of a large message and stall cannot
    /// take the server's memory.
    pub fn inbound_budget(mut self, bytes: usize) -> Self {
        self.settings.inbound_budget = bytes;
        self
    }

    /// How long a client may take to send its whole HTTP request, the upgrade request included,
    /// before [`serve`](crate::serve) drops the connection (default 10 s): a client that opens
    /// connections and never finishes a request (slowloris) cannot hold them.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.settings.handshake_timeout = timeout;
        self
    }

    /// How long a graceful shutdown waits for clients to answer the Close (default 10 s).
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.settings.drain_timeout = timeout;
        self
    }

    /// What shuts this app's connections down gracefully (see [`Drainer`]).
    pub fn drainer(&self) -> Drainer {
        Drainer::new(
            self.hub.clone(),
            Arc::clone(&self.draining),
            self.settings.drain_timeout,
        )
    }

    /// The app's [`Hub`], to reach its clients from outside a handler (plain axum routes,
    /// background tasks). Take it before serving; it works once the app serves.
    pub fn hub(&self) -> Hub {
        self.hub.clone()
    }

    /// Spreads the app's [`Hub`] over several instances of the service: sends reach the clients
    /// of every instance, and counts, members and presence answer for the whole cluster (see
    /// [`Backplane`]). Without one, the app is a single instance. Call it once, before serving,
    /// inside the Tokio runtime that will serve the app (it starts the backplane's task).
    ///
    /// # Panics
    /// When the app already has a backplane that spans instances.
    pub fn backplane(self, backplane: impl Backplane) -> Self {
        self.hub.attach(&backplane);
        self
    }

    /// Adds every endpoint of a `#[controller]`. The controller is shared by all its handlers and
    /// connections (`&self` in a handler), never cloned.
    pub fn controller<C: Controller>(mut self, controller: C) -> Self {
        Arc::new(controller).register(&mut self.routes);
        self
    }

    /// Adds the endpoint of a `#[gateway]`. The gateway is shared by all its connections
    /// (`&self` in a hook), never cloned.
    pub fn gateway<G: Gateway>(mut self, gateway: G) -> Self {
        Arc::new(gateway).register(&mut self.routes);
        self
    }

    /// Adds a plain axum route (an HTTP endpoint, a static page) served beside the WebSocket
    /// endpoints on the app's main port. Take the [`Hub`] with [`App::hub`] first to push to
    /// WebSocket clients from it.
    ///
    /// ```
    /// use gateway::prelude::*;
    /// use axum::routing::post;
    ///
    /// let app = App::new();
    /// let hub = app.hub();
    /// let app = app.route("/announce", post(move |text: String| async move {
    ///     hub.broadcast(text);
    ///     StatusCode::ACCEPTED
    /// }));
    /// ```
    pub fn route(mut self, path: &str, route: MethodRouter) -> Self {
        self.http_routes.push((path.to_owned(), route));
        self
    }

    /// Adds an app-wide [`Observer`]: it sees every connection of every endpoint, first.
    pub fn observer(mut self, observer: impl Observer) -> Self {
        self.lifecycle = self.lifecycle.observer(observer);
        self
    }

    /// Adds an app-wide [`Middleware`], run before controller and method middleware.
    pub fn middleware(mut self, middleware: impl Middleware) -> Self {
        self.lifecycle = self.lifecycle.middleware(middleware);
        self
    }

    /// Adds an app-wide [`Guard`], checked before controller and method guards.
    pub fn guard(mut self, guard: impl Guard) -> Self {
        self.lifecycle = self.lifecycle.guard(guard);
        self
    }

    /// Adds an app-wide [`Interceptor`]: its `pre` runs first and its `post` last.
    pub fn interceptor(mut self, interceptor: impl Interceptor) -> Self {
        self.lifecycle = self.lifecycle.interceptor(interceptor);
        self
    }

    /// Adds an app-wide [`Catcher`], asked after method and controller catchers.
    pub fn catcher(mut self, catcher: impl Catcher) -> Self {
        self.lifecycle = self.lifecycle.catcher(catcher);
        self
    }

    /// Provides a service to `#[dep] x: Arc<T>` parameters (one per type; a second replaces
    /// the first).
    pub fn provide<T: Send + Sync + 'static>(mut self, service: T) -> Self {
        self.services.insert(Arc::new(service));
        self
    }

    /// The largest message accepted where an endpoint does not set `max_message` (default 1 MiB).
    /// Larger messages close the connection with 1009.
    pub fn max_message(mut self, bytes: usize) -> Self {
        self.settings.max_message = bytes;
        self
    }

    /// How long to wait for the client's Close after the server sent its own (default 5 s).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.settings.close_timeout = timeout;
        self
    }

    /// How many messages may wait for one client (default 1024) before it counts as behind.
    /// A client that stays behind for the [slow-consumer
    /// timeout](Self::slow_consumer_timeout), or falls twice as far behind, meets the
    /// slow-consumer policy.
    pub fn outbound_queue(mut self, messages: usize) -> Self {
        self.settings.outbound_queue = messages.max(1);
        self
    }

    /// How many payload bytes may wait for one client (default 4 MiB) before it counts as
    /// behind; as for [`outbound_queue`](Self::outbound_queue), twice this is the hard limit.
    pub fn outbound_bytes(mut self, bytes: usize) -> Self {
        self.settings.outbound_bytes = bytes.max(1);
        self
    }

    /// How long a client may stay behind (its queue over [`outbound_queue`](Self::outbound_queue)
    /// or [`outbound_bytes`](Self::outbound_bytes)) before the slow-consumer policy applies
    /// (default 5 s). A burst that briefly fills the queues of clients that read along is not
    /// held against them.
    pub fn slow_consumer_timeout(mut self, timeout: Duration) -> Self {
        self.settings.slow_consumer_timeout = timeout;
        self
    }

    /// What happens to a client that cannot keep up (default: close it with 1008).
    pub fn slow_consumer(mut self, policy: SlowConsumer) -> Self {
        self.settings.slow_consumer = policy;
        self
    }

    /// The app as an axum router, one `GET` route per endpoint.
    ///
    /// # Errors
    /// [`BuildError::DuplicatePath`] when two handlers claim one path;
    /// [`BuildError::MissingDependency`] when a `#[dep]` service was not provided;
    /// [`BuildError::OwnPort`] when a gateway asks for its own port (serve such an app with
    /// [`serve`](crate::serve), or take its routers with [`App::into_routers`]).
    pub fn into_router(self) -> Result<Router, BuildError> {
        let routers = self.into_routers()?;
        match routers.own_ports.into_iter().next() {
            Some((port, _)) => Err(BuildError::OwnPort { port }),
            None => Ok(routers.main),
        }
    }

    /// The app's routers: the main one, and one per port that a `#[gateway(.., port = N)]`
    /// asked for.
    ///
    /// # Errors
    /// [`BuildError::DuplicatePath`] when two handlers claim one path on one port;
    /// [`BuildError::MissingDependency`] when a `#[dep]` service was not provided;
    /// [`BuildError::UnknownSsePath`] when `hub.sse(path)` was used for a path no `#[sse]` route
    /// serves.
    pub fn into_routers(self) -> Result<Routers, BuildError> {
        self.check()?;
        let event_streams = self
            .routes
            .entries
            .iter()
            .filter(|entry| entry.event_stream);
        self.hub
            .serve_sse(event_streams.map(|entry| entry.route.path))
            .map_err(BuildError::UnknownSsePath)?;
        let inbound = Arc::new(InboundLimits::new(
            self.settings.max_frames,
            self.settings.message_timeout,
            self.settings.inbound_budget,
        ));
        let mut routers = Routers {
            main: Router::new(),
            own_ports: Vec::new(),
            handshake_timeout: self.settings.handshake_timeout,
            max_request_head: self.settings.max_request_head,
        };
        let app = Arc::new(AppShared {
            settings: self.settings,
            services: Arc::new(self.services),
            hub: self.hub,
            inbound,
            origins: self.origins,
            draining: self.draining,
        });
        for (path, route) in self.http_routes {
            routers.main = routers.main.route(&path, route);
        }
        for entry in self.routes.entries {
            let lifecycle = self.lifecycle.around(&entry.route.lifecycle);
            let method_router = (entry.build)(Arc::clone(&app), lifecycle);
            let router = match entry.route.port {
                None => &mut routers.main,
                Some(port) => match routers.own_ports.iter().position(|(own, _)| *own == port) {
                    Some(index) => &mut routers.own_ports[index].1,
                    None => {
                        routers.own_ports.push((port, Router::new()));
                        &mut routers.own_ports.last_mut().expect("just pushed").1
                    }
                },
            };
            *router = std::mem::take(router).route(entry.route.path, method_router);
        }
        Ok(routers)
    }

    fn check(&self) -> Result<(), BuildError> {
        let entries = &self.routes.entries;
        for (index, entry) in entries.iter().enumerate() {
            let route = &entry.route;
            if let Some(first) = entries[..index].iter().find(|earlier| {
                earlier.route.path == route.path && earlier.route.port == route.port
            }) {
                return Err(BuildError::DuplicatePath {
                    path: route.path.to_owned(),
                    first: first.route.handler,
                    second: route.handler,
                });
            }
            if self
                .http_routes
                .iter()
                .any(|(path, _)| route.port.is_none() && path == route.path)
            {
                return Err(BuildError::DuplicatePath {
                    path: route.path.to_owned(),
                    first: "an HTTP route (App::route)",
                    second: route.handler,
                });
            }
            if let Some(missing) = route
                .dependencies
                .iter()
                .find(|key| !self.services.contains(key))
            {
                return Err(BuildError::MissingDependency {
                    handler: route.handler,
                    service: missing.type_name,
                });
            }
        }
        Ok(())
    }
}

/// An app's routes: the main router, and one per port a gateway asked for.
#[derive(Debug)]
pub struct Routers {
    /// The routes served on the app's own address.
    pub main: Router,
    /// `(port, routes)` for each `#[gateway(.., port = N)]` port.
    pub own_ports: Vec<(u16, Router)>,
    /// How long a client may take to send its HTTP request ([`App::handshake_timeout`]).
    pub handshake_timeout: Duration,
    /// The largest HTTP request head read ([`App::max_request_head`]).
    pub max_request_head: usize,
}

/// What `#[controller]` says about one endpoint.
pub struct Route {
    /// The full path (`/example/websocket`).
    pub path: &'static str,
    /// `Type::method`, for messages.
    pub handler: &'static str,
    /// The `#[websocket]` arguments.
    pub options: EndpointOptions,
    /// The controller's and the method's components, outer first.
    pub lifecycle: Lifecycle,
    /// The services its `#[dep]` parameters need.
    pub dependencies: Vec<DependencyKey>,
    /// Its own listener's port (`#[gateway(.., port = N)]`); `None` serves it on the app's.
    pub port: Option<u16>,
}

/// The endpoints collected from controllers, waiting for the app's settings.
#[derive(Default)]
pub struct Routes {
    entries: Vec<RouteEntry>,
}

type BuildRoute = Box<dyn FnOnce(Arc<AppShared>, Lifecycle) -> MethodRouter + Send>;

struct RouteEntry {
    route: Route,
    /// A Server-Sent Events route (otherwise a WebSocket one).
    event_stream: bool,
    build: BuildRoute,
}

/// One WebSocket endpoint as its connections see it.
pub(crate) struct Endpoint<C> {
    pub(crate) controller: Arc<C>,
    pub(crate) options: EndpointOptions,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) app: Arc<AppShared>,
}

impl Routes {
    /// Adds a Server-Sent Events endpoint (`GET path`) whose events come from handler `H` on
    /// `controller` and from the path's [`SseEmitter`](crate::SseEmitter); the middleware and
    /// guards of `lifecycle` (the controller's and the method's) run on each request. Called by
    /// the code `#[controller]` generates for `#[sse]` methods.
    pub fn sse<C, H>(
        &mut self,
        controller: &Arc<C>,
        path: &'static str,
        handler: &'static str,
        lifecycle: Lifecycle,
    ) where
        C: Send + Sync + 'static,
        H: SseHandler<C>,
    {
        let controller = Arc::clone(controller);
        self.entries.push(RouteEntry {
            event_stream: true,
            route: Route {
                path,
                handler,
                options: EndpointOptions::default(),
                lifecycle,
                dependencies: Vec::new(),
                port: None,
            },
            build: Box::new(move |app, lifecycle| {
                let lifecycle = Arc::new(lifecycle);
                get(move |request: Request| {
                    event_stream::<C, H>(controller, app, lifecycle, path, request)
                })
            }),
        });
    }

    /// Adds a WebSocket endpoint served by handler `H` on `controller`. Called by the code
    /// `#[controller]` generates.
    pub fn websocket<C, H>(&mut self, controller: &Arc<C>, route: Route)
    where
        C: Send + Sync + 'static,
        H: Handler<C>,
    {
        let controller = Arc::clone(controller);
        let options = route.options;
        self.entries.push(RouteEntry {
            route,
            event_stream: false,
            build: Box::new(move |app, lifecycle| {
                let endpoint = Arc::new(Endpoint {
                    controller,
                    options,
                    lifecycle,
                    app,
                });
                get(move |request: Request| upgrade::<C, H>(endpoint, request))
            }),
        });
    }
}

/// What handlers and components see of a request: headers, URI, path parameters, address.
async fn handshake_of(parts: &mut axum::http::request::Parts) -> Result<Handshake, Response> {
    let path_params = match RawPathParams::from_request_parts(parts, &()).await {
        Ok(params) => params
            .iter()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect(),
        Err(rejection) => return Err(rejection.into_response()),
    };
    let remote_addr = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    Ok(Handshake::new(
        &parts.headers,
        &parts.uri,
        path_params,
        remote_addr,
    ))
}

/// A Server-Sent Events request: the route's middleware and guards, then the event stream.
async fn event_stream<C, H>(
    controller: Arc<C>,
    app: Arc<AppShared>,
    lifecycle: Arc<Lifecycle>,
    path: &'static str,
    request: Request,
) -> Response
where
    C: Send + Sync + 'static,
    H: SseHandler<C>,
{
    if let Some(refusal) = app.shutting_down() {
        return refusal;
    }
    let (mut parts, _body) = request.into_parts();
    let authorized = match handshake_of(&mut parts).await {
        Ok(mut handshake) => lifecycle.authorize(&mut handshake).await,
        Err(rejection) => Err(rejection),
    };
    if let Err(refusal) = authorized {
        return refusal;
    }
    crate::sse::response(
        crate::sse::events::<C, H>(controller, &app.hub, path),
        &app.hub,
    )
}

/// Runs the handshake half of the lifecycle, answers the upgrade request and starts the
/// connection's task. A refused client costs no upgrade, no task and no buffers.
async fn upgrade<C, H>(endpoint: Arc<Endpoint<C>>, request: Request) -> Response
where
    C: Send + Sync + 'static,
    H: Handler<C>,
{
    let started = Instant::now();
    let (mut parts, _body) = request.into_parts();
    let (on_upgrade, switching_protocols) = match transport::switching_protocols(&mut parts) {
        Ok(upgrade) => upgrade,
        Err(refusal) => return *refusal,
    };
    if let Some(refusal) = endpoint.app.refusal(&parts.headers) {
        return refusal;
    }
    let mut handshake = match handshake_of(&mut parts).await {
        Ok(handshake) => handshake,
        Err(rejection) => return rejection,
    };
    if let Err(response) = endpoint.lifecycle.admit(&mut handshake).await {
        let summary = CloseSummary {
            client_id: None,
            path: handshake.uri.path().to_owned(),
            closed_by: ClosedBy::Rejected(response.status()),
            code: None,
            reason: String::new(),
            duration: started.elapsed(),
            messages_in: 0,
            messages_out: 0,
            error: None,
        };
        endpoint.lifecycle.closed(&summary).await;
        return response;
    }
    let app = &endpoint.app;
    let max_message = endpoint
        .options
        .max_message
        .unwrap_or(app.settings.max_message);
    // The client is reachable through the hub as soon as it has its 101.
    let id = app.hub.next_id();
    let path: Arc<str> = Arc::from(handshake.uri.path());
    let span = tracing::info_span!("connection", client_id = %id, path = %path);
    let connection = Connection::open(id, handshake, app);
    app.hub.register(&connection, path);
    let task = async move {
        let app = &endpoint.app;
        let Ok(upgraded) = on_upgrade.await else {
            app.hub.unregister(id);
            return;
        };
        let socket = transport::accept(upgraded, max_message, Arc::clone(&app.inbound)).await;
        let session = Session::new(&endpoint, socket, connection.clone(), started);
        let summary = session.run::<H>().await;
        connection.outbound().close();
        app.hub.unregister(id);
        let ctx = MessageContext::closed(connection, summary);
        H::on_disconnect(&endpoint.controller, &ctx).await;
        if let Some(summary) = ctx.close_summary() {
            endpoint.lifecycle.closed(summary).await;
        }
    };
    // Without a subscriber the span is disabled; entering it on every poll would still cost.
    if span.is_disabled() {
        tokio::spawn(task);
    } else {
        tokio::spawn(task.instrument(span));
    }
    switching_protocols
}
