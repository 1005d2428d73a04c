//! An error collector: every check reports into it, so one build shows every mistake at once.

use proc_macro2::{Span, TokenStream};
use std::fmt::Display;

/// Errors gathered while parsing and validating one macro input.
#[derive(Default)]
pub struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    /// Records an error at `span`.
    pub fn at(&mut self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records an error spanning `tokens` (all of them, not only the first).
    pub fn spanned(&mut self, tokens: impl quote::ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error produced by `syn`.
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Keeps the value of a fallible step, recording its error.
    pub fn keep<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|error| self.push(error)).ok()
    }

    /// The `compile_error!` invocations for everything recorded (empty when all is well).
    pub fn into_compile_errors(self) -> TokenStream {
        self.combined
            .map(syn::Error::into_compile_error)
            .unwrap_or_default()
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.combined.is_none()
    }
}
