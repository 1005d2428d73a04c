//! The WebSocket connection under the session: tungstenite's protocol over an elastic read
//! buffer. tungstenite reads into a buffer it allocates up front (axum's default is 128 KiB per
//! connection); here that buffer is tiny, and [`ElasticIo`] reads from the socket into a buffer
//! that exists only while bytes wait to be parsed. An idle connection holds 128 bytes of buffer.
//!
//! Two more jobs sit here because only the transport sees them: bytes reach tungstenite up to the
//! end of the current frame (see [`crate::inbound`]), and a client whose socket does not take
//! what we write is not read until it does (tungstenite answers every Ping with a Pong even
//! while it cannot write, so a client that pings without reading would otherwise pile Pongs up
//! in memory without end).

use crate::direct::Direct;
use crate::inbound::{Frames, InboundLimits};
use bytes::{Buf, BytesMut};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
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
pub(crate) async fn accept(
    upgraded: Upgraded,
    max_message: usize,
    limits: Arc<InboundLimits>,
) -> Socket {
    let config = WebSocketConfig::default()
        // tungstenite's own buffer: allocated up front, and also the most it takes per read from
        // `ElasticIo` (a memory copy, not a system call). Small, since every idle connection
        // holds it; it still grows to fit each frame being parsed.
        .read_buffer_size(TUNGSTENITE_BUFFER)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    let io = ElasticIo::new(upgraded, limits);
    WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await
}

/// What senders may write straight into (see [`Direct`]): plain TCP only.
pub(crate) fn direct_writer(socket: &Socket) -> Option<Weak<Direct>> {
    match &socket.get_ref().io {
        Io::Tcp(direct) => Some(Arc::downgrade(direct)),
        _ => None,
    }
}

/// Replaces tungstenite's state (its read and write buffers, which keep the capacity of the
/// largest message they carried) with a fresh one over the same connection. Only between
/// messages with nothing left to write: the caller checks [`ElasticIo::at_message_boundary`]
/// and flushes first.
pub(crate) async fn renew(socket: &mut Socket) {
    let config = *socket.get_config();
    let io = socket.get_mut().take();
    *socket = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
}

/// The upgraded TCP connection, read through a buffer that is freed whenever it is drained.
pub(crate) struct ElasticIo {
    io: Io,
    /// Bytes read and not yet parsed; it starts with what the client sent right after its
    /// handshake (read by hyper before the upgrade).
    buffer: BytesMut,
    frames: Frames,
    /// The last write could not complete: the client is not read until the socket is writable.
    write_blocked: bool,
}

enum Io {
    /// The plain TCP stream (what `gateway::serve` and `axum::serve` accept): readiness can be
    /// awaited without a buffer. Senders may write into it too (its gate says when).
    Tcp(Arc<Direct>),
    /// Any other transport (TLS, a test harness), read into a buffer allocated per read. Its
    /// write readiness cannot be awaited alone, so it is read even while writes are blocked.
    Other(TokioIo<Upgraded>),
    /// Moved out (see [`renew`]): what a replaced tungstenite state is dropped with.
    Detached,
}

impl ElasticIo {
    fn new(upgraded: Upgraded, limits: Arc<InboundLimits>) -> Self {
        let (io, buffer) = match upgraded.downcast::<TokioIo<TcpStream>>() {
            // A copy: hyper's leftover is a slice of its whole read buffer (8 KiB or more),
            // which an empty slice would still keep alive for the connection's life.
            Ok(parts) => (
                Io::Tcp(Arc::new(Direct::new(parts.io.into_inner()))),
                BytesMut::from(&parts.read_buf[..]),
            ),
            Err(upgraded) => (Io::Other(TokioIo::new(upgraded)), BytesMut::new()),
        };
        Self {
            io,
            buffer,
            frames: Frames::new(limits),
            write_blocked: false,
        }
    }

    /// The socket's gate for senders' direct writes (plain TCP only).
    pub(crate) fn direct(&self) -> Option<&Direct> {
        match &self.io {
            Io::Tcp(direct) => Some(direct),
            _ => None,
        }
    }

    /// Moves the connection out, leaving a detached one in its place (see [`renew`]).
    fn take(&mut self) -> Self {
        let detached = Self {
            io: Io::Detached,
            buffer: BytesMut::new(),
            frames: Frames::new(Arc::clone(self.frames.limits())),
            write_blocked: false,
        };
        std::mem::replace(self, detached)
    }

