//! Every attribute and argument name the macros read, in one table (as serde_derive's
//! `symbol.rs`): parsing, "did you mean" suggestions and messages all take them from here.

use std::fmt;

/// One name users write: `#[websocket]`, `#[body]`, `ping = ..`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol(&'static str);

// The endpoint attributes of a controller's methods.
pub(crate) const WEBSOCKET: Symbol = Symbol("websocket");
pub(crate) const SSE: Symbol = Symbol("sse");

// A gateway's hooks.
pub(crate) const ON_CONNECT: Symbol = Symbol("on_connect");
pub(crate) const ON_DISCONNECT: Symbol = Symbol("on_disconnect");
pub(crate) const ON_ERROR: Symbol = Symbol("on_error");
pub(crate) const ON_MESSAGE: Symbol = Symbol("on_message");
pub(crate) const ON_RESUME: Symbol = Symbol("on_resume");
pub(crate) const SUBSCRIBE: Symbol = Symbol("subscribe");

// Parameter attributes.
pub(crate) const BODY: Symbol = Symbol("body");
pub(crate) const HEADER: Symbol = Symbol("header");
pub(crate) const QUERY: Symbol = Symbol("query");
pub(crate) const PARAM: Symbol = Symbol("param");
pub(crate) const DATA: Symbol = Symbol("data");
pub(crate) const DEP: Symbol = Symbol("dep");

// Lifecycle attributes (each also the `Lifecycle` method that adds one).
pub(crate) const OBSERVER: Symbol = Symbol("observer");
pub(crate) const MIDDLEWARE: Symbol = Symbol("middleware");
pub(crate) const GUARD: Symbol = Symbol("guard");
pub(crate) const INTERCEPTOR: Symbol = Symbol("interceptor");
pub(crate) const CATCHER: Symbol = Symbol("catcher");

// Endpoint arguments: `#[websocket("path", mode = .., ping = "5s", ..)]`.
pub(crate) const MODE: Symbol = Symbol("mode");
pub(crate) const PING: Symbol = Symbol("ping");
pub(crate) const PING_TIMEOUT: Symbol = Symbol("ping_timeout");
pub(crate) const TRIGGER_ON_CONNECT: Symbol = Symbol("trigger_on_connect");
pub(crate) const MAX_MESSAGE: Symbol = Symbol("max_message");
pub(crate) const CONCURRENCY: Symbol = Symbol("concurrency");
pub(crate) const PORT: Symbol = Symbol("port");
pub(crate) const RESUME: Symbol = Symbol("resume");
pub(crate) const EMITS: Symbol = Symbol("emits");

impl Symbol {
    /// The name as written.
    pub const fn name(self) -> &'static str {
        self.0
    }
}

impl PartialEq<Symbol> for syn::Path {
    fn eq(&self, symbol: &Symbol) -> bool {
        self.is_ident(symbol.0)
    }
}

impl PartialEq<Symbol> for syn::Ident {
    fn eq(&self, symbol: &Symbol) -> bool {
        self == symbol.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
