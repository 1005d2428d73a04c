//! Syntax → model for what every handler method shares: its signature and parameters, and the
//! lifecycle attributes (the endpoint arguments are `args`). Every attribute read here is
//! stripped, so the user's impl compiles as written.

use super::model::{Component, ComponentKind, HandshakeKind, Method, Param, Receiver, Source};
use crate::diag::Errors;
use crate::symbol;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, ImplItemFn, LitStr, Meta};

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
