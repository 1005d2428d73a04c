//! [`IntoReply`]: how a handler's return value becomes what the client receives.

use crate::error::WsError;
use crate::json::Json;
use axum::extract::ws::Message;
use bytes::Bytes;
use serde::Serialize;
use std::borrow::Cow;

/// What one handler call produced.
#[derive(Debug)]
pub enum Reply {
    /// Send nothing.
    Nothing,
    /// Send this message.
    Message(Message),
    /// Hand this error to the catchers.
    Error(WsError),
}

/// A type a handler may return.
///
/// `()` and `None` send nothing; `String`, `&'static str` and `Cow<'static, str>` send a text
/// frame; `Bytes` and `Vec<u8>` a binary frame; `Json<T>` the value encoded as JSON text;
/// `Message` itself; `Option<R>` sends `R` or nothing; `Result<R, E>` sends `R` or hands `E` to
/// the catchers.
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
