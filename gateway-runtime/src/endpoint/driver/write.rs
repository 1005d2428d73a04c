//! What writes to the client: replies and queued messages handed to the socket, flushes (and
//! the renewal of tungstenite's buffers after a large message), and the close handshake.

use super::{slow_consumer, Driver, Flow};
use crate::call::connection::Connection;
use crate::call::lifecycle::ClosedBy;
use crate::endpoint::resume::replay::Replay;
use crate::endpoint::resume::replay_of;
use futures_util::FutureExt;
use std::future::Future;
use std::pin::pin;
use tokio::time::timeout;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;

/// How much of the outbound queue the loop takes at once (see [`Outbound::pop_batch`]).
///
/// [`Outbound::pop_batch`]: crate::io::outbound::Outbound::pop_batch
const BATCH_BYTES: usize = 64 * 1024;

/// How much the loop buffers before it writes without waiting for its turn to flush.
const FLUSH_AT: usize = 64 * 1024;

impl Driver<'_> {
    /// Sends what the connection itself answers (a reply, an error, a hook's value). In a
    /// cluster, a resumable session's message goes through the journal and is written when it
    /// comes back, in the journal's order.
    pub(super) async fn send(&mut self, message: Message) -> Flow {
        if !self.connection.as_member().takes_fan_out()
            && matches!(message, Message::Text(_) | Message::Binary(_))
        {
            let (hub, id) = (&self.endpoint.app.hub, self.connection.id());
            hub.send_through_journal(id, self.connection.as_member(), message);
            return Flow::Continue;
        }
        self.write_counted(message).await
    }

    /// Hands one message to the socket (see [`write`](Self::write)); a data message counts,
    /// and in a resumable session gets the next number and is kept until acknowledged.
    pub(super) async fn write_counted(&mut self, message: Message) -> Flow {
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            self.tally.messages_out += 1;
            if let Some(replay) = replay_of(&self.connection) {
                replay.number(&message);
            }
        }
        self.write(message).await
    }

    /// Hands one message to the socket: written at the next flush, or at once when much is
    /// buffered (a long stream of replies). A client evicted as a slow consumer is not waited
    /// for: the write is abandoned and the connection closes.
    pub(super) async fn write(&mut self, message: Message) -> Flow {
        if let Some(direct) = self.socket.direct() {
            // Buffered from here until the flush: no sender may write ahead of it.
            direct.close();
        }
        self.socket.feed(message);
        if self.socket.buffered() < FLUSH_AT {
            return Flow::Continue;
        }
        self.flush_socket().await
    }

    /// Writes what `send` buffered; the loop calls it before it waits.
    pub(super) async fn flush(&mut self) -> Flow {
        // What the socket holds (replies, and the Pongs it answered on its own), and what a
        // direct write may have left of a frame behind a closed gate, senders waiting for it.
        let gate_closed = self.socket.direct().is_some_and(|d| !d.is_open());
        if self.socket.buffered() > 0 || gate_closed {
            if let stop @ (Flow::Close(_) | Flow::Ended) = self.flush_socket().await {
                return stop;
            }
        }
        if let Some(direct) = self.socket.direct().filter(|d| !d.is_open()) {
            // Everything is written: senders may write straight to the socket until the loop
            // has something of its own again.
            let outbound = self.connection.outbound();
            direct.reopen(|| outbound.is_empty());
        }
        Flow::Continue
    }

    /// Writes everything buffered, unless the client is evicted first.
    async fn flush_socket(&mut self) -> Flow {
        match unless_evicted(&self.connection, self.socket.flush()).await {
            None => slow_consumer(),
            Some(Err(_)) => Flow::Ended,
            Some(Ok(())) => Flow::Continue,
        }
    }

    /// Sends every message already in the outbound queue, a batch at a time.
    pub(super) async fn send_queued(&mut self) -> Flow {
        loop {
            let batch = self.connection.outbound().pop_batch(BATCH_BYTES);
            if batch.is_empty() {
                return Flow::Continue;
            }
            for message in batch {
                match self.write_counted(message).await {
                    Flow::Continue => {}
                    stop => return stop,
                }
            }
        }
    }

    /// Queued messages (unless the client was evicted for not reading them), then the Close
    /// frame, then the client's Close: all within the close timeout.
    pub(super) async fn close(&mut self, frame: CloseFrame) {
        self.shut_direct();
        self.tally.first_close.get_or_insert_with(|| {
            (
                ClosedBy::Server,
                u16::from(frame.code),
                frame.reason.to_string(),
            )
        });
        let close_timeout = self.endpoint.app.settings.close_timeout;
        if replay_of(&self.connection).is_some_and(Replay::goes_on_elsewhere) {
            // The session goes on elsewhere: what is queued is the new connection's, and the
            // old one is not waited for (it may be the one that went silent).
            let _ = timeout(close_timeout, self.socket.send(Message::Close(Some(frame)))).await;
            return;
        }
        let handshake = async {
            // In a cluster, what the session sent through the journal comes back first.
            #[cfg(feature = "redis")]
            self.await_journal().await;
            // Eviction during the flush stops it (Flow::Close) but still sends the Close frame.
            if !self.connection.is_evicted() {
                if let Flow::Ended = self.send_queued().await {
                    return;
                }
            }
            if self.socket.send(Message::Close(Some(frame))).await.is_ok() {
                self.wait_for_end().await;
            }
        };
        if timeout(close_timeout, handshake).await.is_err() {
            tracing::debug!(client_id = %self.connection.id(), "close timeout; dropping the connection");
        }
    }

    /// Writes what comes back from the journal until nothing the session sent is still on its
    /// way (a reply sent just before a close is written before the Close frame).
    #[cfg(feature = "redis")]
    async fn await_journal(&mut self) {
        let connection = self.connection.clone();
        let Some(journal) = replay_of(&connection).and_then(|replay| replay.journal()) else {
            return;
        };
        while journal.in_flight() > 0 {
            connection.woken().await;
            if let Flow::Ended = self.send_queued().await {
                return;
            }
        }
    }

    /// No sender writes straight to the socket any more: the connection is closing.
    pub(super) fn shut_direct(&self) {
        if let Some(direct) = self.socket.direct() {
            direct.shut();
        }
    }

    /// Reads (and drops) what the client still sends until its Close completes the handshake.
    pub(super) async fn wait_for_end(&mut self) {
        while let Some(Ok(_)) = self.socket.next().await {}
    }
}

/// `io`'s result, unless the client is evicted as a slow consumer first (`None`). Most writes
/// and flushes complete at once: only one that has to wait also watches for eviction.
async fn unless_evicted<F: Future>(connection: &Connection, io: F) -> Option<F::Output> {
    let mut io = pin!(io);
    if let Some(done) = io.as_mut().now_or_never() {
        return Some(done);
    }
    tokio::select! {
        biased;
        done = io => Some(done),
        () = connection.evicted() => None,
    }
}
