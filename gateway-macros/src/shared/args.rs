//! The arguments of `#[websocket("path", ..)]` and `#[gateway("path", ..)]`: the path, then
//! `key = value` options and flags, every mistake among them reported.

use super::model::{Mode, Options};
use crate::symbol;
use crate::{duration, size};
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, Lit, LitStr, Meta, Token};

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
    Resume,
    Emits,
}

impl Key {
    const ALL: [Key; 9] = [
        Key::Mode,
        Key::Ping,
        Key::PingTimeout,
        Key::TriggerOnConnect,
        Key::MaxMessage,
        Key::Concurrency,
        Key::Port,
        Key::Resume,
        Key::Emits,
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
            Key::Resume => symbol::RESUME,
            Key::Emits => symbol::EMITS,
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
    /// `emits("event" = Type, ..)`: what a gateway pushes, for its contract.
    pub emits: Vec<(LitStr, syn::Type)>,
}

impl EndpointArgs {
    /// No path and default options: what a failed parse leaves, so checks can go on.
    pub(crate) fn empty(attr: &Attribute) -> Self {
        Self {
            span: attr.span(),
            path: None,
            options: Options::default(),
            port: None,
            emits: Vec::new(),
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
                Key::Resume => {
                    options.resume = invalid.keep(duration_value(input)?);
                }
                Key::Emits => {
                    let list;
                    syn::parenthesized!(list in input);
                    let pairs =
                        syn::punctuated::Punctuated::<Emitted, Token![,]>::parse_terminated(&list)
                            .map_err(|error| syn::Error::new(error.span(), EMITS_EXPECTED))?;
                    args.emits = pairs
                        .into_iter()
                        .map(|pair| (pair.event, pair.ty))
                        .collect();
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

const EMITS_EXPECTED: &str = r#"expected the events the gateway sends and their data: `emits("message" = ChatMessage, "users" = Users)`"#;

/// `"event" = Type` in `emits(..)`.
struct Emitted {
    event: LitStr,
    ty: syn::Type,
}

impl syn::parse::Parse for Emitted {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let event = input.parse()?;
        input.parse::<Token![=]>()?;
        let ty = input.parse()?;
        Ok(Self { event, ty })
    }
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
        None if name == symbol::RESUME.name() => format!(
            "`resume` is an option of `#[gateway]`: a `#[websocket]` endpoint exchanges the app's \
             own bytes, with no envelope to carry the resume protocol; write the endpoint as \
             `#[gateway(\"path\", resume = \"2m\")]` (expected one of {listed} here)"
        ),
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
