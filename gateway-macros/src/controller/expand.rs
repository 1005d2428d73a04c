//! Model → code: one `Handler` marker type per endpoint and one `Controller` impl that registers
//! them. Runtime types decide where values come from; this module only passes names and options.

use super::model::{Component, Controller, Endpoint, HandshakeKind, Mode, Param, Receiver, Source};
use super::validate::option_inner;
use crate::paths;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::ReturnType;

pub fn controller(controller: &Controller) -> TokenStream {
    let self_ty = &controller.self_ty;
    let handlers = controller
        .endpoints
        .iter()
        .map(|endpoint| handler(controller, endpoint));
    let registrations = controller
        .endpoints
        .iter()
        .map(|endpoint| registration(controller, endpoint));
    let (controller_trait, routes, arc) = (paths::controller(), paths::routes(), paths::arc());
    let controller_lifecycle = lifecycle(&controller.components);
    quote! {
        const _: () = {
            #(#handlers)*

            impl #controller_trait for #self_ty {
                fn register(self: #arc<Self>, __gw_routes: &mut #routes) {
                    let __gw_controller_lifecycle = #controller_lifecycle;
                    #(#registrations)*
                }
            }
        };
    }
}

fn handler_type(endpoint: &Endpoint) -> syn::Ident {
    format_ident!("__gw_handler_{}", endpoint.method)
}

