//! The WebSocket connection under the session: tungstenite's protocol over an elastic read
//! buffer. tungstenite reads into a buffer it allocates up front (axum's default is 128 KiB per
//! connection); here that buffer is tiny, and [`ElasticIo`] reads from the socket into a buffer
//! that exists only while bytes wait to be parsed. An idle connection holds 128 bytes of buffer.

use bytes::{Buf, BytesMut};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

/// One client's WebSocket.
pub(crate) type Socket = WebSocketStream<ElasticIo>;

/// How much is read from the socket at once while a connection is busy.
const READ_CHUNK: usize = 8 * 1024;

/// See [`accept`].
const TUNGSTENITE_BUFFER: usize = 128;

/// Upgrades the HTTP connection to a WebSocket with these limits.
pub(crate) async fn accept(upgraded: Upgraded, max_message: usize) -> Socket {
    let config = WebSocketConfig::default()
        // tungstenite's own buffer: allocated up front, and also the most it takes per read from
        // `ElasticIo` (a memory copy, not a system call). Small, since every idle connection
        // holds it; it still grows to fit each frame being parsed.
        .read_buffer_size(TUNGSTENITE_BUFFER)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    WebSocketStream::from_raw_socket(ElasticIo::new(upgraded), Role::Server, Some(config)).await
}

/// The upgraded TCP connection, read through a buffer that is freed whenever it is drained.
pub(crate) struct ElasticIo {
    io: Io,
    /// Bytes read and not yet parsed; it starts with what the client sent right after its
    /// handshake (read by hyper before the upgrade).
    buffer: BytesMut,
}

enum Io {
    /// The plain TCP stream (what `gateway::serve` and `axum::serve` accept): readiness can be
    /// awaited without a buffer.
    Tcp(TcpStream),
    /// Any other transport (TLS, a test harness), read into a buffer allocated per read.
    Other(TokioIo<Upgraded>),
}

impl ElasticIo {
    fn new(upgraded: Upgraded) -> Self {
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => Self {
                io: Io::Tcp(parts.io.into_inner()),
                // A copy: hyper's leftover is a slice of its whole read buffer (8 KiB or more),
                // which an empty slice would still keep alive for the connection's life.
                buffer: BytesMut::from(&parts.read_buf[..]),
            },
            Err(upgraded) => Self {
                io: Io::Other(TokioIo::new(upgraded)),
                buffer: BytesMut::new(),
            },
        }
    }

    /// Reads what the socket has into `buffer` (which is empty).
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.io {
            Io::Tcp(stream) => loop {
                ready!(stream.poll_read_ready(cx))?;
                self.buffer.reserve(READ_CHUNK);
                match stream.try_read_buf(&mut self.buffer) {
                    Ok(_) => return Poll::Ready(Ok(())),
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        self.buffer = BytesMut::new();
                    }
                    Err(error) => return Poll::Ready(Err(error)),
                }
            },
            Io::Other(io) => {
                self.buffer.resize(READ_CHUNK, 0);
                let mut read = ReadBuf::new(&mut self.buffer);
                let result = Pin::new(io).poll_read(cx, &mut read);
                let filled = read.filled().len();
                self.buffer.truncate(filled);
                if self.buffer.is_empty() {
                    self.buffer = BytesMut::new();
                }
                result
            }
        }
    }
}

impl AsyncRead for ElasticIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        destination: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.buffer.is_empty() {
            ready!(this.poll_fill(cx))?;
        }
        let count = this.buffer.len().min(destination.remaining());
        destination.put_slice(&this.buffer[..count]);
        this.buffer.advance(count);
        if this.buffer.is_empty() {
            this.buffer = BytesMut::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ElasticIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Tcp(stream) => Pin::new(stream).poll_write(cx, bytes),
            Io::Other(io) => Pin::new(io).poll_write(cx, bytes),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Tcp(stream) => Pin::new(stream).poll_flush(cx),
            Io::Other(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Tcp(stream) => Pin::new(stream).poll_shutdown(cx),
            Io::Other(io) => Pin::new(io).poll_shutdown(cx),
        }
    }
}

/// Checks an HTTP request is a WebSocket upgrade (RFC 6455 §4.2.1) and prepares the
/// `101 Switching Protocols` answer. `Err` is the answer for a request that is not one.
pub(crate) fn switching_protocols(
    parts: &mut axum::http::request::Parts,
) -> Result<(hyper::upgrade::OnUpgrade, axum::response::Response), Box<axum::response::Response>> {
    use axum::http::{header, HeaderValue, Method, StatusCode};
    use axum::response::IntoResponse;

    let refuse = |status: StatusCode, why: &'static str| Box::new((status, why).into_response());
    let has_token = |name: header::HeaderName, token: &str| {
        parts.headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|value| {
                value
                    .split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    if parts.method != Method::GET {
        return Err(refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "a WebSocket upgrade is a GET request",
        ));
    }
    if !has_token(header::CONNECTION, "upgrade") || !has_token(header::UPGRADE, "websocket") {
        return Err(refuse(
            StatusCode::UPGRADE_REQUIRED,
            "this is a WebSocket endpoint: send `Upgrade: websocket`",
        ));
    }
    if parts
        .headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        let mut response = refuse(
            StatusCode::UPGRADE_REQUIRED,
            "only WebSocket version 13 is supported",
        );
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return Err(response);
    }
    let Some(key) = parts.headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "missing `Sec-WebSocket-Key`",
        ));
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
        return Err(refuse(
            StatusCode::UPGRADE_REQUIRED,
            "this connection cannot be upgraded",
        ));
    };
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    Ok((on_upgrade, response))
}
