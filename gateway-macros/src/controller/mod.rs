//! `#[controller("prefix")]`: parse → validate → expand.

mod expand;
mod model;
mod parse;
mod validate;

use crate::diag::Errors;
use crate::shared::expand::registration_stub;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{FnArg, ImplItemFn, ItemImpl};

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let prefix = errors
        .keep(syn::parse2::<parse::Prefix>(args))
        .unwrap_or(parse::Prefix(None));
    let mut item: ItemImpl = match syn::parse2(item) {
        Ok(item) => item,
        Err(error) => {
            let error = syn::Error::new(
                error.span(),
                "`#[controller]` goes on an `impl Type { .. }` block whose methods carry `#[websocket]`",
            );
            return error.into_compile_error();
        }
    };
    let model = parse::controller(&prefix, &mut item, &mut errors);
    validate::controller(&model, &mut errors);
    let stub = || registration_stub(crate::paths::controller(), &item.self_ty);
    errors.finish(&item, || expand::controller(&model), stub)
}

/// A `#[websocket]` that no `#[controller]` consumed: the error says where it belongs, and the
/// method is emitted without our parameter attributes so no follow-on errors bury it.
pub(crate) fn stray_websocket(item: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        proc_macro2::Span::call_site(),
        "`#[websocket]` belongs on a method inside a `#[controller(\"prefix\")]` impl block; \
         add `#[controller(\"..\")]` to the enclosing `impl`",
    )
    .into_compile_error();
    let Ok(mut method) = syn::parse2::<ImplItemFn>(item.clone()) else {
        return quote!(#error #item);
    };
    for input in &mut method.sig.inputs {
        if let FnArg::Typed(param) = input {
            param.attrs.retain(|attr| {
                !crate::shared::parse::PARAMETER_ATTRIBUTES
                    .iter()
                    .any(|name| attr.path().is_ident(name))
            });
        }
    }
    quote!(#error #method)
}
