//! [`Backplane`]: carries hub traffic between server instances.

use crate::hub::Scope;
use tungstenite::Message;

/// Carries what one instance's [`Hub`](crate::Hub) sends to the other instances of the same
/// service, which deliver it to their own clients. The hub has already delivered to its local
/// clients when `publish` is called, so a backplane never delivers an instance's own message
/// twice. One process needs none: [`LocalBackplane`] is the default and does nothing.
pub trait Backplane: Send + Sync + 'static {
    /// Hands a message for `scope` (minus `except`) to the other instances. Must not wait.
    fn publish(&self, scope: &Scope, except: &[crate::ConnectionId], message: &Message);
}

/// The backplane of a single instance: every client is local, so there is nothing to carry.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalBackplane;

impl Backplane for LocalBackplane {
    fn publish(&self, _: &Scope, _: &[crate::ConnectionId], _: &Message) {}
}
