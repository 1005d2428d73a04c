//! The bounds on what a client can hold by *not* finishing its messages (a slowloris for frames,
//! endless empty continuation frames): frames per message, a deadline to complete one, and an
//! app-wide budget of the bytes incomplete messages hold. The size of one message is the
//! endpoint's `max_message`, checked by the reader from each frame's header.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The bounds one app puts on incomplete messages (shared by all its connections).
#[derive(Debug)]
pub(crate) struct InboundLimits {
    pub(crate) max_frames: u32,
    pub(crate) message_timeout: Duration,
    budget: usize,
    /// Bytes held by incomplete messages now, app-wide.
    held: AtomicUsize,
}

impl InboundLimits {
    pub(crate) fn new(max_frames: u32, message_timeout: Duration, budget: usize) -> Self {
        Self {
            max_frames,
            message_timeout,
            budget,
            held: AtomicUsize::new(0),
        }
    }

    /// Takes `bytes` from the budget, unless that would pass it.
    pub(crate) fn reserve(&self, bytes: usize) -> bool {
        let before = self.held.fetch_add(bytes, Ordering::AcqRel);
        if before + bytes > self.budget {
            self.held.fetch_sub(bytes, Ordering::AcqRel);
            return false;
        }
        true
    }

    pub(crate) fn release(&self, bytes: usize) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Bytes held by incomplete messages now, app-wide.
    #[cfg(any(fuzzing, test))]
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }
}

/// A client went past one of the bounds on incomplete messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InboundLimit {
    #[error("a message has more frames than allowed")]
    TooManyFrames,
    #[error("a message was not completed in time")]
    Timeout,
    #[error("incomplete messages hold the app's whole inbound budget")]
    OverBudget,
}

impl InboundLimit {
    /// The close code and reason the client gets.
    pub(crate) fn close(self) -> (u16, &'static str) {
        use crate::base::close::close_code;
        match self {
            Self::TooManyFrames => (close_code::MESSAGE_TOO_BIG, "too many frames"),
            Self::Timeout => (close_code::POLICY_VIOLATION, "message timeout"),
            Self::OverBudget => (close_code::TRY_AGAIN_LATER, "server busy"),
        }
    }
}
