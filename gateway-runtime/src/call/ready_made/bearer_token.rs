use crate::base::handshake::Handshake;
use crate::call::lifecycle::{Guard, Rejection};

/// A [`Guard`] that admits clients whose `authorization: Bearer <token>` header holds a token
/// the closure accepts; everyone else gets 403.
///
/// ```
/// use gateway::prelude::*;
///
/// let app = App::new().guard(BearerToken::new(|token| token == "letmein"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct BearerToken<F> {
    accepts: F,
}

impl<F> BearerToken<F>
where
    F: Fn(&str) -> bool + Send + Sync + 'static,
{
    /// A guard that asks `accepts` about each token.
    pub fn new(accepts: F) -> Self {
        Self { accepts }
    }
}

impl<F> Guard for BearerToken<F>
where
    F: Fn(&str) -> bool + Send + Sync + 'static,
{
    async fn check(&self, handshake: &Handshake) -> Result<(), Rejection> {
        let token = handshake
            .header("authorization")
            .and_then(|value| value.strip_prefix("Bearer "));
        match token {
            Some(token) if (self.accepts)(token) => Ok(()),
            _ => Err(Rejection::forbidden("a valid bearer token is required")),
        }
    }
}
