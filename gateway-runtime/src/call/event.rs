//! Event routing for the gateway style: `{"event": E, "data": D, "id"?: N}` in, `{"event": E,
//! "data": V}` or `{"ack": N, "data": V}` out.

use crate::base::envelope::envelope_text;
use crate::base::error::WsError;
use crate::base::send::payload;
use crate::call::context::MessageContext;
use crate::call::json::Json;
use crate::call::reply::{Each, Reply};
use futures_core::Stream;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use tungstenite::{Message, Utf8Bytes};

/// What a client's message is, for a gateway.
// Made once per message and matched at once: boxing the large variant would only add an
// allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Incoming {
    /// The connection just opened (no message).
    Connect,
    /// A resumable session's client came back (no message).
    Resume,
    /// An event envelope: `{"event": name, "data": .., "id"?: N}`. `context` binds from `data`.
    Event {
        /// The event's name.
        name: String,
        /// The acknowledgement id the client asked for.
        id: Option<u64>,
        /// The same connection, with `data` as the message body.
        context: MessageContext,
    },
    /// Anything else: for the gateway's `#[on_message]` catch-all.
    Raw,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    id: Option<u64>,
}

/// Reads a gateway message. `data`, as its JSON text, becomes the body `#[body]` parameters bind
/// from (as event data: `#[body] text: String` gets the text of a JSON string, `hello`, not
/// `"hello"`; `Json<T>` decodes any JSON).
pub fn route_event(ctx: &MessageContext) -> Incoming {
    let Some(message) = ctx.body() else {
        return if ctx.is_resume() {
            Incoming::Resume
        } else {
            Incoming::Connect
        };
    };
    match parse_envelope(payload(message)) {
        Some(ParsedEvent { name, id, body }) => Incoming::Event {
            name,
            id,
            context: ctx.with_event_data(body),
        },
        None => Incoming::Raw,
    }
}

/// A parsed event envelope: name, acknowledgement id, and `data` (its JSON text) as the body to
/// bind from.
pub(crate) struct ParsedEvent {
    pub(crate) name: String,
    pub(crate) id: Option<u64>,
    pub(crate) body: Option<Message>,
}

/// Reads `{"event": .., "data"?: .., "id"?: ..}` from a client's bytes; `None` for anything else.
pub(crate) fn parse_envelope(payload: &[u8]) -> Option<ParsedEvent> {
    let envelope = serde_json::from_slice::<Envelope>(payload).ok()?;
    let body = envelope
        .data
        .map(|data| Message::Text(Utf8Bytes::from(data.get().to_owned())));
    Some(ParsedEvent {
        name: envelope.event.into_owned(),
        id: envelope.id,
        body,
    })
}

/// The `id` of the gateway request in `ctx`, for an error that arose before its handler could
/// answer (binding, an interceptor, an unknown event, a panic). Read again only on that rare path.
pub fn request_id(ctx: &MessageContext) -> Option<u64> {
    #[derive(Deserialize)]
    struct Request {
        id: Option<u64>,
    }
    let message = ctx.body()?;
    serde_json::from_slice::<Request>(payload(message)).ok()?.id
}

/// The error for an event no `#[subscribe]` handles (and no `#[on_message]` catches).
pub fn unknown_event(name: &str) -> Reply {
    Reply::Error(WsError::new(404, format!("unknown event `{name}`")))
}

/// The error for a message that is not an event envelope (and no `#[on_message]` catches).
pub fn not_an_event() -> Reply {
    Reply::Error(WsError::bad_request(
        r#"expected an event: {"event": "name", "data": ..., "id"?: number}"#,
    ))
}

/// A subscribe handler's value as the reply to event `name` (acknowledging `id` if given).
pub fn event_reply(name: &'static str, id: Option<u64>, value: impl IntoEventReply) -> Reply {
    envelope(name, id, value.into_event_reply())
}

