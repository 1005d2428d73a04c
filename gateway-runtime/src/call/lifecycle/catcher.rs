//! [`Catcher`]: turns an error into a reply or a close, or passes it on.

use crate::base::error::WsError;
use crate::call::connection::Connection;
use crate::call::reply::Reply;
use futures_util::future::BoxFuture;
use std::borrow::Cow;
use std::future::Future;

/// Handles every error on the way from message to reply: binding failures, a handler's `Err`,
/// an interceptor's rejection and panics ([`WsError::origin`] tells which). Catchers run
/// innermost first (method → controller → app); the first that does not pass decides. When all
/// pass, the default applies: a panic closes with 1011, anything else is answered with
/// `{"error": "...", "status": N}` and the connection stays open.
///
/// ```
/// use gateway::connection::Connection;
/// use gateway::error::{ErrorOrigin, WsError};
/// use gateway::lifecycle::{Caught, Catcher};
///
/// /// Hides internal error messages from clients.
/// struct HideInternals;
///
/// impl Catcher for HideInternals {
///     async fn catch(&self, error: &WsError, _connection: &Connection) -> Caught {
///         if error.status() >= 500 && error.origin() != ErrorOrigin::Panic {
///             Caught::reply(WsError::internal("something went wrong").to_json())
///         } else {
///             Caught::Pass
///         }
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a catcher",
    label = "this value is used as a catcher but does not implement `Catcher`",
    note = "implement `gateway::lifecycle::Catcher` for `{Self}`"
)]
pub trait Catcher: Send + Sync + 'static {
    /// Decides what becomes of `error`.
    fn catch(
        &self,
        error: &WsError,
        connection: &Connection,
    ) -> impl Future<Output = Caught> + Send;
}

/// A catcher's decision.
///
/// ```
/// use gateway::lifecycle::Caught;
///
/// let answer = Caught::reply(r#"{"error":"try again","status":503}"#);
/// let end = Caught::Close(1011, "internal error".into());
/// # let _ = (answer, end);
/// ```
#[derive(Debug)]
pub enum Caught {
    /// Send this instead (or nothing, with `Reply::Nothing`); the connection stays open.
    Reply(Reply),
    /// Close the connection with this code and reason (invalid codes become 1011).
    Close(u16, Cow<'static, str>),
    /// Leave it to the next catcher (and finally to the default).
    Pass,
}

impl Caught {
    /// Answers with a text message.
    pub fn reply(text: impl Into<String>) -> Self {
        Self::Reply(Reply::Message(text.into().into()))
    }
}

pub(crate) trait DynCatcher: Send + Sync {
    fn catch<'a>(&'a self, error: &'a WsError, connection: &'a Connection)
        -> BoxFuture<'a, Caught>;
}

impl<C: Catcher> DynCatcher for C {
    fn catch<'a>(
        &'a self,
        error: &'a WsError,
        connection: &'a Connection,
    ) -> BoxFuture<'a, Caught> {
        Box::pin(Catcher::catch(self, error, connection))
    }
}
