//! Writes straight into a client's socket from whoever sends: a message for a connection whose
//! loop has nothing queued, buffered or half-written goes out at once, with one `writev` on the
//! sender's thread, and the connection's task is not woken (uWebSockets writes from its
//! publishing loop the same way). Everything else takes the outbound queue: a socket that would
//! block, a loop with something of its own to write, anything but text and binary.
//!
//! The order a client sees stays the order of the sends: a direct write happens only while the
//! gate is open, and the gate opens only when the loop has written everything it had and the
//! queue is empty. Whatever the loop writes closes it first (see [`Direct::close`]).
//!
//! A burst is the exception: what a handler sends while more of its client's messages already
//! wait to be handled takes the queue (see [`scoped`]), so each recipient's loop writes the
//! burst's messages together in a few writes instead of one write per message (uWebSockets
//! corks a socket's writes while it handles what one read brought, to the same end).
//!
//! Plain TCP connections of endpoints without resumable sessions only: a resumable session
//! numbers and keeps every message it writes, and TLS has to go through its stream.

use crate::base::send::payload;
use crate::base::send::SendError;
use crate::base::sync::lock;
use crate::io::frame::{OpCode, ServerHeader};
use bytes::{Buf, Bytes, BytesMut};
use std::future::Future;
use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{ready, Context, Poll};
use tokio::net::TcpStream;
use tungstenite::Message;

tokio::task_local! {
    /// Whether the handler call running in this task is one of a burst.
    static IN_BURST: bool;
}

/// Runs a handler call; when `burst` (more of the client's messages wait behind this one), what
/// it sends takes the recipients' queues rather than their sockets.
pub(crate) async fn scoped<F: Future>(burst: bool, call: F) -> F::Output {
    IN_BURST.scope(burst, call).await
}

/// Messages larger than this always take the queue: a direct write that the socket takes only in
/// part leaves its rest to the loop, copied.
const LARGEST_DIRECT: usize = 16 * 1024;

/// A client's TCP socket with its gate: the loop owns it (through its transport), and its
/// [`Connection`](crate::Connection) holds it weakly, so it still closes when the loop drops it.
pub(crate) struct Direct {
    socket: TcpStream,
    /// Nothing is queued, buffered or half-written: a message may go straight to the socket.
    /// Changed only with `gate` held; only the loop opens it, so the loop may read it alone.
    open: AtomicBool,
    gate: Mutex<Gate>,
    /// Messages written here, for the connection's summary.
    written: AtomicU64,
}

#[derive(Default)]
struct Gate {
    /// The connection is closing: the gate never opens again.
    shut: bool,
    /// The end of a frame the socket took only in part: the loop writes it before anything else.
    rest: Option<Bytes>,
}

/// What [`Direct::send`] did with a message.
pub(crate) enum Sent {
    /// On its way: the loop need not be woken.
    Written,
    /// The loop has something to write: the message (queued) or the rest of it.
    ToTheLoop,
}

impl Direct {
    pub(crate) fn new(socket: TcpStream) -> Self {
        Self {
            socket,
            open: AtomicBool::new(false),
            gate: Mutex::default(),
            written: AtomicU64::new(0),
        }
    }

    pub(crate) fn socket(&self) -> &TcpStream {
        &self.socket
    }

