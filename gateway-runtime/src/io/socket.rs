//! One client's WebSocket: the upgraded connection, read through the [`Reader`] and written
//! through the [`Writer`], with the protocol's own answers (a Pong for each Ping, a Close for
//! the client's Close).
//!
//! Bytes are read from the socket in chunks into a buffer that is freed whenever the connection
//! waits with nothing to parse, so an idle connection holds no read buffer; likewise nothing
//! stays allocated for writing once it is written. Past a few KiB of what the server owes the
//! client (Pongs, replies), that is written before the client is read again: a client that
//! pings without reading stops being read, and nothing piles up in memory.
//!
//! The work of one poll is bounded whatever the client sends: each message returned spends
//! tokio's cooperative budget, and a poll that has read [`BYTES_PER_POLL`] without completing a
//! message yields, so a parser bug could cost one connection its progress but never a worker.

use super::limits::InboundLimits;
use super::reader::{Drained, ReadError, Reader};
use super::writer::Writer;
use crate::io::direct::Direct;
use crate::io::sockets::SocketSlot;
use bytes::BytesMut;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use tungstenite::Message;

/// How much is read from the socket at once.
const READ_CHUNK: usize = 8 * 1024;

/// How much may wait unwritten while the client is read on; past it, reading waits for the
/// socket to take it. (The loop flushes after each burst of messages, so replies to pipelined
/// messages still leave together.)
const UNFLUSHED_BEFORE_READING: usize = 16 * 1024;

/// A client that stopped inside this little (half a header, a control frame) keeps only that
/// much of its read buffer while it waits.
const KEEP_SMALL: usize = 256;

/// How many bytes one poll reads, at most, before it yields to other tasks.
const BYTES_PER_POLL: usize = 256 * 1024;

