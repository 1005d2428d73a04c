//! [`App`]: the builder users add controllers, gateways, routes, components and settings to.
//! Turning it into routers is the [`router`](crate::app::router) module's job.

#[cfg(feature = "contract")]
pub(crate) mod asyncapi;
pub(crate) mod client_script;
pub(crate) mod drain;
pub(crate) mod registration;
pub(crate) mod router;
pub(crate) mod routes;
pub(crate) mod serve;

use crate::app::drain::Drainer;
use crate::app::registration::{Controller, Gateway};
use crate::app::router::Endpoints;
use crate::base::origin::{AllowedHosts, OriginPolicy};
use crate::base::settings::Settings;
use crate::base::settings::SlowConsumer;
use crate::call::lifecycle::{Catcher, Guard, Interceptor, Lifecycle, Middleware, Observer};
use crate::call::services::Services;
use crate::hub::backplane::Backplane;
use crate::hub::Hub;
use axum::routing::MethodRouter;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

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
    pub(crate) endpoints: Endpoints,
    /// Plain axum routes served beside the WebSocket endpoints.
    pub(crate) http_routes: Vec<(String, MethodRouter)>,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) services: Services,
    pub(crate) hub: Hub,
    pub(crate) settings: Settings,
    pub(crate) origins: OriginPolicy,
    pub(crate) hosts: AllowedHosts,
    pub(crate) draining: Arc<AtomicBool>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("endpoints", &self.endpoints)
            .field("http_routes", &self.http_routes.len())
            .field("lifecycle", &self.lifecycle)
            .field("services", &self.services)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
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
            endpoints: Endpoints::default(),
            http_routes: Vec::new(),
            lifecycle: Lifecycle::new(),
            services: Services::default(),
            hub: Hub::default(),
            settings: Settings::default(),
            origins: OriginPolicy::default(),
            hosts: AllowedHosts::default(),
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

    /// Serves only requests that name one of these hosts in their `Host` header (the name,
    /// without the port: `"chat.example.com"`, `"localhost"`); WebSocket handshakes and event
    /// stream requests naming another get HTTP 403. This is what stops DNS rebinding: a page
    /// whose own name is made to resolve to this server names itself as both `Origin` and
    /// `Host`, which the origin check cannot tell from a page of this server. By default any
    /// host is served.
    ///
    /// ```
    /// use gateway::prelude::*;
    /// let app = App::new().allow_hosts(["chat.example.com", "localhost"]);
    /// ```
    pub fn allow_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.hosts = AllowedHosts::new(hosts.into_iter().map(Into::into).collect());
        self
    }

    /// Accepts browser handshakes from any origin: for endpoints that authenticate with tokens in
    /// the messages or the URL, never with cookies.
    pub fn allow_any_origin(mut self) -> Self {
        self.origins = OriginPolicy::Any;
        self
    }

    /// At most `connections` sockets held open for clients at once on this instance: WebSocket
    /// connections (from the moment their upgrade is admitted, so upgrades in progress and
    /// `?resume` connections that have not sent `$resume` count too) and Server-Sent Events
    /// streams; further upgrade and stream requests get HTTP 503. A parked resumable session
    /// holds no socket and does not count (its bounds are [`resume_limits`](Self::resume_limits)).
    /// The default is what the process's open-file limit allows (`ulimit -n`) less 100 spare
    /// descriptors (10,000 where the limit cannot be read): past it, the process could not
    /// accept anyone, and new clients would time out instead of hearing 503.
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
        Arc::new(controller).register(&mut self.endpoints);
        self
    }

    /// Adds the endpoint of a `#[gateway]`. The gateway is shared by all its connections
    /// (`&self` in a hook), never cloned.
    pub fn gateway<G: Gateway>(mut self, gateway: G) -> Self {
        Arc::new(gateway).register(&mut self.endpoints);
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

    /// What resumable sessions (`#[gateway(.., resume = "..")]`) keep: per session and for
    /// each endpoint's parked sessions (see [`ResumeLimits`](crate::base::settings::ResumeLimits)).
    pub fn resume_limits(mut self, limits: crate::base::settings::ResumeLimits) -> Self {
        self.settings.resume_limits = limits;
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

    /// How many of the server's requests ([`Connection::request`](crate::Connection::request))
    /// may wait for one client's answers at once (default 64); past it a request fails at once
    /// with [`AnswerError::TooMany`](crate::AnswerError::TooMany).
    pub fn max_client_requests(mut self, requests: usize) -> Self {
        self.settings.max_client_requests = requests.max(1);
        self
    }

    /// What happens to a client that cannot keep up (default: close it with 1008).
    pub fn slow_consumer(mut self, policy: SlowConsumer) -> Self {
        self.settings.slow_consumer = policy;
        self
    }
}
