//! Code every handler method needs: binding its parameters, calling it, its lifecycle components
//! and its endpoint options. Runtime types decide where values come from; this only passes names.

use super::model::{Component, HandshakeKind, Method, Mode, Options, Param, Receiver, Source};
use super::validate::option_inner;
use crate::paths;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{ReturnType, Type};

/// Binds every parameter from `__gw_ctx` and awaits the method; evaluates to its value. A failed
/// binding evaluates `on_error` (with `error` in scope) and returns it from the enclosing function.
/// `phase` names the hook's phase marker (`OnMessage`, ..): what a parameter without attribute
/// can bind depends on it.
pub(crate) fn invoke(
    self_ty: &Type,
    method: &Method,
    phase: &TokenStream,
    on_error: &TokenStream,
) -> TokenStream {
    let (ok, err) = (paths::ok(), paths::err());
    let args: Vec<_> = (0..method.params.len())
        .map(|index| format_ident!("__gw_arg{}", index))
        .collect();
    let bindings =
        method
            .params
            .iter()
            .zip(&args)
            .map(|(param, arg)| match binding(param, phase) {
                Binding::Fallible(bind) => quote! {
                    let #arg = match #bind {
                        #ok(value) => value,
                        #err(error) => return #on_error,
                    };
                },
                Binding::Direct(value) => quote!(let #arg = #value;),
            });
    let name = &method.ident;
    let call = match method.receiver {
        Receiver::None => quote!(<#self_ty>::#name(#(#args),*)),
        Receiver::Shared | Receiver::Unsupported(_) => quote!(__gw_controller.#name(#(#args),*)),
    };
    quote! {{
        #(#bindings)*
        #call.await
    }}
}

/// The span of a method's return type (its name when it has none), for trait errors about it.
pub(crate) fn output_span(method: &Method) -> proc_macro2::Span {
    match &method.output {
        ReturnType::Default => method.ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    }
}

enum Binding {
    /// An expression of type `Result<T, WsError>`.
    Fallible(TokenStream),
    /// The value itself.
    Direct(TokenStream),
}

/// The expression binding one parameter, spanned on its type so a trait error lands there.
fn binding(param: &Param, phase: &TokenStream) -> Binding {
    let ty = &param.ty;
    let span = ty.span();
    let fallible = match &param.source {
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
            let bind = paths::bind();
            quote_spanned!(span=> <#ty as #bind<#phase>>::bind(__gw_ctx))
        }
        // The error an `#[on_error]` hook is called with.
        Source::Error => return Binding::Direct(quote!(__gw_error)),
    };
    Binding::Fallible(fallible)
}

/// `Lifecycle::new().guard(expr).observer(expr)..`, in the order written. Each expression keeps
/// its span, so a value that is not a guard is reported where the user wrote it.
pub(crate) fn lifecycle(components: &[Component]) -> TokenStream {
    let lifecycle = paths::lifecycle();
    let adds = components.iter().map(|Component { kind, expr }| {
        let method = format_ident!("{}", kind.name());
        quote_spanned!(expr.span()=> .#method(#expr))
    });
    quote!(#lifecycle::new() #(#adds)*)
}

/// `let __gw_value = <the call, parameters bound>; wrap(leading.. __gw_value)`: a handler's call
/// and what becomes of its value. `wrap` is re-spanned onto the return type, so a trait error
/// about the value points there.
pub(crate) fn call_then(
    self_ty: &syn::Type,
    method: &Method,
    phase: &TokenStream,
    wrap: TokenStream,
    leading: TokenStream,
) -> TokenStream {
    let binding_failed = paths::binding_failed();
    let value = invoke(self_ty, method, phase, &quote!(#binding_failed(error)));
    let wrap = paths::respanned(wrap, output_span(method));
    let answer = quote_spanned!(output_span(method)=> #wrap(#leading __gw_value));
    quote! {
        let __gw_value = #value;
        #answer
    }
}

/// `EndpointOptions { .. }` for these options.
pub(crate) fn endpoint_options(options: &Options, trigger_on_connect: bool) -> TokenStream {
    let (endpoint_options, mode_path) = (paths::endpoint_options(), paths::mode());
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
    let max_message = optional(options.max_message.map(|bytes| {
        let bytes = bytes as usize;
        quote!(#bytes)
    }));
    let resume = optional(
        options
            .resume
            .map(|(millis, _)| quote!(#duration::from_millis(#millis))),
    );
    let concurrency = options
        .concurrency
        .map_or(1, |(count, _)| usize::from(count));
    quote! {
        #endpoint_options {
            mode: #mode_path::#mode,
            ping_interval: #ping_interval,
            ping_timeout: #ping_timeout,
            trigger_on_connect: #trigger_on_connect,
            max_message: #max_message,
            concurrency: #concurrency,
            resume: #resume,
        }
    }
}

/// The `#[dep]` services these methods need, for the app's build-time check.
pub(crate) fn dependencies<'a>(methods: impl IntoIterator<Item = &'a Method>) -> TokenStream {
    let dependency = paths::dependency();
    let keys = methods
        .into_iter()
        .flat_map(|method| &method.params)
        .filter(|param| matches!(param.source, Source::Dep))
        .map(|param| {
            let ty = &param.ty;
            quote_spanned!(ty.span()=> <#ty as #dependency>::key())
        });
    let collect = paths::dependencies();
    quote!(#collect([#(#keys),*]))
}

/// `impl Trait for Type` registering nothing: what a macro emits instead of its expansion when
/// it reported errors, so using the type adds no second error.
pub(crate) fn registration_stub(
    registration_trait: TokenStream,
    self_ty: &syn::Type,
) -> TokenStream {
    let (arc, endpoints) = (paths::arc(), paths::endpoints());
    quote! {
        impl #registration_trait for #self_ty {
            fn register(self: #arc<Self>, _: &mut #endpoints) {}
        }
    }
}

/// The contract of one handler: the schemas of its `#[body]` and of its answer, as calls the
/// runtime answers with feature `contract` (a type without a schema is then an error at it).
/// A body read field by field, or an `impl Trait` return, is described as anything.
pub(crate) fn method_contract(method: &Method) -> (TokenStream, TokenStream) {
    let none = paths::none();
    let bodies: Vec<&Param> = method
        .params
        .iter()
        .filter(|param| matches!(param.source, Source::Body { .. }))
        .collect();
    let body = match bodies.as_slice() {
        [Param {
            ty,
            source: Source::Body { field: None, .. },
        }] => {
            let body_schema = paths::respanned(paths::body_schema(), ty.span());
            quote_spanned!(ty.span()=> #body_schema::<#ty>())
        }
        _ => none.clone(),
    };
    let reply = match &method.output {
        ReturnType::Default => {
            let reply_schema = paths::reply_schema();
            quote!(#reply_schema::<()>())
        }
        ReturnType::Type(_, ty) if !mentions_impl(ty.to_token_stream()) => {
            let reply_schema = paths::respanned(paths::reply_schema(), ty.span());
            quote_spanned!(ty.span()=> #reply_schema::<#ty>())
        }
        ReturnType::Type(..) => none,
    };
    (body, reply)
}

/// Whether a type is (or holds) an `impl Trait`, which cannot be named outside its function.
fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => ident == "impl",
        proc_macro2::TokenTree::Group(group) => mentions_impl(group.stream()),
        _ => false,
    })
}
