//! The connection loop: one task per client that reads messages, dispatches them in order, sends
//! replies and queued messages, keeps the heartbeat, and performs the close handshake.

use crate::app::Endpoint;
use crate::close::{close_code, is_sendable_close_code, truncate_close_reason};
use crate::connection::Connection;
use crate::context::MessageContext;
use crate::endpoint::{Handler, Mode};
use crate::error::{ErrorOrigin, WsError};
use crate::inbound::InboundLimit;
use crate::lifecycle::{Caught, CloseSummary, ClosedBy, Lifecycle};
use crate::reply::Reply;
use crate::transport::{self, Socket};
use futures_util::stream::FuturesUnordered;
use futures_util::SinkExt;
use futures_util::{FutureExt, StreamExt};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::{sleep_until, timeout, Instant, Sleep};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, Utf8Bytes};

/// What the loop does next.
enum Flow {
    Continue,
    /// Send queued messages, then this Close frame, then wait for the client's Close.
    Close(CloseFrame),
    /// The client is gone (or closed first): nothing more can be sent.
    Ended,
}

fn close_with(code: u16, reason: &'static str) -> Flow {
    Flow::Close(CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from_static(reason),
    })
}

/// One connection's loop. It refers to its endpoint rather than copying the controller,
/// options, lifecycle and close timeout out of it: every idle connection's task holds this.
pub(crate) struct Session<'a, C> {
    endpoint: &'a Endpoint<C>,
    socket: Socket,
    connection: Connection,
    started: Instant,
    tally: Tally,
    /// Messages were handed to the socket since the last flush.
    unflushed: bool,
    /// Payload bytes handed to the socket since the last flush.
    unflushed_bytes: usize,
    /// A large message went through tungstenite, whose buffers kept its size: renew them
    /// before the connection idles (see [`Session::shrink`]).
    grown: bool,
}

/// Messages (or writes) larger than this leave tungstenite's buffers grown; see `grown`.
const GROWN_AFTER: usize = 1024;

/// How many already-arrived messages are handled before the loop flushes and looks elsewhere.
const MAX_BURST: u32 = 16;

/// What observers learn about the connection when it ends.
#[derive(Default)]
pub(crate) struct Tally {
    messages_in: u64,
    messages_out: u64,
    /// Who sent the first Close, with its code and reason.
    first_close: Option<(ClosedBy, u16, String)>,
    error: Option<String>,
}

impl<'a, C> Session<'a, C> {
    pub(crate) fn new(
        endpoint: &'a Endpoint<C>,
        socket: Socket,
        connection: Connection,
        started: Instant,
    ) -> Self {
        Self {
            endpoint,
            socket,
            connection,
            started,
            tally: Tally::default(),
            unflushed: false,
            unflushed_bytes: 0,
            grown: false,
        }
    }

    /// Runs the connection to its end and says how it ended.
    pub(crate) async fn run<H: Handler<C>>(mut self) -> CloseSummary {
        let mut flow = Flow::Continue;
        if self.endpoint.options.mode == Mode::SendOnly || self.endpoint.options.trigger_on_connect
        {
            flow = Box::pin(self.dispatch::<H>(None)).await;
        }
        if self.endpoint.options.mode == Mode::SendOnly {
            if let Flow::Continue = flow {
                flow = close_with(close_code::NORMAL, "");
            }
        }

        let mut heartbeat = self.endpoint.options.ping_interval.map(|interval| {
            Heartbeat::new(
                interval,
                self.endpoint.options.ping_timeout.unwrap_or(interval),
            )
        });
        let timer = sleep_until(
            heartbeat
                .as_ref()
                .map_or_else(far_future, Heartbeat::deadline),
        );
        tokio::pin!(timer);

        if let (Flow::Continue, true) = (&flow, self.endpoint.options.concurrency > 1) {
            // Boxed: its state stays off the task of every in-order connection.
            flow = Box::pin(self.serve_concurrently::<H>(&mut heartbeat, timer.as_mut())).await;
        }

        // In order: read, dispatch one message at a time, write. Inline rather than a method
        // of its own: every idle connection's task holds this state, and nesting grows it.
        let mut burst = 0;
        while let Flow::Continue = flow {
            // Messages that have already arrived are handled back to back and their replies
            // leave in one write; a burst is bounded so timers and queued messages get their turn.
            if burst < MAX_BURST {
                if let Some(incoming) = self.socket.next().now_or_never() {
                    burst += 1;
                    flow = self.on_incoming::<H>(incoming, heartbeat.as_mut()).await;
                    continue;
                }
            }
            burst = 0;
            flow = self.flush().await;
            if !matches!(flow, Flow::Continue) {
                break;
            }
            flow = tokio::select! {
                biased;
                incoming = self.socket.next() => self.on_incoming::<H>(incoming, heartbeat.as_mut()).await,
                () = self.connection.woken() => self.on_wake().await,
                () = &mut timer, if heartbeat.is_some() => self.on_timer(&mut heartbeat, timer.as_mut()).await,
            };
        }

        if let Flow::Close(frame) = flow {
            Box::pin(self.close(frame)).await;
        }
        self.summary()
    }

