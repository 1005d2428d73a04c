//! What every handler method shares, whether a controller's `#[websocket]` endpoint or a
//! gateway's hook: model, parse, validate and expand.

pub mod expand;
pub mod model;
pub mod parse;
pub mod validate;

pub use model::{Component, Method, Mode, Options, Source};
