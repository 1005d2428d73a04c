use crate::base::handshake::Handshake;
use crate::call::lifecycle::{CloseSummary, Observer};

/// An [`Observer`] that logs every connection through `tracing`: an event when the upgrade
/// request arrives and one with the [`CloseSummary`] when it ends. The runtime already runs each
/// connection inside a `connection` span with `client_id` and `path`.
///
/// ```
/// use gateway::prelude::*;
///
/// let app = App::new().observer(TracingObserver);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingObserver;

impl Observer for TracingObserver {
    async fn on_open(&self, handshake: &Handshake) {
        tracing::info!(
            path = handshake.uri().path(),
            remote_addr = ?handshake.remote_addr(),
            "connection requested"
        );
    }

    async fn on_close(&self, summary: &CloseSummary) {
        tracing::info!(
            client_id = ?summary.client_id.map(u64::from),
            path = %summary.path,
            closed_by = ?summary.closed_by,
            code = ?summary.code,
            reason = %summary.reason,
            duration_ms = summary.duration.as_millis() as u64,
            messages_in = summary.messages_in,
            messages_out = summary.messages_out,
            error = ?summary.error,
            "connection closed"
        );
    }
}
