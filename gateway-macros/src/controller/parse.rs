//! Syntax → model for `#[controller]`: its prefix and every `#[websocket]` and `#[sse]` method,
//! with all our attributes stripped from the impl block so it compiles as the user wrote it.

use super::model::{Controller, Endpoint, SseEndpoint};
use crate::diag::Errors;
use crate::shared::args::{endpoint_args, Key};
use crate::shared::model::ComponentKind;
use crate::shared::parse::{
    component_attributes, join_route, method, report_misspelled, take_attributes, take_components,
};
use crate::shared::validate::type_text;
use crate::symbol;
use syn::parse::{Parse, ParseStream};
use syn::{ImplItem, ItemImpl, LitStr};

/// `#[controller]` or `#[controller("prefix")]`.
pub(super) struct Prefix(pub Option<LitStr>);

impl Parse for Prefix {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() {
            return Ok(Self(None));
        }
        let prefix = input.parse().map_err(|error| {
            syn::Error::new(
                error.span(),
                "expected the controller's path prefix as a string: `#[controller(\"example\")]`",
            )
        })?;
        if !input.is_empty() {
            return Err(input.error("`#[controller]` takes one argument, the path prefix"));
        }
        Ok(Self(Some(prefix)))
    }
}

/// What `#[websocket(..)]` accepts after the path.
const WEBSOCKET_KEYS: [Key; 6] = [
    Key::Mode,
    Key::Ping,
    Key::PingTimeout,
    Key::TriggerOnConnect,
    Key::MaxMessage,
    Key::Concurrency,
];

/// Builds the model and strips our attributes from `item`.
pub(super) fn controller(prefix: &Prefix, item: &mut ItemImpl, errors: &mut Errors) -> Controller {
    let prefix = prefix.0.as_ref().map(LitStr::value).unwrap_or_default();
    crate::shared::parse::check_impl(item, "controller", errors);
    let components = take_components(&mut item.attrs, errors);
    report_misspelled(&mut item.attrs, &component_attributes(), errors);
    let mut endpoints = Vec::new();
    let mut sse_endpoints = Vec::new();
    for (position, member) in item.items.iter_mut().enumerate() {
        let ImplItem::Fn(function) = member else {
            continue;
        };
        let websocket_attrs = take_attributes(&mut function.attrs, symbol::WEBSOCKET);
        let sse_attrs = take_attributes(&mut function.attrs, symbol::SSE);
        let method_components = take_components(&mut function.attrs, errors);
        let mut known = vec![symbol::WEBSOCKET.name(), symbol::SSE.name()];
        known.extend(component_attributes());
        report_misspelled(&mut function.attrs, &known, errors);
        let method = method(function, errors);
        if let Some(sse) = sse_attrs.first() {
            if !websocket_attrs.is_empty() {
                errors.spanned(
                    sse,
                    "a method is either `#[websocket]` or `#[sse]`; remove one",
                );
            }
            let expected = "expected the stream's path as a string: `#[sse(\"events\")]`";
            let path = errors.keep(
                sse.parse_args::<LitStr>()
                    .map_err(|error| syn::Error::new(error.span(), expected)),
            );
            for component in &method_components {
                if !matches!(
                    component.kind,
                    ComponentKind::Guard | ComponentKind::Middleware
                ) {
                    errors.spanned(
                        &component.expr,
                        format!(
                            "`#[{}]` does not apply to an `#[sse]` stream (it has no messages \
                             and no close); only `#[guard]` and `#[middleware]` run on its request",
                            component.kind.name()
                        ),
                    );
                }
            }
            if let Some(path) = path {
                sse_endpoints.push(SseEndpoint {
                    position,
                    method,
                    route: join_route(&prefix, &path.value()),
                    route_span: path.span(),
                    components: method_components,
                });
            }
            continue;
        }
        let Some((first, rest)) = websocket_attrs.split_first() else {
            if let Some(component) = method_components.first() {
                errors.spanned(
                    &component.expr,
                    format!(
                        "`#[{}]` applies to `#[websocket]` methods; add `#[websocket(\"..\")]` to `{}` \
                         or move the attribute to the `impl` block",
                        component.kind.name(),
                        method.ident
                    ),
                );
            }
            continue;
        };
        for duplicate in rest {
            errors.spanned(
                duplicate,
                "a method takes one `#[websocket]` attribute; remove this one",
            );
        }
        if let Some(args) = errors.keep(endpoint_args(first, &WEBSOCKET_KEYS)) {
            endpoints.push(Endpoint {
                position,
                method,
                route: join_route(
                    &prefix,
                    &args.path.as_ref().map(LitStr::value).unwrap_or_default(),
                ),
                route_span: args.path.as_ref().map_or(args.span, LitStr::span),
                options: args.options,
                components: method_components,
            });
        }
    }
    Controller {
        type_name: type_text(&item.self_ty),
        self_ty: (*item.self_ty).clone(),
        components,
        endpoints,
        sse_endpoints,
    }
}
