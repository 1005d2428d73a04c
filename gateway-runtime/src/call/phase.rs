//! What a parameter without attribute can bind depends on the hook it is in: a [`FromContext`]
//! type binds in every hook, a [`CloseSummary`] only once the connection has ended
//! (`#[on_disconnect]`). The generated code names the hook's phase, so a parameter that the
//! hook cannot give is a compile error at the parameter, not a 500 at run time.

use crate::base::error::WsError;
use crate::call::context::{FromContext, MessageContext};
use crate::call::lifecycle::CloseSummary;

/// A handler called for a message (`#[websocket]`, `#[subscribe]`, `#[on_message]`).
#[derive(Debug)]
pub struct OnMessage;

/// A gateway's `#[on_connect]`: the connection just opened, there is no message.
#[derive(Debug)]
pub struct OnConnect;

/// A gateway's `#[on_resume]`: a resumable session's client came back; there is no message.
#[derive(Debug)]
pub struct OnResume;

/// A gateway's `#[on_disconnect]`: the connection has ended.
#[derive(Debug)]
pub struct OnDisconnect;

/// A gateway's `#[on_error]`.
#[derive(Debug)]
pub struct OnError;

/// A parameter without attribute in a hook of phase `P`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a parameter of this hook",
    label = "no attribute says where this comes from, and this hook cannot bind it by its type",
    note = "bind the message with `#[body]`, a handshake value with `#[header(\"..\")]`, `#[query(\"..\")]` or `#[param(\"..\")]`, a value stored with `conn.insert(..)` as `Extension<{Self}>`, or implement `gateway::extract::FromContext` for `{Self}`",
    note = "a `CloseSummary` is a parameter of `#[on_disconnect]` only (the connection has ended then), the error (`error: &WsError`) of `#[on_error]` only"
)]
pub trait Bind<P>: Sized {
    /// Builds the value for one call.
    ///
    /// # Errors
    /// A [`WsError`] goes to the catchers instead of calling the hook.
    fn bind(ctx: &MessageContext) -> Result<Self, WsError>;
}

impl<T: FromContext, P> Bind<P> for T {
    fn bind(ctx: &MessageContext) -> Result<Self, WsError> {
        T::from_context(ctx)
    }
}

impl Bind<OnDisconnect> for CloseSummary {
    fn bind(ctx: &MessageContext) -> Result<Self, WsError> {
        ctx.close_summary()
            .cloned()
            .ok_or_else(|| WsError::internal("the connection has not ended"))
    }
}
