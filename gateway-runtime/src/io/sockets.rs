//! Every socket the app holds open for a client, counted against `max_connections`: WebSocket
//! connections (from the moment their upgrade is admitted, so a pending upgrade or a `?resume`
//! that has not sent `$resume` counts too) and Server-Sent Events streams. A parked resumable
//! session holds no socket and does not count (its own bounds are `ResumeLimits`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The app's open sockets and their bound.
#[derive(Debug)]
pub(crate) struct Sockets {
    open: AtomicUsize,
    max: usize,
}

/// One admitted socket: counted until it is dropped.
#[derive(Debug)]
pub(crate) struct SocketSlot(Arc<Sockets>);

impl Sockets {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            open: AtomicUsize::new(0),
            max,
        })
    }

    /// A slot for one more socket, unless the app holds `max_connections` already.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<SocketSlot> {
        let before = self.open.fetch_add(1, Ordering::AcqRel);
        if before >= self.max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(SocketSlot(Arc::clone(self)))
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}