    /// Writes `message` to the socket now if the gate is open and the socket takes it;
    /// otherwise hands it to `queue` (with the gate held, so no direct write overtakes it).
    pub(crate) fn send(
        &self,
        message: Message,
        queue: impl FnOnce(Message) -> Result<(), SendError>,
    ) -> Result<Sent, SendError> {
        let mut gate = self.lock();
        if self.is_open() && !IN_BURST.try_with(|burst| *burst).unwrap_or(false) {
            if let Some(header) = header(&message) {
                let payload = payload(&message);
                let frame = [IoSlice::new(&header), IoSlice::new(payload)];
                match self.socket.try_write_vectored(&frame) {
                    Ok(count) => {
                        self.written.fetch_add(1, Ordering::Relaxed);
                        let length = header.len() + payload.len();
                        if count == length {
                            return Ok(Sent::Written);
                        }
                        let mut rest = BytesMut::with_capacity(length);
                        rest.extend_from_slice(&header);
                        rest.extend_from_slice(payload);
                        rest.advance(count);
                        gate.rest = Some(rest.freeze());
                        self.set_open(false);
                        return Ok(Sent::ToTheLoop);
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => {
                        self.set_open(false);
                        gate.shut = true;
                        return Err(SendError::Closed);
                    }
                }
            }
        }
        self.set_open(false);
        queue(message)?;
        Ok(Sent::ToTheLoop)
    }

    /// The loop is about to buffer or write something of its own: no direct write until it
    /// has written it all.
    pub(crate) fn close(&self) {
        // Closed already: only the loop (the caller) opens it.
        if self.is_open() {
            let _gate = self.lock();
            self.set_open(false);
        }
    }

    /// The connection is closing: no direct write ever again.
    pub(crate) fn shut(&self) {
        let mut gate = self.lock();
        self.set_open(false);
        gate.shut = true;
    }

    /// The loop has written everything it had: direct writes may go on, unless something is
    /// queued (`queue_is_empty` is asked with the gate held) or left half-written.
    pub(crate) fn reopen(&self, queue_is_empty: impl FnOnce() -> bool) {
        let gate = self.lock();
        self.set_open(!gate.shut && gate.rest.is_none() && queue_is_empty());
    }

    /// Senders may write straight to the socket now.
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Only with the gate held.
    fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::Release);
    }

    /// Closes the gate and writes what a direct write left, before the loop writes anything.
    pub(crate) fn poll_before_loop_writes(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut gate = self.lock();
        self.set_open(false);
        while let Some(rest) = gate.rest.as_mut() {
            ready!(self.socket.poll_write_ready(cx))?;
            match self.socket.try_write(rest) {
                Ok(count) => rest.advance(count),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Poll::Ready(Err(error)),
            }
            if rest.is_empty() {
                gate.rest = None;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// How many messages were written here.
    pub(crate) fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Gate> {
        lock(&self.gate)
    }
}

/// The header of the frame that carries `message`; `None` for what only the loop writes
/// (control frames, large messages).
fn header(message: &Message) -> Option<ServerHeader> {
    let opcode = match message {
        Message::Text(_) => OpCode::Text,
        Message::Binary(_) => OpCode::Binary,
        _ => return None,
    };
    let length = payload(message).len();
    (length <= LARGEST_DIRECT).then(|| ServerHeader::new(opcode, length))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A connected socket with its gate, and the client's end.
    async fn connected() -> (Direct, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (Direct::new(accepted.unwrap().0), client.unwrap())
    }

    fn frame(message: &Message) -> Vec<u8> {
        [&*header(message).unwrap(), payload(message)].concat()
    }

    #[tokio::test]
    async fn a_full_socket_gets_whole_frames_in_order_and_the_rest_waits_for_the_loop() {
        let (direct, mut client) = connected().await;
        direct.socket().writable().await.unwrap();
        direct.reopen(|| true);
        let queued = std::cell::RefCell::new(Vec::new());
        let queue = |message| {
            queued.borrow_mut().push(message);
            Ok(())
        };

        // Written until the socket is full: the last one in part, or not at all.
        let mut expected = Vec::new();
        for seq in 0u32.. {
            let message = Message::binary(vec![seq as u8; 10_000]);
            match direct.send(message.clone(), queue).unwrap() {
                Sent::Written => expected.extend(frame(&message)),
                Sent::ToTheLoop => {
                    if queued.borrow().is_empty() {
                        // Taken in part: its rest is the loop's to write.
                        expected.extend(frame(&message));
                    }
                    break;
                }
            }
        }
        // The gate is closed: what follows queues, behind the rest.
        let after = Message::text("after");
        assert!(matches!(
            direct.send(after.clone(), queue),
            Ok(Sent::ToTheLoop)
        ));
        assert_eq!(queued.borrow().last(), Some(&after));
        direct.reopen(|| false);
        assert!(
            !direct.is_open(),
            "a queue with messages keeps the gate closed"
        );

        // The loop writes the rest while the client reads; then the socket closes.
        let reader = tokio::spawn(async move {
            let mut received = Vec::new();
            client.read_to_end(&mut received).await.unwrap();
            received
        });
        std::future::poll_fn(|cx| direct.poll_before_loop_writes(cx))
            .await
            .unwrap();
        direct.reopen(|| true);
        assert!(
            direct.is_open(),
            "written out and nothing queued: open again"
        );
        direct.shut();
        direct.reopen(|| true);
        assert!(!direct.is_open(), "a shut gate stays shut");
        drop(direct);
        let received = reader.await.unwrap();
        assert_eq!(received.len(), expected.len());
        assert!(
            received == expected,
            "the frames arrived damaged or out of order"
        );
    }

    #[test]
    fn only_text_and_binary_up_to_the_direct_limit_go_direct() {
        assert!(header(&Message::binary(vec![0; LARGEST_DIRECT])).is_some());
        assert!(header(&Message::binary(vec![0; LARGEST_DIRECT + 1])).is_none());
        assert!(header(&Message::Ping(Default::default())).is_none());
    }
}
