//! The attribute macros of the `gateway` framework. Use them through the `gateway` crate
//! (`use gateway::prelude::*;`): the generated code refers to `::gateway` paths.

mod controller;
mod diag;
mod duration;
mod gateway;
mod paths;
mod shared;
mod size;
mod symbol;

use proc_macro::TokenStream;

/// Turns the `#[websocket]` methods of an `impl` block into WebSocket routes.
///
/// # Grammar
/// `#[controller]` or `#[controller("prefix")]` on an inherent `impl Type { .. }` block. Inside it:
///
/// ```text
/// #[websocket("path", mode = TwoWay | ReceiveOnly | SendOnly, ping = "5s",
///             ping_timeout = "10s", trigger_on_connect, max_message = "64KiB", concurrency = 4)]
/// async fn name(&self, #[body] message: T, #[body("a.b")] field: T,
///               #[header("name")] h: T, #[query("name")] q: T, #[param("name")] p: T,
///               any_other: impl FromContext) -> impl IntoReply
/// ```
/// Every argument after the path is optional. A method marked `#[sse("path")]` instead serves
/// `GET path` as Server-Sent Events: `fn` or `async fn` with `&self` and no other parameter,
/// returning a `Stream` of `Event`s or strings (`'static`). The app's and the controller's
/// guards and middleware run on each stream request, and so do `#[guard]` / `#[middleware]` on
/// the method; other components on an `#[sse]` method are a compile error.
/// The route is the prefix and path joined with one
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
/// `TwoWay` calls the handler once per client message, in order (up to `concurrency` at once,
/// replies then in the order handlers finish), and sends its return value.
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

/// Turns an `impl` block into one WebSocket endpoint whose messages are routed to hooks by event
/// (events routed by name, with acknowledgements).
///
/// # Grammar
/// `#[gateway("path", ping = "20s", ping_timeout = "..", max_message = "..", concurrency = 4,
/// port = 3001, resume = "2m", emits("event" = Type, ..))]` on an inherent `impl Type { .. }`, lifecycle attributes (`#[guard(..)]`, ..)
/// after it. Methods:
///
/// ```text
/// #[on_connect]          async fn f(&self, ..) -> impl IntoReply        // once, on open
/// #[on_resume]           async fn f(&self, ..) -> impl IntoReply        // each resume
/// #[on_disconnect]       async fn f(&self, .., summary: CloseSummary)   // once, after the end
/// #[on_error]            async fn f(&self, .., error: &WsError)        // every error
/// #[on_message]          async fn f(&self, #[body] ..) -> impl IntoReply  // anything unrouted
/// #[subscribe("event")]  async fn f(&self, #[body] ..) -> impl IntoEventReply
/// ```
///
/// # Semantics
/// A message `{"event": E, "data": D, "id"?: N}` goes to `#[subscribe(E)]`, whose `#[body]`
/// parameters bind from `D` (a JSON string binds as its text). Its value answers as
/// `{"event": E, "data": V}`, or `{"ack": N, "data": V}` when the request carried `id`; an
/// `Each(stream)` answers once per item. Anything else goes to `#[on_message]` and its value is
/// sent as it is; without one, an unknown event is answered with an error message (status 404)
/// and the connection stays open. `port = N` serves the gateway on its own listener.
/// `resume = "2m"` keeps a dropped client's session for two minutes: it comes back with its id,
/// rooms and values and receives what it missed (the README's "Resumable sessions");
/// `#[on_connect]` then runs once per session, `#[on_resume]` on each return,
/// `#[on_disconnect]` when the session ends for good. `emits("message" = Said, ..)` declares
/// the events the gateway sends, for the app's contract (feature `contract`).
///
/// # Example
/// ```
/// use gateway::prelude::*;
///
/// pub struct ChatGateway;
///
/// #[gateway("chat", ping = "20s")]
/// impl ChatGateway {
///     #[on_connect]
///     async fn joined(&self, conn: Connection) {
///         conn.join("lobby");
///     }
///
///     #[subscribe("message")]
///     async fn message(&self, #[body] text: String, hub: Hub, conn: Connection) -> Ack<u64> {
///         hub.room("lobby").except(conn.id()).send(text);
///         Ack(conn.id().into())
///     }
/// }
///
/// let app = App::new().gateway(ChatGateway);
/// ```
#[proc_macro_attribute]
pub fn gateway(args: TokenStream, item: TokenStream) -> TokenStream {
    gateway::expand(args.into(), item.into()).into()
}

/// Marks a WebSocket handler method. It belongs on a method inside a `#[controller("prefix")]`
/// `impl` block, which reads it; see [`macro@controller`] for its arguments.
#[proc_macro_attribute]
pub fn websocket(_args: TokenStream, item: TokenStream) -> TokenStream {
    controller::stray_websocket(item.into()).into()
}
