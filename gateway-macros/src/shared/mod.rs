//! What every handler method shares, whether a controller's `#[websocket]` endpoint or a
//! gateway's hook: model, parse, validate and expand.

pub(crate) mod expand;
pub(crate) mod model;
pub(crate) mod parse;
pub(crate) mod validate;

pub(crate) use model::{Component, Method, Mode, Options, Source};
