//! [`Guard`]: allows or refuses a connection before the upgrade.

use crate::base::handshake::Handshake;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use std::borrow::Cow;
use std::future::Future;

/// Decides whether a client may connect, after middleware and before the upgrade. A refused
/// client gets the [`Rejection`]'s HTTP status (403 by default) and costs no upgrade, no task and
/// no buffers. Runs app → controller → method; the first refusal wins.
///
/// ```
/// use gateway::lifecycle::{Guard, Handshake, Rejection};
///
/// /// Only clients that say which version they speak.
/// struct RequireVersion;
///
/// impl Guard for RequireVersion {
///     async fn check(&self, handshake: &Handshake) -> Result<(), Rejection> {
///         match handshake.query("v").as_deref() {
///             Some("1") => Ok(()),
///             _ => Err(Rejection::forbidden("connect with ?v=1")),
///         }
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a guard",
    label = "this value is used as a guard but does not implement `Guard`",
    note = "implement `gateway::lifecycle::Guard` for `{Self}`"
)]
pub trait Guard: Send + Sync + 'static {
    /// Allows (`Ok`) or refuses (`Err`) the connection.
    ///
    /// # Errors
    /// The [`Rejection`] is answered instead of upgrading.
    fn check(&self, handshake: &Handshake) -> impl Future<Output = Result<(), Rejection>> + Send;
}

/// A guard's refusal: an HTTP status and a plain-text body.
///
/// ```
/// use gateway::lifecycle::Rejection;
/// use gateway::prelude::StatusCode;
///
/// let refused = Rejection::forbidden("admins only");
/// let later = Rejection::new(StatusCode::TOO_MANY_REQUESTS, "slow down");
/// # let _ = (refused, later);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The status sent instead of `101 Switching Protocols`.
    pub status: StatusCode,
    /// The response body.
    pub body: Cow<'static, str>,
}

impl Rejection {
    /// A refusal with any status.
    pub fn new(status: StatusCode, body: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            body: body.into(),
        }
    }

    /// 403 Forbidden, the default refusal.
    pub fn forbidden(body: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, body)
    }

    /// 401 Unauthorized: the client did not say who it is.
    pub fn unauthorized(body: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, body)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        (self.status, self.body).into_response()
    }
}

pub(crate) trait DynGuard: Send + Sync {
    fn check<'a>(&'a self, handshake: &'a Handshake) -> BoxFuture<'a, Result<(), Rejection>>;
}

impl<G: Guard> DynGuard for G {
    fn check<'a>(&'a self, handshake: &'a Handshake) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(Guard::check(self, handshake))
    }
}
