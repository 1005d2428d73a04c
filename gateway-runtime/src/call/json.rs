//! [`Json`]: a message body or reply encoded as JSON.

use std::ops::{Deref, DerefMut};

/// JSON in either direction: as `#[body] x: Json<T>` it decodes a text or binary message into
/// `T: DeserializeOwned`; as a return value it encodes `T: Serialize` into a text message.
///
/// ```
/// use gateway::extract::Json;
/// #[derive(serde::Serialize)]
/// struct Greeting { greeting: String }
/// let reply = Json(Greeting { greeting: "Hello, Ada".into() });
/// assert_eq!(reply.greeting, "Hello, Ada");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The decoded value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}
