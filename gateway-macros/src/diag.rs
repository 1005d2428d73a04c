//! An error collector: every check reports into it, so one build shows every mistake at once.

use proc_macro2::{Span, TokenStream};
use std::fmt::Display;

/// Errors gathered while parsing and validating one macro input.
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    /// Records an error at `span`.
    pub(crate) fn at(&mut self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records an error spanning `tokens` (all of them, not only the first).
    pub(crate) fn spanned(&mut self, tokens: impl quote::ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error produced by `syn`.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Keeps the value of a fallible step, recording its error.
    pub(crate) fn keep<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|error| self.push(error)).ok()
    }

    /// The `compile_error!` invocations for everything recorded (empty when all is well).
    pub(crate) fn into_compile_errors(self) -> TokenStream {
        self.combined
            .map(syn::Error::into_compile_error)
            .unwrap_or_default()
    }

    /// The user's item, then the generated code (only when nothing was recorded), then every
    /// error. On errors the item is still emitted, its attributes stripped, with `stub` (an
    /// empty registration) in place of the generated code, so the IDE keeps working and the
    /// only errors shown are ours: registering the type (`.controller(Chat)`) adds none.
    pub(crate) fn finish(
        self,
        item: impl quote::ToTokens,
        expand: impl FnOnce() -> TokenStream,
        stub: impl FnOnce() -> TokenStream,
    ) -> TokenStream {
        let generated = match &self.combined {
            None => expand(),
            Some(_) => stub(),
        };
        let errors = self.into_compile_errors();
        quote::quote! {
            #item
            #generated
            #errors
        }
    }
}

/// The name in `known` that `name` most likely misspells, if any: one edit away for short names,
/// two for longer ones (so `doc` is not taken for `dep`).
pub(crate) fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .copied()
        .filter(|candidate| *candidate != name && name.len() >= 3)
        .map(|candidate| (edit_distance(name, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= if candidate.len() <= 4 { 1 } else { 2 })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance (names here are a few letters long).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn suggests_only_near_misses() {
        let known = ["guard", "middleware", "websocket", "dep", "data"];
        assert_eq!(closest("gaurd", &known), Some("guard"));
        assert_eq!(closest("websoket", &known), Some("websocket"));
        assert_eq!(closest("guard", &known), None);
        assert_eq!(closest("derive", &known), None);
        assert_eq!(closest("doc", &known), None);
        assert_eq!(closest("deps", &known), Some("dep"));
    }
}
