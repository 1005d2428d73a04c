//! The test client's side of the resume protocol: it reads `$session` and `$resumed` itself
//! (tests see the app's messages only), counts the numbered messages, and resumes on request.

use crate::base::protocol::FreshReason;
use serde::Deserialize;

/// A resumable session as the test client knows it (see [`Client::session`]).
///
/// [`Client::session`]: super::Client::session
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session's token (secret: it resumes the session).
    pub token: String,
    /// The number of the last message this client read.
    pub seq: u64,
}

/// How the server answered [`Client::resume`](super::Client::resume).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// The session goes on: the next `replay` messages are the ones this client missed.
    Resumed {
        /// How many messages are written again.
        replay: usize,
    },
    /// A fresh session began, for this reason; the old one's state and messages are gone.
    Fresh(FreshReason),
    /// Another connection resumed the session before this one was answered: this one was
    /// closed with 4000 (the newest connection of a client is its own).
    TakenOver,
}

/// A protocol message from the server.
pub(super) enum ServerSays {
    Session {
        token: String,
        reason: Option<FreshReason>,
    },
    Resumed {
        seq: u64,
        replay: usize,
    },
}

impl ServerSays {
    /// Reads `$session` or `$resumed`; `None` for the app's messages.
    pub(super) fn parse(text: &str) -> Option<Self> {
        #[derive(Deserialize)]
        #[serde(tag = "event", content = "data")]
        enum Said {
            #[serde(rename = "$session")]
            Session {
                token: String,
                reason: Option<FreshReason>,
            },
            #[serde(rename = "$resumed")]
            Resumed { seq: u64, replay: usize },
        }
        if !text.starts_with(r#"{"event":"$"#) {
            return None;
        }
        Some(match serde_json::from_str(text).ok()? {
            Said::Session { token, reason } => Self::Session { token, reason },
            Said::Resumed { seq, replay } => Self::Resumed { seq, replay },
        })
    }
}
