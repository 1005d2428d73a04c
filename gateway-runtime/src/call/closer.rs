//! [`CloseWebSocket`]: closes the connection it was bound for, from a handler or anywhere.

use crate::base::close::{is_sendable_close_code, truncate_close_reason, InvalidCloseCode};
use crate::call::connection::Connection;

/// Closes the connection it was bound for, from a handler or from anywhere it is moved to.
///
/// Bind it as a handler parameter (`closer: CloseWebSocket`). After [`close`](Self::close), the
/// current handler's reply and every message already queued are sent, then the Close frame; later
/// client messages are not dispatched, and the TCP connection ends when the client answers the
/// Close or after the close timeout.
///
/// ```
/// use gateway::prelude::*;
///
/// struct Bye;
///
/// #[controller("")]
/// impl Bye {
///     #[websocket("bye")]
///     async fn bye(&self, #[body] text: String, closer: CloseWebSocket) -> String {
///         if text == "bye" {
///             closer.close(close_code::NORMAL, "see you").ok();
///         }
///         text
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct CloseWebSocket {
    connection: Connection,
}

impl CloseWebSocket {
    pub(crate) fn new(connection: Connection) -> Self {
        Self { connection }
    }

    /// Asks to close with `code` and `reason`.
    ///
    /// The reason is cut to 123 bytes on a UTF-8 character boundary, so it always fits a Close
    /// frame and never ends in a broken character. The first close asked for wins.
    ///
    /// # Errors
    /// [`InvalidCloseCode`] when `code` is not 1000, 1001–1003, 1007–1014 or 3000–4999 (codes such
    /// as 1005, 1006 and 1015 are reserved for reporting and may never be sent).
    pub fn close(&self, code: u16, reason: &str) -> Result<(), InvalidCloseCode> {
        if !is_sendable_close_code(code) {
            return Err(InvalidCloseCode(code));
        }
        self.connection
            .request_close(code, truncate_close_reason(reason));
        Ok(())
    }
}
