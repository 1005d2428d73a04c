//! [`ConnectionId`]: a client's id, unique across the instances of a cluster.

use std::fmt;

/// A client's id, unique within the app, and across instances with a backplane.
///
/// As a number it stays below 2^53, so it survives a trip through JSON into JavaScript.
///
/// ```
/// # fn demo(conn: gateway::connection::Connection, hub: gateway::hub::Hub) {
/// let id = conn.id();
/// let as_number: u64 = id.into();           // for JSON: `{"from": 12}`
/// hub.send_to(id, format!("you are {id}")).ok();
/// # let _ = as_number; }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub(crate) u64);

impl ConnectionId {
    /// Bits for the per-instance sequence; the instance number sits above them (16 bits).
    const SEQUENCE_BITS: u32 = 37;

    /// The `sequence`-th id of instance `instance` (0 without a backplane).
    pub(crate) fn new(instance: u16, sequence: u64) -> Self {
        let sequence = sequence & ((1 << Self::SEQUENCE_BITS) - 1);
        Self(u64::from(instance) << Self::SEQUENCE_BITS | sequence)
    }

    /// A random first sequence number, in the lower half of the sequence space (so 2^36 ids
    /// follow before it wraps).
    #[cfg(feature = "redis")]
    pub(crate) fn random_start() -> u64 {
        let mut bytes = [0; 8];
        getrandom::fill(&mut bytes).expect("the operating system's random source");
        (u64::from_le_bytes(bytes) & ((1 << (Self::SEQUENCE_BITS - 1)) - 1)).max(1)
    }

    #[cfg(feature = "redis")]
    /// The instance the client is connected to.
    pub(crate) fn instance(self) -> u16 {
        (self.0 >> Self::SEQUENCE_BITS) as u16
    }
}

impl From<ConnectionId> for u64 {
    fn from(id: ConnectionId) -> u64 {
        id.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
