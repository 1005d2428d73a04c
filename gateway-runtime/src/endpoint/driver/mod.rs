//! The connection loop: one task per client that reads messages, dispatches them (in order, or
//! up to `concurrency` at once), sends replies and queued messages, keeps the heartbeat, and
//! performs the close handshake. The loop and what reads the client are here; what a handler
//! call leads to is in `reply`, what writes to the client in `write`.

mod dispatch;
mod heartbeat;
mod running;
mod write;

use crate::base::close::close_code;
use crate::base::protocol::{self, ClientSays, FreshReason};
use crate::call::connection::Connection;
use crate::call::context::MessageContext;
use crate::call::lifecycle::{CloseSummary, ClosedBy};
#[cfg(feature = "redis")]
use crate::endpoint::resume::cluster;
use crate::endpoint::resume::replay_of;
use crate::endpoint::{Endpoint, Mode};
use crate::io::direct::Direct;
use crate::io::{Socket, SocketError};
use futures_util::FutureExt;
use heartbeat::{far_future, Beat, Heartbeat};
use running::Running;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
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

/// How a connection's session begins.
pub(crate) enum Opening {
    /// A new session: `#[on_connect]` (or `trigger_on_connect`) runs. A resumable session first
    /// tells its client its token, and why it is new when the client asked to resume.
    New(Option<FreshReason>),
    /// A resumable session goes on after message `after`: the messages after it are written
    /// again (`replay`), then those sent while its client was away (`waiting`), then
    /// `#[on_resume]` runs.
    Resumed {
        after: u64,
        replay: Vec<Message>,
        waiting: Vec<Message>,
    },
}

/// How a connection ended, and whether its session may wait for its client to come back.
pub(crate) struct Ended {
    pub(crate) summary: CloseSummary,
    /// The connection failed rather than being closed on purpose: the network dropped it, the
    /// client stopped answering pings, or it closed with a code other than 1000 or 1001.
    pub(crate) parkable: bool,
}

/// One connection's loop. It refers to its endpoint rather than copying the controller,
/// options, lifecycle and close timeout out of it: every idle connection's task holds this.
pub(crate) struct Driver<'a> {
    endpoint: &'a Endpoint,
    socket: Socket,
    connection: Connection,
    started: Instant,
    tally: Tally,
    /// The handler calls running at once (`concurrency` above 1).
    running: Running<'a>,
    /// What the client sent while a gateway's call ran in order, besides the protocol's own
    /// messages: handled next, in order (see `Driver::answering`).
    held: VecDeque<Option<Result<Message, SocketError>>>,
}

/// What a connection may hold of the client's messages while a gateway's call runs in order
/// (past either, the client is not read until the call ends): enough for a client that goes on
/// talking during a long call to keep its heartbeat answered.
const HELD_MESSAGES: usize = 16;
const HELD_BYTES: usize = 64 << 10;

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
    /// The client stopped answering pings.
    timed_out: bool,
}

impl<'a> Driver<'a> {
    pub(crate) fn new(
        endpoint: &'a Endpoint,
        socket: Box<Socket>,
        connection: Connection,
        started: Instant,
    ) -> Self {
        Self {
            endpoint,
            socket: *socket,
            connection,
            started,
            tally: Tally::default(),
            running: Running::default(),
            held: VecDeque::new(),
        }
    }

    /// Messages are handled one at a time, in order, inline in the loop.
    fn in_order(&self) -> bool {
        self.endpoint.options.concurrency <= 1
    }

    /// Another call may start, so the client may be read.
    fn has_room(&self) -> bool {
        self.running.len() < self.endpoint.options.concurrency
    }

    /// The backplane's queue is high: clients are not read until it eases (see
    /// [`Pressure`](crate::hub::backplane::Pressure)).
    fn held_back(&self) -> bool {
        self.endpoint
            .app
            .hub
            .pressure()
            .is_some_and(crate::hub::backplane::Pressure::is_high)
    }

