//! Syntax → model for `#[gateway]`: its arguments, lifecycle attributes and hook methods, with
//! all our attributes stripped from the impl block.

use super::model::{Gateway, Hook, HookKind};
use crate::diag::Errors;
use crate::shared::args::{endpoint_args, EndpointArgs, Key};
use crate::shared::parse::{
    component_attributes, join_route, method, report_misspelled, take_components,
};
use crate::shared::validate::type_text;
use crate::shared::Source;
use crate::symbol;
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Attribute, ImplItem, ItemImpl, LitStr, Meta, Type};

/// The hook attributes, by name.
const HOOK_ATTRIBUTES: [&str; 6] = [
    symbol::ON_CONNECT.name(),
    symbol::ON_DISCONNECT.name(),
    symbol::ON_ERROR.name(),
    symbol::ON_MESSAGE.name(),
    symbol::ON_RESUME.name(),
    symbol::SUBSCRIBE.name(),
];

/// What `#[gateway(..)]` accepts after the path.
const GATEWAY_KEYS: [Key; 7] = [
    Key::Ping,
    Key::PingTimeout,
    Key::MaxMessage,
    Key::Concurrency,
    Key::Port,
    Key::Resume,
    Key::Emits,
];

/// Builds the model and strips our attributes from `item`.
pub(super) fn gateway(args: TokenStream, item: &mut ItemImpl, errors: &mut Errors) -> Gateway {
    crate::shared::parse::check_impl(item, "gateway", errors);
    let attribute: Attribute = syn::parse_quote!(#[gateway(#args)]);
    let args = errors.keep(endpoint_args(&attribute, &GATEWAY_KEYS));
    let components = take_components(&mut item.attrs, errors);
    report_misspelled(&mut item.attrs, &component_attributes(), errors);
    let mut hooks = Vec::new();
    for member in &mut item.items {
        let ImplItem::Fn(function) = member else {
            continue;
        };
        let misplaced = take_components(&mut function.attrs, errors);
        if let Some(component) = misplaced.first() {
            errors.spanned(
                &component.expr,
                format!(
                    "a gateway is one endpoint: put `#[{}(..)]` on the gateway's `impl` block",
                    component.kind.name()
                ),
            );
        }
        let mut known = HOOK_ATTRIBUTES.to_vec();
        known.push(symbol::WEBSOCKET.name());
        report_misspelled(&mut function.attrs, &known, errors);
        let mut hook_attrs = take_hook_attributes(&mut function.attrs, errors).into_iter();
        let mut method = method(function, errors);
        let Some((kind, attr)) = hook_attrs.next() else {
            continue;
        };
        for (_, duplicate) in hook_attrs {
            errors.spanned(duplicate, "a method is one hook; remove this attribute");
        }
        if let HookKind::OnError = kind {
            // `error: &WsError` is the error the hook is called with.
            for param in &mut method.params {
                if is_ws_error_ref(&param.ty) && matches!(param.source, Source::Context) {
                    param.source = Source::Error;
                }
            }
        }
        hooks.push(Hook { kind, method, attr });
    }
    let args = args.unwrap_or_else(|| EndpointArgs::empty(&attribute));
    Gateway {
        type_name: type_text(&item.self_ty),
        self_ty: (*item.self_ty).clone(),
        route: join_route(
            "",
            &args.path.as_ref().map(LitStr::value).unwrap_or_default(),
        ),
        route_span: args.path.as_ref().map_or(args.span, LitStr::span),
        options: args.options,
        port: args.port,
        emits: args.emits,
        components,
        hooks,
    }
}

/// Removes the hook attributes, returning each with its tokens (for errors).
fn take_hook_attributes(
    attrs: &mut Vec<Attribute>,
    errors: &mut Errors,
) -> Vec<(HookKind, TokenStream)> {
    let mut hooks = Vec::new();
    attrs.retain(|attr| {
        let Some(name) = HOOK_ATTRIBUTES.iter().find(|name| attr.path().is_ident(name)) else {
            if *attr.path() == symbol::WEBSOCKET {
                errors.spanned(
                    attr,
                    "a gateway routes events to hooks: use `#[subscribe(\"event\")]` or `#[on_message]` \
                     (`#[websocket]` belongs in a `#[controller]`)",
                );
                return false;
            }
            if *attr.path() == symbol::SSE {
                errors.spanned(
                    attr,
                    "`#[sse]` belongs in a `#[controller]` impl, not a `#[gateway]`: move this method \
                     to a `#[controller(\"prefix\")]` (register both on the App; push to its \
                     clients from the gateway with `hub.sse(\"/path\")`)",
                );
                return false;
            }
            return true;
        };
        let kind = match *name {
            "on_connect" => Some(HookKind::OnConnect),
            "on_disconnect" => Some(HookKind::OnDisconnect),
            "on_error" => Some(HookKind::OnError),
            "on_message" => Some(HookKind::OnMessage),
            "on_resume" => Some(HookKind::OnResume),
            _ => errors.keep(subscribe_event(attr)).map(HookKind::Subscribe),
        };
        let takes_no_arguments = !matches!(kind, Some(HookKind::Subscribe(_)) | None);
        if takes_no_arguments && !matches!(attr.meta, Meta::Path(_)) {
            errors.spanned(attr, format!("`#[{name}]` takes no arguments"));
        } else if let Some(kind) = kind {
            hooks.push((kind, attr.to_token_stream()));
        }
        false
    });
    hooks
}

fn subscribe_event(attr: &Attribute) -> syn::Result<LitStr> {
    let expected = "expected the event's name: `#[subscribe(\"message\")]`";
    let event: LitStr = attr
        .parse_args()
        .map_err(|error| syn::Error::new(error.span(), expected))?;
    if event.value().is_empty() {
        return Err(syn::Error::new(event.span(), expected));
    }
    if event.value().starts_with('$') {
        return Err(syn::Error::new(
            event.span(),
            "event names starting with `$` belong to the resume protocol (`$session`, `$ack`, \
             `$resume`, ..); rename the event",
        ));
    }
    Ok(event)
}

/// `&WsError` (by any path: `&gateway::error::WsError`).
fn is_ws_error_ref(ty: &Type) -> bool {
    let Type::Reference(reference) = ty else {
        return false;
    };
    matches!(&*reference.elem, Type::Path(path)
        if path.path.segments.last().is_some_and(|last| last.ident == "WsError"))
}
