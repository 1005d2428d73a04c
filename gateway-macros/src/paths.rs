//! The one table of runtime paths the generated code uses. Everything lives under
//! `::gateway::__private_0_1` (versioned: macros of another release fail to resolve it), so users depend on `gateway` alone and their own names (even a type
//! called `Result` or a missing prelude) cannot change what the expansion means.

use proc_macro2::TokenStream;
use quote::quote;

macro_rules! runtime_paths {
    ($($name:ident => $($segment:ident)::+;)*) => {$(
        pub(crate) fn $name() -> TokenStream {
            quote!(::gateway::__private_0_1::$($segment)::+)
        }
    )*};
}

runtime_paths! {
    handler => Handler;
    controller => Controller;
    gateway => Gateway;
    endpoints => Endpoints;
    message_context => MessageContext;
    reply => Reply;
    to_reply => reply;
    bind => Bind;
    phase_message => OnMessage;
    phase_connect => OnConnect;
    phase_resume => OnResume;
    phase_disconnect => OnDisconnect;
    phase_error => OnError;
    endpoint_options => EndpointOptions;
    mode => Mode;
    duration => Duration;
    arc => Arc;
    ok => Ok;
    err => Err;
    option => Option;
    some => Some;
    none => None;
    endpoint_spec => EndpointSpec;
    sse_handler => SseHandler;
    box_stream => BoxStream;
    event => Event;
    stream_of => stream_of;
    stream_after => stream_after;
    ws_error => WsError;
    route_event => route_event;
    request_id => request_id;
    incoming => Incoming;
    unknown_event => unknown_event;
    not_an_event => not_an_event;
    event_reply => event_reply;
    hook_binding_failed => hook_binding_failed;
    lifecycle => Lifecycle;
    dependencies => dependencies;
    binding_failed => binding_failed;
    bind_data => data;
    bind_optional_data => optional_data;
    dependency => Dependency;
    bind_body => body;
    bind_body_field => body_field;
    bind_required => required;
    bind_optional => optional;
    source => Source;
    gateway_contract => gateway_contract;
    websocket_contract => websocket_contract;
    event_contract => event_contract;
    body_schema => body_schema;
    reply_schema => reply_schema;
    sent_event => sent_event;
}

/// `tokens` with every span set to `span`, so an error about a runtime path used for the user's
/// type (a missing trait impl) points at that type, not at the macro.
pub(crate) fn respanned(tokens: TokenStream, span: proc_macro2::Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let mut respanned_group =
                    proc_macro2::Group::new(group.delimiter(), respanned(group.stream(), span));
                respanned_group.set_span(span);
                token = proc_macro2::TokenTree::Group(respanned_group);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}
