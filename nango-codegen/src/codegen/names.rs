//! Rust names for nango.yaml names: idiomatic, valid and never colliding.

use heck::{ToSnakeCase, ToUpperCamelCase};
use std::collections::HashSet;

/// Rust keywords (all editions) that cannot be raw identifiers or are awkward as names.
const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super",
    "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box",
    "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen", "union",
];

/// Keywords that cannot be written as raw identifiers either.
const NOT_RAW: &[&str] = &["crate", "self", "Self", "super", "_"];

/// Replaces what cannot appear in an identifier, keeping word boundaries for heck.
fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    out
}

/// `UpperCamelCase` type name for a nango.yaml name (not yet unique).
pub(crate) fn type_name(name: &str) -> String {
    let mut camel = sanitize(name).to_upper_camel_case();
    if camel.is_empty() {
        camel = "Unnamed".into();
    }
    if camel.as_bytes()[0].is_ascii_digit() {
        camel.insert(0, 'N');
    }
    if KEYWORDS.contains(&camel.as_str()) {
        camel.push_str("Model");
    }
    camel
}

/// `snake_case` field or module name (not yet unique); `r#` is added when rendering keywords.
pub(crate) fn field_name(name: &str) -> String {
    let sanitized = sanitize(name);
    let mut snake = sanitized.to_snake_case();
    if snake.is_empty() {
        // `$`, `?`, `-` alone: keep something readable.
        snake = if name.is_empty() { "empty".into() } else { "field".into() };
    }
    if snake.as_bytes()[0].is_ascii_digit() {
        snake.insert(0, '_');
    }
    if NOT_RAW.contains(&snake.as_str()) {
        snake.push('_');
    }
    snake
}

/// An identifier token for a name made by [`type_name`] or [`field_name`].
pub(crate) fn ident(name: &str) -> proc_macro2::Ident {
    if KEYWORDS.contains(&name) && !NOT_RAW.contains(&name) {
        proc_macro2::Ident::new_raw(name, proc_macro2::Span::call_site())
    } else {
        proc_macro2::Ident::new(name, proc_macro2::Span::call_site())
    }
}

/// An identifier as source text for a name made by [`type_name`] or [`field_name`] (`r#type`
/// for keywords).
pub(crate) fn ident_text(name: &str) -> String {
    if KEYWORDS.contains(&name) && !NOT_RAW.contains(&name) { format!("r#{name}") } else { name.to_owned() }
}

/// Hands out names, adding `2`, `3`, ... on collision.
#[derive(Default, Debug)]
pub(crate) struct NameSet {
    taken: HashSet<String>,
}

impl NameSet {
    /// Reserves `wanted` (or `wanted2`, `wanted3`, ...) and returns what was reserved.
    pub fn claim(&mut self, wanted: &str) -> String {
        self.claim_with(wanted, "")
    }

    /// Like [`claim`](Self::claim), with a separator before the number (`field_2`).
    pub fn claim_with(&mut self, wanted: &str, separator: &str) -> String {
        if self.taken.insert(wanted.to_owned()) {
            return wanted.to_owned();
        }
        (2..)
            .map(|n| format!("{wanted}{separator}{n}"))
            .find(|candidate| self.taken.insert(candidate.clone()))
            .unwrap_or_else(|| wanted.to_owned())
    }

    /// Marks a name as used without checking.
    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(type_name("github_issue"), "GithubIssue");
        assert_eq!(type_name("GithubIssue"), "GithubIssue");
        assert_eq!(type_name("self"), "SelfModel");
        assert_eq!(type_name("1abc"), "N1abc");
        assert_eq!(field_name("pt-BR"), "pt_br");
        assert_eq!(field_name("$state"), "state");
        assert_eq!(field_name("a:"), "a");
        assert_eq!(field_name("createdAt"), "created_at");
        assert_eq!(field_name("self"), "self_");
        assert_eq!(field_name("$"), "field");
        assert_eq!(field_name("2fa"), "_2fa");
        assert_eq!(ident("type").to_string(), "r#type");
        let mut set = NameSet::default();
        assert_eq!(set.claim("A"), "A");
        assert_eq!(set.claim("A"), "A2");
        assert_eq!(set.claim_with("a", "_"), "a");
        assert_eq!(set.claim_with("a", "_"), "a_2");
    }
}
