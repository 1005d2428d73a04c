//! `#[controller("prefix")]`: parse → validate → expand.

mod expand;
mod model;
mod parse;
mod validate;

use crate::diag::Errors;
use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemImpl;

pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
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
    // On errors the user's impl is still emitted (attributes stripped), so the IDE keeps working
    // and the only errors shown are ours.
    let generated = if errors.is_empty() {
        expand::controller(&model)
    } else {
        TokenStream::new()
    };
    let errors = errors.into_compile_errors();
    quote! {
        #item
        #generated
        #errors
    }
}
