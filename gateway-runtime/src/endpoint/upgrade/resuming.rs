//! The resumable half of the upgrade: a session whose client is away waits for it (parked),
//! and a connection that asks to resume (`?resume`, then `$resume`) takes its session over, or
//! begins afresh told why.

use super::{end_for_good, open_session, serve_session, session_span, spawn_in, Counted};
use crate::base::close::close_code;
use crate::base::handshake::Handshake;
use crate::base::protocol::{self, ClientSays, FreshReason};
use crate::base::token::Token;
use crate::call::connection::Connection;
use crate::call::lifecycle::Resumed;
use crate::call::lifecycle::{CloseSummary, ClosedBy};
use crate::endpoint::driver::Opening;
#[cfg(feature = "redis")]
#[cfg(feature = "redis")]
use crate::endpoint::resume::cluster;
use crate::endpoint::resume::replay::Replay;
use crate::endpoint::resume::sessions::{Parking, Resumption};
use crate::endpoint::resume::{replay_of, ClientKey};
use crate::endpoint::Endpoint;
use crate::io::Socket;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::timeout;
use tokio::time::Instant;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, Utf8Bytes};

/// A resumable session whose client is away: it waits for the client within the window, then
/// goes on with it on its new connection, or ends for good. (A boxed future: it and
/// [`serve_session`] spawn each other.)
pub(super) fn away(
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
    let Some(replay) = replay_of(&connection) else {
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
    cluster::checkpoint(&endpoint.app.hub, connection, true);
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
pub(super) async fn resume_or_begin(
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
        Err((resumption, FreshReason::Unknown))
            if cluster::journal(&endpoint.app.hub).is_some() =>
        {
            super::elsewhere::restore(endpoint, token, resumption);
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
pub(super) fn begin(
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
pub(super) fn sessionless(
    handshake: &Handshake,
    started: Instant,
    closed_by: ClosedBy,
) -> CloseSummary {
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
pub(super) fn asks_to_resume(uri: &axum::http::Uri) -> bool {
    uri.query().is_some_and(|query| {
        form_urlencoded::parse(query.as_bytes()).any(|(key, _)| key == "resume")
    })
}
