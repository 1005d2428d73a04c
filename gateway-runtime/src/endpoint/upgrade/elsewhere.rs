//! Resumable sessions in a cluster (feature `redis`): a session follows the journal from the
//! entry it opens at, and a session this instance does not hold is rebuilt from the journal
//! (`resume::journal`) and goes on here.

use super::{begin, serve_first, session_span, spawn_in};
use crate::base::ids::ConnectionId;
use crate::base::token::Token;
use crate::call::connection::Connection;
use crate::call::lifecycle::Resumed;
use crate::endpoint::driver::Opening;
use crate::endpoint::resume::cluster::{self, Restore, Restored};
use crate::endpoint::resume::journal::{EntryId, Journaled};
use crate::endpoint::resume::replay::Replay;
use crate::endpoint::resume::sessions::Resumption;
use crate::endpoint::Endpoint;
use crate::hub::Hub;
use std::sync::Arc;
use std::time::Duration;

/// A new resumable session's replay: in a cluster, it follows the journal.
pub(super) fn journaled(hub: &Hub, replay: Replay) -> Replay {
    match cluster::journal(hub) {
        Some(_) => replay.journaled(Journaled::new(EntryId::default(), &[], None)),
        None => replay,
    }
}

/// Puts a new journaled session among those the journal delivers to, from the entry it has
/// reached (or, before the reader has begun, from where it begins), and writes the session's
/// first checkpoint there.
pub(super) fn follow_journal(hub: &Hub, connection: &Connection) {
    let Some(journal) = cluster::journal(hub) else {
        return;
    };
    if let Some(entry) = journal.open(connection) {
        cluster::begin_at(hub, connection, entry);
    }
}

/// Asks the journal's reader for session `token`, held by another instance (or by none: its
/// instance died): it goes on here, or a fresh session begins and the client is told why.
pub(super) fn restore(endpoint: Arc<Endpoint>, token: Token, resumption: Box<Resumption>) {
    let hub = endpoint.app.hub.clone();
    let Some(journal) = cluster::journal(&hub) else {
        return;
    };
    let after = resumption.after;
    let limits = endpoint.app.settings.resume_limits;
    let route = endpoint
        .sessions
        .as_ref()
        .map_or("", |sessions| sessions.route());
    let install = Box::new(move |restored: Restored| {
        install(endpoint, token, *resumption, restored);
    });
    journal.restore(Restore {
        token,
        endpoint: route,
        after,
        limits,
        install,
    });
}

/// Opens the rebuilt session here (the reader calls this before it reads on, so the session
/// takes every entry after the ones it was rebuilt from).
fn install(endpoint: Arc<Endpoint>, token: Token, resumption: Resumption, restored: Restored) {
    let Resumption {
        socket,
        after,
        handshake,
        started,
    } = resumption;
    let (record, folded, at) = match restored {
        Ok(restored) => restored,
        Err(reason) => return begin(endpoint, socket, handshake, started, reason),
    };
    let Some(sessions) = endpoint.sessions.clone() else {
        return;
    };
    let app = &endpoint.app;
    let missed: Vec<_> = folded
        .missed
        .iter()
        .map(|(message, _)| message.clone())
        .collect();
    let journal = Journaled::new(at, &folded.rooms, folded.presence.as_deref());
    let replay = Replay::restored(
        Arc::clone(&sessions),
        token,
        folded.count,
        folded.missed,
        folded.acked,
    )
    .journaled(journal);
    let id = ConnectionId(record.id);
    let connection = Connection::open(id, handshake, app.parts(), Some(Box::new(replay)));
    if let Some(journal) = cluster::journal(&app.hub) {
        journal.open(&connection);
    }
    sessions.open(token, connection.clone());
    app.hub
        .register(id, connection.member(), Arc::from(record.path.as_str()));
    for room in &folded.rooms {
        connection.join(room);
    }
    if let Some(presence) = &folded.presence {
        connection.set_presence(presence);
    }
    cluster::checkpoint(&app.hub, &connection, true);
    let resumed = Resumed {
        client_id: id,
        path: record.path,
        // How long the client was away is known only to the instance it left.
        away: Duration::ZERO,
        replayed: missed.len(),
    };
    let span = session_span(&connection);
    spawn_in(span, async move {
        endpoint.lifecycle.resumed(&resumed).await;
        let opening = Opening::Resumed {
            after,
            replay: missed,
            waiting: Vec::new(),
        };
        serve_first(endpoint, connection, Box::new(socket), opening, started).await;
    });
}
