//! Semantic checks on a controller. Each mistake is reported at the token that causes it, with
//! what to write instead; every check runs, so one build lists them all.

use super::model::{Controller, Endpoint};
use crate::diag::Errors;
use crate::shared::validate::{option_inner, require_unit_return, signature, type_text};
use crate::shared::{Method, Mode, Source};
use proc_macro2::Span;

const HANDLER: &str = "a `#[websocket]` handler";

pub(super) fn controller(controller: &Controller, errors: &mut Errors) {
    for endpoint in &controller.endpoints {
        signature(&endpoint.method, HANDLER, errors);
        crate::shared::validate::options(&endpoint.options, errors);
        mode(endpoint, errors);
    }
    for sse in &controller.sse_endpoints {
        signature_of_sse(&sse.method, errors);
    }
    // Every route, WebSocket and SSE alike, in source order: its syntax, and that no two
    // handlers share it (reported at the later one, with a note at the first).
    let mut routes: Vec<(usize, &str, Span, &Method)> = controller
        .endpoints
        .iter()
        .map(|endpoint| {
            let route = endpoint.route.as_str();
            (
                endpoint.position,
                route,
                endpoint.route_span,
                &endpoint.method,
            )
        })
        .chain(controller.sse_endpoints.iter().map(|sse| {
            (
                sse.position,
                sse.route.as_str(),
                sse.route_span,
                &sse.method,
            )
        }))
        .collect();
    routes.sort_by_key(|(position, ..)| *position);
    for (index, (_, path, span, method)) in routes.iter().enumerate() {
        crate::shared::validate::route(path, *span, &method.params, errors);
        let first = routes[..index]
            .iter()
            .find(|(_, earlier, ..)| earlier == path);
        if let Some((_, _, first_span, first)) = first {
            let name = &controller.type_name;
            errors.at(
                *span,
                format!(
                    "path `{path}` is already used by `{name}::{}`; give each handler its own path",
                    first.ident
                ),
            );
            errors.at(
                *first_span,
                format!("note: `{name}::{}` uses `{path}` here first", first.ident),
            );
        }
    }
}

fn mode(endpoint: &Endpoint, errors: &mut Errors) {
    let options = &endpoint.options;
    let params = &endpoint.method.params;
    match options.mode {
        Mode::SendOnly => {
            if let Some(span) = options.trigger_on_connect {
                errors.at(span, "a `SendOnly` handler always runs when the connection opens; remove `trigger_on_connect`");
            }
            for param in params {
                if let Source::Body { attr, .. } = &param.source {
                    errors.spanned(
                        attr,
                        "`#[body]` cannot be used in a `SendOnly` handler: it runs once when the connection \
                         opens, before any message; remove the parameter or use `mode = TwoWay`",
                    );
                }
            }
        }
        Mode::ReceiveOnly => require_unit_return(
            &endpoint.method,
            |found| {
                format!(
                    "a `ReceiveOnly` handler never sends, so it returns `()` or `Result<(), E>`, not `{found}`; \
                     use `mode = TwoWay` to reply"
                )
            },
            errors,
        ),
        Mode::TwoWay => {}
    }
    if options.trigger_on_connect.is_some() {
        for param in params {
            if matches!(param.source, Source::Body { .. }) && option_inner(&param.ty).is_none() {
                errors.spanned(
                    &param.ty,
                    format!(
                        "with `trigger_on_connect` the handler also runs when the connection opens, with no \
                         message, so `#[body]` must be optional: use `Option<{}>`",
                        type_text(&param.ty)
                    ),
                );
            }
        }
    }
}

/// An `#[sse]` method: `&self` (or no receiver), not generic, no parameters yet.
fn signature_of_sse(method: &crate::shared::Method, errors: &mut Errors) {
    if let Some(span) = method.generics {
        errors.at(span, "an `#[sse]` method cannot be generic");
    }
    if let crate::shared::model::Receiver::Unsupported(receiver) = &method.receiver {
        errors.spanned(receiver, "an `#[sse]` method takes `&self`");
    }
    for param in &method.params {
        errors.spanned(
            &param.ty,
            "an `#[sse]` method takes no parameters yet: read what the stream needs from `self`, \
             and push events from elsewhere with `hub.sse(path)`",
        );
    }
}
