//! `#[gateway("path", ..)]`: parse → validate → expand.

mod expand;
mod model;
mod parse;
mod validate;

use crate::diag::Errors;
use crate::shared::expand::registration_stub;
use proc_macro2::TokenStream;
use syn::ItemImpl;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut item: ItemImpl = match syn::parse2(item) {
        Ok(item) => item,
        Err(error) => {
            let error = syn::Error::new(
                error.span(),
                "`#[gateway]` goes on an `impl Type { .. }` block whose methods are hooks \
                 (`#[on_connect]`, `#[subscribe(\"event\")]`, ..)",
            );
            return error.into_compile_error();
        }
    };
    let mut errors = Errors::default();
    let model = parse::gateway(args, &mut item, &mut errors);
    validate::gateway(&model, &mut errors);
    let stub = || registration_stub(crate::paths::gateway(), &item.self_ty);
    errors.finish(&item, || expand::gateway(&model), stub)
}
