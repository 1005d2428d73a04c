//! [`Handler`]: one generated handler, as the macros implement it, and [`Dispatch`], the same
//! bound to its controller as the connection loop calls it (one trait object per endpoint).

use crate::base::error::WsError;
use crate::call::context::MessageContext;
use crate::call::reply::Reply;
use futures_util::future::BoxFuture;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

/// One generated handler: binds its parameters from a [`MessageContext`], calls the user's method
/// on the controller and turns its value into a [`Reply`]. `#[controller]` implements it on a
/// marker type per method. The connection loop calls it through one trait object, so the loop
/// is compiled once for every endpoint (the call's future is boxed per message).
pub trait Handler<C>: Send + Sync + 'static {
    /// One call of the user's method.
    fn call<'a>(
        controller: &'a C,
        ctx: &'a MessageContext,
    ) -> impl Future<Output = Reply> + Send + 'a;

    /// The `id` of the request in `ctx` that an error answers (a gateway's event envelope);
    /// `None` where messages carry no ids.
    fn request_id(ctx: &MessageContext) -> Option<u64> {
        let _ = ctx;
        None
    }

    /// After the connection ended (a gateway's `#[on_disconnect]`); the summary is in `ctx`.
    fn on_disconnect<'a>(
        controller: &'a C,
        ctx: &'a MessageContext,
    ) -> impl Future<Output = ()> + Send + 'a {
        let _ = (controller, ctx);
        async {}
    }

    /// On every error, before the catchers (a gateway's `#[on_error]`).
    fn on_error<'a>(
        controller: &'a C,
        ctx: &'a MessageContext,
        error: &'a WsError,
    ) -> impl Future<Output = ()> + Send + 'a {
        let _ = (controller, ctx, error);
        async {}
    }
}

/// A generated handler with its controller, as the connection loop calls it.
pub(crate) trait Dispatch: Send + Sync + 'static {
    fn call<'a>(&'a self, ctx: &'a MessageContext) -> BoxFuture<'a, Reply>;
    fn request_id(&self, ctx: &MessageContext) -> Option<u64>;
    fn on_disconnect<'a>(&'a self, ctx: &'a MessageContext) -> BoxFuture<'a, ()>;
    fn on_error<'a>(&'a self, ctx: &'a MessageContext, error: &'a WsError) -> BoxFuture<'a, ()>;
}

/// Handler `H` bound to `controller`, as the connection loop calls it.
pub(crate) fn bind<C: Send + Sync + 'static, H: Handler<C>>(
    controller: Arc<C>,
) -> Box<dyn Dispatch> {
    Box::new(Bound::<C, H> {
        controller,
        handler: PhantomData,
    })
}

struct Bound<C, H> {
    controller: Arc<C>,
    handler: PhantomData<fn() -> H>,
}

impl<C: Send + Sync + 'static, H: Handler<C>> Dispatch for Bound<C, H> {
    fn call<'a>(&'a self, ctx: &'a MessageContext) -> BoxFuture<'a, Reply> {
        Box::pin(H::call(&self.controller, ctx))
    }

    fn request_id(&self, ctx: &MessageContext) -> Option<u64> {
        H::request_id(ctx)
    }

    fn on_disconnect<'a>(&'a self, ctx: &'a MessageContext) -> BoxFuture<'a, ()> {
        Box::pin(H::on_disconnect(&self.controller, ctx))
    }

    fn on_error<'a>(&'a self, ctx: &'a MessageContext, error: &'a WsError) -> BoxFuture<'a, ()> {
        Box::pin(H::on_error(&self.controller, ctx, error))
    }
}