    /// Runs the connection to its end and says how it ended.
    ///
    /// Not an `async fn`: one keeps its arguments for its whole life and moves `mut self` into a
    /// local beside them, so every connection's task would hold the session twice (600 bytes).
    #[allow(
        clippy::manual_async_fn,
        reason = "see above: an async fn doubles the session"
    )]
    pub(crate) fn run(mut self, opening: Opening) -> impl Future<Output = Ended> + 'a {
        async move {
            let mut flow = Box::pin(self.open(opening)).await;

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

            // Read, dispatch, write. In order (`concurrency` 1) a message is handled inline; with
            // more, up to that many calls run at once and each reply is sent when its call
            // finishes. Inline rather than a method of its own: every idle connection's task
            // holds this state, and nesting grows it. For the same reason what each event leads
            // to (a message, a wake, the timer, a reply) is boxed: it lives only while it runs
            // (one allocation per event buys 0.4 KiB per idle connection).
            let mut burst = 0;
            while let Flow::Continue = flow {
                if let Some(held) = self.held.pop_front() {
                    flow = Box::pin(self.on_incoming(held, heartbeat.as_mut())).await;
                    continue;
                }
                // Messages that have already arrived are handled back to back and their replies
                // leave in one write; a burst is bounded so timers and queued messages get their
                // turn.
                if burst < MAX_BURST && self.has_room() && !self.held_back() {
                    if let Some(incoming) = self.socket.next().now_or_never() {
                        burst += 1;
                        flow = Box::pin(self.on_incoming(incoming, heartbeat.as_mut())).await;
                        continue;
                    }
                }
                burst = 0;
                flow = self.flush().await;
                if !matches!(flow, Flow::Continue) {
                    break;
                }
                let read = self.has_room() && !self.held_back();
                let hub = &self.endpoint.app.hub;
                flow = tokio::select! {
                    biased;
                    Some(reply) = self.running.next() => Box::pin(self.after_call(reply)).await,
                    incoming = self.socket.next(), if read => {
                        Box::pin(self.on_incoming(incoming, heartbeat.as_mut())).await
                    }
                    () = self.connection.woken() => Box::pin(self.on_wake()).await,
                    // While the client is not read, a Pong may be waiting unread: the
                    // heartbeat waits too, as it does for a handler in order.
                    () = &mut timer, if heartbeat.is_some() && read => {
                        Box::pin(self.on_timer(&mut heartbeat, timer.as_mut())).await
                    }
                    () = eased(hub), if !read && self.has_room() => Flow::Continue,
                };
            }
            if !self.in_order() {
                // Boxed: an in-order connection's task does not hold this state.
                Box::pin(self.finish_calls(&flow)).await;
            }

            if let Flow::Close(frame) = flow {
                Box::pin(self.close(frame)).await;
            }
            self.shut_direct();
            self.summary()
        }
    }

    /// The session's first messages and calls: `#[on_connect]` for a new session, the missed
    /// messages and `#[on_resume]` for a resumed one.
    async fn open(&mut self, opening: Opening) -> Flow {
        match opening {
            Opening::New(reason) => {
                if let Some(replay) = replay_of(&self.connection) {
                    let window = replay.sessions().window();
                    let announce = protocol::session(replay.token(), window, reason);
                    if let stop @ (Flow::Close(_) | Flow::Ended) = self.write(announce).await {
                        return stop;
                    }
                }
                let options = &self.endpoint.options;
                let mut flow = Flow::Continue;
                if options.mode == Mode::SendOnly || options.trigger_on_connect {
                    flow = self.dispatch(None).await;
                }
                if options.mode == Mode::SendOnly && matches!(flow, Flow::Continue) {
                    flow = close_with(close_code::NORMAL, "");
                }
                flow
            }
            Opening::Resumed {
                after,
                replay,
                waiting,
            } => {
                for message in std::iter::once(protocol::resumed(after, replay.len())).chain(replay)
                {
                    if let stop @ (Flow::Close(_) | Flow::Ended) = self.write(message).await {
                        return stop;
                    }
                }
                for message in waiting {
                    if let stop @ (Flow::Close(_) | Flow::Ended) = self.write_counted(message).await
                    {
                        return stop;
                    }
                }
                let ctx = crate::call::context::MessageContext::resumed(self.connection.clone());
                let reply = dispatch::call(self.endpoint, ctx).await;
                self.after_call(reply).await
            }
        }
    }

    /// The calls still running finish before the connection ends; their replies are sent if
    /// the connection can still take them (the first stop decides how it ends).
    async fn finish_calls(&mut self, flow: &Flow) {
        while let Some(reply) = self.running.next().await {
            if let Flow::Close(_) = flow {
                let _ = Box::pin(self.after_call(reply)).await;
            }
        }
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
            Beat::TimedOut => {
                self.tally.timed_out = true;
                close_with(close_code::INTERNAL_ERROR, "ping timeout")
            }
            Beat::Wait => Flow::Continue,
        };
        timer.reset(beat.deadline());
        flow
    }

    fn summary(self) -> Ended {
        let (closed_by, code, reason) = match self.tally.first_close {
            Some((closed_by, code, reason)) => (closed_by, Some(code), reason),
            None => (ClosedBy::Network, None, String::new()),
        };
        let parkable = match closed_by {
            ClosedBy::Network => true,
            // 1000 and 1001 (a page closing) are goodbyes; any other code is a failure.
            ClosedBy::Client => !matches!(code, Some(close_code::NORMAL | close_code::GOING_AWAY)),
            _ => self.tally.timed_out,
        };
        let summary = CloseSummary {
            client_id: Some(self.connection.id()),
            path: self.connection.handshake().uri().path().to_owned(),
            closed_by,
            code,
            reason,
            duration: self.started.elapsed(),
            messages_in: self.tally.messages_in,
            messages_out: self.tally.messages_out + self.socket.direct().map_or(0, Direct::written),
            error: self.tally.error,
        };
        Ended { summary, parkable }
    }

    async fn on_incoming(
        &mut self,
        incoming: Option<Result<Message, SocketError>>,
        heartbeat: Option<&mut Heartbeat>,
    ) -> Flow {
        match incoming {
            Some(Ok(message)) => self.on_message(message, heartbeat).await,
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

    /// The gateway protocol's own messages, which never reach the app: `$ack`, `$ping`, and the
    /// client's answers to the server's requests. `None` for anything else.
    async fn on_protocol(&mut self, message: &Message) -> Option<Flow> {
        let Message::Text(text) = message else {
            return None;
        };
        if !self.endpoint.gateway {
            return None;
        }
        match protocol::parse(text.as_bytes())? {
            ClientSays::Ack(seq) => {
                if let Some(replay) = replay_of(&self.connection) {
                    replay.ack(seq);
                    #[cfg(feature = "redis")]
                    cluster::checkpoint(&self.endpoint.app.hub, &self.connection, false);
                }
                Some(Flow::Continue)
            }
            ClientSays::Ping => Some(self.write(protocol::pong()).await),
            ClientSays::Answer { id, answer } => {
                self.connection.answered(id, answer);
                Some(Flow::Continue)
            }
            ClientSays::Resume { .. } => None,
        }
    }

    async fn on_message(&mut self, message: Message, heartbeat: Option<&mut Heartbeat>) -> Flow {
        if let Some(flow) = self.on_protocol(&message).await {
            return flow;
        }
        match message {
            // (A SendOnly endpoint never gets here: it closes right after its one call.)
            Message::Text(_) | Message::Binary(_) if !self.in_order() => {
                self.tally.messages_in += 1;
                let ctx = MessageContext::new(self.connection.clone(), Some(message));
                let burst = self.socket.has_more_input();
                let call = dispatch::call(self.endpoint, ctx);
                self.running.push(crate::io::direct::scoped(burst, call));
                Flow::Continue
            }
            Message::Text(_) | Message::Binary(_) => {
                // Boxed: a handler's future lives only while it runs, so an idle connection's
                // task stays small (one allocation per message buys ~1 KiB per idle client).
                let flow = Box::pin(self.dispatch(Some(message))).await;
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
            // The client closed first: the socket answers its Close, and nothing may follow.
            Message::Close(frame) => {
                self.shut_direct();
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
            // Pings are answered by the socket.
            _ => Flow::Continue,
        }
    }
}

/// Waits until clients may be read again (see [`Driver::held_back`]).
async fn eased(hub: &crate::hub::Hub) {
    if let Some(pressure) = hub.pressure() {
        pressure.eased().await;
    }
}

fn slow_consumer() -> Flow {
    close_with(close_code::POLICY_VIOLATION, "slow consumer")
}

/// Bytes the client may not send get the close code RFC 6455 asks for; a failed connection
/// can be sent nothing more.
fn close_for_protocol_error(error: SocketError) -> Flow {
    match error {
        SocketError::Refused(refused) => {
            let (code, reason) = refused.close();
            close_with(code, reason)
        }
        SocketError::Io(_) => Flow::Ended,
    }
}
