//! Model → code: one `Handler` marker type per endpoint and one `Controller` impl that registers
//! them.

use super::model::{Controller, Endpoint, SseEndpoint};
use crate::paths;
use crate::shared::expand::{
    call_then, dependencies, endpoint_options, lifecycle, method_contract, output_span,
};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

pub(super) fn controller(controller: &Controller) -> TokenStream {
    let self_ty = &controller.self_ty;
    let handlers = controller
        .endpoints
        .iter()
        .map(|endpoint| handler(controller, endpoint));
    let registrations = controller
        .endpoints
        .iter()
        .map(|endpoint| registration(controller, endpoint));
    let (controller_trait, endpoints, arc) =
        (paths::controller(), paths::endpoints(), paths::arc());
    let controller_lifecycle = lifecycle(&controller.components);
    let sse_handlers = controller
        .sse_endpoints
        .iter()
        .map(|sse| sse_handler(controller, sse));
    let sse_registrations = controller.sse_endpoints.iter().map(|sse| {
        let marker = sse_type(sse);
        let route = &sse.route;
        let name = format!("{}::{}", controller.type_name, sse.method.ident);
        let method_lifecycle = lifecycle(&sse.components);
        quote! {
            __gw_endpoints.sse::<Self, #marker>(
                &self,
                #route,
                #name,
                __gw_controller_lifecycle.around(&#method_lifecycle),
            );
        }
    });
    quote! {
        const _: () = {
            #(#handlers)*
            #(#sse_handlers)*

            impl #controller_trait for #self_ty {
                fn register(self: #arc<Self>, __gw_endpoints: &mut #endpoints) {
                    let __gw_controller_lifecycle = #controller_lifecycle;
                    #(#registrations)*
                    #(#sse_registrations)*
                }
            }
        };
    }
}

fn handler_type(endpoint: &Endpoint) -> syn::Ident {
    format_ident!("__gw_handler_{}", endpoint.method.ident)
}

/// `struct __gw_handler_echo; impl Handler<Controller> for __gw_handler_echo { .. }`
fn handler(controller: &Controller, endpoint: &Endpoint) -> TokenStream {
    let self_ty = &controller.self_ty;
    let marker = handler_type(endpoint);
    let (handler_trait, context, reply) =
        (paths::handler(), paths::message_context(), paths::reply());
    let phase = paths::phase_message();
    let body = call_then(
        self_ty,
        &endpoint.method,
        &phase,
        paths::to_reply(),
        quote!(),
    );
    quote_spanned! {endpoint.method.ident.span()=>
        #[allow(non_camel_case_types)]
        struct #marker;

        impl #handler_trait<#self_ty> for #marker {
            // The value is bound to a name so a trait error about it points at the return type.
            #[allow(clippy::let_unit_value)]
            async fn call(__gw_controller: &#self_ty, __gw_ctx: &#context) -> #reply {
                #body
            }
        }
    }
}

/// `__gw_endpoints.websocket::<Self, __gw_handler_echo>(&self, EndpointSpec { .. });`
fn registration(controller: &Controller, endpoint: &Endpoint) -> TokenStream {
    let marker = handler_type(endpoint);
    let route = &endpoint.route;
    let name = format!("{}::{}", controller.type_name, endpoint.method.ident);
    let options = endpoint_options(
        &endpoint.options,
        endpoint.options.trigger_on_connect.is_some(),
    );
    let method_lifecycle = lifecycle(&endpoint.components);
    let dependencies = dependencies([&endpoint.method]);
    let (endpoint_spec, none) = (paths::endpoint_spec(), paths::none());
    let (body, reply) = method_contract(&endpoint.method);
    let websocket_contract = paths::websocket_contract();
    quote! {
        __gw_endpoints.websocket::<Self, #marker>(
            &self,
            #endpoint_spec {
                path: #route,
                handler: #name,
                options: #options,
                lifecycle: __gw_controller_lifecycle.around(&#method_lifecycle),
                dependencies: #dependencies,
                port: #none,
                contract: || #websocket_contract(#body, #reply),
            },
        );
    }
}

fn sse_type(sse: &SseEndpoint) -> syn::Ident {
    format_ident!("__gw_sse_{}", sse.method.ident)
}

/// `struct __gw_sse_events; impl SseHandler<Controller> for __gw_sse_events { .. }`
fn sse_handler(controller: &Controller, sse: &SseEndpoint) -> TokenStream {
    let self_ty = &controller.self_ty;
    let marker = sse_type(sse);
    let name = &sse.method.ident;
    let (handler_trait, arc, box_stream, event) = (
        paths::sse_handler(),
        paths::arc(),
        paths::box_stream(),
        paths::event(),
    );
    let call = match sse.method.receiver {
        crate::shared::model::Receiver::None => quote!(<#self_ty>::#name()),
        _ => quote!(__gw_controller.#name()),
    };
    let span = output_span(&sse.method);
    let open = if sse.method.not_async.is_some() {
        let stream_of = paths::respanned(paths::stream_of(), span);
        quote!(#stream_of(#call))
    } else {
        let stream_after = paths::respanned(paths::stream_after(), span);
        quote!(#stream_after(async move { #call.await }))
    };
    quote_spanned! {sse.method.ident.span()=>
        #[allow(non_camel_case_types)]
        struct #marker;

        impl #handler_trait<#self_ty> for #marker {
            fn open(__gw_controller: #arc<#self_ty>) -> #box_stream<'static, #event> {
                #open
            }
        }
    }
}
