//! Syntax → model for what every handler method shares: its signature and parameters, the
//! lifecycle attributes, and the `key = value` arguments of `#[websocket]` and `#[gateway]`. Every
//! attribute read here is stripped, so the user's impl compiles as written.

use super::model::{
    Component, ComponentKind, HandshakeKind, Method, Mode, Options, Param, Receiver, Source,
};
use crate::diag::Errors;
use crate::symbol;
use crate::{duration, size};
use proc_macro2::Span;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, ImplItemFn, Lit, LitStr, Meta, Token};

/// Reports what makes an impl block unusable for `#[controller]` or `#[gateway]`.
pub(crate) fn check_impl(item: &syn::ItemImpl, attribute: &str, errors: &mut Errors) {
    if let Some((_, path, _)) = &item.trait_ {
        errors.spanned(
            path,
            format!("`#[{attribute}]` goes on an inherent `impl Type` block, not a trait impl"),
        );
    }
    if !item.generics.params.is_empty() {
        errors.spanned(
            &item.generics,
            format!("a `#[{attribute}]` type cannot be generic yet; use a concrete type"),
        );
    }
}

/// Reads a method's signature and its parameters' attributes (stripping them).
pub(crate) fn method(method: &mut ImplItemFn, errors: &mut Errors) -> Method {
    let params = parse_params(method, errors);
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
    Method {
        ident: signature.ident.clone(),
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
pub(crate) fn join_route(prefix: &str, path: &str) -> String {
    let parts: Vec<&str> = [prefix, path]
        .into_iter()
        .map(|part| part.trim_matches('/'))
        .filter(|part| !part.is_empty())
        .collect();
    format!("/{}", parts.join("/"))
}

/// The lifecycle attributes, by name.
pub(crate) fn component_attributes() -> [&'static str; 5] {
    ComponentKind::ALL.map(ComponentKind::name)
}

/// Removes the lifecycle attributes (`#[guard(expr)]`, ..), returning them in the order written.
pub(crate) fn take_components(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> Vec<Component> {
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
        let parsed = parsed.and_then(|expr| match closure_using_self(&expr) {
            Some(closure) => Err(syn::Error::new_spanned(
                closure,
                "this closure uses `self`, but a component lives as long as the app and cannot \
                 borrow the controller: clone what it needs first and move that in, \
                 `{ let secret = self.secret.clone(); BearerToken::new(move |token| token == secret) }`",
            )),
            None => Ok(expr),
        });
        if let Some(expr) = errors.keep(parsed) {
            components.push(Component { kind, expr });
        }
        false
    });
    components
}

/// The first closure in `expr` whose body uses `self`.
fn closure_using_self(expr: &syn::Expr) -> Option<&syn::ExprClosure> {
    struct Finder<'a>(Option<&'a syn::ExprClosure>);
    impl<'a> syn::visit::Visit<'a> for Finder<'a> {
        fn visit_expr_closure(&mut self, closure: &'a syn::ExprClosure) {
            if self.0.is_none() && mentions_self(closure.body.to_token_stream()) {
                self.0 = Some(closure);
            }
        }
    }
    let mut finder = Finder(None);
    syn::visit::Visit::visit_expr(&mut finder, expr);
    finder.0
}

fn mentions_self(tokens: proc_macro2::TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => ident == "self",
        proc_macro2::TokenTree::Group(group) => mentions_self(group.stream()),
        _ => false,
    })
}

