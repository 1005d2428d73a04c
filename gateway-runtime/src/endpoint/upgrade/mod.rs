//! The upgrade: a WebSocket handshake through the app's checks and the handshake half of the
//! lifecycle, then the session's task from its start to its end (on a resumable endpoint,
//! across the connections its client resumes it on).

use crate::base::close::close_code;
use crate::base::handshake::Handshake;
use crate::base::protocol::{self, ClientSays, FreshReason};
use crate::base::token::Token;
use crate::call::connection::Connection;
use crate::call::context::MessageContext;
use crate::call::lifecycle::Resumed;
use crate::call::lifecycle::{CloseSummary, ClosedBy};
use crate::endpoint::driver::{Opening, Session};
use crate::endpoint::resume::replay::Replay;
use crate::endpoint::resume::sessions::{Parking, Resumption};
use crate::endpoint::resume::ClientKey;
use crate::endpoint::Endpoint;
use crate::io::Socket;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::timeout;
use tokio::time::Instant;
use tracing::Instrument;

#[cfg(feature = "redis")]
mod elsewhere;
mod switching;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, Utf8Bytes};

/// Runs the handshake half of the lifecycle, answers the upgrade request and starts the
/// connection's task. A refused client costs no upgrade, no task and no buffers.
pub(crate) async fn upgrade(endpoint: Arc<Endpoint>, request: Request) -> Response {
    let started = Instant::now();
    let (mut parts, _body) = request.into_parts();
    let (on_upgrade, switching_protocols) = match switching::switching_protocols(&mut parts) {
        Ok(upgrade) => upgrade,
        Err(refusal) => return *refusal,
    };
    let slot = match endpoint.app.admit_connection(&parts.headers) {
        Ok(slot) => slot,
        Err(refusal) => return refusal,
    };
    let mut handshake = match handshake_of(&mut parts).await {
        Ok(handshake) => handshake,
        Err(rejection) => return rejection,
    };
    if let Err(response) = endpoint.lifecycle.admit(&mut handshake).await {
        let summary = sessionless(&handshake, started, ClosedBy::Rejected(response.status()));
        endpoint.lifecycle.closed(&summary).await;
        return response;
    }
    let max_message = endpoint
        .options
        .max_message
        .unwrap_or(endpoint.app.settings.max_message);
    if endpoint.sessions.is_some() && asks_to_resume(handshake.uri()) {
        tokio::spawn(async move {
            let app = &endpoint.app;
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let socket = Socket::accept(
                upgraded,
                slot,
                max_message,
                Arc::clone(&app.inbound),
                app.settings.slow_consumer_timeout,
            );
            resume_or_begin(endpoint, socket, handshake, started).await;
        });
        return switching_protocols;
    }
    // The client is reachable through the hub as soon as it has its 101.
    let connection = open_session(&endpoint, handshake);
    let span = session_span(&connection);
    let task = async move {
        let app = &endpoint.app;
        let Ok(upgraded) = on_upgrade.await else {
            forget(&endpoint, &connection);
            return;
        };
        let inbound = Arc::clone(&app.inbound);
        let socket = Box::new(Socket::accept(
            upgraded,
            slot,
            max_message,
            inbound,
            app.settings.slow_consumer_timeout,
        ));
        // A resumable session numbers and keeps what it writes: only its loop writes to it.
        if let (None, Some(direct)) = (connection.replay(), socket.direct_writer()) {
            connection.attach_direct(direct);
        }
        serve_first(endpoint, connection, socket, Opening::New(None), started).await;
    };
    spawn_in(span, task);
    switching_protocols
}

/// A new session's connection, registered with the hub (and, resumable, with its endpoint's
/// sessions).
fn open_session(endpoint: &Arc<Endpoint>, handshake: Handshake) -> Connection {
    let app = &endpoint.app;
    let path: Arc<str> = Arc::from(handshake.uri().path());
    let replay = endpoint
        .sessions
        .as_ref()
        .map(|sessions| Replay::new(Arc::clone(sessions)));
    #[cfg(feature = "redis")]
    let replay = replay.map(|replay| elsewhere::journaled(&app.hub, replay));
    let connection = Connection::open(app.hub.next_id(), handshake, app.parts(), replay);
    #[cfg(feature = "redis")]
    elsewhere::follow_journal(&app.hub, &connection);
    if let (Some(sessions), Some(replay)) = (&endpoint.sessions, connection.replay()) {
        sessions.open(replay.token(), connection.clone());
    }
    app.hub.register(&connection, path);
    connection
}

