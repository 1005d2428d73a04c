//! Binding annotated handler parameters: `#[body]`, `#[body("a.b")]`, `#[header]`, `#[query]`,
//! `#[param]`. The macro calls these functions; where a value comes from is decided here.

use crate::base::error::WsError;
use crate::base::send::payload;
use crate::call::context::MessageContext;
use crate::call::json::Json;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use std::str::FromStr;
use tungstenite::Message;

/// A type a `#[body]` parameter can have: how it is made from a client's message.
///
/// Implemented for `String` (a text frame, or a binary frame of valid UTF-8), `Bytes` and
/// `Vec<u8>` (the payload of either frame type), `Json<T>` (either frame type decoded as JSON),
/// `Message` (the frame itself), and `Option<T>` of those (`None` when the handler runs on connect).
///
/// ```
/// use gateway::prelude::*;
/// use gateway::extract::FromBody;
///
/// /// A message that must be exactly `ping`.
/// struct Ping;
///
/// impl FromBody for Ping {
///     fn from_body(message: &Message) -> Result<Self, WsError> {
///         match message {
///             Message::Text(text) if text.as_str() == "ping" => Ok(Ping),
///             _ => Err(WsError::bad_request("say ping")),
///         }
///     }
/// }
///
/// struct Pong;
///
/// #[controller("")]
/// impl Pong {
///     #[websocket("ping")]
///     async fn pong(&self, #[body] _ping: Ping) -> &'static str {
///         "pong"
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be bound from a message body",
    label = "`#[body]` needs `String`, `Bytes`, `Vec<u8>`, `Json<T>`, `Message` or an `Option` of one",
    note = "to read one JSON field, name it: `#[body(\"field\")]`; to decode the whole message, use `Json<{Self}>`"
)]
pub trait FromBody: Sized {
    /// Builds the value from a data message.
    ///
    /// # Errors
    /// A 400 [`WsError`] when the message does not fit the type.
    fn from_body(message: &Message) -> Result<Self, WsError>;

    /// Builds the value from a gateway event's `data`, given as its JSON text. By default as
    /// [`from_body`](Self::from_body) (so `Json<T>` decodes any JSON); `String` takes the text
    /// of a JSON string and refuses other values.
    ///
    /// # Errors
    /// A 400 [`WsError`] when `data` does not fit the type.
    fn from_event_data(data: &Message) -> Result<Self, WsError> {
        Self::from_body(data)
    }

    /// The value when the handler runs with no message (on connect).
    ///
    /// # Errors
    /// By default a 400 [`WsError`]: only `Option<T>` has a value for an absent body.
    fn absent() -> Result<Self, WsError> {
        Err(WsError::bad_request("this handler needs a message"))
    }
}

impl FromBody for String {
    fn from_body(message: &Message) -> Result<Self, WsError> {
        match message {
            Message::Text(text) => Ok(text.as_str().to_owned()),
            other => String::from_utf8(payload(other).to_vec())
                .map_err(|_| WsError::bad_request("the message is not valid UTF-8 text")),
        }
    }

    fn from_event_data(data: &Message) -> Result<Self, WsError> {
        serde_json::from_slice(payload(data)).map_err(|_| {
            WsError::bad_request("`data` must be a string here (take `Json<T>` for other values)")
        })
    }
}

impl FromBody for Bytes {
    fn from_body(message: &Message) -> Result<Self, WsError> {
        Ok(match message {
            Message::Binary(bytes) => bytes.clone(),
            Message::Text(text) => Bytes::from(text.clone()),
            _ => Bytes::new(),
        })
    }
}

impl FromBody for Vec<u8> {
    fn from_body(message: &Message) -> Result<Self, WsError> {
        Ok(payload(message).to_vec())
    }
}

impl FromBody for Message {
    fn from_body(message: &Message) -> Result<Self, WsError> {
        Ok(message.clone())
    }
}

impl<T: DeserializeOwned> FromBody for Json<T> {
    fn from_body(message: &Message) -> Result<Self, WsError> {
        serde_json::from_slice(payload(message))
            .map(Json)
            .map_err(|error| WsError::bad_request(format!("invalid JSON: {error}")))
    }
}

impl<T: FromBody> FromBody for Option<T> {
    fn from_body(message: &Message) -> Result<Self, WsError> {
        T::from_body(message).map(Some)
    }