/// An attribute a letter or two away from one of ours is a typo, not someone else's: report it
/// and drop it, so the compiler does not add "cannot find attribute" on top.
pub(crate) fn report_misspelled(attrs: &mut Vec<Attribute>, known: &[&str], errors: &mut Errors) {
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
pub(crate) fn take_attributes(attrs: &mut Vec<Attribute>, name: symbol::Symbol) -> Vec<Attribute> {
    let (taken, kept) = std::mem::take(attrs)
        .into_iter()
        .partition(|attr| *attr.path() == name);
    *attrs = kept;
    taken
}

/// The attributes a parameter can carry to say where its value comes from.
pub(crate) const PARAMETER_ATTRIBUTES: [&str; 6] = [
    symbol::BODY.name(),
    symbol::HEADER.name(),
    symbol::QUERY.name(),
    symbol::PARAM.name(),
    symbol::DATA.name(),
    symbol::DEP.name(),
];

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
    let kind = if *attr.path() == symbol::BODY {
        return Some(parse_body(attr));
    } else if *attr.path() == symbol::DATA {
        return Some(parse_marker(attr, Source::Data, symbol::DATA.name()));
    } else if *attr.path() == symbol::DEP {
        return Some(parse_marker(attr, Source::Dep, symbol::DEP.name()));
    } else if *attr.path() == symbol::HEADER {
        HandshakeKind::Header
    } else if *attr.path() == symbol::QUERY {
        HandshakeKind::Query
    } else if *attr.path() == symbol::PARAM {
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

/// One argument of `#[websocket(..)]` or `#[gateway(..)]`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Mode,
    Ping,
    PingTimeout,
    TriggerOnConnect,
    MaxMessage,
    Concurrency,
    Port,
}

impl Key {
    const ALL: [Key; 7] = [
        Key::Mode,
        Key::Ping,
        Key::PingTimeout,
        Key::TriggerOnConnect,
        Key::MaxMessage,
        Key::Concurrency,
        Key::Port,
    ];

    fn name(self) -> &'static str {
        match self {
            Key::Mode => symbol::MODE,
            Key::Ping => symbol::PING,
            Key::PingTimeout => symbol::PING_TIMEOUT,
            Key::TriggerOnConnect => symbol::TRIGGER_ON_CONNECT,
            Key::MaxMessage => symbol::MAX_MESSAGE,
            Key::Concurrency => symbol::CONCURRENCY,
            Key::Port => symbol::PORT,
        }
        .name()
    }
}

/// The parsed arguments of `#[websocket(..)]` or `#[gateway(..)]`.
pub(crate) struct EndpointArgs {
    /// The attribute, for errors that have no better place.
    pub span: Span,
    pub path: Option<LitStr>,
    pub options: Options,
    pub port: Option<u16>,
}

impl EndpointArgs {
    /// No path and default options: what a failed parse leaves, so checks can go on.
    pub(crate) fn empty(attr: &Attribute) -> Self {
        Self {
            span: attr.span(),
            path: None,
            options: Options::default(),
            port: None,
        }
    }
}

/// Parses `#[name("path", key = value, flag, ..)]`, accepting only the `allowed` keys.
pub(crate) fn endpoint_args(attr: &Attribute, allowed: &[Key]) -> syn::Result<EndpointArgs> {
    let mut args = EndpointArgs::empty(attr);
    if let Meta::Path(_) = attr.meta {
        return Ok(args);
    }
    let attribute = attr
        .path()
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default();
    attr.parse_args_with(|input: ParseStream| {
        if input.peek(LitStr) {
            args.path = Some(input.parse()?);
        }
        let mut seen: Vec<Key> = Vec::new();
        let mut first = args.path.is_none();
        // Values that parse but mean nothing (`ping = "soon"`), unknown and repeated arguments:
        // every one is reported, not only the first.
        let mut invalid = Invalid::default();
        while !input.is_empty() {
            if !first {
                input.parse::<Token![,]>()?;
                if input.is_empty() {
                    break;
                }
            }
            first = false;
            if input.peek(LitStr) {
                return Err(input.error(format!(
                    "the path comes first: `#[{attribute}(\"path\", ..)]`"
                )));
            }
            let name = input.call(Ident::parse_any)?;
            let Some(key) = allowed.iter().copied().find(|key| name == key.name()) else {
                invalid.note(unknown_argument(&name, allowed));
                skip_argument(input);
                continue;
            };
            if seen.contains(&key) {
                invalid.note(syn::Error::new(
                    name.span(),
                    format!("duplicate `{name}` argument; give it once"),
                ));
                skip_argument(input);
                continue;
            }
            seen.push(key);
            let options = &mut args.options;
            match key {
                Key::Mode => {
                    input.parse::<Token![=]>()?;
                    let mode_path: syn::Path = input.parse()?;
                    let mode = mode_path
                        .segments
                        .last()
                        .map(|s| s.ident.to_string())
                        .unwrap_or_default();
                    match Mode::from_name(&mode) {
                        Some(mode) => options.mode = mode,
                        None => invalid.note(syn::Error::new_spanned(
                            &mode_path,
                            format!("unknown mode `{mode}`; expected {}", Mode::NAMES),
                        )),
                    }
                }
                Key::Ping => {
                    options.ping_millis = invalid.keep(duration_value(input)?).map(|(ms, _)| ms);
                }
                Key::PingTimeout => {
                    options.ping_timeout_millis = invalid.keep(duration_value(input)?);
                }
                Key::TriggerOnConnect => options.trigger_on_connect = Some(name.span()),
                Key::MaxMessage => {
                    input.parse::<Token![=]>()?;
                    let text: LitStr = input.parse()?;
                    let bytes = size::parse_bytes(&text.value())
                        .ok_or_else(|| syn::Error::new(text.span(), size::EXPECTED));
                    options.max_message = invalid.keep(bytes);
                }
                Key::Concurrency => {
                    let count = positive_u16(
                        input,
                        "expected how many messages may run at once, from 1 to 65535: \
                         `concurrency = 4`",
                    )?;
                    options.concurrency = invalid.keep(count).map(|count| (count, name.span()));
                }
                Key::Port => {
                    args.port = invalid.keep(positive_u16(
                        input,
                        "expected a TCP port from 1 to 65535: `port = 3001`",
                    )?);
                }
            }
        }
        invalid.finish()
    })?;
    Ok(args)
}