/// Takes a session that never started out of the hub and its endpoint's sessions.
fn forget(endpoint: &Endpoint, connection: &Connection) {
    if let (Some(sessions), Some(replay)) = (&endpoint.sessions, connection.replay()) {
        sessions.end(replay.token(), None);
    }
    endpoint.app.hub.unregister(connection.id());
}

/// The span of a session's task: the client and its path.
fn session_span(connection: &Connection) -> tracing::Span {
    let path = connection.handshake().uri().path();
    tracing::info_span!("connection", client_id = %connection.id(), path = %path)
}

/// Runs `task` in `span`, when a subscriber listens.
fn spawn_in(span: tracing::Span, task: impl Future<Output = ()> + Send + 'static) {
    // Without a subscriber the span is disabled; entering it on every poll would still cost.
    if span.is_disabled() {
        tokio::spawn(task);
    } else {
        tokio::spawn(task.instrument(span));
    }
}

/// The socket comes boxed, and the box is freed as the session takes the socket: an async
/// function keeps a slot for each argument for its whole life (measured: a socket passed by
/// value cost every idle connection 0.4 KiB more).
///
/// One connection of a session, from its start to its end; then the session ends for good, or
/// (a resumable one whose connection failed) waits for its client in a task of its own ([`away`]),
/// which holds none of the connection loop's state.
async fn serve_session(
    endpoint: Arc<Endpoint>,
    connection: Connection,
    socket: Box<Socket>,
    opening: Opening,
    started: Instant,
    earlier: Counted,
) {
    let ended = Session::new(&endpoint, socket, connection.clone(), started)
        .run(opening)
        .await;
    let mut summary = ended.summary;
    summary.messages_in += earlier.messages_in;
    summary.messages_out += earlier.messages_out;
    let reason = match connection.replay() {
        None => None,
        Some(replay) if replay.is_lost() => Some(FreshReason::Lost),
        // It went on on another instance: a resume here meanwhile does not get it.
        Some(replay) if replay.is_released() => None,
        Some(replay) => {
            let handover = replay.take_handover();
            // A server shutting down keeps no session for later.
            if (handover || ended.parkable) && !endpoint.app.is_draining() {
                let span = session_span(&connection);
                spawn_in(span, away(endpoint, connection, summary, started));
                return;
            }
            None
        }
    };
    end_for_good(&endpoint, connection, summary, reason).await;
}

/// A session's task on the first connection this instance serves it on. (Not an `async fn`:
/// it would keep its own slot for each argument beside [`serve_session`]'s.)
fn serve_first(
    endpoint: Arc<Endpoint>,
    connection: Connection,
    socket: Box<Socket>,
    opening: Opening,
    started: Instant,
) -> impl Future<Output = ()> {
    serve_session(
        endpoint,
        connection,
        socket,
        opening,
        started,
        Counted::NONE,
    )
}

/// Messages of a session's earlier connections, for its summary.
#[derive(Clone, Copy)]
struct Counted {
    messages_in: u64,
    messages_out: u64,
}

impl Counted {
    /// A session's first connection.
    const NONE: Self = Self {
        messages_in: 0,
        messages_out: 0,
    };
}

/// A resumable session whose client is away: it waits for the client within the window, then
/// goes on with it on its new connection, or ends for good. (A boxed future: it and
/// [`serve_session`] spawn each other.)
fn away(
    endpoint: Arc<Endpoint>,
    connection: Connection,
    summary: CloseSummary,
    started: Instant,
) -> BoxFuture<'static, ()> {
    Box::pin(away_until_resumed(endpoint, connection, summary, started))
}

async fn away_until_resumed(
    endpoint: Arc<Endpoint>,
    connection: Connection,
    summary: CloseSummary,
    started: Instant,
) {
    let left = Instant::now();
    let Some(replay) = connection.replay() else {
        return;
    };
    let Some(resumption) = park(&endpoint, &connection, replay).await else {
        end_for_good(&endpoint, connection, summary, None).await;
        return;
    };
    let Resumption {
        socket,
        after,
        handshake,
        started: reconnected,
    } = *resumption;
    // A resume that came while the last connection was closing asked that one to close: no
    // resume waiting now, no such request for this one.
    if endpoint
        .sessions
        .as_ref()
        .is_some_and(|sessions| !sessions.has_pending(replay.token()))
    {
        connection.drop_handover_request();
    }
    let Some((missed, waiting)) = replay.after(after) else {
        // The client asked for messages the session no longer has: it starts afresh.
        end_for_good(&endpoint, connection, summary, Some(FreshReason::Lost)).await;
        begin(endpoint, socket, handshake, reconnected, FreshReason::Lost);
        return;
    };
    let resumed = Resumed {
        client_id: connection.id(),
        path: summary.path,
        away: left.elapsed(),
        replayed: missed.len(),
    };
    endpoint.lifecycle.resumed(&resumed).await;
    let earlier = Counted {
        messages_in: summary.messages_in,
        messages_out: summary.messages_out,
    };
    let opening = Opening::Resumed {
        after,
        replay: missed,
        waiting,
    };
    let span = session_span(&connection);
    let socket = Box::new(socket);
    let session = serve_session(endpoint, connection, socket, opening, started, earlier);
    spawn_in(span, session);
}

