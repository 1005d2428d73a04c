//! [`Handshake`]: what the client's HTTP upgrade request said, fixed for the connection's life.

use axum::http::{header, Extensions, HeaderMap, HeaderName, HeaderValue, Uri};
use bytes::Bytes;
use std::net::SocketAddr;

/// Headers that mean nothing once the connection is upgraded.
const UPGRADE_ONLY: [HeaderName; 5] = [
    header::CONNECTION,
    header::UPGRADE,
    header::SEC_WEBSOCKET_KEY,
    header::SEC_WEBSOCKET_VERSION,
    header::SEC_WEBSOCKET_EXTENSIONS,
];

/// The parts of the upgrade request that handlers can bind: headers, query, path parameters, the
/// client's address, and the data middleware and guards attached for `#[data]` parameters.
///
/// ```
/// use gateway::lifecycle::{Guard, Handshake, Rejection};
///
/// /// Only clients from the office network, and only with a `x-team` header.
/// struct Office;
///
/// impl Guard for Office {
///     async fn check(&self, handshake: &Handshake) -> Result<(), Rejection> {
///         let inside = handshake.remote_addr().is_some_and(|addr| addr.ip().is_loopback());
///         match (inside, handshake.header("x-team")) {
///             (true, Some(_)) => Ok(()),
///             _ => Err(Rejection::forbidden("office only")),
///         }
///     }
/// }
/// ```
#[derive(Debug)]
pub struct Handshake {
    pub(crate) headers: HeaderMap,
    pub(crate) uri: Uri,
    pub(crate) path_params: Vec<(String, String)>,
    pub(crate) remote_addr: Option<SocketAddr>,
    pub(crate) data: Extensions,
}

impl Handshake {
    /// Keeps copies of the request's headers and URI. The originals are slices of the HTTP
    /// connection's read buffer (8 KiB or more), which they would keep alive for the whole life of
    /// the WebSocket connection. The headers that only negotiate the upgrade itself
    /// (`Connection`, `Upgrade`, `Sec-WebSocket-Key`, `-Version`, `-Extensions`) are not kept.
    pub(crate) fn new(
        headers: &HeaderMap,
        uri: &Uri,
        path_params: Vec<(String, String)>,
        remote_addr: Option<SocketAddr>,
    ) -> Self {
        let kept = || {
            headers
                .iter()
                .filter(|(name, _)| !UPGRADE_ONLY.contains(name))
        };
        // Sized for what is kept: a map sized for the whole request costs ~100 bytes per slot
        // for every connection's life.
        let mut owned = HeaderMap::with_capacity(kept().count());
        for (name, value) in kept() {
            if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
                owned.append(name.clone(), value);
            }
        }
        let uri = uri
            .path_and_query()
            .and_then(|path| {
                Uri::from_maybe_shared(Bytes::copy_from_slice(path.as_str().as_bytes())).ok()
            })
            .unwrap_or_default();
        Self {
            headers: owned,
            uri,
            path_params,
            remote_addr,
            data: Extensions::new(),
        }
    }

    /// The request's headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The request's URI (path and query).
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// A header as text; `None` when it is absent or not visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The first query parameter called `name`, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        query_value(self.uri.query()?, name)
    }

    /// The path parameter `name` of the route (`/rooms/{name}`), percent-decoded.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path_params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The client's socket address, when the server was started with connect info
    /// ([`serve`](crate::serve) does this; a plain `axum::serve` of the router does not).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }

    /// Attaches a value for `#[data] x: T` parameters (one value per type; a second replaces
    /// the first). Middleware calls this during the handshake.
    pub fn insert_data<T: Clone + Send + Sync + 'static>(&mut self, value: T) {
        self.data.insert(value);
    }

    /// The value of type `T` attached during the handshake, if any.
    pub fn data<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.data.get::<T>()
    }
}

/// The first value of `name` in a query string, percent-decoded.
pub(crate) fn query_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
