//! The gateway's wire format for what the server pushes: `{"event": name, "data": data}`.

use serde::Serialize;
use tungstenite::{Message, Utf8Bytes};

/// `{"event": name, "data": data}`: a server push in the gateway's wire format (as the
/// gateway's own answers are written), or `None` when `data` cannot be encoded as JSON (logged:
/// a `Serialize` impl that fails, or a map with non-string keys, is a bug in the app).
pub(crate) fn event_message<T: Serialize + ?Sized>(name: &str, data: &T) -> Option<Message> {
    let data = json_text(data)?;
    Some(Message::Text(Utf8Bytes::from(envelope_text(name, &data))))
}

/// `value` as JSON text, or `None` (logged) when it cannot be encoded.
pub(crate) fn json_text<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    serde_json::to_string(value)
        .inspect_err(|error| {
            tracing::error!(
                r#type = std::any::type_name::<T>(),
                %error,
                "a value could not be encoded as JSON and was not sent"
            );
        })
        .ok()
}

/// `{"event": name, "data": data}` with `data` already JSON text.
pub(crate) fn envelope_text(name: &str, data: &str) -> String {
    let name = serde_json::Value::from(name);
    format!(r#"{{"event":{name},"data":{data}}}"#)
}
