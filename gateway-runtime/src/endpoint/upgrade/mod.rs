//! The upgrade: a WebSocket handshake through the app's checks and the handshake half of the
//! lifecycle, then the session's task from its start to its end (on a resumable endpoint,
//! across the connections its client resumes it on).

use crate::base::handshake::Handshake;
use crate::base::protocol::FreshReason;
use crate::call::connection::{Connection, SessionState};
use crate::call::context::MessageContext;
use crate::call::lifecycle::{CloseSummary, ClosedBy};
use crate::endpoint::driver::{Driver, Opening};
use crate::endpoint::resume::replay::Replay;
use crate::endpoint::resume::replay_of;
use crate::endpoint::resume::sessions::Resumption;
use crate::endpoint::Endpoint;
use crate::io::Socket;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::time::Instant;
use tracing::Instrument;

#[cfg(feature = "redis")]
mod elsewhere;
mod resuming;
mod switching;

#[cfg(feature = "redis")]
use crate::endpoint::resume::cluster;
use resuming::{asks_to_resume, away, begin, resume_or_begin, sessionless};

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
        if let (None, Some(direct)) = (replay_of(&connection), socket.direct_writer()) {
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
    let session = replay.map(|replay| Box::new(replay) as Box<dyn SessionState>);
    let connection = Connection::open(app.hub.next_id(), handshake, app.parts(), session);
    #[cfg(feature = "redis")]
    elsewhere::follow_journal(&app.hub, &connection);
    if let (Some(sessions), Some(replay)) = (&endpoint.sessions, replay_of(&connection)) {
        sessions.open(replay.token(), connection.clone());
    }
    app.hub.register(connection.id(), connection.member(), path);
    connection
}

/// Takes a session that never started out of the hub and its endpoint's sessions.
fn forget(endpoint: &Endpoint, connection: &Connection) {
    if let (Some(sessions), Some(replay)) = (&endpoint.sessions, replay_of(connection)) {
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
    let ended = Driver::new(&endpoint, socket, connection.clone(), started)
        .run(opening)
        .await;
    let mut summary = ended.summary;
    summary.messages_in += earlier.messages_in;
    summary.messages_out += earlier.messages_out;
    let reason = match replay_of(&connection) {
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

/// The session ends for good: it leaves the hub, `#[on_disconnect]` runs, observers see the
/// summary; a client that tries to resume it later is told `reason` (or `unknown`).
async fn end_for_good(
    endpoint: &Arc<Endpoint>,
    connection: Connection,
    summary: CloseSummary,
    reason: Option<FreshReason>,
) {
    if let (Some(sessions), Some(replay)) = (&endpoint.sessions, replay_of(&connection)) {
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
            connection.end();
            endpoint.app.hub.unregister(connection.id());
            return;
        }
        #[cfg(feature = "redis")]
        cluster::forget_checkpoint(&endpoint.app.hub, replay.token());
    }
    connection.end();
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
