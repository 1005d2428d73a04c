//! What one handler call leads to: the call through the interceptors, then what it queued, its
//! reply (each item of a stream) or what the catchers make of its error, then a close it asked
//! for.

use super::{Driver, Flow, HELD_BYTES, HELD_MESSAGES};
use crate::base::close::{close_code, is_sendable_close_code, truncate_close_reason};
use crate::base::error::{ErrorOrigin, WsError};
use crate::call::context::MessageContext;
use crate::call::lifecycle::Caught;
use crate::call::reply::Reply;
use crate::endpoint::{Endpoint, Mode};
use crate::io::direct;
use futures_util::{FutureExt, StreamExt};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, Utf8Bytes};

impl Driver<'_> {
    /// One handler call through the interceptors, with errors through the catchers; then what
    /// the handler queued and its reply are sent, in that order.
    pub(super) async fn dispatch(&mut self, body: Option<Message>) -> Flow {
        if body.is_some() {
            self.tally.messages_in += 1;
        }
        let ctx = MessageContext::new(self.connection.clone(), body);
        let burst = self.socket.has_more_input();
        let call = direct::scoped(burst, call(self.endpoint, ctx));
        let reply = if self.endpoint.gateway {
            Box::pin(self.answering(call)).await
        } else {
            call.await
        };
        self.after_call(reply).await
    }

    /// Runs a gateway's call to its end while the client is still read for the protocol's own
    /// messages and written what is queued for it: the handler may await the client's answer
    /// to its request (`Connection::request`), and `$ping`s and `$ack`s are taken as they come.
    /// Other messages are held, in order, for after the call (up to [`HELD_MESSAGES`] and
    /// [`HELD_BYTES`]; past them, or after the connection's end, the client is read no further
    /// until the call ends, as in order it would not be). A close asked for, or an eviction,
    /// waits for the call too.
    async fn answering(&mut self, call: impl Future<Output = Reply>) -> Reply {
        tokio::pin!(call);
        let mut writing = true;
        // Its own handle: the select below borrows `self` in other arms.
        let connection = self.connection.clone();
        loop {
            let reading = self.holds_more();
            if !reading && !writing {
                return call.await;
            }
            let incoming = tokio::select! {
                biased;
                reply = &mut call => return reply,
                () = connection.woken(), if writing => {
                    let mut flow = self.send_queued().await;
                    if let Flow::Continue = flow {
                        flow = self.flush().await;
                    }
                    if !matches!(flow, Flow::Continue) {
                        self.held.push_back(None);
                        writing = false;
                    } else if self.connection.must_stop() {
                        self.connection.wake_again();
                        writing = false;
                    }
                    continue;
                }
                incoming = self.socket.next(), if reading => incoming,
            };
            if let Some(Ok(message)) = &incoming {
                let flow = match self.on_protocol(message).await {
                    Some(Flow::Continue) => Some(self.flush().await),
                    other => other,
                };
                match flow {
                    Some(Flow::Continue) => continue,
                    // A `$pong` that could not be written: the connection is gone.
                    Some(_) => {
                        self.held.push_back(None);
                        continue;
                    }
                    None => {}
                }
            }
            self.held.push_back(incoming);
        }
    }

    /// Whether the client may be read for more while a call runs: nothing that ends the
    /// connection is held, and what is held is within its bounds.
    fn holds_more(&self) -> bool {
        let ended = self
            .held
            .back()
            .is_some_and(|last| !matches!(last, Some(Ok(message)) if !message.is_close()));
        let bytes: usize = self
            .held
            .iter()
            .map(|held| match held {
                Some(Ok(message)) => message.len(),
                _ => 0,
            })
            .sum();
        !ended && self.held.len() < HELD_MESSAGES && bytes < HELD_BYTES
    }

    /// After a handler call: what it queued, its reply, then a close it asked for.
    pub(super) async fn after_call(&mut self, reply: Reply) -> Flow {
        if let Flow::Ended = self.send_queued().await {
            return Flow::Ended;
        }
        match self.deliver(reply).await {
            Flow::Continue => {}
            stop => return stop,
        }
        match self.connection.take_close_request() {
            Some(frame) => Flow::Close(frame),
            None => Flow::Continue,
        }
    }

    /// Sends a reply: a message, each item of a stream, or what the catchers make of an error.
    async fn deliver(&mut self, reply: Reply) -> Flow {
        let Reply::Stream(mut items) = reply else {
            return self.deliver_one(reply).await;
        };
        loop {
            let item = match AssertUnwindSafe(items.next()).catch_unwind().await {
                Ok(Some(item)) => item,
                Ok(None) => return Flow::Continue,
                Err(panic) => Reply::Error(panicked(&*panic)),
            };
            match self.deliver_one(item).await {
                Flow::Continue => {}
                stop => return stop,
            }
        }
    }

    async fn deliver_one(&mut self, reply: Reply) -> Flow {
        let reply = match reply {
            // Errors are rare: their handling is boxed so it does not grow every idle
            // connection's task.
            Reply::Error(error) => match Box::pin(self.catch(error)).await {
                Ok(reply) => reply,
                Err(frame) => return Flow::Close(frame),
            },
            other => other,
        };
        match reply {
            Reply::Message(message) if self.endpoint.options.mode != Mode::ReceiveOnly => {
                self.send(message).await
            }
            // Nothing to send; a ReceiveOnly endpoint never sends data; a stream inside a
            // stream item is not flattened.
            _ => Flow::Continue,
        }
    }

    /// The catchers' decision: a reply, or a Close frame.
    async fn catch(&mut self, error: WsError) -> Result<Reply, CloseFrame> {
        tracing::debug!(client_id = %self.connection.id(), %error, "error on the way to a reply");
        let ctx = MessageContext::new(self.connection.clone(), None);
        self.endpoint.handler.on_error(&ctx, &error).await;
        match self
            .endpoint
            .lifecycle
            .catch(&error, &self.connection)
            .await
        {
            Caught::Close(code, reason) => {
                self.tally.error = Some(error.to_string());
                let code = if is_sendable_close_code(code) {
                    code
                } else {
                    close_code::INTERNAL_ERROR
                };
                Err(CloseFrame {
                    code: CloseCode::from(code),
                    reason: Utf8Bytes::from(truncate_close_reason(&reason)),
                })
            }
            Caught::Reply(reply) => Ok(reply),
            Caught::Pass => Ok(Reply::Nothing),
        }
    }
}

/// One handler call through the interceptors; a panic becomes an error reply.
pub(super) async fn call(endpoint: &Endpoint, mut ctx: MessageContext) -> Reply {
    let called = AssertUnwindSafe(endpoint.lifecycle.call(&*endpoint.handler, &mut ctx))
        .catch_unwind()
        .await;
    let request_id = |ctx: &MessageContext| endpoint.handler.request_id(ctx);
    match called {
        // An error answers the request it arose from, wherever on the way it arose.
        Ok(Reply::Error(error)) if error.ack().is_none() => {
            Reply::Error(error.answering(request_id(&ctx)))
        }
        Ok(reply) => reply,
        Err(panic) => Reply::Error(panicked(&*panic).answering(request_id(&ctx))),
    }
}

/// The error a panic becomes, for the catchers.
fn panicked(panic: &(dyn std::any::Any + Send)) -> WsError {
    let error = WsError::internal(format!("handler panicked: {}", panic_message(panic)))
        .with_origin(ErrorOrigin::Panic);
    tracing::error!(%error, "handler panicked");
    error
}

/// The text a panic was raised with, when it was a string.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
