//! Syntax → model. Reads `#[controller]`'s prefix, every `#[websocket]` method and every parameter
//! attribute, and strips all of them from the impl block so it compiles as the user wrote it.

use super::model::{
    Component, ComponentKind, Controller, Endpoint, HandshakeKind, Mode, Options, Param, Receiver,
    Source,
};
use crate::diag::Errors;
use crate::{duration, size};
use proc_macro2::Span;
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, ImplItem, ImplItemFn, ItemImpl, LitStr, Meta, Token};

mod kw {
    syn::custom_keyword!(mode);
    syn::custom_keyword!(ping);
    syn::custom_keyword!(ping_timeout);
    syn::custom_keyword!(trigger_on_connect);
    syn::custom_keyword!(max_message);
}

/// `#[controller]` or `#[controller("prefix")]`.
pub struct Prefix(pub Option<LitStr>);

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

/// Builds the model and strips our attributes from `item`.
pub fn controller(prefix: &Prefix, item: &mut ItemImpl, errors: &mut Errors) -> Controller {
    let prefix_text = prefix.0.as_ref().map(LitStr::value).unwrap_or_default();
    if let Some((_, path, _)) = &item.trait_ {
        errors.spanned(
            path,
            "`#[controller]` goes on an inherent `impl Type` block, not a trait impl",
        );
    }
    if !item.generics.params.is_empty() {
        errors.spanned(
            &item.generics,
            "a `#[controller]` type cannot be generic yet; use a concrete type",
        );
    }
    let components = take_components(&mut item.attrs, errors);
    report_misspelled(&mut item.attrs, &IMPL_ATTRIBUTES, errors);
    let mut endpoints = Vec::new();
    for member in &mut item.items {
        let ImplItem::Fn(method) = member else {
            continue;
        };
        let websocket_attrs = take_attributes(&mut method.attrs, "websocket");
        let method_components = take_components(&mut method.attrs, errors);
        report_misspelled(&mut method.attrs, &METHOD_ATTRIBUTES, errors);
        let params = parse_params(method, errors);
        let Some((first, rest)) = websocket_attrs.split_first() else {
            if let Some(component) = method_components.first() {
                errors.spanned(
                    &component.expr,
                    format!(
                        "`#[{}]` applies to `#[websocket]` methods; add `#[websocket(\"..\")]` to `{}` \
                         or move the attribute to the `impl` block",
                        component.kind.name(),
                        method.sig.ident
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
        if let Some(args) = errors.keep(parse_websocket_args(first)) {
            endpoints.push(endpoint(
                method,
                &prefix_text,
                args,
                method_components,
                params,
            ));
        }
    }
    Controller {
        type_name: item.self_ty.to_token_stream().to_string().replace(' ', ""),
        self_ty: (*item.self_ty).clone(),
        components,
        endpoints,
    }
}

fn endpoint(
    method: &ImplItemFn,
    prefix: &str,
    args: WebsocketArgs,
    components: Vec<Component>,
    params: Vec<Param>,
) -> Endpoint {
    let signature = &method.sig;
    let receiver = match signature.receiver() {
        None => Receiver::None,
        Some(receiver)
            if receiver.reference.is_some()
                && receiver.mutability.is_none()
                && receiver.colon_token.is_none() =>
        {
            Receiver::Shared
        }
        Some(receiver) => Receiver::Unsupported(receiver.to_token_stream()),
    };
    Endpoint {
        method: signature.ident.clone(),
        route: join_route(
            prefix,
            &args.path.as_ref().map(LitStr::value).unwrap_or_default(),
        ),
        route_span: args.path.as_ref().map_or(args.span, LitStr::span),
        options: args.options,
        components,
        receiver,
        not_async: signature
            .asyncness
            .is_none()
            .then_some(signature.fn_token.span),
        generics: (!signature.generics.params.is_empty()).then(|| signature.generics.span()),
        params,
        output: signature.output.clone(),
    }
}

/// Joins a prefix and a path with exactly one `/` between non-empty parts.
pub fn join_route(prefix: &str, path: &str) -> String {
    let parts: Vec<&str> = [prefix, path]
        .into_iter()
        .map(|part| part.trim_matches('/'))
        .filter(|part| !part.is_empty())
        .collect();
    format!("/{}", parts.join("/"))
}

/// The attributes `#[controller]` reads on the impl block.
const IMPL_ATTRIBUTES: [&str; 5] = ["observer", "middleware", "guard", "interceptor", "catcher"];

/// The attributes `#[controller]` reads on a method.
const METHOD_ATTRIBUTES: [&str; 6] = [
    "websocket",
    "observer",
    "middleware",
    "guard",
    "interceptor",
    "catcher",
];

/// Removes the lifecycle attributes (`#[guard(expr)]`, ..), returning them in the order written.
fn take_components(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> Vec<Component> {
    let mut components = Vec::new();
    attrs.retain(|attr| {
        let Some(kind) = ComponentKind::ALL.into_iter().find(|kind| attr.path().is_ident(kind.name())) else {
            return true;
        };
        let expected = format!(
            "expected an expression that makes the {0}: `#[{0}(MyComponent)]`, `#[{0}(MyComponent::new(..))]`",
            kind.name()
        );
        let parsed = match &attr.meta {
            Meta::List(list) => match syn::parse2::<syn::Expr>(list.tokens.clone()) {
                Ok(syn::Expr::Let(binding)) => Err(syn::Error::new_spanned(binding, &expected)),
                Ok(expr) => Ok(expr),
                Err(_) if list.tokens.is_empty() => Err(syn::Error::new_spanned(attr, &expected)),
                Err(_) => Err(syn::Error::new_spanned(&list.tokens, &expected)),
            },
            _ => Err(syn::Error::new_spanned(attr, &expected)),
        };
        if let Some(expr) = errors.keep(parsed) {
            components.push(Component { kind, expr });
        }
        false
    });
    components
}

/// An attribute a letter or two away from one of ours is a typo, not someone else's: report it
/// and drop it, so the compiler does not add "cannot find attribute" on top.
fn report_misspelled(attrs: &mut Vec<Attribute>, known: &[&str], errors: &mut Errors) {
    attrs.retain(|attr| {
        let Some(name) = attr.path().get_ident().map(ToString::to_string) else {
            return true;
        };
        let Some(meant) = crate::diag::closest(&name, known) else {
            return true;
        };
        errors.spanned(
            attr.path(),
            format!("unknown attribute `{name}`; did you mean `{meant}`?"),
        );
        false
    });
}

/// Removes every attribute called `name`, returning them.
fn take_attributes(attrs: &mut Vec<Attribute>, name: &str) -> Vec<Attribute> {
    let (taken, kept) = std::mem::take(attrs)
        .into_iter()
        .partition(|attr| attr.path().is_ident(name));
    *attrs = kept;
    taken
}

/// The attributes a parameter can carry to say where its value comes from.
pub const PARAMETER_ATTRIBUTES: [&str; 6] = ["body", "header", "query", "param", "data", "dep"];

/// Reads (and strips) the binding attribute of every parameter after the receiver.
fn parse_params(method: &mut ImplItemFn, errors: &mut Errors) -> Vec<Param> {
    let mut params = Vec::new();
    for input in &mut method.sig.inputs {
        let FnArg::Typed(param) = input else { continue };
        let mut sources = Vec::new();
        report_misspelled(&mut param.attrs, &PARAMETER_ATTRIBUTES, errors);
        param.attrs.retain(|attr| match parse_source(attr) {
            Some(source) => {
                sources.push((attr.span(), source));
                false
            }
            None => true,
        });
        let mut source = Source::Context;
        for (index, (span, parsed)) in sources.into_iter().enumerate() {
            match (index, parsed) {
                (0, Ok(parsed)) => source = parsed,
                (0, Err(error)) => errors.push(error),
                _ => errors.at(
                    span,
                    "a parameter binds from one place; remove this attribute",
                ),
            }
        }
        params.push(Param {
            ty: (*param.ty).clone(),
            source,
        });
    }
    params
}

/// `Some` for our parameter attributes (`#[body]`, `#[header("..")]`, ..), `None` for others.
fn parse_source(attr: &Attribute) -> Option<syn::Result<Source>> {
    let kind = if attr.path().is_ident("body") {
        return Some(parse_body(attr));
    } else if attr.path().is_ident("data") {
        return Some(parse_marker(attr, Source::Data, "data"));
    } else if attr.path().is_ident("dep") {
        return Some(parse_marker(attr, Source::Dep, "dep"));
    } else if attr.path().is_ident("header") {
        HandshakeKind::Header
    } else if attr.path().is_ident("query") {
        HandshakeKind::Query
    } else if attr.path().is_ident("param") {
        HandshakeKind::Param
    } else {
        return None;
    };
    let expected = format!("expected a name: `#[{}(\"name\")]`", kind.attribute());
    Some(
        attr.parse_args::<LitStr>()
            .map_err(|error| syn::Error::new(error.span(), &expected))
            .and_then(|name| {
                if name.value().is_empty() {
                    Err(syn::Error::new(name.span(), &expected))
                } else {
                    Ok(Source::Handshake { kind, name })
                }
            }),
    )
}

/// `#[data]` and `#[dep]` take no arguments: the parameter's type says what to bind.
fn parse_marker(attr: &Attribute, source: Source, name: &str) -> syn::Result<Source> {
    match attr.meta {
        Meta::Path(_) => Ok(source),
        _ => Err(syn::Error::new_spanned(
            attr,
            format!("`#[{name}]` takes no arguments: the parameter's type says what to bind"),
        )),
    }
}

fn parse_body(attr: &Attribute) -> syn::Result<Source> {
    let tokens = attr.to_token_stream();
    if let Meta::Path(_) = attr.meta {
        return Ok(Source::Body {
            field: None,
            attr: tokens,
        });
    }
    let expected =
        "expected `#[body]` or a JSON field path: `#[body(\"message\")]`, `#[body(\"user.name\")]`";
    let field: LitStr = attr
        .parse_args()
        .map_err(|error| syn::Error::new(error.span(), expected))?;
    if field.value().split('.').any(str::is_empty) {
        return Err(syn::Error::new(field.span(), expected));
    }
    Ok(Source::Body {
        field: Some(field),
        attr: tokens,
    })
}

/// The parsed `#[websocket(..)]` attribute.
struct WebsocketArgs {
    span: Span,
    path: Option<LitStr>,
    options: Options,
}

fn parse_websocket_args(attr: &Attribute) -> syn::Result<WebsocketArgs> {
    let span = attr.span();
    if let Meta::Path(_) = attr.meta {
        return Ok(WebsocketArgs {
            span,
            path: None,
            options: Options::default(),
        });
    }
    attr.parse_args_with(|input: ParseStream| {
        let path = if input.peek(LitStr) {
            Some(input.parse()?)
        } else {
            None
        };
        let mut options = Options::default();
        let mut seen: Vec<String> = Vec::new();
        let mut first = path.is_none();
        while !input.is_empty() {
            if !first {
                input.parse::<Token![,]>()?;
                if input.is_empty() {
                    break;
                }
            }
            first = false;
            let lookahead = input.lookahead1();
            let key_span = input.span();
            let key = if lookahead.peek(kw::mode) {
                input.parse::<kw::mode>()?;
                input.parse::<Token![=]>()?;
                let mode_path: syn::Path = input.parse()?;
                let name = mode_path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default();
                options.mode = Mode::from_name(&name).ok_or_else(|| {
                    syn::Error::new_spanned(
                        &mode_path,
                        format!("unknown mode `{name}`; expected {}", Mode::NAMES),
                    )
                })?;
                options.mode_span = Some(mode_path.span());
                "mode"
            } else if lookahead.peek(kw::ping) {
                input.parse::<kw::ping>()?;
                options.ping_millis = Some(duration_value(input)?.0);
                "ping"
            } else if lookahead.peek(kw::ping_timeout) {
                input.parse::<kw::ping_timeout>()?;
                options.ping_timeout_millis = Some(duration_value(input)?);
                "ping_timeout"
            } else if lookahead.peek(kw::trigger_on_connect) {
                input.parse::<kw::trigger_on_connect>()?;
                options.trigger_on_connect = Some(key_span);
                "trigger_on_connect"
            } else if lookahead.peek(kw::max_message) {
                input.parse::<kw::max_message>()?;
                input.parse::<Token![=]>()?;
                let text: LitStr = input.parse()?;
                options.max_message = Some(
                    size::parse_bytes(&text.value())
                        .ok_or_else(|| syn::Error::new(text.span(), size::EXPECTED))?,
                );
                "max_message"
            } else if input.peek(LitStr) {
                return Err(input.error("the path comes first: `#[websocket(\"path\", ..)]`"));
            } else {
                return Err(lookahead.error());
            };
            if seen.iter().any(|earlier| earlier == key) {
                return Err(syn::Error::new(
                    key_span,
                    format!("duplicate `{key}` argument; give it once"),
                ));
            }
            seen.push(key.to_owned());
        }
        Ok(WebsocketArgs {
            span,
            path,
            options,
        })
    })
}

/// `= "5s"` after a duration key: milliseconds and the string's span.
fn duration_value(input: ParseStream) -> syn::Result<(u64, Span)> {
    input.parse::<Token![=]>()?;
    let text: LitStr = input.parse()?;
    let millis = duration::parse_millis(&text.value())
        .ok_or_else(|| syn::Error::new(text.span(), duration::EXPECTED))?;
    Ok((millis, text.span()))
}

#[cfg(test)]
mod tests {
    use super::join_route;

    #[test]
    fn routes_join_with_one_slash() {
        assert_eq!(join_route("example", "websocket"), "/example/websocket");
        assert_eq!(join_route("/example/", "/websocket"), "/example/websocket");
        assert_eq!(join_route("", "echo"), "/echo");
        assert_eq!(join_route("chat", ""), "/chat");
        assert_eq!(join_route("", ""), "/");
    }
}
