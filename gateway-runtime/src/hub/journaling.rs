//! [`Journaling`]: the journal of resumable sessions, as the hub calls it (feature `redis`). The
//! endpoint layer implements it (`endpoint::resume::cluster`); only an app with resumable
//! endpoints in a cluster has one.

use crate::base::ids::ConnectionId;
use std::any::Any;
use std::sync::Arc;

/// What the hub tells the journal of this instance's resumable sessions.
pub(crate) trait Journaling: Any + Send + Sync {
    /// Connection `id` has left this instance.
    fn close(&self, id: ConnectionId);

    /// Another instance's client resumed session `token`, held here: let it go.
    fn release(&self, token: &str);

    /// Another instance has let session `token` go, as this one asked.
    fn released(&self, token: Arc<str>);
}
