//! The gateway protocol's own messages: what a client says (`$ack`, `$resume`, `$ping`, the
//! answer to a server's request) and what the server answers (`$session`, `$resumed`, `$pong`).
//! Every name starts with `$`, which no app event may (the macros refuse `#[subscribe("$..")]`),
//! and the protocol's keys live inside `data`; an answer is `{"ack": N, ..}`, as the server's
//! answers to the client's requests are.

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
    /// `{"event":"$ping"}`: is the connection alive? Answered with `$pong` at once.
    Ping,
    /// `{"ack":N,"data":D}` or `{"ack":N,"error":E,"status":S}`: the client's answer to the
    /// server's request `N`.
    Answer { id: u64, answer: Answer },
}

/// A client's answer to a request of the server.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Its `data`, as JSON text (`null` when it had none).
    Data(String),
    /// An error answer: its text and status.
    Error { message: String, status: u16 },
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    event: &'a str,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct AnswerEnvelope<'a> {
    ack: u64,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<String>,
    /// Any number: one that is no status reads as 500.
    #[serde(default)]
    status: Option<serde_json::Number>,
    /// An event with an `ack` key is the app's, not an answer.
    #[serde(default)]
    event: Option<serde::de::IgnoredAny>,
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
    // Nearly every message is the app's: a protocol name needs `"$` somewhere, and an answer
    // `"ack"`, which a pass over the bytes rules out before any JSON is parsed.
    if memchr::memmem::find(payload, b"\"$").is_some() {
        if let Some(said) = parse_event(payload) {
            return Some(said);
        }
    }
    memchr::memmem::find(payload, b"\"ack\"")?;
    parse_answer(payload)
}

fn parse_event(payload: &[u8]) -> Option<ClientSays> {
    let envelope: Envelope = serde_json::from_slice(payload).ok()?;
    match envelope.event {
        "$ack" => serde_json::from_str(envelope.data?.get())
            .ok()
            .map(ClientSays::Ack),
        "$ping" => Some(ClientSays::Ping),
        "$resume" => {
            let data: ResumeData = serde_json::from_str(envelope.data?.get()).ok()?;
            Some(ClientSays::Resume {
                token: Token::parse(data.token)?,
                seq: data.seq,
            })
        }
        _ => None,
    }
}

fn parse_answer(payload: &[u8]) -> Option<ClientSays> {
    let answer: AnswerEnvelope = serde_json::from_slice(payload).ok()?;
    if answer.event.is_some() {
        return None;
    }
    let id = answer.ack;
    let answer = match answer.error {
        Some(message) => Answer::Error {
            message,
            status: answer
                .status
                .and_then(|status| status.as_u64())
                .and_then(|status| u16::try_from(status).ok())
                .unwrap_or(500),
        },
        None => Answer::Data(answer.data.map_or("null", RawValue::get).to_owned()),
    };
    Some(ClientSays::Answer { id, answer })
}

/// `{"event":"$pong","data":null}`: the answer to a client's `$ping` (not numbered).
pub(crate) fn pong() -> Message {
    event("$pong", &())
}

/// `{"event":E,"data":D,"id":N}`: the server's request `N` of the client (`data` as JSON text).
pub(crate) fn request(id: u64, name: &str, data: &str) -> Message {
    let name = serde_json::Value::from(name);
    Message::Text(Utf8Bytes::from(format!(
        r#"{{"event":{name},"data":{data},"id":{id}}}"#
    )))
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
    use super::{parse, Answer, ClientSays};
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
        assert_eq!(parse(br#"{"event":"$ping"}"#), Some(ClientSays::Ping));
        assert_eq!(
            parse(br#"{"ack":3,"data":{"ok":true}}"#),
            Some(ClientSays::Answer {
                id: 3,
                answer: Answer::Data(r#"{"ok":true}"#.to_owned())
            })
        );
        assert_eq!(
            parse(br#"{"status":404,"ack":4,"error":"no handler"}"#),
            Some(ClientSays::Answer {
                id: 4,
                answer: Answer::Error {
                    message: "no handler".to_owned(),
                    status: 404
                }
            })
        );
        assert_eq!(
            parse(br#"{"ack":6,"error":"x","status":99999}"#),
            Some(ClientSays::Answer {
                id: 6,
                answer: Answer::Error {
                    message: "x".to_owned(),
                    status: 500
                }
            })
        );
        assert_eq!(
            parse(br#"{"ack":5,"data":"$5"}"#),
            Some(ClientSays::Answer {
                id: 5,
                answer: Answer::Data(r#""$5""#.to_owned())
            })
        );
        for other in [
            &br#"{"event":"say","data":"$5"}"#[..],
            br#"{"event":"say","ack":1}"#,
            br#"{"ack":-1}"#,
            br#"{"data":{"ack":1}}"#,
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
