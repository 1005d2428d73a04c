//! The typed model of a `#[controller]` impl, built by `parse` and checked by `validate`; `expand`
//! reads only a validated model.

use crate::shared::{Component, Method, Options};
use proc_macro2::Span;
use syn::Type;

/// A `#[controller("prefix")] impl Type { .. }`.
pub(super) struct Controller {
    /// The type the impl block is for.
    pub self_ty: Type,
    /// The type's name as users wrote it, for messages (`ExampleController`).
    pub type_name: String,
    /// Lifecycle attributes on the impl block, in the order written.
    pub components: Vec<Component>,
    pub endpoints: Vec<Endpoint>,
    pub sse_endpoints: Vec<SseEndpoint>,
}

/// One `#[sse("path")]` method.
pub(super) struct SseEndpoint {
    /// Where the method is in the impl block, for reporting in source order.
    pub position: usize,
    pub method: Method,
    pub route: String,
    pub route_span: Span,
    /// Its `#[guard]` and `#[middleware]` attributes.
    pub components: Vec<Component>,
}

/// One `#[websocket]` method.
pub(super) struct Endpoint {
    /// Where the method is in the impl block, for reporting in source order.
    pub position: usize,
    pub method: Method,
    /// The joined route (`/example/websocket`).
    pub route: String,
    /// Where the route came from, for errors about it.
    pub route_span: Span,
    pub options: Options,
    /// Lifecycle attributes on the method, in the order written.
    pub components: Vec<Component>,
}
