//! [`App`]: the builder users add controllers to, and its conversion into an axum `Router`.

use crate::connection::{Connection, ConnectionId};
use crate::endpoint::{Controller, EndpointOptions, Handler};
use crate::handshake::Handshake;
use crate::session::Session;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The largest message accepted by default: 1 MiB. tungstenite's own default (64 MiB) lets one
/// client make the server buffer 64 MiB.
pub const DEFAULT_MAX_MESSAGE: usize = 1 << 20;

/// How long the server waits for the client's Close after sending its own.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How many messages may wait for a client before [`Connection::send`] reports a full queue.
pub const DEFAULT_OUTBOUND_QUEUE: usize = 1024;

/// A small read buffer keeps idle connections cheap; it grows while a connection is busy.
const READ_BUFFER: usize = 4 * 1024;

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
}

/// Settings every endpoint of the app shares.
struct AppSettings {
    max_message: usize,
    close_timeout: Duration,
    outbound_queue: usize,
    next_connection_id: AtomicU64,
}

/// A real-time application: controllers and their settings. Serve it with
/// [`serve`](crate::serve), or turn it into an `axum::Router` with [`App::into_router`] to merge
/// it into an existing axum application.
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
    max_message: usize,
    close_timeout: Duration,
    outbound_queue: usize,
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
            max_message: DEFAULT_MAX_MESSAGE,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            outbound_queue: DEFAULT_OUTBOUND_QUEUE,
        }
    }

    /// Adds every endpoint of a `#[controller]`. The controller is shared by all its handlers and
    /// connections (`&self` in a handler), never cloned.
    pub fn controller<C: Controller>(mut self, controller: C) -> Self {
        Arc::new(controller).register(&mut self.routes);
        self
    }

    /// The largest message accepted where an endpoint does not set `max_message` (default 1 MiB).
    /// Larger messages close the connection with 1009.
    pub fn max_message(mut self, bytes: usize) -> Self {
        self.max_message = bytes;
        self
    }

    /// How long to wait for the client's Close after the server sent its own (default 5 s).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// How many messages may wait for one client (default 1024).
    pub fn outbound_queue(mut self, messages: usize) -> Self {
        self.outbound_queue = messages.max(1);
        self
    }

    /// The app as an axum router, one `GET` route per endpoint.
    ///
    /// # Errors
    /// [`BuildError::DuplicatePath`] when two handlers claim one path.
    pub fn into_router(self) -> Result<Router, BuildError> {
        let settings = Arc::new(AppSettings {
            max_message: self.max_message,
            close_timeout: self.close_timeout,
            outbound_queue: self.outbound_queue,
            next_connection_id: AtomicU64::new(1),
        });
        let mut router = Router::new();
        let mut seen: Vec<(&str, &'static str)> = Vec::new();
        for route in &self.routes.entries {
            if let Some((_, first)) = seen.iter().find(|(path, _)| *path == route.path) {
                return Err(BuildError::DuplicatePath {
                    path: route.path.clone(),
                    first,
                    second: route.handler,
                });
            }
            seen.push((&route.path, route.handler));
        }
        for route in self.routes.entries {
            router = router.route(&route.path, (route.build)(Arc::clone(&settings)));
        }
        Ok(router)
    }
}

/// The endpoints collected from controllers, waiting for the app's settings.
#[derive(Default)]
pub struct Routes {
    entries: Vec<RouteEntry>,
}

struct RouteEntry {
    path: String,
    handler: &'static str,
    build: Box<dyn FnOnce(Arc<AppSettings>) -> MethodRouter + Send>,
}

/// One WebSocket endpoint as its connections see it.
struct Endpoint<C> {
    controller: Arc<C>,
    options: EndpointOptions,
    settings: Arc<AppSettings>,
}

impl Routes {
    /// Adds a WebSocket endpoint served by handler `H` on `controller`. Called by the code
    /// `#[controller]` generates.
    pub fn websocket<C, H>(
        &mut self,
        controller: &Arc<C>,
        path: &str,
        handler: &'static str,
        options: EndpointOptions,
    ) where
        C: Send + Sync + 'static,
        H: Handler<C>,
    {
        let controller = Arc::clone(controller);
        self.entries.push(RouteEntry {
            path: path.to_owned(),
            handler,
            build: Box::new(move |settings| {
                let endpoint = Arc::new(Endpoint {
                    controller,
                    options,
                    settings,
                });
                get(move |request: Request| upgrade::<C, H>(endpoint, request))
            }),
        });
    }
}

/// Answers the HTTP upgrade request and starts the connection's task.
async fn upgrade<C, H>(endpoint: Arc<Endpoint<C>>, request: Request) -> Response
where
    C: Send + Sync + 'static,
    H: Handler<C>,
{
    let (mut parts, _body) = request.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let path_params = match RawPathParams::from_request_parts(&mut parts, &()).await {
        Ok(params) => params
            .iter()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect(),
        Err(rejection) => return rejection.into_response(),
    };
    let remote_addr = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let handshake = Handshake {
        headers: parts.headers,
        uri: parts.uri,
        path_params,
        remote_addr,
    };
    let max_message = endpoint
        .options
        .max_message
        .unwrap_or(endpoint.settings.max_message);
    upgrade
        .read_buffer_size(READ_BUFFER)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| async move {
            let settings = &endpoint.settings;
            let id = ConnectionId(settings.next_connection_id.fetch_add(1, Ordering::Relaxed));
            let (connection, outbound) = Connection::open(id, handshake, settings.outbound_queue);
            Session {
                controller: &*endpoint.controller,
                options: endpoint.options,
                close_timeout: settings.close_timeout,
                socket,
                connection,
                outbound,
            }
            .run::<H>()
            .await;
        })
}
