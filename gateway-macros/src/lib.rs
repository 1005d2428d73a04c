//! The attribute macros of the `gateway` framework. Use them through the `gateway` crate
//! (`use gateway::prelude::*;`): the generated code refers to `::gateway` paths.

mod controller;
mod diag;
mod duration;
mod handler;
mod paths;
mod size;

use proc_macro::TokenStream;

/// Turns the `#[websocket]` methods of an `impl` block into WebSocket routes.
///
/// # Grammar
/// `#[controller]` or `#[controller("prefix")]` on an inherent `impl Type { .. }` block. Inside it:
///
/// ```text
/// #[websocket("path", mode = TwoWay | ReceiveOnly | SendOnly, ping = "5s",
///             ping_timeout = "10s", trigger_on_connect, max_message = "64KiB")]
/// async fn name(&self, #[body] message: T, #[body("a.b")] field: T,
///               #[header("name")] h: T, #[query("name")] q: T, #[param("name")] p: T,
///               any_other: impl FromContext) -> impl IntoReply
/// ```
/// Every argument after the path is optional. The route is the prefix and path joined with one
/// `/` (`("example", "websocket")` → `/example/websocket`); path parameters are written `{name}`.
///
/// # Typing requirements
/// - the method is `async` and takes `&self` (or no receiver); it is not generic;
/// - `#[body]` types implement `FromBody`; `#[body("a.b")]` types implement `DeserializeOwned`;
///   `#[header]`, `#[query]` and `#[param]` types implement `FromStr` (or are `Option` of one);
///   parameters without an attribute implement `FromContext` (`Connection`, `CloseWebSocket`, ..);
/// - the return type implements `IntoReply`; with `mode = ReceiveOnly` it is `()` or
///   `Result<(), E>`; with `mode = SendOnly` there is no `#[body]`; with `trigger_on_connect`
///   every `#[body]` is an `Option`.
///
/// # Semantics
/// `TwoWay` calls the handler once per client message, in order, and sends its return value.
/// `ReceiveOnly` calls it per message and never sends data. `SendOnly` calls it once on connect,
/// sends the value and closes with 1000. `ping` sends a Ping every interval and closes with 1011
/// when no Pong comes within `ping_timeout` (default: the interval). `max_message` closes with
/// 1009 on a larger message (app default: 1 MiB). A value that fails to bind is answered with
/// `{"error": "...", "status": 400}` and the connection stays open.
///
/// # Example
/// ```
/// use gateway::prelude::*;
///
/// pub struct ExampleController;
///
/// #[controller("example")]
/// impl ExampleController {
///     #[websocket("websocket")]
///     async fn echo(&self, #[body] message: String) -> String {
///         format!("Echo: {message}")
///     }
/// }
///
/// let app = App::new().controller(ExampleController);
/// ```
#[proc_macro_attribute]
pub fn controller(args: TokenStream, item: TokenStream) -> TokenStream {
    controller::expand(args.into(), item.into()).into()
}

/// Marks a WebSocket handler method. It belongs on a method inside a `#[controller("prefix")]`
/// `impl` block, which reads it; see [`macro@controller`] for its arguments.
#[proc_macro_attribute]
pub fn websocket(_args: TokenStream, item: TokenStream) -> TokenStream {
    controller::stray_websocket(item.into()).into()
}