    fn from_event_data(data: &Message) -> Result<Self, WsError> {
        T::from_event_data(data).map(Some)
    }

    fn absent() -> Result<Self, WsError> {
        Ok(None)
    }
}

/// `#[body] x: T`.
pub fn body<T: FromBody>(ctx: &MessageContext) -> Result<T, WsError> {
    match ctx.body() {
        Some(data) if ctx.is_event_data() => T::from_event_data(data),
        Some(message) => T::from_body(message),
        None => T::absent(),
    }
}

/// `#[body("a.b")] x: T`: the JSON value at a dotted path, deserialized into `T`. A missing field
/// reads as `null`, so `Option<T>` makes the field optional.
pub fn body_field<T: DeserializeOwned>(ctx: &MessageContext, path: &str) -> Result<T, WsError> {
    field_at(ctx.body_json()?, path)
}

/// The value at a dotted `path` of a JSON document, deserialized into `T`.
pub(crate) fn field_at<T: DeserializeOwned>(
    document: &serde_json::Value,
    path: &str,
) -> Result<T, WsError> {
    const NULL: serde_json::Value = serde_json::Value::Null;
    let value = path
        .split('.')
        .try_fold(document, |value, key| value.get(key))
        .unwrap_or(&NULL);
    T::deserialize(value).map_err(|error| {
        if value.is_null() {
            WsError::bad_request(format!("missing field `{path}`"))
        } else {
            WsError::bad_request(format!("field `{path}`: {error}"))
        }
    })
}

/// Where a handshake value comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// `#[header("name")]`
    Header,
    /// `#[query("name")]`
    Query,
    /// `#[param("name")]`
    Param,
}

impl Source {
    fn describe(self) -> &'static str {
        match self {
            Source::Header => "header",
            Source::Query => "query parameter",
            Source::Param => "path parameter",
        }
    }

    fn read(self, ctx: &MessageContext, name: &str) -> Option<String> {
        let handshake = ctx.connection().handshake();
        match self {
            Source::Header => handshake.header(name).map(str::to_owned),
            Source::Query => handshake.query(name),
            Source::Param => handshake.path_param(name).map(str::to_owned),
        }
    }
}

/// A required handshake value (`#[header("x")] v: T`), parsed with `FromStr`.
pub fn required<T: FromStr>(
    ctx: &MessageContext,
    source: Source,
    name: &str,
) -> Result<T, WsError> {
    optional(ctx, source, name)?
        .ok_or_else(|| WsError::bad_request(format!("missing {} `{name}`", source.describe())))
}

/// An optional handshake value (`#[header("x")] v: Option<T>`): absent is `None`, malformed is an
/// error.
pub fn optional<T: FromStr>(
    ctx: &MessageContext,
    source: Source,
    name: &str,
) -> Result<Option<T>, WsError> {
    let Some(text) = source.read(ctx, name) else {
        return Ok(None);
    };
    text.parse().map(Some).map_err(|_| {
        WsError::bad_request(format!(
            "{} `{name}` is not a valid {}",
            source.describe(),
            short_type_name::<T>()
        ))
    })
}

/// `alloc::string::String` → `String`, for error messages a client reads.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

/// `#[data] x: T`: what a middleware or guard attached during the handshake.
pub fn data<T: Clone + Send + Sync + 'static>(ctx: &MessageContext) -> Result<T, WsError> {
    optional_data(ctx)?.ok_or_else(|| {
        WsError::internal(format!(
            "no `{}` was attached to this connection; a middleware or guard must call `Handshake::insert_data`",
            std::any::type_name::<T>()
        ))
    })
}

/// `#[data] x: Option<T>`.
pub fn optional_data<T: Clone + Send + Sync + 'static>(
    ctx: &MessageContext,
) -> Result<Option<T>, WsError> {
    Ok(ctx.connection().handshake().data::<T>().cloned())
}

/// Marks an error raised while binding a parameter.
pub fn binding_failed(error: WsError) -> crate::call::reply::Reply {
    crate::call::reply::Reply::Error(error.with_origin(crate::base::error::ErrorOrigin::Binding))
}

/// A hook that cannot answer (`#[on_disconnect]`, `#[on_error]`) could not bind a parameter.
pub fn hook_binding_failed(error: WsError) {
    tracing::warn!(%error, "a gateway hook was not called: a parameter could not be bound");
}