/// Waits, within the window, for the session's client to resume; `None` when the session ended
/// meanwhile (the window passed, the app's bounds or the server ended it, it was lost).
async fn park(
    endpoint: &Endpoint,
    connection: &Connection,
    replay: &Replay,
) -> Option<Box<Resumption>> {
    let sessions = endpoint.sessions.as_ref()?;
    let token = replay.token();
    // What its connection had queued waits for the client, with what is sent to it from now.
    if !replay.park(|| connection.outbound().pop_batch(usize::MAX)) {
        sessions.end(token, Some(FreshReason::Lost));
        return None;
    }
    // Another instance may resume it while it is away: its checkpoint lives for the window.
    #[cfg(feature = "redis")]
    endpoint.app.hub.checkpoint(connection, true);
    let client = ClientKey::of(connection.handshake());
    let resumption = match sessions.park(token, connection, &client) {
        Parking::Resumed(resumption) => Some(resumption),
        // A close asked for while the connection was ending ends the session.
        Parking::Wait(_) if connection.take_close_request().is_some() => {
            sessions.end(token, None);
            None
        }
        Parking::Wait(mut handover) => match timeout(sessions.window(), &mut handover).await {
            Ok(resumption) => resumption.ok(),
            Err(_) if sessions.expire(token) => None,
            // Claimed as the window ended: the resumption is already in the channel.
            Err(_) => handover.try_recv().ok(),
        },
    };
    replay.unpark();
    resumption
}

/// A connection to a resumable endpoint that asked to resume: its first message must be
/// `$resume`; the session it names takes the connection over, or a fresh session begins on it
/// and the client is told why.
async fn resume_or_begin(
    endpoint: Arc<Endpoint>,
    mut socket: Socket,
    handshake: Handshake,
    started: Instant,
) {
    let Some(sessions) = endpoint.sessions.clone() else {
        return;
    };
    let within = endpoint.app.settings.handshake_timeout;
    let (token, after) = match resume_request(&mut socket, within).await {
        Ok(request) => request,
        Err(refusal) => {
            refuse_resume(&endpoint, socket, &handshake, started, refusal).await;
            return;
        }
    };
    let resumption = Box::new(Resumption {
        socket,
        after,
        handshake,
        started,
    });
    match sessions.claim(token, resumption) {
        Ok(None) => {}
        Ok(Some(displaced)) => {
            let close_timeout = endpoint.app.settings.close_timeout;
            tokio::spawn(close_displaced(displaced.socket, close_timeout));
        }
        // Not held here: in a cluster, perhaps by another instance.
        #[cfg(feature = "redis")]
        Err((resumption, FreshReason::Unknown)) if endpoint.app.hub.journal().is_some() => {
            elsewhere::restore(endpoint, token, resumption);
        }
        Err((resumption, reason)) => {
            let Resumption {
                socket,
                handshake,
                started,
                ..
            } = *resumption;
            begin(endpoint, socket, handshake, started, reason);
        }
    }
}

/// A resume displaced by a newer one of the same session, before it was answered: closed with
/// 4000, as the connection a resume takes over is.
async fn close_displaced(mut socket: Socket, close_timeout: Duration) {
    let close = CloseFrame {
        code: CloseCode::from(close_code::RESUMED_ELSEWHERE),
        reason: Utf8Bytes::from_static("resumed on another connection"),
    };
    let _ = timeout(close_timeout, socket.send(Message::Close(Some(close)))).await;
}

/// A fresh session on a connection whose client asked to resume, telling it why.
fn begin(
    endpoint: Arc<Endpoint>,
    socket: Socket,
    handshake: Handshake,
    started: Instant,
    reason: FreshReason,
) {
    let connection = open_session(&endpoint, handshake);
    let opening = Opening::New(Some(reason));
    let span = session_span(&connection);
    spawn_in(
        span,
        serve_session(
            endpoint,
            connection,
            Box::new(socket),
            opening,
            started,
            Counted::NONE,
        ),
    );
}