/// `struct __gw_handler_echo; impl Handler<Controller> for __gw_handler_echo { .. }`
fn handler(controller: &Controller, endpoint: &Endpoint) -> TokenStream {
    let self_ty = &controller.self_ty;
    let marker = handler_type(endpoint);
    let method = &endpoint.method;
    let (handler_trait, context, reply) =
        (paths::handler(), paths::message_context(), paths::reply());
    let (ok, err, binding_failed) = (paths::ok(), paths::err(), paths::binding_failed());
    let args: Vec<_> = (0..endpoint.params.len())
        .map(|index| format_ident!("__gw_arg{}", index))
        .collect();
    let bindings = endpoint.params.iter().zip(&args).map(|(param, arg)| {
        let bind = binding(param);
        quote! {
            let #arg = match #bind {
                #ok(value) => value,
                #err(error) => return #binding_failed(error),
            };
        }
    });
    let call = match endpoint.receiver {
        Receiver::None => quote!(<#self_ty>::#method(#(#args),*)),
        Receiver::Shared | Receiver::Unsupported(_) => quote!(__gw_controller.#method(#(#args),*)),
    };
    let into_reply = paths::into_reply();
    let output_span = match &endpoint.output {
        ReturnType::Default => method.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let reply_value = quote_spanned!(output_span=> #into_reply::into_reply(__gw_value));
    quote_spanned! {method.span()=>
        #[allow(non_camel_case_types)]
        struct #marker;

        impl #handler_trait<#self_ty> for #marker {
            async fn call(__gw_controller: &#self_ty, __gw_ctx: &#context) -> #reply {
                #(#bindings)*
                let __gw_value = #call.await;
                #reply_value
            }
        }
    }
}

/// The expression binding one parameter, spanned on its type so a trait error lands there.
fn binding(param: &Param) -> TokenStream {
    let ty = &param.ty;
    let span = ty.span();
    match &param.source {
        Source::Body { field: None, .. } => {
            let body = paths::bind_body();
            quote_spanned!(span=> #body::<#ty>(__gw_ctx))
        }
        Source::Body {
            field: Some(field), ..
        } => {
            let body_field = paths::bind_body_field();
            quote_spanned!(span=> #body_field::<#ty>(__gw_ctx, #field))
        }
        Source::Handshake { kind, name } => {
            let source = paths::source();
            let variant = match kind {
                HandshakeKind::Header => quote!(Header),
                HandshakeKind::Query => quote!(Query),
                HandshakeKind::Param => quote!(Param),
            };
            match option_inner(ty) {
                Some(inner) => {
                    let optional = paths::bind_optional();
                    quote_spanned!(span=> #optional::<#inner>(__gw_ctx, #source::#variant, #name))
                }
                None => {
                    let required = paths::bind_required();
                    quote_spanned!(span=> #required::<#ty>(__gw_ctx, #source::#variant, #name))
                }
            }
        }
        Source::Data => match option_inner(ty) {
            Some(inner) => {
                let optional_data = paths::bind_optional_data();
                quote_spanned!(span=> #optional_data::<#inner>(__gw_ctx))
            }
            None => {
                let data = paths::bind_data();
                quote_spanned!(span=> #data::<#ty>(__gw_ctx))
            }
        },
        // Both uses of `Dependency` are trait-path calls on the same span, so a wrong type is
        // reported once.
        Source::Dep => {
            let dependency = paths::dependency();
            quote_spanned!(span=> <#ty as #dependency>::bind(__gw_ctx))
        }
        Source::Context => {
            let from_context = paths::from_context();
            quote_spanned!(span=> <#ty as #from_context>::from_context(__gw_ctx))
        }
    }
}

/// `Lifecycle::new().guard(expr).observer(expr)..`, in the order written. Each expression keeps
/// its span, so a value that is not a guard is reported where the user wrote it.
fn lifecycle(components: &[Component]) -> TokenStream {
    let lifecycle = paths::lifecycle();
    let adds = components.iter().map(|Component { kind, expr }| {
        let method = format_ident!("{}", kind.name());
        quote_spanned!(expr.span()=> .#method(#expr))
    });
    quote!(#lifecycle::new() #(#adds)*)
}

/// `__gw_routes.websocket::<Self, __gw_handler_echo>(&self, Route { .. });`
fn registration(controller: &Controller, endpoint: &Endpoint) -> TokenStream {
    let marker = handler_type(endpoint);
    let route = &endpoint.route;
    let name = format!("{}::{}", controller.type_name, endpoint.method);
    let options = &endpoint.options;
    let (endpoint_options, mode_path, route_type) =
        (paths::endpoint_options(), paths::mode(), paths::route());
    let mode = match options.mode {
        Mode::TwoWay => quote!(TwoWay),
        Mode::ReceiveOnly => quote!(ReceiveOnly),
        Mode::SendOnly => quote!(SendOnly),
    };
    let some = paths::some();
    let optional = |value: Option<TokenStream>| match value {
        Some(value) => quote!(#some(#value)),
        None => paths::none(),
    };
    let duration = paths::duration();
    let ping_interval = optional(
        options
            .ping_millis
            .map(|millis| quote!(#duration::from_millis(#millis))),
    );
    let ping_timeout = optional(
        options
            .ping_timeout_millis
            .map(|(millis, _)| quote!(#duration::from_millis(#millis))),
    );
    let trigger_on_connect = options.trigger_on_connect.is_some();
    let max_message = optional(options.max_message.map(|bytes| {
        let bytes = bytes as usize;
        quote!(#bytes)
    }));
    let method_lifecycle = lifecycle(&endpoint.components);
    let dependency = paths::dependency();
    let dependencies = endpoint
        .params
        .iter()
        .filter(|param| matches!(param.source, Source::Dep))
        .map(|param| {
            let ty = &param.ty;
            quote_spanned!(ty.span()=> <#ty as #dependency>::key())
        });
    let collect_dependencies = paths::dependencies();
    quote_spanned! {Span::call_site()=>
        __gw_routes.websocket::<Self, #marker>(
            &self,
            #route_type {
                path: #route,
                handler: #name,
                options: #endpoint_options {
                    mode: #mode_path::#mode,
                    ping_interval: #ping_interval,
                    ping_timeout: #ping_timeout,
                    trigger_on_connect: #trigger_on_connect,
                    max_message: #max_message,
                },
                lifecycle: __gw_controller_lifecycle.around(&#method_lifecycle),
                dependencies: #collect_dependencies([#(#dependencies),*]),
            },
        );
    }
}