    /// More of the client's bytes were read than tungstenite has taken: another message (or
    /// part of one) waits behind the current one.
    pub(crate) fn has_more_input(&self) -> bool {
        !self.buffer.is_empty()
    }

    /// Between two of the client's messages: tungstenite holds none of its bytes.
    pub(crate) fn at_message_boundary(&self) -> bool {
        self.frames.at_message_boundary()
    }

    /// Reads what the socket has into `buffer` (which is empty).
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.io {
            Io::Tcp(direct) => loop {
                let stream = direct.socket();
                if self.write_blocked {
                    ready!(stream.poll_write_ready(cx))?;
                    self.write_blocked = false;
                }
                ready!(stream.poll_read_ready(cx))?;
                self.buffer.reserve(READ_CHUNK);
                let room = self.buffer.capacity() - self.buffer.len();
                let buffer = &mut self.buffer;
                // A read shorter than its room emptied the socket: its readiness is cleared
                // with it (a `WouldBlock` out of `try_io`), which saves the next read, one that
                // would only find nothing. Bytes arriving later signal afresh.
                let read = stream.try_io(Interest::READABLE, || {
                    let count = stream.try_read_buf(buffer)?;
                    if count > 0 && count < room {
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    Ok(())
                });
                match read {
                    Ok(()) => return Poll::Ready(Ok(())),
                    // Nothing to read, or (bytes in the buffer) a read that emptied the socket.
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        if !self.buffer.is_empty() {
                            return Poll::Ready(Ok(()));
                        }
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
            Io::Detached => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
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
        if this.buffer.is_empty() && this.poll_fill(cx)?.is_pending() {
            return match this.frames.poll_deadline(cx) {
                Poll::Ready(limit) => Poll::Ready(Err(io::Error::other(limit))),
                Poll::Pending => Poll::Pending,
            };
        }
        let available = this.buffer.len().min(destination.remaining());
        let count = this
            .frames
            .advance(&this.buffer[..available])
            .map_err(io::Error::other)?;
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
        let this = self.get_mut();
        let written = match &mut this.io {
            Io::Tcp(direct) => poll_write_tcp(direct, cx, bytes),
            Io::Other(io) => Pin::new(io).poll_write(cx, bytes),
            Io::Detached => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        };
        this.write_blocked = written.is_pending();
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match &mut this.io {
            Io::Tcp(direct) => direct.poll_before_loop_writes(cx),
            Io::Other(io) => Pin::new(io).poll_flush(cx),
            Io::Detached => Poll::Ready(Ok(())),
        }
    }

    /// Nothing to do for TCP (tungstenite never asks): the socket closes when the loop drops
    /// it.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Tcp(_) | Io::Detached => Poll::Ready(Ok(())),
            Io::Other(io) => Pin::new(io).poll_shutdown(cx),
        }
    }
}

/// Writes the loop's `bytes` to a TCP socket senders may write to as well: after whatever a
/// direct write left half-written.
fn poll_write_tcp(direct: &Direct, cx: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
    ready!(direct.poll_before_loop_writes(cx))?;
    let stream = direct.socket();
    loop {
        ready!(stream.poll_write_ready(cx))?;
        match stream.try_write(bytes) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            written => return Poll::Ready(written),
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
    if !is_websocket_key(key.as_bytes()) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Key` must be a 16-byte nonce in base64 (24 characters)",
        ));
    }
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

/// A `Sec-WebSocket-Key` as RFC 6455 §4.1 defines it: 16 bytes in base64, so 22 characters of
/// the base64 alphabet and `==`.
fn is_websocket_key(key: &[u8]) -> bool {
    let base64 = |byte: &u8| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/');
    key.len() == 24 && key[..22].iter().all(base64) && &key[22..] == b"=="
}

#[cfg(test)]
mod tests {
    use super::is_websocket_key;

    #[test]
    fn websocket_keys_are_16_bytes_of_base64() {
        assert!(is_websocket_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(is_websocket_key(b"AAAAAAAAAAAAAAAAAAAA+/==")); // '+' and '/' are base64
        for bad in [
            &b""[..],
            b"abc",
            b"dGhlIHNhbXBsZSBub25jZQ", // no padding
            b"dGhlIHNhbXBsZSBub25jZQ=x",
            b"dGhlIHNhbXBsZSBub25j?Q==",
            b"dGhlIHNhbXBsZSBub25jZSBhbmQgbW9yZQ==", // 25 bytes
        ] {
            assert!(!is_websocket_key(bad), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
