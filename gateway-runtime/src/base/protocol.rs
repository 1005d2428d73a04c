//! The resume protocol's messages: what a client says (`$ack`, `$resume`) and what the server
//! answers (`$session`, `$resumed`). Every name starts with `$`, which no app event may (the
//! macros refuse `#[subscribe("$..")]`), and the protocol's keys live inside `data`.

use super::token::Token;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::time::Duration;
use tungstenite::{Message, Utf8Bytes};

/// A protocol message from the client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ClientSays {
    /// `{"event":"$ack","data":N}`: every message up to number `N` arrived.
    Ack(u64),
    /// `{"event":"$resume","data":{"token":T,"seq":N}}`: continue session `T` after message `N`.
    Resume { token: Token, seq: u64 },
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    event: &'a str,
    #[serde(borrow)]
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct ResumeData<'a> {
    #[serde(borrow)]
    token: &'a str,
    seq: u64,
}

/// Reads a protocol message; `None` for anything else (an app's message, or a malformed one,
/// which then goes to the app's routing like any message).
pub(crate) fn parse(payload: &[u8]) -> Option<ClientSays> {
    // Nearly every message is the app's: a protocol name needs `"$` somewhere, which one pass
    // over the bytes rules out before any JSON is parsed.
    memchr::memmem::find(payload, b"\"$")?;
    let envelope: Envelope = serde_json::from_slice(payload).ok()?;
    match envelope.event {
        "$ack" => serde_json::from_str(envelope.data.get())
            .ok()
            .map(ClientSays::Ack),
        "$resume" => {
            let data: ResumeData = serde_json::from_str(envelope.data.get()).ok()?;
            Some(ClientSays::Resume {
                token: Token::parse(data.token)?,
                seq: data.seq,
            })
        }
        _ => None,
    }
}

/// Why a client that asked to resume got a fresh session instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FreshReason {
    /// The session's window passed before the client came back (or the server ended the
    /// oldest parked session to make room for newer ones).
    Expired,
    /// The server knows no such session: it never issued the token, the session ended for
    /// good (a clean close), or the server restarted.
    Unknown,
    /// Messages for the client were dropped: its replay buffer overflowed, or it asked to
    /// continue after a message the server no longer has.
    Lost,
}

/// `{"event":"$session","data":{"token":T,"window_ms":W,"reason"?:R}}`: a new session, numbered
/// from 1; `reason` when it answers a `$resume` that could not be honoured.
pub(crate) fn session(token: Token, window: Duration, reason: Option<FreshReason>) -> Message {
    #[derive(Serialize)]
    struct Session {
        token: String,
        window_ms: u128,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<FreshReason>,
    }
    event(
        "$session",
        &Session {
            token: token.to_string(),
            window_ms: window.as_millis(),
            reason,
        },
    )
}

/// `{"event":"$resumed","data":{"seq":N,"replay":K}}`: the session goes on after message `N`;
/// the next `K` messages are the ones the client missed (numbers `N+1` to `N+K`).
pub(crate) fn resumed(seq: u64, replay: usize) -> Message {
    #[derive(Serialize)]
    struct Resumed {
        seq: u64,
        replay: usize,
    }
    event("$resumed", &Resumed { seq, replay })
}

fn event(name: &str, data: &impl Serialize) -> Message {
    crate::base::envelope::event_message(name, data)
        .unwrap_or_else(|| Message::Text(Utf8Bytes::default()))
}

#[cfg(test)]
mod tests {
    use super::{parse, ClientSays};
    use crate::base::token::Token;

    #[test]
    fn reads_acks_and_resume_requests_and_leaves_everything_else() {
        assert_eq!(
            parse(br#"{"event":"$ack","data":42}"#),
            Some(ClientSays::Ack(42))
        );
        assert_eq!(
            parse(br#"{ "data": 7, "event": "$ack" }"#),
            Some(ClientSays::Ack(7))
        );
        let token = Token::random();
        let resume = format!(r#"{{"event":"$resume","data":{{"token":"{token}","seq":3}}}}"#);
        assert_eq!(
            parse(resume.as_bytes()),
            Some(ClientSays::Resume { token, seq: 3 })
        );
        for other in [
            &br#"{"event":"say","data":"$5"}"#[..],
            br#"{"event":"$ack","data":-1}"#,
            br#"{"event":"$ack"}"#,
            br#"{"event":"$resume","data":{"token":"short","seq":1}}"#,
            br#"{"event":"$other","data":1}"#,
            b"\"$ack",
            b"",
        ] {
            assert_eq!(parse(other), None, "{}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn no_corruption_of_a_resume_request_panics() {
        let token = Token::random();
        let request = format!(r#"{{"event":"$resume","data":{{"token":"{token}","seq":3}}}}"#);
        let request = request.as_bytes();
        for at in 0..request.len() {
            crate::__fuzz::resume_request(&request[..at]);
            for byte in [0, b'"', b'$', b'{', b'}', b'\\', b'9', 0xff] {
                let mut corrupted = request.to_vec();
                corrupted[at] = byte;
                crate::__fuzz::resume_request(&corrupted);
            }
        }
    }
}
