//! Model → code: one `Handler` whose `call` routes each message to its hook, and a `Gateway`
//! impl that registers the gateway as one endpoint.

use super::model::{Gateway, Hook, HookKind};
use crate::paths;
use crate::shared::expand::{
    call_then, dependencies, endpoint_options, invoke, lifecycle, method_contract,
};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

pub(super) fn gateway(gateway: &Gateway) -> TokenStream {
    let self_ty = &gateway.self_ty;
    let (handler_trait, context, reply, ws_error) = (
        paths::handler(),
        paths::message_context(),
        paths::reply(),
        paths::ws_error(),
    );
    let (route_event, request_id, incoming, option) = (
        paths::route_event(),
        paths::request_id(),
        paths::incoming(),
        paths::option(),
    );
    let hook = |kind: fn(&HookKind) -> bool| gateway.hooks.iter().find(|hook| kind(&hook.kind));
    let on_connect = hook(|kind| matches!(kind, HookKind::OnConnect));
    let on_message = hook(|kind| matches!(kind, HookKind::OnMessage));
    let resume = match hook(|kind| matches!(kind, HookKind::OnResume)) {
        Some(hook) => replying(self_ty, hook, quote!(__gw_message)),
        None => quote!(#reply::Nothing),
    };

    let connect = match on_connect {
        Some(hook) => replying(self_ty, hook, quote!(__gw_message)),
        None => quote!(#reply::Nothing),
    };
    let (unknown_event, not_an_event) = (paths::unknown_event(), paths::not_an_event());
    let (unknown, raw) = match on_message {
        Some(hook) => {
            let catch_all = replying(self_ty, hook, quote!(__gw_message));
            (catch_all.clone(), catch_all)
        }
        None => (quote!(#unknown_event(&__gw_name)), quote!(#not_an_event())),
    };
    let subscriptions = gateway.hooks.iter().filter_map(|hook| {
        let HookKind::Subscribe(event) = &hook.kind else {
            return None;
        };
        let answer = call_then(
            self_ty,
            &hook.method,
            &hook.kind.phase(),
            paths::event_reply(),
            quote!(#event, __gw_id,),
        );
        Some(quote! {
            #event => {
                #answer
            }
        })
    });
    let on_disconnect = hook(|kind| matches!(kind, HookKind::OnDisconnect)).map(|hook| {
        let value = silent(self_ty, hook);
        quote! {
            async fn on_disconnect(__gw_controller: &#self_ty, __gw_ctx: &#context) {
                #value
            }
        }
    });
    let on_error = hook(|kind| matches!(kind, HookKind::OnError)).map(|hook| {
        let value = silent(self_ty, hook);
        quote! {
            async fn on_error(__gw_controller: &#self_ty, __gw_ctx: &#context, __gw_error: &#ws_error) {
                #value
            }
        }
    });

    let event_contract = paths::event_contract();
    let events = gateway.hooks.iter().filter_map(|hook| {
        let HookKind::Subscribe(event) = &hook.kind else {
            return None;
        };
        let (body, reply) = method_contract(&hook.method);
        Some(quote!(#event_contract(#event, #body, #reply)))
    });
    let sent_event = paths::sent_event();
    let sends = gateway.emits.iter().map(|(event, ty)| {
        let sent_event = paths::respanned(sent_event.clone(), ty.span());
        quote_spanned!(ty.span()=> #sent_event::<#ty>(#event))
    });
    let gateway_contract = paths::gateway_contract();
    let route = &gateway.route;
    let name = &gateway.type_name;
    let options = endpoint_options(&gateway.options, on_connect.is_some());
    let gateway_lifecycle = lifecycle(&gateway.components);
    let dependencies = dependencies(gateway.hooks.iter().map(|hook| &hook.method));
    let port = match gateway.port {
        Some(port) => {
            let some = paths::some();
            quote!(#some(#port))
        }
        None => paths::none(),
    };
    let (gateway_trait, endpoints, arc, endpoint_spec) = (
        paths::gateway(),
        paths::endpoints(),
        paths::arc(),
        paths::endpoint_spec(),
    );
    quote! {
        const _: () = {
            #[allow(non_camel_case_types)]
            struct __gw_gateway;

            impl #handler_trait<#self_ty> for __gw_gateway {
                // Values are bound to a name so a trait error about one points at its return type.
                #[allow(clippy::let_unit_value)]
                async fn call(__gw_controller: &#self_ty, __gw_message: &#context) -> #reply {
                    match #route_event(__gw_message) {
                        #incoming::Connect => #connect,
                        #incoming::Resume => #resume,
                        #incoming::Event { name: __gw_name, id: __gw_id, context: __gw_event } => {
                            let __gw_ctx = &__gw_event;
                            match __gw_name.as_str() {
                                #(#subscriptions)*
                                _ => #unknown,
                            }
                        }
                        #incoming::Raw => #raw,
                    }
                }

                fn request_id(__gw_message: &#context) -> #option<u64> {
                    #request_id(__gw_message)
                }

                #on_disconnect
                #on_error
            }

            impl #gateway_trait for #self_ty {
                fn register(self: #arc<Self>, __gw_endpoints: &mut #endpoints) {
                    __gw_endpoints.gateway::<Self, __gw_gateway>(
                        &self,
                        #endpoint_spec {
                            path: #route,
                            handler: #name,
                            options: #options,
                            lifecycle: #gateway_lifecycle,
                            dependencies: #dependencies,
                            port: #port,
                            contract: || #gateway_contract(
                                ::std::vec![#(#events),*],
                                ::std::vec![#(#sends),*],
                            ),
                        },
                    );
                }
            }
        };
    }
}

/// A hook whose value is sent as it is (`#[on_connect]`, `#[on_message]`), bound from `ctx`.
fn replying(self_ty: &syn::Type, hook: &Hook, ctx: TokenStream) -> TokenStream {
    let answer = call_then(
        self_ty,
        &hook.method,
        &hook.kind.phase(),
        paths::to_reply(),
        quote!(),
    );
    quote! {{
        let __gw_ctx = #ctx;
        #answer
    }}
}

/// A hook that cannot answer (`#[on_disconnect]`, `#[on_error]`): a binding failure is logged.
fn silent(self_ty: &syn::Type, hook: &Hook) -> TokenStream {
    let hook_binding_failed = paths::hook_binding_failed();
    let value = invoke(
        self_ty,
        &hook.method,
        &hook.kind.phase(),
        &quote!(#hook_binding_failed(error)),
    );
    quote!(#value;)
}
