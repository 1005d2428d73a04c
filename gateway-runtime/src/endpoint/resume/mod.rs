//! Resumable sessions (`#[gateway("path", resume = "2m")]`): a client whose connection drops
//! comes back within the window with the same [`ConnectionId`], rooms, presence and stored
//! values, and receives every message it missed, once, in order, before anything new. The wire
//! protocol is in the README ("Resumable sessions"); in short: the server's first message is
//! `$session` with a token, every data message it sends after that is numbered (1, 2, 3, … in
//! the order written, implicitly), the client acknowledges with `$ack`, and a client that
//! reconnects with `?resume` sends `$resume` with its token and the last number it has.
//!
//! [`ConnectionId`]: crate::base::ids::ConnectionId

#[cfg(feature = "redis")]
pub(crate) mod cluster;
#[cfg(feature = "redis")]
pub(crate) mod journal;
pub(crate) mod kept;
pub(crate) mod replay;
pub(crate) mod sessions;

use crate::base::close::close_code::RESUMED_ELSEWHERE;
use crate::base::handshake::Handshake;
use crate::call::connection::Connection;
use replay::Replay;
use std::any::Any;
use std::net::IpAddr;
use std::sync::Arc;

/// Whose a resumable session is, for the fairness of the parked-session bound (see
/// [`ResumeLimits`](crate::ResumeLimits)). By default a client is its address (IPv6 by its /64 prefix, which one
/// host typically owns whole); behind a proxy every client has the proxy's address, so a
/// middleware that knows who the client is (a user id, the forwarded address) says so:
///
/// ```
/// use gateway::lifecycle::{Handshake, Middleware, Response};
/// use gateway::resume::ClientKey;
///
/// struct ForwardedFor;
///
/// impl Middleware for ForwardedFor {
///     async fn handle(&self, handshake: &mut Handshake) -> Result<(), Response> {
///         if let Some(address) = handshake.header("x-forwarded-for").map(str::to_owned) {
///             handshake.insert_data(ClientKey::new(address));
///         }
///         Ok(())
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey(Client);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Client {
    Named(Arc<str>),
    Address(IpAddr),
}

impl ClientKey {
    /// The client called `name` (an identity, or an address the app trusts).
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Self(Client::Named(name.into()))
    }

    /// The key a middleware attached, else the client's address (IPv6 by its /64 prefix).
    pub(crate) fn of(handshake: &Handshake) -> Self {
        if let Some(key) = handshake.data::<ClientKey>() {
            return key.clone();
        }
        let address = match handshake.remote_addr().map(|addr| addr.ip()) {
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
            },
            Some(v4) => v4,
            // Not known (the server was not started with connect info): one shared client.
            None => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        };
        Self(Client::Address(address))
    }
}

/// What session `connection` keeps to resume, on a resumable endpoint.
pub(crate) fn replay_of(connection: &Connection) -> Option<&Replay> {
    let state: &dyn Any = connection.session_state()?;
    state.downcast_ref()
}

/// Its client resumed this session on another instance: the session stops here without
/// ending (no `#[on_disconnect]`; the other instance goes on with it).
#[cfg(feature = "redis")]
pub(crate) fn release(connection: &Connection) {
    let Some(replay) = replay_of(connection) else {
        return;
    };
    replay.release();
    connection.request_close(RESUMED_ELSEWHERE, "resumed on another connection");
}

/// A resume of this session arrived on another connection: this one closes with 4000, and
/// the session goes on there. (Never ends the session, even while it is still parked: a
/// resume that took it a moment ago has not unparked it yet.)
pub(crate) fn request_handover(connection: &Connection) {
    if let Some(replay) = replay_of(connection) {
        replay.request_handover();
    }
    connection.ask_to_close(RESUMED_ELSEWHERE, "resumed on another connection");
}

/// Forgets a request to close with 4000 for a resume on another connection: one that the
/// resume it was for has already been given the session through (see `Sessions::park`), so it
/// is not for the connection the session goes on with. Unless the session was released to
/// another instance meanwhile: that request stands (looked at under the request's lock, which
/// a release takes after marking the session).
pub(crate) fn drop_handover_request(connection: &Connection) {
    if let Some(replay) = replay_of(connection) {
        replay.take_handover();
    }
    connection.withdraw_close_request(RESUMED_ELSEWHERE, || {
        replay_of(connection).is_some_and(Replay::is_released)
    });
}
