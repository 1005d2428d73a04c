//! The official JavaScript client (`clients/js`), served by the app at a fixed path so a page
//! needs no build step: `import { GatewayClient } from "/_gateway/index.js"`.

use crate::app::App;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;

/// Where [`App::serve_client`] serves the client's modules.
pub const CLIENT_PATH: &str = "/_gateway";

/// The client's modules, as `clients/js` builds them (`npm run build`; `.ci/run` checks they
/// are current).
const MODULES: [(&str, &str); 3] = [
    (
        "index.js",
        include_str!("../../../clients/js/dist/index.js"),
    ),
    (
        "gateway.js",
        include_str!("../../../clients/js/dist/gateway.js"),
    ),
    (
        "socket.js",
        include_str!("../../../clients/js/dist/socket.js"),
    ),
];

/// The modules' version: a hash of their sources. Browsers keep a module until its version
/// changes, and ask each time whether it has (a `304 Not Modified` costs no body), so a page
/// never runs an old client after the server was upgraded.
fn version() -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    MODULES.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

/// Whether an `If-None-Match` header names the current version (RFC 9110 13.1.2: `*`, or a
/// comma-separated list of entity tags compared weakly, so `W/"v"` names `"v"`): the page has
/// it, and gets a `304`.
pub(crate) fn none_match_fails(if_none_match: &[u8], etag: &str) -> bool {
    let weak = |tag: &[u8]| tag.strip_prefix(b"W/").unwrap_or(tag).to_vec();
    let current = weak(etag.as_bytes());
    if_none_match
        .split(|&byte| byte == b',')
        .map(<[u8]>::trim_ascii)
        .any(|tag| tag == b"*" || weak(tag) == current)
}

impl App {
    /// Serves the official JavaScript client at `/_gateway/index.js` (an ES module; it imports
    /// its siblings), so a page can use it without a build step:
    ///
    /// ```html
    /// <script type="module">
    ///   import { GatewayClient } from "/_gateway/index.js";
    ///   const chat = new GatewayClient(`ws://${location.host}/chat`);
    /// </script>
    /// ```
    ///
    /// ```
    /// use gateway::prelude::*;
    /// let app = App::new().serve_client();
    /// assert!(app.routes().iter().any(|route| route.path == "/_gateway/index.js"));
    /// ```
    pub fn serve_client(self) -> Self {
        let version = version();
        MODULES.iter().fold(self, |app, (name, source)| {
            let version = version.clone();
            let module = move |request: HeaderMap| async move {
                let headers = [
                    (CONTENT_TYPE, "text/javascript; charset=utf-8"),
                    (CACHE_CONTROL, "no-cache"),
                    (ETAG, version.as_str()),
                ];
                let current = request
                    .get(IF_NONE_MATCH)
                    .is_some_and(|asked| none_match_fails(asked.as_bytes(), &version));
                if current {
                    (StatusCode::NOT_MODIFIED, headers, "").into_response()
                } else {
                    (headers, *source).into_response()
                }
            };
            app.route(&format!("{CLIENT_PATH}/{name}"), get(module))
        })
    }
}
