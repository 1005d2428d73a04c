//! [`Extension`]: a handler parameter that binds a value the app stored on the connection with
//! [`Connection::insert`].

use crate::base::error::WsError;
use crate::call::connection::Connection;
use crate::call::context::{FromContext, MessageContext};
use std::ops::{Deref, DerefMut};

/// This connection's value of type `T`, stored earlier with [`Connection::insert`] (a copy:
/// changing it changes nothing stored; call `insert` again for that).
///
/// As a parameter, `Extension<T>` fails the call with a 409 error while the connection has no
/// `T` yet (a client that bids before it joined); `Option<Extension<T>>` binds `None` instead.
/// The value lives as long as the connection, so `#[on_disconnect]` still sees it.
///
/// ```
/// use gateway::prelude::*;
///
/// #[derive(Clone)]
/// struct Member { name: String }
///
/// struct Auction;
///
/// #[gateway("auction")]
/// impl Auction {
///     #[subscribe("join")]
///     async fn join(&self, #[body] name: String, conn: Connection) {
///         conn.insert(Member { name });
///     }
///
///     #[subscribe("bid")]
///     async fn bid(&self, #[body] Json(amount): Json<u64>, member: Extension<Member>) -> String {
///         format!("{} bids {amount}", member.name)
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<T>(pub T);

impl<T> Deref for Extension<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Extension<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: Clone + Send + 'static> FromContext for Extension<T> {
    fn from_context(ctx: &MessageContext) -> Result<Self, WsError> {
        stored(ctx.connection()).ok_or_else(|| {
            WsError::new(
                409,
                format!("this connection has no `{}` yet", short_type_name::<T>()),
            )
        })
    }
}

impl<T: Clone + Send + 'static> FromContext for Option<Extension<T>> {
    fn from_context(ctx: &MessageContext) -> Result<Self, WsError> {
        Ok(stored(ctx.connection()))
    }
}

fn stored<T: Clone + Send + 'static>(connection: &Connection) -> Option<Extension<T>> {
    connection.get::<T>().map(Extension)
}

/// `Member` for `my_app::Member`: the name a client may see in an error.
fn short_type_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    let generics = name.find('<').unwrap_or(name.len());
    let start = name[..generics].rfind("::").map_or(0, |at| at + 2);
    &name[start..]
}