/// Why no more messages come from the client.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SocketError {
    /// The client's bytes break the protocol or a bound: the connection is failed with
    /// [`ReadError::close`]'s code.
    #[error(transparent)]
    Refused(#[from] ReadError),
    /// The connection itself failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// One client's WebSocket connection.
pub(crate) struct Socket {
    io: Io,
    /// Counted among the app's sockets while it is open.
    _slot: SocketSlot,
    reader: Reader,
    writer: Writer,
    /// We sent a Close: nothing more is written.
    close_sent: bool,
    /// The client sent a Close: nothing more is read.
    close_received: bool,
    /// The client's bytes were refused: what it still sends is skipped, frame by frame, until
    /// it answers our Close, so the connection ends with our Close read rather than reset
    /// under it.
    refused: bool,
    /// How long the socket may take none of what we write before the client is given up on.
    stall_limit: Duration,
    /// Armed while a write waits for the socket; reset whenever it takes something.
    stalled: Option<Pin<Box<Sleep>>>,
}

enum Io {
    /// The plain TCP stream (what `gateway::serve` and `axum::serve` accept): readiness can be
    /// awaited without a buffer. Senders may write into it too (its gate says when).
    Tcp(Arc<Direct>),
    /// Any other transport (TLS, a test harness), read into a buffer allocated per read.
    Other(TokioIo<Upgraded>),
}

impl Socket {
    /// The WebSocket over an upgraded HTTP connection, holding the client to these bounds.
    /// A client whose socket takes none of what is written to it for `stall_limit` is given up
    /// on (the connection ends): it stopped reading, and waiting for it would keep whatever it
    /// holds (an unfinished message's share of the inbound budget) for good.
    pub(crate) fn accept(
        upgraded: Upgraded,
        slot: SocketSlot,
        max_message: usize,
        limits: Arc<InboundLimits>,
        stall_limit: Duration,
    ) -> Self {
        let (io, input) = match upgraded.downcast::<TokioIo<TcpStream>>() {
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
            _slot: slot,
            reader: Reader::new(input, limits, max_message),
            writer: Writer::default(),
            close_sent: false,
            close_received: false,
            refused: false,
            stall_limit,
            stalled: None,
        }
    }

    /// The socket's gate for senders' direct writes (plain TCP only).
    pub(crate) fn direct(&self) -> Option<&Direct> {
        match &self.io {
            Io::Tcp(direct) => Some(direct),
            Io::Other(_) => None,
        }
    }

    /// What senders may write straight into (see [`Direct`]): plain TCP only.
    pub(crate) fn direct_writer(&self) -> Option<Weak<Direct>> {
        match &self.io {
            Io::Tcp(direct) => Some(Arc::downgrade(direct)),
            Io::Other(_) => None,
        }
    }

    /// More of the client's bytes have arrived than were taken: another message (or part of
    /// one) waits behind the current one.
    pub(crate) fn has_more_input(&self) -> bool {
        self.reader.has_input()
    }

    /// The client's next message; `None` once the connection has ended (the client closed it,
    /// or completed the close handshake).
    pub(crate) async fn next(&mut self) -> Option<Result<Message, SocketError>> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, SocketError>>> {
        // Much written and not yet flushed (a client pinging without reading piles up Pongs):
        // it goes out before the client is read again.
        if self.writer.len() >= UNFLUSHED_BEFORE_READING {
            if let Err(error) = ready!(self.poll_flush(cx)) {
                return Poll::Ready(Some(Err(error.into())));
            }
        }
        if self.close_received {
            // Our answer to the client's Close goes out before the connection ends.
            return match ready!(self.poll_flush(cx)) {
                Ok(()) => Poll::Ready(None),
                Err(error) => Poll::Ready(Some(Err(error.into()))),
            };
        }
        if self.refused {
            return self.poll_discard(cx);
        }
        let coop = ready!(tokio::task::coop::poll_proceed(cx));
        let mut read = 0;
        loop {
            match self.reader.read() {
                Ok(Some(message)) => {
                    coop.made_progress();
                    self.answer(&message);
                    return Poll::Ready(Some(Ok(message)));
                }
                Ok(None) => {}
                Err(error) => {
                    self.refused = true;
                    return Poll::Ready(Some(Err(error.into())));
                }
            }
            if read >= BYTES_PER_POLL {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            match self.poll_fill(cx) {
                Poll::Ready(Ok(0)) => return Poll::Ready(None),
                Poll::Ready(Ok(count)) => read += count,
                Poll::Ready(Err(error)) => return Poll::Ready(Some(Err(error.into()))),
                Poll::Pending => {
                    // Nothing to parse while it waits: it holds no read buffer, or one just
                    // the size of what it left unfinished (a header, a small frame).
                    let input = &mut self.reader.input;
                    if input.is_empty() {
                        *input = BytesMut::new();
                    } else if input.len() <= KEEP_SMALL && input.capacity() > 4 * KEEP_SMALL {
                        *input = BytesMut::from(&input[..]);
                    }
                    let Poll::Ready(limit) = self.reader.poll_deadline(cx) else {
                        return Poll::Pending;
                    };
                    self.refused = true;
                    self.reader.fail(limit.into());
                    return Poll::Ready(Some(Err(ReadError::from(limit).into())));
                }
            }
        }
    }

    /// Skips what a refused client still sends, frame by frame and unread, until it answers
    /// our Close (or sends what cannot be frames, or closes the connection).
    fn poll_discard(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, SocketError>>> {
        let mut read = 0;
        loop {
            if self.reader.drain() != Drained::More {
                return Poll::Ready(None);
            }
            match ready!(self.poll_fill(cx)) {
                Ok(0) | Err(_) => return Poll::Ready(None),
                Ok(count) => read += count,
            }
            if read >= BYTES_PER_POLL {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }

    /// The protocol's own answers: a Pong for a Ping, a Close for the client's Close.
    fn answer(&mut self, message: &Message) {
        match message {
            Message::Ping(payload) => self.feed(Message::Pong(payload.clone())),
            Message::Close(frame) => {
                self.close_received = true;
                // The same code and reason back (RFC 6455 §5.5.1).
                self.feed(Message::Close(frame.clone()));
            }
            _ => {}
        }
    }

    /// Frames `message` to be written by the next flush. Nothing is written after a Close.
    pub(crate) fn feed(&mut self, message: Message) {
        if self.close_sent {
            return;
        }
        self.close_sent = matches!(message, Message::Close(_));
        self.writer.push(message);
    }

    /// Bytes framed and not yet written.
    pub(crate) fn buffered(&self) -> usize {
        self.writer.len()
    }

    /// Writes everything framed so far.
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Frames `message` and writes it with everything before it.
    pub(crate) async fn send(&mut self, message: Message) -> io::Result<()> {
        self.feed(message);
        self.flush().await
    }

    /// Writes what waits, unless the socket has taken nothing of it for the stall limit.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let waiting = self.writer.len();
        let flushed = self.poll_write(cx);
        if flushed.is_ready() || self.writer.len() < waiting {
            self.stalled = None;
        }
        if flushed.is_pending() {
            let limit = self.stall_limit;
            let stalled = self
                .stalled
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
            if stalled.as_mut().poll(cx).is_ready() {
                self.stalled = None;
                return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
            }
        }
        flushed
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.io {
            Io::Tcp(direct) => {
                // After whatever a direct write left half-written.
                ready!(direct.poll_before_loop_writes(cx))?;
                let stream = direct.socket();
                self.writer.poll_write_all(|slices| loop {
                    ready!(stream.poll_write_ready(cx))?;
                    match stream.try_write_vectored(slices) {
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                        written => return Poll::Ready(written),
                    }
                })
            }
            Io::Other(io) => {
                ready!(self
                    .writer
                    .poll_write_all(|slices| Pin::new(&mut *io).poll_write_vectored(cx, slices)))?;
                Pin::new(io).poll_flush(cx)
            }
        }
    }

    /// Reads what the socket has into the reader's input: how many bytes (0 at the end of the
    /// stream).
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let input = &mut self.reader.input;
        match &mut self.io {
            Io::Tcp(direct) => loop {
                let stream = direct.socket();
                ready!(stream.poll_read_ready(cx))?;
                input.reserve(READ_CHUNK);
                let room = input.capacity() - input.len();
                // A read shorter than its room emptied the socket: its readiness is cleared
                // with it (a `WouldBlock` out of `try_io`), which saves the next read, one that
                // would only find nothing. Bytes arriving later signal afresh.
                let mut count = 0;
                let read = stream.try_io(Interest::READABLE, || {
                    count = stream.try_read_buf(input)?;
                    if count > 0 && count < room {
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    Ok(())
                });
                match read {
                    Ok(()) => return Poll::Ready(Ok(count)),
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock && count > 0 => {
                        return Poll::Ready(Ok(count));
                    }
                    // Nothing to read: wait for readiness again.
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(error) => return Poll::Ready(Err(error)),
                }
            },
            Io::Other(io) => {
                let filled = input.len();
                input.resize(filled + READ_CHUNK, 0);
                let mut read = ReadBuf::new(&mut input[filled..]);
                let result = Pin::new(io).poll_read(cx, &mut read);
                let count = read.filled().len();
                input.truncate(filled + count);
                result.map_ok(|()| count)
            }
        }
    }
}
