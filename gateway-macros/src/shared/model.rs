//! The model every handler method shares, whether it is a `#[websocket]` endpoint of a controller
//! or a hook of a gateway: its signature, its parameters' sources, its lifecycle components and
//! the endpoint options.

use crate::symbol;
use proc_macro2::{Span, TokenStream};
use syn::{Ident, LitStr, ReturnType, Type};

/// A handler method's signature, as far as binding and calling it go.
pub(crate) struct Method {
    pub ident: Ident,
    pub receiver: Receiver,
    /// The `fn` token when the method is not `async`.
    pub not_async: Option<Span>,
    /// The generics, when the method has any (handlers cannot).
    pub generics: Option<Span>,
    pub params: Vec<Param>,
    pub output: ReturnType,
}

/// `#[guard(expr)]`, `#[middleware(expr)]`, ... on an impl block or a method.
pub(crate) struct Component {
    pub kind: ComponentKind,
    pub expr: syn::Expr,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ComponentKind {
    Observer,
    Middleware,
    Guard,
    Interceptor,
    Catcher,
}

impl ComponentKind {
    pub(crate) const ALL: [Self; 5] = [
        Self::Observer,
        Self::Middleware,
        Self::Guard,
        Self::Interceptor,
        Self::Catcher,
    ];

    /// The attribute's name, which is also the `Lifecycle` method that adds one.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Observer => symbol::OBSERVER,
            Self::Middleware => symbol::MIDDLEWARE,
            Self::Guard => symbol::GUARD,
            Self::Interceptor => symbol::INTERCEPTOR,
            Self::Catcher => symbol::CATCHER,
        }
        .name()
    }
}

/// How the handler is called on the controller.
pub(crate) enum Receiver {
    /// `&self`: `controller.method(..)`.
    Shared,
    /// No receiver: `Type::method(..)`.
    None,
    /// `self`, `&mut self`, `self: Arc<Self>`: not allowed (the tokens, for the error).
    Unsupported(TokenStream),
}

/// The arguments of `#[websocket(..)]`.
#[derive(Default)]
pub(crate) struct Options {
    pub mode: Mode,
    pub ping_millis: Option<u64>,
    pub ping_timeout_millis: Option<(u64, Span)>,
    pub trigger_on_connect: Option<Span>,
    pub max_message: Option<u64>,
    /// How many messages may run at once, and where `concurrency` was written.
    pub concurrency: Option<(u16, Span)>,
    /// How long a dropped client's session is kept (a gateway's `resume`), and where.
    pub resume: Option<(u64, Span)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Mode {
    #[default]
    TwoWay,
    ReceiveOnly,
    SendOnly,
}

impl Mode {
    pub(crate) const NAMES: &'static str = "`TwoWay`, `ReceiveOnly` or `SendOnly`";

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "TwoWay" => Some(Self::TwoWay),
            "ReceiveOnly" => Some(Self::ReceiveOnly),
            "SendOnly" => Some(Self::SendOnly),
            _ => None,
        }
    }
}

/// One parameter after the receiver.
pub(crate) struct Param {
    pub ty: Type,
    pub source: Source,
}

/// Where a parameter's value comes from.
pub(crate) enum Source {
    /// `#[body]` or `#[body("a.b")]`; `attr` is the attribute's tokens, for errors.
    Body {
        field: Option<LitStr>,
        attr: TokenStream,
    },
    /// `#[header("name")]`, `#[query("name")]`, `#[param("name")]`.
    Handshake { kind: HandshakeKind, name: LitStr },
    /// `#[data]`: attached by a middleware or guard during the handshake.
    Data,
    /// `#[dep]`: a service given to `App::provide`.
    Dep,
    /// No attribute: bound by type through `FromContext`.
    Context,
    /// A `&WsError` parameter of an `#[on_error]` hook: the error.
    Error,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandshakeKind {
    Header,
    Query,
    Param,
}

impl HandshakeKind {
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Self::Header => symbol::HEADER,
            Self::Query => symbol::QUERY,
            Self::Param => symbol::PARAM,
        }
        .name()
    }
}
