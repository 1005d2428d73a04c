//! Checks every handler method shares: its signature, and the endpoint options that mean the
//! same everywhere.

use super::model::{HandshakeKind, Method, Mode, Options, Param, Receiver, Source};
use crate::diag::Errors;
use quote::ToTokens;
use syn::{GenericArgument, PathArguments, ReturnType, Type};

/// `what` names the method's role in messages: "a `#[websocket]` handler".
pub(crate) fn signature(method: &Method, what: &str, errors: &mut Errors) {
    if let Some(span) = method.not_async {
        errors.at(
            span,
            format!(
                "{what} must be an `async fn`; write `async fn {}`",
                method.ident
            ),
        );
    }
    if let Some(span) = method.generics {
        errors.at(
            span,
            format!("{what} cannot be generic: every parameter needs a concrete type to bind"),
        );
    }
    if let Receiver::Unsupported(receiver) = &method.receiver {
        errors.spanned(
            receiver,
            format!(
                "{what} takes `&self`: one controller serves every connection at once \
                 (keep mutable state behind a `Mutex` or an atomic)"
            ),
        );
    }
}

pub(crate) fn options(options: &Options, errors: &mut Errors) {
    if let (Some((_, span)), None) = (options.ping_timeout_millis, options.ping_millis) {
        errors.at(
            span,
            "`ping_timeout` needs `ping = \"..\"`: there is no Pong to wait for without a Ping",
        );
    }
    if let (Some((_, span)), Mode::SendOnly) = (options.concurrency, options.mode) {
        errors.at(
            span,
            "`concurrency` has no effect with `mode = SendOnly`: the handler runs once, and \
             client messages are not dispatched; remove it",
        );
    }
}

/// Reports a return type other than `()` / `Result<(), E>` with `message(type)`.
pub(crate) fn require_unit_return(
    method: &Method,
    message: impl Fn(&str) -> String,
    errors: &mut Errors,
) {
    if let ReturnType::Type(_, ty) = &method.output {
        if !returns_unit(&method.output) {
            errors.spanned(ty, message(&type_text(ty)));
        }
    }
}

/// A type as the user wrote it, for messages.
pub(crate) fn type_text(ty: &Type) -> String {
    ty.to_token_stream().to_string().replace(' ', "")
}

/// `T` when `ty` is written `Option<T>`.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
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
pub(crate) fn returns_unit(output: &ReturnType) -> bool {
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

/// The route's syntax, and that every `#[param("x")]` names a `{x}` of it.
pub(crate) fn route(route: &str, span: proc_macro2::Span, params: &[Param], errors: &mut Errors) {
    if route
        .split('/')
        .any(|segment| segment.starts_with(':') || segment.starts_with('*'))
    {
        errors.at(
            span,
            "write path parameters as `{name}` and wildcards as `{*name}` (axum 0.8 syntax), not `:name` or `*name`",
        );
    }
    for param in params {
        let Source::Handshake {
            kind: HandshakeKind::Param,
            name,
        } = &param.source
        else {
            continue;
        };
        let placeholder = format!("{{{}}}", name.value());
        let wildcard = format!("{{*{}}}", name.value());
        if !route
            .split('/')
            .any(|segment| segment == placeholder || segment == wildcard)
        {
            errors.spanned(
                name,
                format!(
                    "the route `{route}` has no path parameter `{}`; add `{placeholder}` to the path",
                    name.value()
                ),
            );
        }
    }
}
