//! What every macro shares: handler methods, whether a controller's `#[websocket]` or `#[sse]`
//! endpoint or a gateway's hook (model, parse, validate, expand), the endpoint arguments
//! (`args`), and the lifecycle attributes.

pub(crate) mod args;
pub(crate) mod expand;
pub(crate) mod model;
pub(crate) mod parse;
pub(crate) mod validate;

pub(crate) use model::{Component, Method, Mode, Options, Source};
