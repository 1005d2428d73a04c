//! [`Member`]: a connection as the hub reaches it. The call layer's `Connection` is one; the hub
//! never sees more of it than this.

use crate::base::send::SendError;
use crate::base::settings::SlowConsumer;
use std::any::Any;
use std::sync::Arc;
use tungstenite::Message;

/// What the hub does to one of its connections.
pub(crate) trait Member: Send + Sync + 'static {
    /// Queues `message` for the client.
    fn queue(&self, message: Message) -> Result<(), SendError>;

    /// What happens when its queue is full.
    fn slow_consumer(&self) -> SlowConsumer;

    /// Ends it for falling behind; `true` the first time.
    fn evict(&self) -> bool;

    /// Asks it to close with `code` and `reason`.
    fn request_close(&self, code: u16, reason: &str);

    /// Whether it takes what the hub fans out. A resumable session of a cluster does not: what
    /// is sent to it goes into the journal and comes back from there (see `endpoint::resume`).
    fn takes_fan_out(&self) -> bool {
        true
    }

    /// A message for it went into the journal, to come back to be written.
    fn sent_through_journal(&self) {}

    /// Itself, for the layer that made it to find its own type again.
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}