    /// The loop of [`Session::run`], with up to `concurrency` handler calls running at once;
    /// each reply is sent when its call finishes. When the connection is to end, the calls
    /// still running are finished first (their replies sent if the connection can still take
    /// them).
    async fn serve_concurrently<H: Handler<C>>(
        &mut self,
        heartbeat: &mut Option<Heartbeat>,
        mut timer: Pin<&mut Sleep>,
    ) -> Flow {
        let (controller, lifecycle) = (&*self.endpoint.controller, &self.endpoint.lifecycle);
        let limit = self.endpoint.options.concurrency;
        let mut running = FuturesUnordered::new();
        let mut flow = Flow::Continue;
        while let Flow::Continue = flow {
            flow = match self.flush().await {
                Flow::Continue => tokio::select! {
                    biased;
                    Some(reply) = running.next() => self.after_call::<H>(reply).await,
                    incoming = self.socket.next(), if running.len() < limit => match incoming {
                        Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                            self.tally.messages_in += 1;
                            let connection = self.connection.clone();
                            running.push(call::<C, H>(controller, lifecycle, connection, Some(message)));
                            Flow::Continue
                        }
                        other => self.on_incoming::<H>(other, heartbeat.as_mut()).await,
                    },
                    () = self.connection.woken() => self.on_wake().await,
                    // While every slot is busy the client is not read, so a Pong may be
                    // waiting unread: the heartbeat waits too, as it does for a handler in order.
                    () = &mut timer, if heartbeat.is_some() && running.len() < limit => {
                        self.on_timer(heartbeat, timer.as_mut()).await
                    }
                },
                stop => stop,
            };
        }
        while let Some(reply) = running.next().await {
            if let Flow::Close(_) = flow {
                // The first stop decides how the connection ends; later ones are moot.
                let _ = self.after_call::<H>(reply).await;
            }
        }
        flow
    }

    /// The heartbeat's timer fired: ping, give up on a silent client, or wait on.
    async fn on_timer(
        &mut self,
        heartbeat: &mut Option<Heartbeat>,
        timer: Pin<&mut Sleep>,
    ) -> Flow {
        let Some(beat) = heartbeat.as_mut() else {
            return Flow::Continue;
        };
        let flow = match beat.on_timer(Instant::now()) {
            Beat::Ping => self.send(Message::Ping(Default::default())).await,
            Beat::TimedOut => close_with(close_code::INTERNAL_ERROR, "ping timeout"),
            Beat::Wait => Flow::Continue,
        };
        timer.reset(beat.deadline());
        flow
    }

    fn summary(self) -> CloseSummary {
        let (closed_by, code, reason) = match self.tally.first_close {
            Some((closed_by, code, reason)) => (closed_by, Some(code), reason),
            None => (ClosedBy::Network, None, String::new()),
        };
        CloseSummary {
            client_id: Some(self.connection.id()),
            path: self.connection.handshake().uri().path().to_owned(),
            closed_by,
            code,
            reason,
            duration: self.started.elapsed(),
            messages_in: self.tally.messages_in,
            messages_out: self.tally.messages_out,
            error: self.tally.error,
        }
    }

    async fn on_incoming<H: Handler<C>>(
        &mut self,
        incoming: Option<Result<Message, tungstenite::Error>>,
        heartbeat: Option<&mut Heartbeat>,
    ) -> Flow {
        match incoming {
            Some(Ok(message)) => self.on_message::<H>(message, heartbeat).await,
            Some(Err(error)) => {
                self.tally.error = Some(error.to_string());
                close_for_protocol_error(error)
            }
            None => Flow::Ended,
        }
    }

    /// Something besides the client needs the loop: an eviction, a close request, or queued
    /// messages.
    async fn on_wake(&mut self) -> Flow {
        if self.connection.is_evicted() {
            return slow_consumer();
        }
        match self.connection.take_close_request() {
            Some(frame) => Flow::Close(frame),
            None => self.send_queued().await,
        }
    }

    async fn on_message<H: Handler<C>>(
        &mut self,
        message: Message,
        heartbeat: Option<&mut Heartbeat>,
    ) -> Flow {
        match message {
            // (A SendOnly endpoint never gets here: it closes right after its one call.)
            Message::Text(_) | Message::Binary(_) => {
                self.grown |= crate::context::payload(&message).len() > GROWN_AFTER;
                // Boxed: a handler's future lives only while it runs, so an idle connection's
                // task stays small (one allocation per message buys ~1 KiB per idle client).
                let flow = Box::pin(self.dispatch::<H>(Some(message))).await;
                // A client sending a burst gives way every so many messages, so the tasks that
                // write what its messages sent to others (a room, a broadcast) get their turn
                // before their queues fill.
                tokio::task::consume_budget().await;
                flow
            }
            Message::Pong(_) => {
                if let Some(heartbeat) = heartbeat {
                    heartbeat.on_pong();
                }
                Flow::Continue
            }
            // The client closed first; tungstenite answers its Close while we read on.
            Message::Close(frame) => {
                let (code, reason) = frame
                    .map_or((close_code::NO_STATUS, String::new()), |frame| {
                        (u16::from(frame.code), frame.reason.to_string())
                    });
                self.tally.first_close = Some((ClosedBy::Client, code, reason));
                timeout(
                    self.endpoint.app.settings.close_timeout,
                    self.wait_for_end(),
                )
                .await
                .ok();
                Flow::Ended
            }
            // Pings are answered by tungstenite.
            _ => Flow::Continue,
        }
    }

    /// One handler call through the interceptors, with errors through the catchers; then what
    /// the handler queued and its reply are sent, in that order.
    async fn dispatch<H: Handler<C>>(&mut self, body: Option<Message>) -> Flow {
        if body.is_some() {
            self.tally.messages_in += 1;
        }
        let connection = self.connection.clone();
        let reply = call::<C, H>(
            &*self.endpoint.controller,
            &self.endpoint.lifecycle,
            connection,
            body,
        )
        .await;
        self.after_call::<H>(reply).await
    }

    /// After a handler call: what it queued, its reply, then a close it asked for.
    async fn after_call<H: Handler<C>>(&mut self, reply: Reply) -> Flow {
        if let Flow::Ended = self.send_queued().await {
            return Flow::Ended;
        }
        match self.deliver::<H>(reply).await {
            Flow::Continue => {}
            stop => return stop,
        }
        match self.connection.take_close_request() {
            Some(frame) => Flow::Close(frame),
            None => Flow::Continue,
        }
    }

    /// Sends a reply: a message, each item of a stream, or what the catchers make of an error.
    async fn deliver<H: Handler<C>>(&mut self, reply: Reply) -> Flow {
        let Reply::Stream(mut items) = reply else {
            return self.deliver_one::<H>(reply).await;
        };
        loop {
            let item = match AssertUnwindSafe(items.next()).catch_unwind().await {
                Ok(Some(item)) => item,
                Ok(None) => return Flow::Continue,
                Err(panic) => Reply::Error(panicked(&*panic)),
            };
            match self.deliver_one::<H>(item).await {
                Flow::Continue => {}
                stop => return stop,
            }
        }
    }

    async fn deliver_one<H: Handler<C>>(&mut self, reply: Reply) -> Flow {
        let reply = match reply {
            // Errors are rare: their handling is boxed so it does not grow every idle
            // connection's task.
            Reply::Error(error) => match Box::pin(self.catch::<H>(error)).await {
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
    async fn catch<H: Handler<C>>(&mut self, error: WsError) -> Result<Reply, CloseFrame> {
        tracing::debug!(client_id = %self.connection.id(), %error, "error on the way to a reply");
        let ctx = MessageContext::new(self.connection.clone(), None);
        H::on_error(&*self.endpoint.controller, &ctx, &error).await;
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

    /// Hands one message to the socket (written at the next flush, or sooner when much is
    /// buffered). A client evicted as a slow consumer is not waited for: the write is abandoned
    /// and the connection closes.
    async fn send(&mut self, message: Message) -> Flow {
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            self.tally.messages_out += 1;
        }
        let size = crate::context::payload(&message).len();
        tokio::select! {
            biased;
            fed = self.socket.feed(message) => match fed {
                Ok(()) => {
                    self.unflushed = true;
                    self.unflushed_bytes += size;
                    Flow::Continue
                }
                Err(_) => Flow::Ended,
            },
            () = self.connection.evicted() => slow_consumer(),
        }
    }

    /// Writes what `send` buffered; the loop calls it before it waits. Then, if a large
    /// message grew tungstenite's buffers, renews them (see [`Session::shrink`]).
    async fn flush(&mut self) -> Flow {
        if self.unflushed {
            let flushed = tokio::select! {
                biased;
                flushed = self.socket.flush() => match flushed {
                    Ok(()) => {
                        self.unflushed = false;
                        self.grown |= self.unflushed_bytes > GROWN_AFTER;
                        self.unflushed_bytes = 0;
                        Flow::Continue
                    }
                    Err(_) => Flow::Ended,
                },
                () = self.connection.evicted() => slow_consumer(),
            };
            if !matches!(flushed, Flow::Continue) {
                return flushed;
            }
        }
        if self.grown {
            // Boxed: rare, and its state (a whole new tungstenite state being built) would
            // otherwise grow every idle connection's task.
            Box::pin(self.shrink()).await;
        }
        Flow::Continue
    }

    /// Gives tungstenite fresh buffers once a large message has gone through (its read and
    /// write buffers keep the capacity of the largest message they carried, for the
    /// connection's life): an idle connection returns to the idle figure. Only between the
    /// client's messages and with everything written; otherwise it waits for a later turn.
    async fn shrink(&mut self) {
        if !self.socket.get_ref().at_message_boundary() {
            return;
        }
        // Writes what tungstenite may still hold (a Pong); if the socket cannot take it now,
        // the next flush will.
        match self.socket.flush().now_or_never() {
            Some(Ok(())) => {}
            _ => {
                self.unflushed = true;
                return;
            }
        }
        transport::renew(&mut self.socket).await;
        self.grown = false;
    }

    /// Sends every message already in the outbound queue.
    async fn send_queued(&mut self) -> Flow {
        while let Some(message) = self.connection.outbound().pop() {
            match self.send(message).await {
                Flow::Continue => {}
                stop => return stop,
            }
        }
        Flow::Continue
    }

    /// Queued messages (unless the client was evicted for not reading them), then the Close
    /// frame, then the client's Close: all within the close timeout.
    async fn close(&mut self, frame: CloseFrame) {
        self.tally.first_close.get_or_insert_with(|| {
            (
                ClosedBy::Server,
                u16::from(frame.code),
                frame.reason.to_string(),
            )
        });
        let close_timeout = self.endpoint.app.settings.close_timeout;
        let handshake = async {
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

    /// Reads (and drops) what the client still sends until its Close completes the handshake.
    async fn wait_for_end(&mut self) {
        while let Some(Ok(_)) = self.socket.next().await {}
    }
}

/// One handler call through the interceptors; a panic becomes an error reply.
async fn call<C, H: Handler<C>>(
    controller: &C,
    lifecycle: &Lifecycle,
    connection: Connection,
    body: Option<Message>,
) -> Reply {
    let mut ctx = MessageContext::new(connection, body);
    let called = AssertUnwindSafe(lifecycle.call::<C, H>(controller, &mut ctx))
        .catch_unwind()
        .await;
    match called {
        // An error answers the request it arose from, wherever on the way it arose.
        Ok(Reply::Error(error)) if error.ack().is_none() => {
            Reply::Error(error.answering(H::request_id(&ctx)))
        }
        Ok(reply) => reply,
        Err(panic) => Reply::Error(panicked(&*panic).answering(H::request_id(&ctx))),
    }
}

fn slow_consumer() -> Flow {
    close_with(close_code::POLICY_VIOLATION, "slow consumer")
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

/// A protocol error worth telling the client about gets its close code; anything else means the
/// TCP connection is already gone.
fn close_for_protocol_error(error: tungstenite::Error) -> Flow {
    match error {
        tungstenite::Error::Io(error) => match error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<InboundLimit>())
        {
            Some(limit) => {
                let (code, reason) = limit.close();
                close_with(code, reason)
            }
            None => Flow::Ended,
        },
        tungstenite::Error::Capacity(_) => {
            close_with(close_code::MESSAGE_TOO_BIG, "message too big")
        }
        tungstenite::Error::Utf8(_) => close_with(close_code::INVALID_PAYLOAD, "invalid UTF-8"),
        tungstenite::Error::Protocol(_) => close_with(close_code::PROTOCOL_ERROR, "protocol error"),
        _ => Flow::Ended,
    }
}

/// A deadline the timer can hold when no heartbeat is configured (the branch is then disabled).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// Server-side pings: one every `interval`; no Pong within `timeout` of a Ping ends the connection.
struct Heartbeat {
    interval: Duration,
    timeout: Duration,
    next_ping: Instant,
    pong_deadline: Option<Instant>,
}

enum Beat {
    Ping,
    TimedOut,
    Wait,
}

impl Heartbeat {
    fn new(interval: Duration, timeout: Duration) -> Self {
        Self {
            interval,
            timeout,
            next_ping: Instant::now() + interval,
            pong_deadline: None,
        }
    }

    fn deadline(&self) -> Instant {
        self.pong_deadline
            .map_or(self.next_ping, |deadline| deadline.min(self.next_ping))
    }

    fn on_timer(&mut self, now: Instant) -> Beat {
        if self.pong_deadline.is_some_and(|deadline| deadline <= now) {
            return Beat::TimedOut;
        }
        if self.next_ping > now {
            return Beat::Wait;
        }
        self.next_ping = now + self.interval;
        self.pong_deadline.get_or_insert(now + self.timeout);
        Beat::Ping
    }

    fn on_pong(&mut self) {
        self.pong_deadline = None;
    }
}
