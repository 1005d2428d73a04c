//! Semantic checks on the model. Each mistake is reported at the token that causes it, with what
//! to write instead; every check runs, so one build lists them all.

use super::model::{Controller, Endpoint, HandshakeKind, Mode, Receiver, Source};
use crate::diag::Errors;
use quote::ToTokens;
use syn::{GenericArgument, PathArguments, ReturnType, Type};

pub fn controller(controller: &Controller, errors: &mut Errors) {
    for (index, endpoint) in controller.endpoints.iter().enumerate() {
        signature(endpoint, errors);
        options(endpoint, errors);
        route(endpoint, errors);
        if let Some(first) = controller.endpoints[..index]
            .iter()
            .find(|e| e.route == endpoint.route)
        {
            errors.at(
                endpoint.route_span,
                format!(
                    "path `{}` is already used by `{}::{}`; give each handler its own path",
                    endpoint.route, controller.type_name, first.method
                ),
            );
        }
    }
}

fn signature(endpoint: &Endpoint, errors: &mut Errors) {
    if let Some(span) = endpoint.not_async {
        errors.at(
            span,
            format!(
                "a `#[websocket]` handler must be an `async fn`; write `async fn {}`",
                endpoint.method
            ),
        );
    }
    if let Some(span) = endpoint.generics {
        errors.at(span, "a `#[websocket]` handler cannot be generic: every parameter needs a concrete type to bind");
    }
    if let Receiver::Unsupported(receiver) = &endpoint.receiver {
        errors.spanned(
            receiver,
            "a `#[websocket]` handler takes `&self`: one controller serves every connection at once \
             (keep mutable state behind a `Mutex` or an atomic)",
        );
    }
}

fn options(endpoint: &Endpoint, errors: &mut Errors) {
    let options = &endpoint.options;
    if let (Some((_, span)), None) = (options.ping_timeout_millis, options.ping_millis) {
        errors.at(
            span,
            "`ping_timeout` needs `ping = \"..\"`: there is no Pong to wait for without a Ping",
        );
    }
    match options.mode {
        Mode::SendOnly => {
            if let Some(span) = options.trigger_on_connect {
                errors.at(span, "a `SendOnly` handler always runs when the connection opens; remove `trigger_on_connect`");
            }
            for param in &endpoint.params {
                if let Source::Body { attr, .. } = &param.source {
                    errors.spanned(
                        attr,
                        "`#[body]` cannot be used in a `SendOnly` handler: it runs once when the connection \
                         opens, before any message; remove the parameter or use `mode = TwoWay`",
                    );
                }
            }
        }
        Mode::ReceiveOnly => {
            if !returns_unit(&endpoint.output) {
                let ReturnType::Type(_, ty) = &endpoint.output else {
                    return;
                };
                errors.spanned(
                    ty,
                    format!(
                        "a `ReceiveOnly` handler never sends, so it returns `()` or `Result<(), E>`, not `{}`; \
                         use `mode = TwoWay` to reply",
                        ty.to_token_stream().to_string().replace(' ', "")
                    ),
                );
            }
        }
        Mode::TwoWay => {}
    }
    if options.trigger_on_connect.is_some() {
        for param in &endpoint.params {
            if matches!(param.source, Source::Body { .. }) && option_inner(&param.ty).is_none() {
                errors.spanned(
                    &param.ty,
                    format!(
                        "with `trigger_on_connect` the handler also runs when the connection opens, with no \
                         message, so `#[body]` must be optional: use `Option<{}>`",
                        param.ty.to_token_stream().to_string().replace(' ', "")
                    ),
                );
            }
        }
    }
}

fn route(endpoint: &Endpoint, errors: &mut Errors) {
    if endpoint
        .route
        .split('/')
        .any(|segment| segment.starts_with(':') || segment.starts_with('*'))
    {
        errors.at(
            endpoint.route_span,
            "write path parameters as `{name}` and wildcards as `{*name}` (axum 0.8 syntax), not `:name` or `*name`",
        );
    }
    for param in &endpoint.params {
        let Source::Handshake {
            kind: HandshakeKind::Param,
            name,
        } = &param.source
        else {
            continue;
        };
        let placeholder = format!("{{{}}}", name.value());
        let wildcard = format!("{{*{}}}", name.value());
        if !endpoint
            .route
            .split('/')
            .any(|segment| segment == placeholder || segment == wildcard)
        {
            errors.spanned(
                name,
                format!(
                    "the route `{}` has no path parameter `{}`; add `{}` to the path",
                    endpoint.route,
                    name.value(),
                    placeholder
                ),
            );
        }
    }
}

/// `T` when `ty` is written `Option<T>`.
pub fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(inner) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

/// `()`, nothing, or `Result<(), E>`.
fn returns_unit(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return true;
    };
    match &**ty {
        Type::Tuple(tuple) => tuple.elems.is_empty(),
        Type::Path(path) => path.path.segments.last().is_some_and(|last| {
            last.ident == "Result"
                && matches!(&last.arguments, PathArguments::AngleBracketed(args)
                    if matches!(args.args.first(), Some(GenericArgument::Type(Type::Tuple(unit))) if unit.elems.is_empty()))
        }),
        _ => false,
    }
}
