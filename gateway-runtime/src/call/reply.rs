//! [`IntoReply`]: how a handler's return value becomes what the client receives.

use crate::base::error::WsError;
use crate::call::json::Json;
use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;
use std::pin::Pin;
use tungstenite::Message;

/// What one handler call produced.
///
/// ```
/// use gateway::reply::{IntoReply, Reply};
///
/// assert!(matches!("hi".into_reply(), Reply::Message(_)));
/// assert!(matches!(().into_reply(), Reply::Nothing));
/// ```
pub enum Reply {
    /// Send nothing.
    Nothing,
    /// Send this message.
    Message(Message),
    /// Hand this error to the catchers.
    Error(WsError),
    /// Send one reply per item, in order, before the next client message is handled.
    Stream(Pin<Box<dyn Stream<Item = Reply> + Send>>),
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Nothing => f.write_str("Nothing"),
            Reply::Message(message) => f.debug_tuple("Message").field(message).finish(),
            Reply::Error(error) => f.debug_tuple("Error").field(error).finish(),
            Reply::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

/// A stream whose every item is sent as its own reply: wrap any
/// `Stream` of reply values.
///
/// ```
/// use gateway::prelude::*;
///
/// struct Countdown;
///
/// #[controller("")]
/// impl Countdown {
///     /// Sends "3", "2", "1", then closes with 1000.
///     #[websocket("countdown", mode = SendOnly)]
///     async fn countdown(&self) -> Each<impl gateway::reply::Stream<Item = String> + Send + 'static> {
///         Each(futures_util::stream::iter(["3", "2", "1"].map(String::from)))
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Each<S>(pub S);

impl<S> IntoReply for Each<S>
where
    S: Stream + Send + 'static,
    S::Item: IntoReply,
{
    fn into_reply(self) -> Reply {
        Reply::Stream(Box::pin(self.0.map(IntoReply::into_reply)))
    }
}

/// A type a handler may return.
///
/// `()` and `None` send nothing; `String`, `&'static str` and `Cow<'static, str>` send a text
/// frame; `Bytes` and `Vec<u8>` a binary frame; `Json<T>` the value encoded as JSON text;
/// `Message` itself; `Option<R>` sends `R` or nothing; `Result<R, E>` sends `R` or hands `E` to
/// the catchers.
///
/// ```
/// use gateway::reply::{IntoReply, Reply};
///
/// /// A temperature, sent as text with its unit.
/// struct Celsius(f32);
///
/// impl IntoReply for Celsius {
///     fn into_reply(self) -> Reply {
///         format!("{:.1} °C", self.0).into_reply()
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent as a reply",
    label = "a handler returns `()`, `String`, `&'static str`, `Bytes`, `Vec<u8>`, `Json<T>`, `Message`, or an `Option`/`Result` of one",
    note = "wrap a serializable value in `Json(..)` to send it as JSON"
)]
pub trait IntoReply {
    /// Converts the value.
    fn into_reply(self) -> Reply;
}

impl IntoReply for Reply {
    fn into_reply(self) -> Reply {
        self
    }
}

impl IntoReply for () {
    fn into_reply(self) -> Reply {
        Reply::Nothing
    }
}

impl IntoReply for Message {
    fn into_reply(self) -> Reply {
        Reply::Message(self)
    }
}

macro_rules! reply_via_message {
    ($($type:ty),* $(,)?) => {$(
        impl IntoReply for $type {
            fn into_reply(self) -> Reply {
                Reply::Message(Message::from(self))
            }
        }
    )*};
}

reply_via_message!(String, &'static str, Bytes, Vec<u8>);

impl IntoReply for Cow<'static, str> {
    fn into_reply(self) -> Reply {
        Reply::Message(Message::from(self.into_owned()))
    }
}

impl<T: Serialize> IntoReply for Json<T> {
    fn into_reply(self) -> Reply {
        match serde_json::to_string(&self.0) {
            Ok(text) => Reply::Message(Message::from(text)),
            Err(error) => Reply::Error(WsError::internal(format!(
                "the reply could not be encoded as JSON: {error}"
            ))),
        }
    }
}

impl<R: IntoReply> IntoReply for Option<R> {
    fn into_reply(self) -> Reply {
        self.map_or(Reply::Nothing, IntoReply::into_reply)
    }
}

impl<R: IntoReply, E: Into<WsError>> IntoReply for Result<R, E> {
    fn into_reply(self) -> Reply {
        match self {
            Ok(reply) => reply.into_reply(),
            Err(error) => Reply::Error(error.into()),
        }
    }
}

/// A handler's value as its reply (the generated code calls this, so a type that is not a reply
/// is reported at the handler's return type).
pub fn reply<R: IntoReply>(value: R) -> Reply {
    value.into_reply()
}
