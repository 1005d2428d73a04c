//! What a send can come to: [`SendError`], and the bytes a message carries.

use tungstenite::Message;

/// A message could not be queued for a client.
///
/// ```
/// # fn demo(conn: gateway::connection::Connection) {
/// use gateway::connection::SendError;
/// match conn.send("tick") {
///     Ok(()) => {}
///     Err(SendError::Closed) => println!("gone"),
///     Err(SendError::QueueFull) => println!("too slow: the slow-consumer policy applies"),
///     Err(SendError::Unencodable) => unreachable!("text needs no encoding"),
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The connection has ended.
    #[error("the connection is closed")]
    Closed,
    /// The client is not reading fast enough and its outbound queue is full.
    #[error("the client's outbound queue is full")]
    QueueFull,
    /// The value could not be encoded as JSON (a bug in its `Serialize` impl; logged).
    #[error("the value could not be encoded as JSON")]
    Unencodable,
}

/// The payload bytes of a data message (empty for control frames).
pub(crate) fn payload(message: &Message) -> &[u8] {
    match message {
        Message::Text(text) => text.as_bytes(),
        Message::Binary(bytes) => bytes,
        _ => &[],
    }
}
