//! The values and wire formats every layer uses: close codes, errors, the event envelope, the
//! handshake, the origin check, settings with their defaults, the resume protocol's messages and
//! tokens, lock helpers.

pub(crate) mod close;
pub(crate) mod envelope;
pub(crate) mod error;
pub(crate) mod handshake;
pub(crate) mod ids;
pub(crate) mod origin;
pub(crate) mod protocol;
pub(crate) mod send;
pub(crate) mod settings;
pub(crate) mod sync;
pub(crate) mod token;
