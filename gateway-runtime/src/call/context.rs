//! [`MessageContext`] and [`FromContext`]: what one handler call can bind from.

use crate::base::error::WsError;
use crate::base::send::payload;
use crate::call::closer::CloseWebSocket;
use crate::call::connection::Connection;
use crate::call::lifecycle::CloseSummary;
use crate::hub::Hub;
use std::sync::OnceLock;
use tungstenite::Message;

/// Everything one handler call binds its parameters from: the client's message (absent on
/// connect) and the connection it came through.
///
/// ```
/// use gateway::extract::MessageContext;
/// use gateway::lifecycle::Interceptor;
/// use gateway::reply::Reply;
/// use std::ops::ControlFlow;
///
/// /// Logs who sent how much.
/// struct Sizes;
///
/// impl Interceptor for Sizes {
///     async fn pre(&self, ctx: &mut MessageContext) -> ControlFlow<Reply> {
///         let bytes = ctx.body().map_or(0, |message| message.len());
///         println!("{} sent {bytes} bytes", ctx.connection().id());
///         ControlFlow::Continue(())
///     }
/// }
/// ```
#[derive(Debug)]
pub struct MessageContext {
    connection: Connection,
    body: Option<Message>,
    /// How the connection ended, for an `#[on_disconnect]` hook.
    close_summary: Option<Box<CloseSummary>>,
    /// Parsed once per message, however many `#[body("path")]` parameters read it.
    json: OnceLock<Result<serde_json::Value, String>>,
    /// The body is a gateway event's `data`, as JSON text (see [`FromBody::from_event_data`]).
    ///
    /// [`FromBody::from_event_data`]: crate::FromBody::from_event_data
    event_data: bool,
    /// A call when a resumable session resumes (see [`MessageContext::is_resume`]).
    resume: bool,
}

impl MessageContext {
    pub(crate) fn new(connection: Connection, body: Option<Message>) -> Self {
        Self {
            connection,
            body,
            close_summary: None,
            json: OnceLock::new(),
            event_data: false,
            resume: false,
        }
    }

    /// The context of a call when a resumable session resumes (a gateway's `#[on_resume]`).
    pub(crate) fn resumed(connection: Connection) -> Self {
        Self {
            resume: true,
            ..Self::new(connection, None)
        }
    }

    /// Whether this call is for a session resuming (no message; a gateway's `#[on_resume]`).
    pub fn is_resume(&self) -> bool {
        self.resume
    }

    /// The context of a hook that runs after the connection ended.
    pub(crate) fn closed(connection: Connection, summary: CloseSummary) -> Self {
        Self {
            close_summary: Some(Box::new(summary)),
            ..Self::new(connection, None)
        }
    }

    /// The context of a gateway event: the same connection, with the event's `data` (its JSON
    /// text) as the body.
    pub fn with_event_data(&self, data: Option<Message>) -> Self {
        Self {
            event_data: true,
            ..Self::new(self.connection.clone(), data)
        }
    }

    /// Whether the body is a gateway event's `data`.
    pub fn is_event_data(&self) -> bool {
        self.event_data
    }

    /// How the connection ended, in a hook that runs after its end.
    pub fn close_summary(&self) -> Option<&CloseSummary> {
        self.close_summary.as_deref()
    }

    /// The connection this call is for.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The client's message; `None` for a call on connect.
    pub fn body(&self) -> Option<&Message> {
        self.body.as_ref()
    }

    /// Replaces the message before the handler binds it (for interceptors).
    pub fn set_body(&mut self, body: Option<Message>) {
        self.body = body;
        self.json = OnceLock::new();
    }

    /// The message decoded as a JSON document, parsed at most once per message.
    ///
    /// # Errors
    /// A 400 [`WsError`] when there is no message or it is not JSON.
    pub fn body_json(&self) -> Result<&serde_json::Value, WsError> {
        let body = self
            .body
            .as_ref()
            .ok_or_else(|| WsError::bad_request("this handler needs a message"))?;
        self.json
            .get_or_init(|| {
                serde_json::from_slice(payload(body)).map_err(|error| error.to_string())
            })
            .as_ref()
            .map_err(|error| WsError::bad_request(format!("invalid JSON: {error}")))
    }
}

/// A handler parameter bound by its type alone, like an axum extractor.
///
/// Implement it for your own types to make them handler parameters without an attribute.
///
/// ```
/// use gateway::error::WsError;
/// use gateway::extract::{FromContext, MessageContext};
///
/// /// The client's `user-agent`, or "unknown".
/// struct UserAgent(String);
///
/// impl FromContext for UserAgent {
///     fn from_context(ctx: &MessageContext) -> Result<Self, WsError> {
///         let agent = ctx.connection().handshake().header("user-agent").unwrap_or("unknown");
///         Ok(UserAgent(agent.to_owned()))
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be bound as a handler parameter",
    label = "this parameter has no attribute and its type does not implement `FromContext`",
    note = "bind the message with `#[body]`, a handshake value with `#[header(\"..\")]`, `#[query(\"..\")]` or `#[param(\"..\")]`, a value stored with `conn.insert(..)` as `Extension<{Self}>`, or implement `gateway::extract::FromContext` for `{Self}`"
)]
pub trait FromContext: Sized {
    /// Builds the value for one handler call.
    ///
    /// # Errors
    /// A [`WsError`] goes to the catchers instead of calling the handler.
    fn from_context(ctx: &MessageContext) -> Result<Self, WsError>;
}

impl FromContext for Connection {
    fn from_context(ctx: &MessageContext) -> Result<Self, WsError> {
        Ok(ctx.connection.clone())
    }
}

impl FromContext for Hub {
    fn from_context(ctx: &MessageContext) -> Result<Self, WsError> {
        Ok(ctx.connection.hub().clone())
    }
}

impl FromContext for CloseWebSocket {
    fn from_context(ctx: &MessageContext) -> Result<Self, WsError> {
        Ok(ctx.connection.closer())
    }
}
