//! [`http`]: one plain HTTP request, for routes beside the WebSocket endpoints.

use super::WAIT;
use axum::body::Body;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;

/// The answer to an [`http`] request (an example is at [`http`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: axum::http::HeaderMap,
    /// The whole body, as text (lossy for bytes that are not UTF-8).
    pub body: String,
}

/// Sends `method path` with a text `body` (empty for none) over a new HTTP/1.1 connection and
/// reads the whole answer: for routes added with [`App::route`](crate::App::route), and for
/// what the WebSocket endpoints answer a plain request.
///
/// ```
/// # use gateway::prelude::*;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use axum::routing::post;
/// use gateway::test::{http, start};
///
/// let app = App::new().route("/echo", post(|text: String| async move { text }));
/// let addr = start(app).await;
/// let response = http(addr, "POST", "/echo", "hello").await;
/// assert_eq!((response.status, response.body.as_str()), (200, "hello"));
/// # });
/// ```
///
/// # Panics
/// When the server cannot be reached or does not answer within [`WAIT`].
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> HttpResponse {
    http_with(addr, method, path, &[], body).await
}

/// [`http`] with these request headers (credentials, `If-None-Match`, ...).
///
/// # Panics
/// As [`http`]; also for a header that is not a valid name and value.
pub async fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> HttpResponse {
    let mut request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header(axum::http::header::HOST, addr.to_string())
        .header(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        );
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Body::from(body.to_owned()))
        .expect("a valid method, path and headers");
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connect to the server");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("an HTTP/1.1 connection");
        tokio::spawn(connection);
        let response = sender.send_request(request).await.expect("an HTTP answer");
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(Body::new(body), usize::MAX)
            .await
            .expect("the whole body");
        HttpResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    };
    tokio::time::timeout(WAIT, exchange)
        .await
        .unwrap_or_else(|_| panic!("no answer to {method} {path}"))
}
