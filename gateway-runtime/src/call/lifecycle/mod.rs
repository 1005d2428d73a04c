//! The lifecycle components and the order they run in:
//!
//! ```text
//! upgrade request ─▶ observers.on_open ─▶ middleware ─▶ guards ─▶ 101 Switching Protocols
//!   per message: interceptors.pre ─▶ binding ─▶ handler ─▶ interceptors.post ─▶ send
//!   errors anywhere on the way ─▶ catchers (innermost first) ─▶ default catcher
//! end ─▶ observers.on_close(summary)
//! ```
//!
//! `open`, `pre`, middleware and guards run app → controller → method; `post` and catchers run
//! method → controller → app.

mod catcher;
mod guard;
mod interceptor;
mod middleware;
mod observer;

pub use catcher::{Catcher, Caught};
pub use guard::{Guard, Rejection};
pub use interceptor::Interceptor;
pub use middleware::Middleware;
pub use observer::{CloseSummary, ClosedBy, Observer, Resumed};

use crate::base::error::{ErrorOrigin, WsError};
use crate::base::handshake::Handshake;
use crate::call::connection::Connection;
use crate::call::context::MessageContext;
use crate::call::handler::Dispatch;
use crate::call::reply::Reply;
use axum::response::{IntoResponse, Response};
use catcher::DynCatcher;
use guard::DynGuard;
use interceptor::DynInterceptor;
use middleware::DynMiddleware;
use observer::DynObserver;
use std::ops::ControlFlow;
use std::sync::Arc;

/// The components of one level (app, controller or method), or of a whole endpoint once the
/// levels are joined. Built by [`App`](crate::App)'s methods and by the lifecycle attributes.
#[derive(Clone, Default)]
pub struct Lifecycle {
    observers: Vec<Arc<dyn DynObserver>>,
    middleware: Vec<Arc<dyn DynMiddleware>>,
    guards: Vec<Arc<dyn DynGuard>>,
    interceptors: Vec<Arc<dyn DynInterceptor>>,
    catchers: Vec<Arc<dyn DynCatcher>>,
}

impl std::fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lifecycle")
            .field("observers", &self.observers.len())
            .field("middleware", &self.middleware.len())
            .field("guards", &self.guards.len())
            .field("interceptors", &self.interceptors.len())
            .field("catchers", &self.catchers.len())
            .finish()
    }
}

impl Lifecycle {
    /// No components.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an observer after those already added.
    pub fn observer(mut self, observer: impl Observer) -> Self {
        self.observers.push(Arc::new(observer));
        self
    }

    /// Adds a middleware after those already added.
    pub fn middleware(mut self, middleware: impl Middleware) -> Self {
        self.middleware.push(Arc::new(middleware));
        self
    }

    /// Adds a guard after those already added.
    pub fn guard(mut self, guard: impl Guard) -> Self {
        self.guards.push(Arc::new(guard));
        self
    }

    /// Adds an interceptor after those already added.
    pub fn interceptor(mut self, interceptor: impl Interceptor) -> Self {
        self.interceptors.push(Arc::new(interceptor));
        self
    }

    /// Adds a catcher after those already added.
    pub fn catcher(mut self, catcher: impl Catcher) -> Self {
        self.catchers.push(Arc::new(catcher));
        self
    }

    /// This level around an inner one: this level's components run first where the order is
    /// outer → inner, and last where it is inner → outer.
    pub fn around(&self, inner: &Lifecycle) -> Lifecycle {
        fn join<T: ?Sized>(outer: &[Arc<T>], inner: &[Arc<T>]) -> Vec<Arc<T>> {
            outer.iter().chain(inner).cloned().collect()
        }
        Lifecycle {
            observers: join(&self.observers, &inner.observers),
            middleware: join(&self.middleware, &inner.middleware),
            guards: join(&self.guards, &inner.guards),
            interceptors: join(&self.interceptors, &inner.interceptors),
            catchers: join(&self.catchers, &inner.catchers),
        }
    }

    /// Observers' `on_open`, then middleware, then guards. `Err` is the HTTP answer that
    /// replaces the upgrade.
    pub(crate) async fn admit(&self, handshake: &mut Handshake) -> Result<(), Response> {
        for observer in &self.observers {
            observer.on_open(handshake).await;
        }
        self.authorize(handshake).await
    }

    /// Middleware, then guards: all that applies to a Server-Sent Events request (it has no
    /// messages for interceptors and catchers, and no close for observers).
    pub(crate) async fn authorize(&self, handshake: &mut Handshake) -> Result<(), Response> {
        for middleware in &self.middleware {
            middleware.handle(handshake).await?;
        }
        for guard in &self.guards {
            guard
                .check(handshake)
                .await
                .map_err(IntoResponse::into_response)?;
        }
        Ok(())
    }

    pub(crate) async fn resumed(&self, resumed: &crate::call::lifecycle::Resumed) {
        for observer in &self.observers {
            observer.on_resume(resumed).await;
        }
    }

    pub(crate) async fn closed(&self, summary: &CloseSummary) {
        for observer in &self.observers {
            observer.on_close(summary).await;
        }
    }

    /// `pre` of every interceptor, the handler call, `post` in reverse.
    pub(crate) async fn call(&self, handler: &dyn Dispatch, ctx: &mut MessageContext) -> Reply {
        for interceptor in &self.interceptors {
            if let ControlFlow::Break(reply) = interceptor.pre(ctx).await {
                return match reply {
                    Reply::Error(error) => {
                        Reply::Error(error.with_origin(ErrorOrigin::Interceptor))
                    }
                    other => other,
                };
            }
        }
        let mut reply = handler.call(ctx).await;
        for interceptor in self.interceptors.iter().rev() {
            interceptor.post(ctx, &mut reply).await;
        }
        reply
    }

    /// The first catcher (innermost first) that does not pass; the default when all pass.
    pub(crate) async fn catch(&self, error: &WsError, connection: &Connection) -> Caught {
        for catcher in self.catchers.iter().rev() {
            match catcher.catch(error, connection).await {
                Caught::Pass => continue,
                decided => return decided,
            }
        }
        match error.origin() {
            ErrorOrigin::Panic => Caught::Close(
                crate::base::close::close_code::INTERNAL_ERROR,
                "internal error".into(),
            ),
            _ => Caught::Reply(Reply::Message(error.to_json().into())),
        }
    }
}
