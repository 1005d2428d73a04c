//! The app's AsyncAPI 3.0 document (feature `contract`): a channel per WebSocket endpoint, a
//! message and a `receive` operation per gateway event (with its answer as the operation's
//! reply), the JSON Schemas of every body and answer, and the close codes the server sends.

use crate::app::routes::RouteKind;
use crate::app::App;
use crate::call::contract::EndpointContract;
use axum::routing::get;
use serde_json::{json, Map, Value};

/// The close codes the framework itself sends (the app's own come from its handlers).
const CLOSE_CODES: [(u16, &str); 9] = [
    (
        1000,
        "normal: a SendOnly reply was sent, or a handler closed",
    ),
    (1001, "the server is shutting down"),
    (1002, "the client broke the WebSocket protocol"),
    (1007, "a text message was not UTF-8"),
    (
        1008,
        "policy: slow consumer, a message not completed in time, no $resume first",
    ),
    (1009, "a message over the size limit, or too many frames"),
    (1011, "a handler panicked, or the client missed its pings"),
    (1013, "the server is out of room for incomplete messages"),
    (
        4000,
        "a resumable session was resumed on another connection",
    ),
];

impl App {
    /// The app's AsyncAPI 3.0 document: every WebSocket endpoint as a channel, every gateway
    /// event as a message with a `receive` operation whose reply is the event's answer, every
    /// event a gateway declares it sends (`emits(..)`) with a `send` operation, with the JSON
    /// Schemas of their data (under `components.schemas`). Feature `contract`.
    ///
    /// ```
    /// use gateway::prelude::*;
    ///
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Join { room: String }
    ///
    /// struct Chat;
    ///
    /// #[gateway("chat")]
    /// impl Chat {
    ///     #[subscribe("join")]
    ///     async fn join(&self, #[body] join: Json<Join>) -> Ack<Vec<String>> {
    ///         Ack(vec![join.0.room])
    ///     }
    /// }
    ///
    /// let document = App::new().gateway(Chat).asyncapi("chat", "1.0.0");
    /// assert_eq!(document["channels"]["chat"]["address"], "/chat");
    /// assert_eq!(document["operations"]["chat.join"]["action"], "receive");
    /// ```
    pub fn asyncapi(&self, title: &str, version: &str) -> Value {
        let mut channels = Map::new();
        let mut operations = Map::new();
        let mut schemas = Map::new();
        for (kind, spec) in self.endpoints.specs() {
            if !matches!(kind, RouteKind::Gateway | RouteKind::WebSocket) {
                continue;
            }
            let id = key(spec.path.trim_start_matches('/'));
            let channel = json!({ "$ref": format!("#/channels/{id}") });
            let contract: EndpointContract = (spec.contract)();
            let mut messages = Map::new();
            let mut hoist =
                |schema: Option<Value>| schema.map(|schema| hoisted(schema, &mut schemas));
            let described = if kind == RouteKind::Gateway {
                contract
                    .events
                    .into_iter()
                    .map(|event| {
                        let data = hoist(event.data).unwrap_or_else(|| json!({}));
                        let reply = hoist(event.reply);
                        (
                            event.name.to_owned(),
                            envelope(event.name, data),
                            reply.map(ack),
                        )
                    })
                    .collect()
            } else {
                let message = hoist(contract.message).unwrap_or_else(|| json!({}));
                let reply = hoist(contract.reply);
                vec![("message".to_owned(), message, reply)]
            };
            for event in contract.sends {
                let event_key = key(event.name);
                let data = hoist(event.data).unwrap_or_else(|| json!({}));
                let message_key = format!("{event_key}.sent");
                let mut payload = envelope(event.name, data);
                payload["properties"]
                    .as_object_mut()
                    .map(|properties| properties.remove("id"));
                messages.insert(
                    message_key.clone(),
                    json!({ "name": event.name, "payload": payload }),
                );
                operations.insert(
                    format!("{id}.send.{event_key}"),
                    json!({
                        "action": "send",
                        "channel": channel,
                        "messages": [{ "$ref": format!("#/channels/{id}/messages/{message_key}") }],
                    }),
                );
            }
            for (name, payload, reply) in described {
                let message_key = key(&name);
                messages.insert(
                    message_key.clone(),
                    json!({ "name": name, "payload": payload }),
                );
                let mut operation = json!({
                    "action": "receive",
                    "channel": channel,
                    "messages": [{ "$ref": format!("#/channels/{id}/messages/{message_key}") }],
                });
                if let Some(reply) = reply {
                    let reply_key = format!("{message_key}.reply");
                    messages.insert(
                        reply_key.clone(),
                        json!({ "name": format!("{name} (answer)"), "payload": reply }),
                    );
                    operation["reply"] = json!({
                        "channel": channel,
                        "messages": [{ "$ref": format!("#/channels/{id}/messages/{reply_key}") }],
                    });
                }
                operations.insert(format!("{id}.{message_key}"), operation);
            }
            channels.insert(
                id,
                json!({
                    "address": spec.path,
                    "messages": messages,
                    "x-gateway": {
                        "kind": kind.name(),
                        "mode": format!("{:?}", spec.options.mode),
                        "options": crate::app::routes::options(&spec.options),
                    },
                }),
            );
        }
        let close_codes: Map<String, Value> = CLOSE_CODES
            .iter()
            .map(|(code, meaning)| (code.to_string(), json!(meaning)))
            .collect();
        json!({
            "asyncapi": "3.0.0",
            "info": { "title": title, "version": version, "x-close-codes": close_codes },
            "channels": channels,
            "operations": operations,
            "components": { "schemas": schemas },
        })
    }

    /// Serves [`asyncapi`](Self::asyncapi) at `path` (`"/asyncapi.json"`), as it is when the
    /// app is built. Feature `contract`.
    pub fn serve_asyncapi(self, path: &str, title: &str, version: &str) -> Self {
        let document = self.asyncapi(title, version).to_string();
        let headers = [(axum::http::header::CONTENT_TYPE, "application/json")];
        self.route(path, get(move || async move { (headers, document) }))
    }
}

/// A gateway event's envelope, `{"event": name, "data": .., "id"?: N}`.
fn envelope(name: &str, data: Value) -> Value {
    json!({
        "type": "object",
        "required": ["event"],
        "properties": {
            "event": { "const": name },
            "data": data,
            "id": { "type": "integer", "minimum": 0 },
        },
    })
}

/// The answer to a request with an `id`, `{"ack": N, "data": ..}`.
fn ack(data: Value) -> Value {
    json!({
        "type": "object",
        "required": ["ack"],
        "properties": { "ack": { "type": "integer", "minimum": 0 }, "data": data },
    })
}

/// `schema` with its definitions moved into the document's `components.schemas` (where its
/// references point) and its `$schema` dropped.
fn hoisted(mut schema: Value, schemas: &mut Map<String, Value>) -> Value {
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        if let Some(Value::Object(mut components)) = object.remove("components") {
            if let Some(Value::Object(definitions)) = components.remove("schemas") {
                schemas.extend(definitions);
            }
        }
    }
    schema
}

/// A name usable as an AsyncAPI key (letters, digits, `.`, `-`, `_`).
fn key(name: &str) -> String {
    let key: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if key.is_empty() {
        "root".to_owned()
    } else {
        key
    }
}
