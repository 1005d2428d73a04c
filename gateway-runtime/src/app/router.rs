//! Turning an [`App`] into axum routers: the endpoints controllers and gateways register
//! ([`Endpoints`]), the checks a build makes ([`BuildError`]), and one `GET` route per endpoint.

use crate::app::routes::RouteKind;
use crate::app::App;
use crate::call::handler::Handler;
use crate::call::lifecycle::Lifecycle;
use crate::call::services::DependencyKey;
use crate::endpoint::resume::kept::KeptBytes;
use crate::endpoint::sse::{EventStream, SseHandler};
use crate::endpoint::state::AppState;
use crate::endpoint::upgrade::upgrade;
use crate::endpoint::{Endpoint, EndpointOptions};
use crate::io::limits::InboundLimits;
use crate::io::sockets::Sockets;
use axum::extract::Request;
use axum::routing::{get, MethodRouter};
use axum::Router;
use std::sync::Arc;
use std::time::Duration;

/// The app could not be turned into routes.
///
/// ```
/// use gateway::prelude::*;
/// use gateway::app::BuildError;
///
/// struct Needs;
/// struct Db;
///
/// #[controller("")]
/// impl Needs {
///     #[websocket("ws")]
///     async fn ws(&self, #[dep] db: std::sync::Arc<Db>) { let _ = db; }
/// }
///
/// let error = App::new().controller(Needs).into_router().unwrap_err();
/// assert!(matches!(error, BuildError::MissingDependency { .. }));
/// ```
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
    UnknownSsePath(crate::endpoint::sse::UnknownSsePath),
    /// A handler has a `#[dep]` parameter whose service was never provided.
    #[error("`{handler}` needs a `{service}` (a `#[dep]` parameter) but none was provided; add `.provide(..)` to the App")]
    MissingDependency {
        /// The handler with the `#[dep]` parameter.
        handler: &'static str,
        /// The service's type.
        service: &'static str,
    },
}

/// An app's routes: the main router, and one per port a gateway asked for.
///
/// ```
/// use gateway::prelude::*;
///
/// struct Side;
///
/// #[gateway("side", port = 3001)]
/// impl Side {
///     #[subscribe("ping")]
///     async fn ping(&self) -> &'static str { "pong" }
/// }
///
/// let routers = App::new().gateway(Side).into_routers().unwrap();
/// assert_eq!(routers.own_ports.len(), 1);
/// assert_eq!(routers.own_ports[0].0, 3001);
/// ```
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
pub struct EndpointSpec {
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
    /// What its messages and answers are, for the app's AsyncAPI document.
    pub contract: fn() -> crate::call::contract::EndpointContract,
}

impl std::fmt::Debug for EndpointSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointSpec")
            .field("path", &self.path)
            .field("handler", &self.handler)
            .field("options", &self.options)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// The endpoints collected from controllers, waiting for the app's settings.
#[derive(Default)]
pub struct Endpoints {
    entries: Vec<RouteEntry>,
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|entry| &entry.route))
            .finish()
    }
}

type BuildRoute = Box<dyn FnOnce(Arc<AppState>, Lifecycle) -> MethodRouter + Send>;

struct RouteEntry {
    route: EndpointSpec,
    kind: RouteKind,
    build: BuildRoute,
}

impl Endpoints {
    /// Each endpoint's kind and spec, in the order they were added.
    pub(crate) fn specs(&self) -> impl Iterator<Item = (RouteKind, &EndpointSpec)> {
        self.entries.iter().map(|entry| (entry.kind, &entry.route))
    }

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
            kind: RouteKind::EventStream,
            route: EndpointSpec {
                path,
                handler,
                options: EndpointOptions::default(),
                lifecycle,
                dependencies: Vec::new(),
                port: None,
                contract: || crate::call::contract::websocket_contract(None, None),
            },
            build: Box::new(move |app, lifecycle| {
                let stream = Arc::new(EventStream::new::<C, H>(controller, path, lifecycle, app));
                get(move |request: Request| Arc::clone(&stream).serve(request))
            }),
        });
    }

    /// Adds a WebSocket endpoint served by handler `H` on `controller`. Called by the code
    /// `#[controller]` generates.
    pub fn websocket<C, H>(&mut self, controller: &Arc<C>, route: EndpointSpec)
    where
        C: Send + Sync + 'static,
        H: Handler<C>,
    {
        self.add_websocket::<C, H>(controller, route, RouteKind::WebSocket);
    }

    /// Adds a gateway: a WebSocket endpoint whose messages are events. Called by the code
    /// `#[gateway]` generates.
    pub fn gateway<C, H>(&mut self, controller: &Arc<C>, route: EndpointSpec)
    where
        C: Send + Sync + 'static,
        H: Handler<C>,
    {
        self.add_websocket::<C, H>(controller, route, RouteKind::Gateway);
    }

    fn add_websocket<C, H>(&mut self, controller: &Arc<C>, route: EndpointSpec, kind: RouteKind)
    where
        C: Send + Sync + 'static,
        H: Handler<C>,
    {
        let controller = Arc::clone(controller);
        let options = route.options;
        let path = route.path;
        self.entries.push(RouteEntry {
            route,
            kind,
            build: Box::new(move |app, lifecycle| {
                let gateway = kind == RouteKind::Gateway;
                let endpoint = Arc::new(Endpoint::new::<C, H>(
                    controller, path, options, lifecycle, app, gateway,
                ));
                get(move |request: Request| upgrade(Arc::clone(&endpoint), request))
            }),
        });
    }
}

impl App {
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
            .endpoints
            .entries
            .iter()
            .filter(|entry| entry.kind == RouteKind::EventStream);
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
        let sockets = Sockets::new(self.settings.max_connections);
        let kept = Arc::new(KeptBytes::new(self.settings.resume_limits.kept_bytes));
        let app = Arc::new(AppState {
            settings: self.settings,
            services: Arc::new(self.services),
            hub: self.hub,
            inbound,
            sockets,
            kept,
            origins: self.origins,
            hosts: self.hosts,
            draining: self.draining,
        });
        for (path, route) in self.http_routes {
            routers.main = routers.main.route(&path, route);
        }
        for entry in self.endpoints.entries {
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
        let entries = &self.endpoints.entries;
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
