//! [`WsError`]: the one error type handlers, binding and the runtime hand to the catchers.

use std::borrow::Cow;
use std::fmt;

/// An error on the way from a client's message to a reply.
///
/// Binding failures, a handler's `Err(E)` and runtime problems all become a `WsError`. The default
/// catcher answers the client with `{"error": message, "status": status}` and keeps the connection
/// open; when the message was a gateway request with an `id`, the answer carries it back as
/// `{"ack": id, "error": message, "status": status}`, so the client can match it to its request. Any `std::error::Error` converts into a `WsError` with status 500, so a handler can return
/// `Result<T, MyError>`; the original error stays reachable through [`WsError::downcast_ref`].
///
/// ```
/// use gateway::error::WsError;
///
/// let error = WsError::bad_request("name must not be empty");
/// assert_eq!(error.status(), 400);
/// assert_eq!(error.to_json(), r#"{"error":"name must not be empty","status":400}"#);
/// ```
pub struct WsError {
    status: u16,
    message: Cow<'static, str>,
    origin: ErrorOrigin,
    ack: Option<u64>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Where on the way from message to reply an error arose; catchers can treat each differently.
///
/// ```
/// use gateway::error::{ErrorOrigin, WsError};
///
/// let error = WsError::bad_request("no").with_origin(ErrorOrigin::Binding);
/// assert_eq!(error.origin(), ErrorOrigin::Binding);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorOrigin {
    /// A parameter could not be bound (missing header, malformed JSON, missing `#[data]`, ..).
    Binding,
    /// The handler returned `Err(..)`.
    Handler,
    /// An interceptor's `pre` stopped the message with an error.
    Interceptor,
    /// The handler (or an interceptor) panicked. The default catcher closes with 1011.
    Panic,
}

impl WsError {
    /// An error with an HTTP-like status (400 for the client's fault, 500 for the server's).
    pub fn new(status: u16, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
            origin: ErrorOrigin::Handler,
            ack: None,
            source: None,
        }
    }

    /// The same error, marked as arising at `origin`.
    pub fn with_origin(mut self, origin: ErrorOrigin) -> Self {
        self.origin = origin;
        self
    }

    /// Where the error arose.
    pub fn origin(&self) -> ErrorOrigin {
        self.origin
    }

    /// The same error, as the answer to the gateway request with this `id` (the runtime sets it;
    /// [`WsError::to_json`] sends it back as `"ack"`).
    pub fn answering(mut self, id: Option<u64>) -> Self {
        self.ack = id;
        self
    }

    /// The `id` of the gateway request this error answers, if the request carried one.
    pub fn ack(&self) -> Option<u64> {
        self.ack
    }

    /// A 400 error: the client's message could not be used.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, message)
    }

    /// A 500 error: the server failed to handle a valid message.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(500, message)
    }

    /// The status: 400 for binding failures, 500 for handler errors unless set otherwise.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The message sent to the client by the default catcher.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The handler's original error, if this `WsError` was converted from one of type `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.source.as_deref()?.downcast_ref::<E>()
    }

    /// The error message the default catcher sends: `{"error": "...", "status": N}`, with
    /// `"ack": id` first when it answers a request that carried an `id`.
    pub fn to_json(&self) -> String {
        #[derive(serde::Serialize)]
        struct ErrorReply<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            ack: Option<u64>,
            error: &'a str,
            status: u16,
        }
        let reply = ErrorReply {
            ack: self.ack,
            error: &self.message,
            status: self.status,
        };
        serde_json::to_string(&reply).expect("a string and two numbers encode as JSON")
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for WsError {
    fn from(error: E) -> Self {
        Self {
            status: 500,
            message: error.to_string().into(),
            origin: ErrorOrigin::Handler,
            ack: None,
            source: Some(Box::new(error)),
        }
    }
}

impl fmt::Debug for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsError")
            .field("status", &self.status)
            .field("message", &self.message)
            .field("origin", &self.origin)
            .field("ack", &self.ack)
            .finish()
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}
