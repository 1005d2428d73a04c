//! The typed model of a `#[gateway]` impl: one WebSocket endpoint whose methods are hooks.

use crate::shared::{Component, Method, Options};
use crate::symbol::{ON_CONNECT, ON_DISCONNECT, ON_ERROR, ON_MESSAGE, ON_RESUME, SUBSCRIBE};
use proc_macro2::{Span, TokenStream};
use syn::{LitStr, Type};

/// A `#[gateway("path", ..)] impl Type { .. }`.
pub(super) struct Gateway {
    pub self_ty: Type,
    /// The type's name as users wrote it, for messages.
    pub type_name: String,
    pub route: String,
    pub route_span: Span,
    pub options: Options,
    pub port: Option<u16>,
    /// `emits("event" = Type, ..)`: the events it sends and their data, for the contract.
    pub emits: Vec<(LitStr, Type)>,
    /// Lifecycle attributes on the impl block, in the order written.
    pub components: Vec<Component>,
    pub hooks: Vec<Hook>,
}

/// One method with a hook attribute.
pub(super) struct Hook {
    pub kind: HookKind,
    pub method: Method,
    /// The hook attribute, for errors about it.
    pub attr: TokenStream,
}

pub(super) enum HookKind {
    /// `#[on_connect]`: once, when the connection opens.
    OnConnect,
    /// `#[on_resume]`: each time a resumable session's client comes back.
    OnResume,
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
    /// The runtime's marker for what the hook's parameters can bind.
    pub(super) fn phase(&self) -> TokenStream {
        match self {
            HookKind::OnConnect => crate::paths::phase_connect(),
            HookKind::OnResume => crate::paths::phase_resume(),
            HookKind::OnDisconnect => crate::paths::phase_disconnect(),
            HookKind::OnError => crate::paths::phase_error(),
            HookKind::OnMessage | HookKind::Subscribe(_) => crate::paths::phase_message(),
        }
    }

    /// The attribute's name.
    pub(super) fn attribute(&self) -> &'static str {
        match self {
            HookKind::OnConnect => ON_CONNECT,
            HookKind::OnResume => ON_RESUME,
            HookKind::OnDisconnect => ON_DISCONNECT,
            HookKind::OnError => ON_ERROR,
            HookKind::OnMessage => ON_MESSAGE,
            HookKind::Subscribe(_) => SUBSCRIBE,
        }
        .name()
    }
}
