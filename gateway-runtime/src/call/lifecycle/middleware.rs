//! [`Middleware`]: runs on the upgrade request, before guards; may attach data or answer instead.

use crate::base::handshake::Handshake;
use axum::response::Response;
use futures_util::future::BoxFuture;
use std::future::Future;

/// Reads the upgrade request, may attach typed data for `#[data]` parameters
/// ([`Handshake::insert_data`]), or answers with an HTTP response instead of upgrading
/// (`Err(response)`: no upgrade, no task, no buffers). Runs app → controller → method.
///
/// ```
/// use gateway::lifecycle::{Handshake, Middleware, IntoResponse, Response, StatusCode};
///
/// #[derive(Clone)]
/// struct User { name: String }
///
/// struct UserFromHeader;
///
/// impl Middleware for UserFromHeader {
///     async fn handle(&self, handshake: &mut Handshake) -> Result<(), Response> {
///         let Some(name) = handshake.header("x-user") else {
///             return Err((StatusCode::UNAUTHORIZED, "send an x-user header").into_response());
///         };
///         let user = User { name: name.to_owned() };
///         handshake.insert_data(user);
///         Ok(())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a middleware",
    label = "this value is used as a middleware but does not implement `Middleware`",
    note = "implement `gateway::lifecycle::Middleware` for `{Self}`"
)]
pub trait Middleware: Send + Sync + 'static {
    /// Handles the upgrade request.
    ///
    /// # Errors
    /// `Err(response)` is sent to the client instead of upgrading.
    fn handle(
        &self,
        handshake: &mut Handshake,
    ) -> impl Future<Output = Result<(), Response>> + Send;
}

pub(crate) trait DynMiddleware: Send + Sync {
    fn handle<'a>(&'a self, handshake: &'a mut Handshake) -> BoxFuture<'a, Result<(), Response>>;
}

impl<M: Middleware> DynMiddleware for M {
    fn handle<'a>(&'a self, handshake: &'a mut Handshake) -> BoxFuture<'a, Result<(), Response>> {
        Box::pin(Middleware::handle(self, handshake))
    }
}