/// The first message of a connection that asked to resume: `$resume` with a token and the last
/// message number the client has; otherwise the close code and reason it gets (1008, or what
/// RFC 6455 asks for a frame it may not send).
async fn resume_request(
    socket: &mut Socket,
    within: Duration,
) -> Result<(Token, u64), (u16, &'static str)> {
    const NOT_RESUME: (u16, &str) = (
        close_code::POLICY_VIOLATION,
        r#"expected {"event":"$resume",...} first"#,
    );
    let first = timeout(within, socket.next()).await.ok().flatten();
    let text = match first {
        Some(Ok(Message::Text(text))) => text,
        Some(Err(crate::io::SocketError::Refused(refused))) => return Err(refused.close()),
        _ => return Err(NOT_RESUME),
    };
    match protocol::parse(text.as_bytes()) {
        Some(ClientSays::Resume { token, seq }) => Ok((token, seq)),
        _ => Err(NOT_RESUME),
    }
}

/// A connection that asked to resume but did not send `$resume` first: closed with `code`.
async fn refuse_resume(
    endpoint: &Endpoint,
    mut socket: Socket,
    handshake: &Handshake,
    started: Instant,
    (code, reason): (u16, &'static str),
) {
    let close = CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from_static(reason),
    };
    let close_timeout = endpoint.app.settings.close_timeout;
    let _ = timeout(close_timeout, socket.send(Message::Close(Some(close)))).await;
    let summary = CloseSummary {
        code: Some(code),
        reason: reason.to_owned(),
        messages_in: 1,
        ..sessionless(handshake, started, ClosedBy::Server)
    };
    endpoint.lifecycle.closed(&summary).await;
}

/// The summary of a connection that never became a session (refused, or no `$resume` first).
fn sessionless(handshake: &Handshake, started: Instant, closed_by: ClosedBy) -> CloseSummary {
    CloseSummary {
        client_id: None,
        path: handshake.uri().path().to_owned(),
        closed_by,
        code: None,
        reason: String::new(),
        duration: started.elapsed(),
        messages_in: 0,
        messages_out: 0,
        error: None,
    }
}

/// Whether the upgrade request asks to resume a session: `?resume` in its query (no token: that
/// comes in the first message, so it never lands in an access log).
fn asks_to_resume(uri: &axum::http::Uri) -> bool {
    uri.query().is_some_and(|query| {
        form_urlencoded::parse(query.as_bytes()).any(|(key, _)| key == "resume")
    })
}

/// The session ends for good: it leaves the hub, `#[on_disconnect]` runs, observers see the
/// summary; a client that tries to resume it later is told `reason` (or `unknown`).
async fn end_for_good(
    endpoint: &Arc<Endpoint>,
    connection: Connection,
    summary: CloseSummary,
    reason: Option<FreshReason>,
) {
    if let (Some(sessions), Some(replay)) = (&endpoint.sessions, connection.replay()) {
        if let Some(waiting) = sessions.end(replay.token(), reason) {
            // A resume that waited for this connection to close: it begins afresh, told why.
            let Resumption {
                socket,
                handshake,
                started,
                ..
            } = *waiting;
            let why = reason.unwrap_or(FreshReason::Unknown);
            begin(Arc::clone(endpoint), socket, handshake, started, why);
        }
        #[cfg(feature = "redis")]
        if replay.is_released() {
            // Its client went on with it on another instance: it does not end.
            connection.outbound().close();
            endpoint.app.hub.unregister(connection.id());
            return;
        }
        #[cfg(feature = "redis")]
        endpoint.app.hub.forget_checkpoint(replay.token());
    }
    connection.outbound().close();
    endpoint.app.hub.unregister(connection.id());
    let ctx = MessageContext::closed(connection, summary);
    endpoint.handler.on_disconnect(&ctx).await;
    if let Some(summary) = ctx.close_summary() {
        endpoint.lifecycle.closed(summary).await;
    }
}

/// What handlers and components see of a request: headers, URI, path parameters, address.
pub(crate) async fn handshake_of(
    parts: &mut axum::http::request::Parts,
) -> Result<Handshake, Response> {
    let path_params = match RawPathParams::from_request_parts(parts, &()).await {
        Ok(params) => params
            .iter()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect(),
        Err(rejection) => return Err(rejection.into_response()),
    };
    let remote_addr = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    Ok(Handshake::new(
        &parts.headers,
        &parts.uri,
        path_params,
        remote_addr,
    ))
}
