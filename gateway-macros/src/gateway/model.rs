//! The typed model of a `#[gateway]` impl: one WebSocket endpoint whose methods are hooks.

use crate::handler::{Component, Method, Options};
use proc_macro2::{Span, TokenStream};
use syn::{LitStr, Type};

/// A `#[gateway("path", ..)] impl Type { .. }`.
pub struct Gateway {
    pub self_ty: Type,
    /// The type's name as users wrote it, for messages.
    pub type_name: String,
    pub route: String,
    pub route_span: Span,
    pub options: Options,
    pub port: Option<u16>,
    /// Lifecycle attributes on the impl block, in the order written.
    pub components: Vec<Component>,
    pub hooks: Vec<Hook>,
}

/// One method with a hook attribute.
pub struct Hook {
    pub kind: HookKind,
    pub method: Method,
    /// The hook attribute, for errors about it.
    pub attr: TokenStream,
}

pub enum HookKind {
    /// `#[on_connect]`: once, when the connection opens.
    OnConnect,
    /// `#[on_disconnect]`: once, after it ended.
    OnDisconnect,
    /// `#[on_error]`: on every error, before the catchers.
    OnError,
    /// `#[on_message]`: every message no `#[subscribe]` handles.
    OnMessage,
    /// `#[subscribe("event")]`: the messages `{"event": "event", ..}`.
    Subscribe(LitStr),
}

impl HookKind {
    /// The attribute's name.
    pub fn attribute(&self) -> &'static str {
        match self {
            HookKind::OnConnect => "on_connect",
            HookKind::OnDisconnect => "on_disconnect",
            HookKind::OnError => "on_error",
            HookKind::OnMessage => "on_message",
            HookKind::Subscribe(_) => "subscribe",
        }
    }
}
