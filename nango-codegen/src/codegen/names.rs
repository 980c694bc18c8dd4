//! Rust names for nango.yaml names: idiomatic, valid and never colliding.

use crate::fast_hash::HashSet;
use heck::{ToSnakeCase, ToUpperCamelCase};

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
    if is_upper_camel_words(name) && !KEYWORDS.contains(&name) {
        return name.to_owned();
    }
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
    if is_snake_words(name) && !NOT_RAW.contains(&name) {
        return name.to_owned();
    }
    if let Some(snake) = lower_camel_to_snake(name) {
        return snake;
    }
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

/// `Word` or `WordWord...` (letters only, each word capitalized once): its own `UpperCamelCase`,
/// which heck would rebuild at a cost (most model names are like this).
fn is_upper_camel_words(name: &str) -> bool {
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_uppercase() {
            return false;
        }
        let start = i + 1;
        i = start;
        while i < bytes.len() && bytes[i].is_ascii_lowercase() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    !bytes.is_empty()
}

/// `wordWordWord` (letters only, a lowercase word then capitalized ones) as `word_word_word`,
/// what heck makes of it, without heck's work (most other field names are like this); `None`
/// for any other name.
fn lower_camel_to_snake(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = String::with_capacity(name.len() + 4);
    let mut i = 0;
    while i < bytes.len() && bytes[i].is_ascii_lowercase() {
        i += 1;
    }
    // One word alone is `is_snake_words`'s case (or a keyword's).
    if i == 0 || i == bytes.len() {
        return None;
    }
    out.push_str(&name[..i]);
    while i < bytes.len() {
        if !bytes[i].is_ascii_uppercase() {
            return None;
        }
        out.push('_');
        out.push(bytes[i].to_ascii_lowercase() as char);
        let start = i + 1;
        i = start;
        while i < bytes.len() && bytes[i].is_ascii_lowercase() {
            i += 1;
        }
        if i == start {
            return None;
        }
        out.push_str(&name[start..i]);
    }
    Some(out)
}

/// `word` or `word_word...` (lowercase letters only): its own `snake_case` (most field names).
fn is_snake_words(name: &str) -> bool {
    !name.is_empty() && name.split('_').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
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
        // The shortcuts for names already in shape give what heck gives.
        for name in ["Issue", "GithubIssue", "A", "Ab", "created_at", "id", "a_b_c", "ticket"] {
            if is_upper_camel_words(name) {
                assert_eq!(type_name(name), sanitize(name).to_upper_camel_case(), "{name}");
            }
            if is_snake_words(name) {
                assert_eq!(field_name(name), sanitize(name).to_snake_case(), "{name}");
            }
        }
        for camel in ["createdAt", "firstName", "aBcDe", "htmlUrl", "isPrivateRepo", "aBcdEf"] {
            assert_eq!(
                lower_camel_to_snake(camel).as_deref(),
                Some(sanitize(camel).to_snake_case().as_str()),
                "{camel}"
            );
        }
        for not_camel in ["self", "type", "aB", "aBC", "a2B", "a_b", "AbCd", "", "htmlURL", "aBc$"] {
            assert_eq!(lower_camel_to_snake(not_camel), None, "{not_camel}");
        }
        for not_simple in ["", "A", "AB", "Issue2", "_a", "a__b", "a_", "Self", "self", "aB"] {
            assert!(!(is_upper_camel_words(not_simple) && is_snake_words(not_simple)), "{not_simple}");
        }
        assert!(!is_upper_camel_words("AB") && !is_upper_camel_words("A") && !is_snake_words("a__b"));
        assert_eq!(type_name("Self"), "SelfModel");
        let mut set = NameSet::default();
        assert_eq!(set.claim("A"), "A");
        assert_eq!(set.claim("A"), "A2");
        assert_eq!(set.claim_with("a", "_"), "a");
        assert_eq!(set.claim_with("a", "_"), "a_2");
    }
}
