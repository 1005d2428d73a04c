//! One client's socket: its frames parsed and written by one codec (`frame`), its messages read
//! (`reader`, held to the bounds in `limits`) and written (`writer`), over the upgraded
//! connection (`socket`).

pub(crate) mod direct;
pub(crate) mod frame;
pub(crate) mod limits;
pub(crate) mod outbound;
pub(crate) mod reader;
mod socket;
pub(crate) mod sockets;
mod utf8;
mod writer;

pub(crate) use socket::{Socket, SocketError};
