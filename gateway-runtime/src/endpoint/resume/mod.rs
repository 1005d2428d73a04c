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
pub(crate) mod journal;
pub(crate) mod kept;
pub(crate) mod replay;
pub(crate) mod sessions;

use crate::base::handshake::Handshake;
use std::net::IpAddr;
use std::sync::Arc;

/// Whose a resumable session is, for the fairness of the parked-session bound (see
/// [`ResumeLimits`]). By default a client is its address (IPv6 by its /64 prefix, which one
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