/// The errors found in one attribute's arguments, combined into one report.
#[derive(Default)]
struct Invalid(Option<syn::Error>);

impl Invalid {
    fn note(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// The value, or `None` with its error noted.
    fn keep<T>(&mut self, value: syn::Result<T>) -> Option<T> {
        value.map_err(|error| self.note(error)).ok()
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Skips what follows a rejected argument's name, up to the next `,`.
fn skip_argument(input: ParseStream) {
    while !input.is_empty() && !input.peek(Token![,]) {
        let _ = input.parse::<proc_macro2::TokenTree>();
    }
}

/// `= N` with N from 1 to 65535; anything else is `expected`, on the value. The outer error is
/// broken syntax, the inner a value that does not fit.
fn positive_u16(input: ParseStream, expected: &str) -> syn::Result<syn::Result<u16>> {
    input.parse::<Token![=]>()?;
    let value: Lit = input.parse()?;
    Ok(match &value {
        Lit::Int(number) => match number.base10_parse::<u16>() {
            Ok(number) if number > 0 => Ok(number),
            _ => Err(syn::Error::new(number.span(), expected)),
        },
        other => Err(syn::Error::new(other.span(), expected)),
    })
}

fn unknown_argument(name: &Ident, allowed: &[Key]) -> syn::Error {
    let names: Vec<&str> = allowed.iter().map(|key| key.name()).collect();
    let listed = names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let known_elsewhere = Key::ALL.iter().any(|key| name == key.name());
    let message = match crate::diag::closest(&name.to_string(), &names) {
        Some(meant) => {
            format!("unknown argument `{name}`; did you mean `{meant}`? (expected one of {listed})")
        }
        None if known_elsewhere => {
            format!("`{name}` does not apply here; expected one of {listed}")
        }
        None => format!("unknown argument `{name}`; expected one of {listed}"),
    };
    syn::Error::new(name.span(), message)
}

/// `= "5s"` after a duration key: milliseconds and the string's span. The outer error is broken
/// syntax, the inner a string that is not a duration.
fn duration_value(input: ParseStream) -> syn::Result<syn::Result<(u64, Span)>> {
    input.parse::<Token![=]>()?;
    let text: LitStr = input.parse()?;
    Ok(duration::parse_millis(&text.value())
        .map(|millis| (millis, text.span()))
        .ok_or_else(|| syn::Error::new(text.span(), duration::EXPECTED)))
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
