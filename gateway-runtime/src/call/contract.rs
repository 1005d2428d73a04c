//! The contract: what each endpoint accepts and answers, as the macros see it, turned into an
//! AsyncAPI 3.0 document with JSON Schemas from `schemars` (feature `contract`). Without the
//! feature the macros record the same endpoints without schemas and nothing here costs anything.
//!
//! With the feature, every `#[body]` type and every reply type of a handler must have a schema:
//! `Json<T>` with `T: schemars::JsonSchema`, text, numbers, `bool`, or raw `Message`/`Bytes`
//! (described as "anything"); a type without one is a compile error at the type.

use serde_json::Value;

/// What one endpoint says of its messages (built by the macros).
#[derive(Debug, Clone)]
pub struct EndpointContract {
    /// A gateway's events; empty for a `#[websocket]` endpoint.
    pub events: Vec<EventContract>,
    /// The events a gateway declares it sends (`emits("event" = Type, ..)`).
    pub sends: Vec<EventContract>,
    /// A `#[websocket]` endpoint's message schema...
    pub message: Option<Value>,
    /// ...and its reply's (`None`: it sends none, or says nothing).
    pub reply: Option<Value>,
}

/// One `#[subscribe("event")]` of a gateway: its `data` and the `data` of its answer.
#[derive(Debug, Clone)]
pub struct EventContract {
    /// The event's name.
    pub name: &'static str,
    /// `None`: the event takes no data (or any, when its type says nothing).
    pub data: Option<Value>,
    /// `None`: the event is not answered (or its answer says nothing).
    pub reply: Option<Value>,
}

/// A gateway's contract.
pub fn gateway_contract(events: Vec<EventContract>, sends: Vec<EventContract>) -> EndpointContract {
    EndpointContract {
        events,
        sends,
        message: None,
        reply: None,
    }
}

/// A `#[websocket]` endpoint's contract.
pub fn websocket_contract(message: Option<Value>, reply: Option<Value>) -> EndpointContract {
    EndpointContract {
        events: Vec::new(),
        sends: Vec::new(),
        message,
        reply,
    }
}

/// One event of a gateway's contract.
pub fn event_contract(
    name: &'static str,
    data: Option<Value>,
    reply: Option<Value>,
) -> EventContract {
    EventContract { name, data, reply }
}

/// An event a gateway declares it sends, with its data's schema (`None` without the feature).
#[cfg(feature = "contract")]
pub fn sent_event<T: schemars::JsonSchema>(name: &'static str) -> EventContract {
    event_contract(name, Some(schema::of::<T>()), None)
}

/// An event a gateway declares it sends, with its data's schema (`None` without the feature).
#[cfg(not(feature = "contract"))]
pub fn sent_event<T>(name: &'static str) -> EventContract {
    event_contract(name, None, None)
}

/// The schema of a `#[body]` type (`None` without the feature).
#[cfg(feature = "contract")]
pub fn body_schema<B: schema::ContractBody>() -> Option<Value> {
    Some(B::schema())
}

/// The schema of a `#[body]` type (`None` without the feature).
#[cfg(not(feature = "contract"))]
pub fn body_schema<B>() -> Option<Value> {
    None
}

/// The schema of a reply type (`None` without the feature).
#[cfg(feature = "contract")]
pub fn reply_schema<R: schema::ContractReply>() -> Option<Value> {
    R::schema()
}

/// The schema of a reply type (`None` without the feature).
#[cfg(not(feature = "contract"))]
pub fn reply_schema<R>() -> Option<Value> {
    None
}

#[cfg(feature = "contract")]
mod schema {
    use crate::call::event::Ack;
    use crate::call::json::Json;
    use crate::call::reply::Each;
    use bytes::Bytes;
    use schemars::generate::SchemaSettings;
    use schemars::JsonSchema;
    use serde_json::{json, Value};
    use tungstenite::Message;

    /// `T`'s draft-07 schema, its definitions under `components/schemas` (where the AsyncAPI
    /// document gathers them, so references resolve there).
    pub(super) fn of<T: JsonSchema>() -> Value {
        SchemaSettings::draft07()
            .with(|settings| settings.definitions_path = "/components/schemas".into())
            .into_generator()
            .into_root_schema_for::<T>()
            .to_value()
    }

    /// A type a `#[body]` parameter may have with feature `contract`: it has a JSON Schema.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` has no JSON Schema for the contract",
        label = "with feature `contract`, a `#[body]` is `Json<T>` with `T: schemars::JsonSchema`, text, a number, `bool`, or raw `Message`/`Bytes`",
        note = "derive `schemars::JsonSchema` for the type inside `Json<..>`"
    )]
    pub trait ContractBody {
        fn schema() -> Value;
    }

    /// A type a handler may return with feature `contract`: its answer has a JSON Schema.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` has no JSON Schema for the contract",
        label = "with feature `contract`, a handler returns `Ack<T>` or `Json<T>` with `T: schemars::JsonSchema`, text, `()`, or an `Option`/`Result` of one",
        note = "derive `schemars::JsonSchema` for the type inside `Ack<..>` or `Json<..>`"
    )]
    pub trait ContractReply {
        /// `None` when nothing is sent.
        fn schema() -> Option<Value>;
    }

    impl<T: JsonSchema> ContractBody for Json<T> {
        fn schema() -> Value {
            of::<T>()
        }
    }

    impl<B: ContractBody> ContractBody for Option<B> {
        fn schema() -> Value {
            B::schema()
        }
    }

    macro_rules! described {
        ($($ty:ty),*) => {$(
            impl ContractBody for $ty {
                fn schema() -> Value {
                    of::<$ty>()
                }
            }
            impl ContractReply for $ty {
                fn schema() -> Option<Value> {
                    Some(of::<$ty>())
                }
            }
        )*};
    }
    described!(String, bool, u8, u16, u32, u64, i8, i16, i32, i64, f32, f64);

    macro_rules! anything {
        ($($ty:ty),*) => {$(
            impl ContractBody for $ty {
                fn schema() -> Value {
                    json!({})
                }
            }
            impl ContractReply for $ty {
                fn schema() -> Option<Value> {
                    Some(json!({}))
                }
            }
        )*};
    }
    anything!(Message, Bytes, Vec<u8>, Value);

    impl<T: JsonSchema> ContractReply for Ack<T> {
        fn schema() -> Option<Value> {
            Some(of::<T>())
        }
    }

    impl<T: JsonSchema> ContractReply for Json<T> {
        fn schema() -> Option<Value> {
            Some(of::<T>())
        }
    }

    impl<R: ContractReply, E> ContractReply for Result<R, E> {
        fn schema() -> Option<Value> {
            R::schema()
        }
    }

    impl<R: ContractReply> ContractReply for Option<R> {
        fn schema() -> Option<Value> {
            R::schema()
        }
    }

    impl ContractReply for () {
        fn schema() -> Option<Value> {
            None
        }
    }

    impl ContractReply for &'static str {
        fn schema() -> Option<Value> {
            Some(of::<String>())
        }
    }

    /// A stream's items are described as anything (their type is usually unnameable).
    impl<S> ContractReply for Each<S> {
        fn schema() -> Option<Value> {
            Some(json!({}))
        }
    }
}
