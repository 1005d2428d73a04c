use crate::base::handshake::Handshake;
use crate::call::lifecycle::{Guard, Rejection};

/// A [`Guard`] that refuses (403) upgrade requests without the named header.
///
/// ```
/// use gateway::prelude::*;
///
/// let app = App::new().guard(RequireHeader("x-user"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RequireHeader(pub &'static str);

impl Guard for RequireHeader {
    async fn check(&self, handshake: &Handshake) -> Result<(), Rejection> {
        match handshake.headers().contains_key(self.0) {
            true => Ok(()),
            false => Err(Rejection::forbidden(format!("missing header `{}`", self.0))),
        }
    }
}