fn envelope(name: &'static str, id: Option<u64>, reply: EventReply) -> Reply {
    let data = match reply {
        // A client that asked for an acknowledgement gets one, even for "nothing".
        EventReply::Nothing if id.is_some() => "null".to_owned(),
        EventReply::Nothing => return Reply::Nothing,
        EventReply::Data(data) => data,
        EventReply::Error(error) => return Reply::Error(error.answering(id)),
        EventReply::Stream(items) => {
            return Reply::Stream(Box::pin(items.map(move |item| envelope(name, id, item))))
        }
    };
    let text = match id {
        Some(id) => format!(r#"{{"ack":{id},"data":{data}}}"#),
        None => envelope_text(name, &data),
    };
    Reply::Message(Message::Text(Utf8Bytes::from(text)))
}

/// What a `#[subscribe]` handler produced: the `data` of its answer.
///
/// ```
/// use gateway::reply::{Ack, EventReply, IntoEventReply};
///
/// assert!(matches!(Ack(3).into_event_reply(), EventReply::Data(data) if data == "3"));
/// assert!(matches!(().into_event_reply(), EventReply::Nothing));
/// ```
pub enum EventReply {
    /// No answer (an acknowledgement with `null` if the client asked for one).
    Nothing,
    /// The answer's `data`, as JSON text.
    Data(String),
    /// Hand this to the catchers.
    Error(WsError),
    /// One answer per item.
    Stream(std::pin::Pin<Box<dyn Stream<Item = EventReply> + Send>>),
}

impl std::fmt::Debug for EventReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventReply::Nothing => f.write_str("Nothing"),
            EventReply::Data(data) => f.debug_tuple("Data").field(data).finish(),
            EventReply::Error(error) => f.debug_tuple("Error").field(error).finish(),
            EventReply::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

/// A type a `#[subscribe]` handler may return: `()`, `Ack<T>` / `Json<T>` of a serializable
/// value, `String` / `&'static str`, `Option` or `Result` of one, or `Each` of a stream of one.
///
/// ```
/// use gateway::reply::{EventReply, IntoEventReply};
///
/// /// A price, answered as its number of cents.
/// struct Price(u64);
///
/// impl IntoEventReply for Price {
///     fn into_event_reply(self) -> EventReply {
///         EventReply::Data(self.0.to_string())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot answer an event",
    label = "a `#[subscribe]` handler returns `()`, `Ack<T>`, `Json<T>`, `String`, or an `Option`/`Result`/`Each` of one",
    note = "wrap a serializable value in `Ack(..)` to answer with it as the event's data"
)]
pub trait IntoEventReply {
    /// Converts the value.
    fn into_event_reply(self) -> EventReply;
}

/// The `data` of an event's answer (any `Serialize` value): `-> Ack<u64>` answers a request
/// with `{"ack": id, "data": 42}`.
///
/// ```
/// use gateway::prelude::*;
///
/// struct Counter;
///
/// #[gateway("count")]
/// impl Counter {
///     /// `{"event":"add","data":[1,2],"id":7}` → `{"ack":7,"data":3}`.
///     #[subscribe("add")]
///     async fn add(&self, #[body] Json(numbers): Json<Vec<i64>>) -> Ack<i64> {
///         Ack(numbers.iter().sum())
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack<T>(pub T);

fn data_of<T: Serialize + ?Sized>(value: &T) -> EventReply {
    match serde_json::to_string(value) {
        Ok(json) => EventReply::Data(json),
        Err(error) => EventReply::Error(WsError::internal(format!(
            "the answer could not be encoded as JSON: {error}"
        ))),
    }
}

impl IntoEventReply for () {
    fn into_event_reply(self) -> EventReply {
        EventReply::Nothing
    }
}

impl<T: Serialize> IntoEventReply for Ack<T> {
    fn into_event_reply(self) -> EventReply {
        data_of(&self.0)
    }
}

impl<T: Serialize> IntoEventReply for Json<T> {
    fn into_event_reply(self) -> EventReply {
        data_of(&self.0)
    }
}

impl IntoEventReply for String {
    fn into_event_reply(self) -> EventReply {
        data_of(&self)
    }
}

impl IntoEventReply for &'static str {
    fn into_event_reply(self) -> EventReply {
        data_of(self)
    }
}

impl<R: IntoEventReply> IntoEventReply for Option<R> {
    fn into_event_reply(self) -> EventReply {
        self.map_or(EventReply::Nothing, IntoEventReply::into_event_reply)
    }
}

impl<R: IntoEventReply, E: Into<WsError>> IntoEventReply for Result<R, E> {
    fn into_event_reply(self) -> EventReply {
        match self {
            Ok(value) => value.into_event_reply(),
            Err(error) => EventReply::Error(error.into()),
        }
    }
}

impl<S> IntoEventReply for Each<S>
where
    S: Stream + Send + 'static,
    S::Item: IntoEventReply,
{
    fn into_event_reply(self) -> EventReply {
        EventReply::Stream(Box::pin(self.0.map(IntoEventReply::into_event_reply)))
    }
}
