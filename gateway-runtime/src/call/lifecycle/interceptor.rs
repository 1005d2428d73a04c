//! [`Interceptor`]: wraps every handler call of a connection, before binding and after the reply.

use crate::call::context::MessageContext;
use crate::call::reply::Reply;
use futures_util::future::BoxFuture;
use std::future::Future;
use std::ops::ControlFlow;

/// Runs around each handler call: every message, and the call on connect (`trigger_on_connect`,
/// `SendOnly`, a gateway's `#[on_connect]`), where [`MessageContext::body`] is `None`; not
/// around a gateway's `#[on_disconnect]`. On a `#[gateway]` it sees the whole message, the
/// `{"event", "data", "id"}` envelope, before it is routed. `pre` runs app → controller →
/// method before binding and may change the message ([`MessageContext::set_body`]) or stop it
/// with `ControlFlow::Break(reply)`: a `Reply::Message` is sent as the answer, a `Reply::Error`
/// goes to the catchers, `Reply::Nothing` drops the message. `post` runs method → controller →
/// app on the handler's reply and may change it.
///
/// ```
/// use gateway::extract::MessageContext;
/// use gateway::lifecycle::Interceptor;
/// use gateway::reply::{Message, Reply};
/// use std::ops::ControlFlow;
///
/// /// Answers "pong" to "ping" without bothering the handler.
/// struct PingPong;
///
/// impl Interceptor for PingPong {
///     async fn pre(&self, ctx: &mut MessageContext) -> ControlFlow<Reply> {
///         match ctx.body() {
///             Some(Message::Text(text)) if text.as_str() == "ping" => {
///                 ControlFlow::Break(Reply::Message(Message::from("pong")))
///             }
///             _ => ControlFlow::Continue(()),
///         }
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an interceptor",
    label = "this value is used as an interceptor but does not implement `Interceptor`",
    note = "implement `gateway::lifecycle::Interceptor` for `{Self}`"
)]
pub trait Interceptor: Send + Sync + 'static {
    /// Before binding.
    fn pre(&self, ctx: &mut MessageContext) -> impl Future<Output = ControlFlow<Reply>> + Send {
        let _ = ctx;
        async { ControlFlow::Continue(()) }
    }

    /// After the handler, on its reply (not after a `pre` stopped the message).
    fn post(&self, ctx: &MessageContext, reply: &mut Reply) -> impl Future<Output = ()> + Send {
        let _ = (ctx, reply);
        async {}
    }
}

pub(crate) trait DynInterceptor: Send + Sync {
    fn pre<'a>(&'a self, ctx: &'a mut MessageContext) -> BoxFuture<'a, ControlFlow<Reply>>;
    fn post<'a>(&'a self, ctx: &'a MessageContext, reply: &'a mut Reply) -> BoxFuture<'a, ()>;
}

impl<I: Interceptor> DynInterceptor for I {
    fn pre<'a>(&'a self, ctx: &'a mut MessageContext) -> BoxFuture<'a, ControlFlow<Reply>> {
        Box::pin(Interceptor::pre(self, ctx))
    }

    fn post<'a>(&'a self, ctx: &'a MessageContext, reply: &'a mut Reply) -> BoxFuture<'a, ()> {
        Box::pin(Interceptor::post(self, ctx, reply))
    }
}
