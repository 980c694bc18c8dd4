//! The pieces of Rust syntax the generator writes (types, a few expressions, attributes, items),
//! each laid out with the boxes and breaks prettyplease uses for it, on a [`Printer`].
//!
//! The generator writes source text with these directly (building, parsing and pretty-printing
//! token streams took most of `nango generate`'s time); the `nango_models!` macro parses that
//! same text into tokens, so there is one generator.

use super::pretty::{self, INDENT, Printer};
use std::rc::Rc;

/// A token inside an attribute or a macro call, which are printed token by token.
#[derive(Clone, Debug)]
pub(crate) enum Tok {
    Ident(String),
    /// A punctuation character; `true` when it is joined to the next one (the first `:` of `::`).
    Punct(char, bool),
    /// A literal, as written.
    Lit(String),
    Group(Delim, Vec<Tok>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delim {
    Paren,
    Bracket,
    Brace,
}

/// The tokens of a path: `::a::b` or `a::b`.
pub(crate) fn path_toks(path: &Path, out: &mut Vec<Tok>) {
    for (i, segment) in path.segments.iter().enumerate() {
        if i > 0 || path.leading {
            out.push(Tok::Punct(':', true));
            out.push(Tok::Punct(':', false));
        }
        out.push(Tok::Ident(segment.ident.to_string()));
    }
}

/// Tokens of some Rust text (extra derives given by users), or `None` when it does not lex.
pub(crate) fn lex(text: &str) -> Option<Vec<Tok>> {
    fn convert(stream: proc_macro2::TokenStream) -> Vec<Tok> {
        stream
            .into_iter()
            .map(|tt| match tt {
                proc_macro2::TokenTree::Ident(i) => Tok::Ident(i.to_string()),
                proc_macro2::TokenTree::Punct(p) => Tok::Punct(p.as_char(), p.spacing() == proc_macro2::Spacing::Joint),
                proc_macro2::TokenTree::Literal(l) => Tok::Lit(l.to_string()),
                proc_macro2::TokenTree::Group(g) => {
                    let delim = match g.delimiter() {
                        proc_macro2::Delimiter::Parenthesis => Delim::Paren,
                        proc_macro2::Delimiter::Bracket => Delim::Bracket,
                        proc_macro2::Delimiter::Brace => Delim::Brace,
                        proc_macro2::Delimiter::None => return Tok::Group(Delim::Paren, convert(g.stream())),
                    };
                    Tok::Group(delim, convert(g.stream()))
                }
            })
            .collect()
    }
    text.parse().ok().map(convert)
}

/// A string literal as Rust source (`"a\"b"`), escaped as proc-macro2 escapes it.
pub(crate) fn str_lit(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    // Most strings (names, paths, descriptions) are printable ASCII without a quote or a
    // backslash: nothing to escape, and no need to go char by char.
    if value.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\') {
        out.push_str(value);
        out.push('"');
        return out;
    }
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            // `\0` followed by a digit would read as an octal-looking escape.
            '\0' if chars.as_str().starts_with(|n: char| n.is_ascii_digit() && n <= '7') => out.push_str("\\x00"),
            '\0' => out.push_str("\\0"),
            '\'' => out.push('\''),
            c => out.extend(c.escape_debug()),
        }
    }
    out.push('"');
    out
}

/// A path, `::std::string::String` or `super::github::Issue`, with generic arguments.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Path {
    pub leading: bool,
    pub segments: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Segment {
    pub ident: Rc<str>,
    pub args: Vec<Ty>,
}

impl Path {
    /// A path from `a::b` or `::a::b` text (no generic arguments).
    pub fn parse(text: &str) -> Path {
        let leading = text.starts_with("::");
        let segments = text
            .split("::")
            .filter(|s| !s.is_empty())
            .map(|s| Segment { ident: s.trim().into(), args: Vec::new() })
            .collect();
        Path { leading, segments }
    }

    /// `self` followed by `::name`.
    pub fn join(&self, name: &str) -> Path {
        let mut path = self.clone();
        path.segments.push(Segment { ident: name.into(), args: Vec::new() });
        path
    }

    /// `self::name<args>`.
    pub fn join_args(&self, name: &str, args: Vec<Ty>) -> Path {
        let mut path = self.clone();
        path.segments.push(Segment { ident: name.into(), args });
        path
    }

    fn print(&self, p: &mut Printer) {
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 || self.leading {
                p.word("::");
            }
            segment.print(p);
        }
    }
}

impl Segment {
    fn print(&self, p: &mut Printer) {
        p.word(self.ident.clone());
        if self.args.is_empty() {
            return;
        }
        p.word("<");
        comma_list(p, &self.args, Ty::print);
        p.word(">");
    }
}

/// Items separated by commas, as prettyplease prints call arguments, array items and generic
/// arguments: on the line when they fit, else one per line, indented, each with its comma.
fn comma_list<T>(p: &mut Printer, items: &[T], print: impl Fn(&T, &mut Printer)) {
    p.cbox(INDENT);
    p.zerobreak();
    for (i, item) in items.iter().enumerate() {
        print(item, p);
        p.trailing_comma(i + 1 == items.len());
    }
    p.offset(-INDENT);
    p.end();
}

/// A type.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ty {
    Path(Path),
    /// `&'lifetime T`.
    Ref(Option<&'static str>, Box<Ty>),
    /// `[T]`.
    Slice(Box<Ty>),
    /// `(A, B)`, `()`.
    Tuple(Vec<Ty>),
}

impl Ty {
    /// A type named by one identifier.
    pub fn named(name: &str) -> Ty {
        Ty::Path(Path { leading: false, segments: vec![Segment { ident: name.into(), args: Vec::new() }] })
    }

    /// A path type from `::a::b` text.
    pub fn path(text: &str) -> Ty {
        Ty::Path(Path::parse(text))
    }

    /// `text<args>`, e.g. `::std::vec::Vec<T>`.
    pub fn generic(text: &str, args: Vec<Ty>) -> Ty {
        let mut path = Path::parse(text);
        if let Some(last) = path.segments.last_mut() {
            last.args = args;
        }
        Ty::Path(path)
    }

    pub fn print(&self, p: &mut Printer) {
        match self {
            Ty::Path(path) => path.print(p),
            Ty::Ref(lifetime, elem) => {
                p.word("&");
                if let Some(l) = lifetime {
                    p.word(*l);
                    p.nbsp();
                }
                elem.print(p);
            }
            Ty::Slice(elem) => {
                p.word("[");
                elem.print(p);
                p.word("]");
            }
            Ty::Tuple(elems) => {
                p.word("(");
                p.cbox(INDENT);
                p.zerobreak();
                for (i, elem) in elems.iter().enumerate() {
                    elem.print(p);
                    if elems.len() == 1 {
                        p.word(",");
                        p.zerobreak();
                    } else {
                        p.trailing_comma(i + 1 == elems.len());
                    }
                }
                p.offset(-INDENT);
                p.end();
                p.word(")");
            }
        }
    }
}

/// The expressions the generator writes.
#[derive(Clone, Debug)]
pub(crate) enum Expr {
    /// A literal, as written.
    Lit(String),
    Path(Path),
    /// `<Type as Trait>::member`.
    QPath {
        ty: Ty,
        trait_: Path,
        member: &'static str,
    },
    Call(Path, Vec<Expr>),
    /// `Path { field: value, ... }`.
    Struct(Path, Vec<(&'static str, Expr)>),
    /// `&expr`.
    Ref(Box<Expr>),
    Array(Vec<Expr>),
    /// `self.field`.
    SelfField(String),
    /// `path![tokens]`.
    BracketMacro(Path, Vec<Tok>),
}

impl Expr {
    /// The expression on one line, as the printer writes it when it fits; false for the kinds
    /// that are always laid out by the printer.
    pub fn flat(&self, out: &mut String) -> bool {
        match self {
            Expr::Lit(text) => out.push_str(text),
            Expr::Path(path) => Ty::Path(path.clone()).flat(out),
            Expr::Call(func, args) => {
                Ty::Path(func.clone()).flat(out);
                out.push('(');
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if !arg.flat(out) {
                        return false;
                    }
                }
                out.push(')');
            }
            Expr::Ref(inner) => {
                out.push('&');
                return inner.flat(out);
            }
            Expr::SelfField(member) => {
                out.push_str("self.");
                out.push_str(member);
            }
            Expr::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if !item.flat(out) {
                        return false;
                    }
                }
                out.push(']');
            }
            _ => return false,
        }
        true
    }

    /// A string literal.
    pub fn str(value: &str) -> Expr {
        Expr::Lit(str_lit(value))
    }

    /// `&[items]`.
    pub fn slice(items: Vec<Expr>) -> Expr {
        Expr::Ref(Box::new(Expr::Array(items)))
    }

    pub fn print(&self, p: &mut Printer) {
        match self {
            Expr::Lit(text) => p.word(text.clone()),
            Expr::Path(path) => path.print(p),
            Expr::QPath { ty, trait_, member } => {
                p.word("<");
                ty.print(p);
                p.word(" as ");
                trait_.print(p);
                p.word(">");
                p.word("::");
                p.word(*member);
            }
            Expr::Call(func, args) => {
                func.print(p);
                p.word("(");
                if let [arg @ (Expr::Struct(..) | Expr::Array(_))] = args.as_slice() {
                    arg.print(p);
                } else {
                    comma_list(p, args, Expr::print);
                }
                p.word(")");
            }
            Expr::Struct(path, fields) => {
                p.cbox(INDENT);
                p.ibox(-INDENT);
                path.print(p);
                p.end();
                p.word(" {");
                p.space_if_nonempty();
                for (i, (name, value)) in fields.iter().enumerate() {
                    field_value(p, name, value);
                    p.trailing_comma_or_space(i + 1 == fields.len());
                }
                p.offset(-INDENT);
                p.end_with_max_width(STRUCT_MAX_WIDTH as isize);
                p.word("}");
            }
            Expr::Ref(inner) => {
                p.word("&");
                inner.print(p);
            }
            Expr::Array(items) if items.is_empty() => p.word("[]"),
            Expr::Array(items) => {
                p.word("[");
                comma_list(p, items, Expr::print);
                p.word("]");
            }
            Expr::SelfField(member) => {
                p.cbox(INDENT);
                p.cbox(-INDENT);
                p.word("self");
                p.end();
                p.zerobreak();
                p.word(".");
                p.word(member.clone());
                p.end();
            }
            Expr::BracketMacro(path, tokens) => {
                path.print(p);
                p.word("!");
                p.word("[");
                if !tokens.is_empty() {
                    p.cbox(INDENT);
                    p.zerobreak();
                    p.ibox(0);
                    macro_tokens(p, tokens);
                    p.end();
                    p.zerobreak();
                    p.offset(-INDENT);
                    p.end();
                }
                p.word("]");
            }
        }
    }
}

/// A struct expression wider than this breaks, one field a line, even where it would fit.
const STRUCT_MAX_WIDTH: usize = 34;

/// `name: value` in a struct expression.
fn field_value(p: &mut Printer, name: &'static str, value: &Expr) {
    p.word(name);
    p.word(": ");
    p.ibox(0);
    value.print(p);
    p.end();
}

/// `name: value,` on lines of its own, as in a struct expression that broke.
fn struct_field(p: &mut Printer, name: &'static str, value: &Expr) {
    field_value(p, name, value);
    p.word(",");
    p.hardbreak();
}

/// Keywords, after which a macro's tokens keep a space.
fn is_keyword(ident: &str) -> bool {
    matches!(
        ident,
        "as" | "async"
            | "await"
            | "box"
            | "break"
            | "const"
            | "continue"
            | "crate"
            | "dyn"
            | "else"
            | "enum"
            | "extern"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "macro"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "static"
            | "struct"
            | "trait"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "yield"
    )
}

/// A macro call's tokens, spaced and broken as prettyplease does for a macro it does not know.
fn macro_tokens(p: &mut Printer, tokens: &[Tok]) {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Start,
        Dot,
        Colon,
        Colon2,
        Ident,
        IdentBang,
        InDelim,
        Other,
    }
    use State::*;
    let mut state = Start;
    let mut previous_joint = true;
    for token in tokens {
        let (needs_space, next) = match (state, token) {
            (Ident, Tok::Group(Delim::Paren | Delim::Bracket, _)) => (false, InDelim),
            (Ident, Tok::Punct('!', false)) => (false, IdentBang),
            (IdentBang, Tok::Group(Delim::Paren | Delim::Bracket, _)) => (false, Other),
            (Colon, Tok::Punct(':', _)) => (false, Colon2),
            (_, Tok::Group(Delim::Paren | Delim::Bracket, _)) => (true, InDelim),
            (_, Tok::Group(Delim::Brace, _)) => (true, Other),
            (_, Tok::Ident(i)) if !is_keyword(i) => (state != Dot && state != Colon2, Ident),
            (_, Tok::Lit(l)) if l.ends_with('.') => (state != Dot, Other),
            (_, Tok::Lit(_)) => (state != Dot, Ident),
            (_, Tok::Punct(',' | ';', _)) => (false, Other),
            (_, Tok::Punct('.', _)) => (state != Ident && state != InDelim, Dot),
            (_, Tok::Punct(':', true)) => (state != Ident, Colon),
            _ => (true, Other),
        };
        if !previous_joint {
            if needs_space {
                p.space();
            } else if let Tok::Punct('.', _) = token {
                p.zerobreak();
            }
        }
        previous_joint = matches!(token, Tok::Punct(_, true));
        match token {
            Tok::Ident(text) | Tok::Lit(text) => p.word(text.clone()),
            Tok::Punct(c, _) => p.word(c.to_string()),
            Tok::Group(delim, inner) => {
                let (open, close) = delimiters(*delim);
                p.word(open);
                if !inner.is_empty() {
                    if *delim == Delim::Brace {
                        p.space();
                    }
                    macro_tokens(p, inner);
                    if *delim == Delim::Brace {
                        p.space();
                    }
                }
                p.word(close);
            }
        }
        state = next;
    }
}

fn delimiters(delim: Delim) -> (&'static str, &'static str) {
    match delim {
        Delim::Paren => ("(", ")"),
        Delim::Bracket => ("[", "]"),
        Delim::Brace => ("{", "}"),
    }
}

/// `/// text` (or the forms prettyplease falls back to for text a line comment cannot hold).
pub(crate) fn doc(p: &mut Printer, text: &str) {
    if !text.contains('\n') && !text.starts_with('/') {
        p.word("///");
        p.word(text.trim_end_matches(' ').to_owned());
        p.hardbreak();
    } else if can_be_block_comment(text) && !text.starts_with(['*', '/']) {
        let mut trimmed = String::with_capacity(text.len());
        if text.contains(" \n") {
            let mut lines = text.split('\n').peekable();
            while let Some(line) = lines.next() {
                if lines.peek().is_some() {
                    trimmed.push_str(line.trim_end_matches(' '));
                    trimmed.push('\n');
                } else {
                    trimmed.push_str(line);
                }
            }
        } else {
            trimmed.push_str(text);
        }
        p.word("/**");
        p.word(trimmed);
        p.word("*/");
        p.hardbreak();
    } else {
        p.word("#");
        p.word("[");
        p.word("doc");
        p.word(" = ");
        p.word(str_lit(text));
        p.word("]");
        p.space();
    }
}

/// Whether `/**` + text + `*/` is a comment that ends where it should.
fn can_be_block_comment(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
                i += 2;
            }
            _ => i += 1,
        }
    }
    depth == 0 && !text.ends_with('/')
}

/// `#[name(tokens)]`.
pub(crate) fn attr(p: &mut Printer, name: &'static str, tokens: &[Tok]) {
    p.word("#");
    p.word("[");
    p.word(name);
    attr_group(p, Delim::Paren, tokens);
    p.word("]");
    p.space();
}

/// An attribute's parenthesized tokens, spaced and broken as prettyplease does.
fn attr_group(p: &mut Printer, delim: Delim, tokens: &[Tok]) {
    #[derive(PartialEq, Clone, Copy)]
    enum State {
        Word,
        Punct,
        TrailingComma,
    }
    // Spaces between tokens at the top level never break; inside a group they may.
    fn gap(p: &mut Printer, breakable: bool) {
        if breakable { p.space() } else { p.nbsp() }
    }
    let mut state = State::Punct;
    let mut stack: Vec<(&[Tok], usize, Delim)> = Vec::new();
    open(p, delim);
    stack.push((tokens, 0, delim));
    fn open(p: &mut Printer, delim: Delim) {
        match delim {
            Delim::Paren => {
                p.word("(");
                p.cbox(INDENT);
                p.zerobreak();
            }
            Delim::Brace => p.word("{"),
            Delim::Bracket => p.word("["),
        }
    }
    while let Some(top) = stack.last_mut() {
        let (tokens, i, delim) = (top.0, top.1, top.2);
        if i == tokens.len() {
            match delim {
                Delim::Paren => {
                    if state != State::TrailingComma {
                        p.zerobreak();
                    }
                    p.offset(-INDENT);
                    p.end();
                    p.word(")");
                }
                Delim::Brace => p.word("}"),
                Delim::Bracket => p.word("]"),
            }
            state = State::Punct;
            stack.pop();
            continue;
        }
        top.1 += 1;
        let breakable = true;
        match &tokens[i] {
            Tok::Ident(text) | Tok::Lit(text) => {
                if state == State::Word {
                    gap(p, breakable);
                }
                p.word(text.clone());
                state = State::Word;
            }
            Tok::Punct(c, _) => {
                if state == State::Word && *c == '=' {
                    p.nbsp();
                }
                if *c == ',' && i + 1 == tokens.len() {
                    p.trailing_comma(true);
                    state = State::TrailingComma;
                } else {
                    p.word(c.to_string());
                    if *c == '=' {
                        p.nbsp();
                    } else if *c == ',' {
                        gap(p, breakable);
                    }
                    state = State::Punct;
                }
            }
            Tok::Group(d, inner) => {
                open(p, *d);
                state = State::Punct;
                stack.push((inner, 0, *d));
            }
        }
    }
}

/// The tokens `name = "value"`.
pub(crate) fn name_value(name: &str, value: &str, out: &mut Vec<Tok>) {
    out.push(Tok::Ident(name.to_owned()));
    out.push(Tok::Punct('=', false));
    out.push(Tok::Lit(str_lit(value)));
}

/// One field of a struct: `pub name: Type,` after its attributes (written by `attrs`).
pub(crate) fn field(p: &mut Printer, attrs: impl FnOnce(&mut Printer), name: &str, ty: &Ty) {
    attrs(p);
    p.word("pub ");
    p.word(name.to_owned());
    p.word(": ");
    ty.print(p);
    p.word(",");
    p.hardbreak();
}

/// `pub struct Name {` ... `}`; `body` writes the fields.
pub(crate) fn struct_item(p: &mut Printer, name: &str, body: impl FnOnce(&mut Printer)) {
    p.cbox(INDENT);
    p.word("pub ");
    p.word("struct ");
    p.word(name.to_owned());
    p.nbsp();
    p.word("{");
    p.hardbreak_if_nonempty();
    body(p);
    p.offset(-INDENT);
    p.end();
    p.word("}");
    p.hardbreak();
}

/// `pub struct Name;`.
pub(crate) fn unit_struct(p: &mut Printer, name: &str) {
    p.cbox(INDENT);
    p.word("pub ");
    p.word("struct ");
    p.word(name.to_owned());
    p.word(";");
    p.end();
    p.hardbreak();
}

/// `pub enum Name {` ... `}`; `body` writes the variants with [`variant`].
pub(crate) fn enum_item(p: &mut Printer, name: &str, body: impl FnOnce(&mut Printer)) {
    struct_like(p, "enum ", name, body);
}

fn struct_like(p: &mut Printer, keyword: &'static str, name: &str, body: impl FnOnce(&mut Printer)) {
    p.cbox(INDENT);
    p.word("pub ");
    p.word(keyword);
    p.word(name.to_owned());
    p.nbsp();
    p.word("{");
    p.hardbreak_if_nonempty();
    body(p);
    p.offset(-INDENT);
    p.end();
    p.word("}");
    p.hardbreak();
}

/// A variant: `Name,` or `Name(Type),`.
pub(crate) fn variant(p: &mut Printer, name: &str, ty: Option<&Ty>) {
    p.word(name.to_owned());
    if let Some(ty) = ty {
        p.cbox(INDENT);
        p.word("(");
        p.zerobreak();
        ty.print(p);
        p.trailing_comma(true);
        p.offset(-INDENT);
        p.word(")");
        p.end();
    }
    p.word(",");
    p.hardbreak();
}

/// `pub type Name = Type;`.
pub(crate) fn type_alias(p: &mut Printer, name: &str, ty: &Ty) {
    p.cbox(INDENT);
    p.word("pub ");
    p.word("type ");
    p.word(name.to_owned());
    p.nbsp();
    p.word("= ");
    p.neverbreak();
    p.ibox(-INDENT);
    ty.print(p);
    p.end();
    p.word(";");
    p.end();
    p.hardbreak();
}

/// `pub const Name: Type = expr;` (or `static`, or an associated `const` without `pub`).
pub(crate) fn const_item(p: &mut Printer, keyword: &'static str, name: &str, ty: &Ty, value: &Expr) {
    p.cbox(0);
    p.word(keyword);
    p.word(name.to_owned());
    p.word(": ");
    ty.print(p);
    p.word(" = ");
    p.neverbreak();
    value.print(p);
    p.word(";");
    p.end();
    p.hardbreak();
}

/// `impl Trait for Type {` ... `}`; `body` writes the items.
pub(crate) fn impl_item(p: &mut Printer, trait_: &Path, ty: &Ty, body: impl FnOnce(&mut Printer)) {
    p.cbox(INDENT);
    p.ibox(-INDENT);
    p.cbox(INDENT);
    p.word("impl");
    p.end();
    p.nbsp();
    trait_.print(p);
    p.space();
    p.word("for ");
    ty.print(p);
    p.end();
    p.nbsp();
    p.word("{");
    p.hardbreak_if_nonempty();
    body(p);
    p.offset(-INDENT);
    p.end();
    p.word("}");
    p.hardbreak();
}

/// `type Name = Type;` in an impl.
pub(crate) fn assoc_type(p: &mut Printer, name: &str, ty: &Ty) {
    p.cbox(INDENT);
    p.word("type ");
    p.word(name.to_owned());
    p.word(" = ");
    p.neverbreak();
    p.ibox(-INDENT);
    ty.print(p);
    p.end();
    p.word(";");
    p.end();
    p.hardbreak();
}

/// `fn name(&self) -> Type { body }` (`self_ref`: takes `&self`), with one expression as body.
pub(crate) fn method(p: &mut Printer, name: &str, self_ref: bool, output: &Ty, body: &Expr) {
    p.cbox(INDENT);
    p.word("fn ");
    p.word(name.to_owned());
    p.word("(");
    p.neverbreak();
    p.cbox(0);
    p.zerobreak();
    if self_ref {
        p.word("&");
        p.word("self");
        p.trailing_comma(true);
    }
    p.offset(-INDENT);
    p.end();
    p.word(")");
    p.cbox(-INDENT);
    p.word(" -> ");
    output.print(p);
    p.end();
    p.nbsp();
    p.word("{");
    p.hardbreak_if_nonempty();
    p.ibox(0);
    body.print(p);
    p.end();
    p.hardbreak();
    p.offset(-INDENT);
    p.end();
    p.word("}");
    p.hardbreak();
}

/// A module at the top level: its doc comment, `#[allow(dead_code)]` when `allow_dead_code`, and
/// its items (printed for one level of indentation).
pub(crate) fn module(doc_text: &str, allow_dead_code: bool, name: &str, items: &[String]) -> String {
    let mut p = Printer::new(0);
    doc(&mut p, doc_text);
    if allow_dead_code {
        attr(&mut p, "allow", &[Tok::Ident("dead_code".into())]);
    }
    let mut out = p.finish();
    out.push_str("pub mod ");
    out.push_str(name);
    if items.is_empty() {
        out.push_str(" {}\n");
        return out;
    }
    out.push_str(" {\n");
    for item in items {
        out.push_str(item);
    }
    out.push_str("}\n");
    out
}

thread_local! {
    /// Lines that did not fit, laid out: (indentation, the line's text) -> the printer's text.
    static LAYOUTS: std::cell::RefCell<crate::fast_hash::HashMap<(usize, String), Rc<str>>> =
        std::cell::RefCell::new(crate::fast_hash::HashMap::default());
}

/// The room for text on a line indented by `indent` (what the printer breaks at).
fn room(indent: usize) -> usize {
    (pretty::MARGIN - indent as isize).max(pretty::MIN_SPACE) as usize
}

impl Ty {
    /// The type on one line, as the printer writes it when it fits.
    pub fn flat(&self, out: &mut String) {
        match self {
            Ty::Path(path) => {
                for (i, segment) in path.segments.iter().enumerate() {
                    if i > 0 || path.leading {
                        out.push_str("::");
                    }
                    out.push_str(&segment.ident);
                    if !segment.args.is_empty() {
                        out.push('<');
                        for (i, arg) in segment.args.iter().enumerate() {
                            if i > 0 {
                                out.push_str(", ");
                            }
                            arg.flat(out);
                        }
                        out.push('>');
                    }
                }
            }
            Ty::Ref(lifetime, elem) => {
                out.push('&');
                if let Some(l) = lifetime {
                    out.push_str(l);
                    out.push(' ');
                }
                elem.flat(out);
            }
            Ty::Slice(elem) => {
                out.push('[');
                elem.flat(out);
                out.push(']');
            }
            Ty::Tuple(elems) => {
                out.push('(');
                for (i, elem) in elems.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    elem.flat(out);
                }
                if elems.len() == 1 {
                    out.push(',');
                }
                out.push(')');
            }
        }
    }
}

/// The lines of an item written straight, when each of them fits on its line: then nothing in
/// it breaks, and the text is what the [`Printer`] would write, without its work. `None` from
/// [`finish`](Self::finish) when a line did not fit or needs another form: print the item with
/// the printer then.
pub(crate) struct Lines {
    out: String,
    fits: bool,
}

impl Lines {
    pub fn new() -> Self {
        Lines { out: String::with_capacity(256), fits: true }
    }

    fn start(&mut self, indent: usize) {
        pretty::spaces(&mut self.out, indent);
    }

    /// Ends a line that started at `begin` (after its indentation): kept when it fits, else
    /// taken back and laid out by `print` on a printer.
    fn end_line(&mut self, indent: usize, begin: usize, print: impl FnOnce(&mut Printer)) {
        if self.out.len() - begin <= room(indent) {
            self.out.push('\n');
            return;
        }
        // The same long line (an attribute, a field of a common type) comes back many times:
        // its layout depends on nothing but its text and indentation, so it is made once.
        let key = (indent, self.out[begin..].to_owned());
        self.out.truncate(begin - indent);
        let cached = self.fits.then(|| LAYOUTS.with(|layouts| layouts.borrow().get(&key).cloned())).flatten();
        let text = cached.unwrap_or_else(|| {
            let mut p = Printer::new(indent);
            print(&mut p);
            let text: Rc<str> = p.finish().into();
            if self.fits {
                LAYOUTS.with(|layouts| {
                    let mut layouts = layouts.borrow_mut();
                    // Bounded, for processes that generate again and again (a proc macro server).
                    if layouts.len() >= 4096 {
                        layouts.clear();
                    }
                    layouts.insert(key, text.clone());
                });
            }
            text
        });
        self.out.push_str(&text);
    }

    /// Text already laid out (whole lines).
    pub fn text(&mut self, text: &str) {
        self.out.push_str(text);
    }

    /// A line that has no place to break.
    pub fn line(&mut self, indent: usize, text: &str) {
        self.start(indent);
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// `/// text`.
    pub fn doc(&mut self, indent: usize, text: &str) {
        if text.contains('\n') || text.starts_with('/') {
            self.fits = false;
            return;
        }
        self.start(indent);
        self.out.push_str("///");
        self.out.push_str(text.trim_end_matches(' '));
        self.out.push('\n');
    }

    /// `#[name(tokens)]`, for tokens that are words, literals, `=`, `,` and `:`.
    pub fn attr(&mut self, indent: usize, name: &'static str, tokens: &[Tok]) {
        self.start(indent);
        let begin = self.out.len();
        self.out.push_str("#[");
        self.out.push_str(name);
        self.out.push('(');
        let mut after_word = false;
        for (i, token) in tokens.iter().enumerate() {
            match token {
                Tok::Ident(text) | Tok::Lit(text) => {
                    if after_word {
                        self.out.push(' ');
                    }
                    self.out.push_str(text);
                    after_word = true;
                }
                Tok::Punct(',', _) if i + 1 == tokens.len() => after_word = false,
                Tok::Punct(',', _) => {
                    self.out.push_str(", ");
                    after_word = false;
                }
                Tok::Punct('=', _) => {
                    self.out.push_str(if after_word { " = " } else { "= " });
                    after_word = false;
                }
                Tok::Punct(c, _) => {
                    self.out.push(*c);
                    after_word = false;
                }
                Tok::Group(..) => self.fits = false,
            }
        }
        self.out.push_str(")]");
        self.end_line(indent, begin, |p| attr(p, name, tokens));
    }

    /// `pub name: Type,`.
    pub fn field(&mut self, indent: usize, name: &str, ty: &Ty) {
        self.start(indent);
        let begin = self.out.len();
        self.out.push_str("pub ");
        self.out.push_str(name);
        self.out.push_str(": ");
        ty.flat(&mut self.out);
        self.out.push(',');
        self.end_line(indent, begin, |p| field(p, |_| {}, name, ty));
    }

    /// `Name,` or `Name(Type),`.
    pub fn variant(&mut self, indent: usize, name: &str, ty: Option<&Ty>) {
        self.start(indent);
        let begin = self.out.len();
        self.out.push_str(name);
        if let Some(ty) = ty {
            self.out.push('(');
            ty.flat(&mut self.out);
            self.out.push(')');
        }
        self.out.push(',');
        self.end_line(indent, begin, |p| variant(p, name, ty));
    }

    /// A line that has places to break but is written whole: when it does not fit, the item
    /// has to be printed by the printer.
    pub fn whole(&mut self, indent: usize, text: &str) {
        self.fits &= text.len() <= room(indent);
        self.line(indent, text);
    }

    /// A line written as `text` when it fits, else laid out by `print`.
    pub fn fitted(&mut self, indent: usize, text: &str, print: impl FnOnce(&mut Printer)) {
        self.start(indent);
        let begin = self.out.len();
        self.out.push_str(text);
        self.end_line(indent, begin, print);
    }

    /// `keyword name: Type = Path {`, one `field: value,` a line, then `};`: a constant whose
    /// value is a struct expression prettyplease breaks, one wider than 34 columns (a script's
    /// descriptor). A field that does not fit its line is laid out alone by the printer, as it
    /// would be inside the struct.
    pub fn struct_const(
        &mut self,
        indent: usize,
        keyword: &str,
        name: &str,
        ty: &Ty,
        path: &Path,
        fields: &[(&'static str, Expr)],
    ) {
        let least_width = path.segments.iter().map(|s| s.ident.len() + 2).sum::<usize>()
            + fields.iter().map(|(name, _)| name.len() + 4).sum::<usize>();
        // A narrower struct may stay on one line: the printer decides then.
        self.fits &= least_width > STRUCT_MAX_WIDTH;
        self.start(indent);
        let begin = self.out.len();
        self.out.push_str(keyword);
        self.out.push_str(name);
        self.out.push_str(": ");
        ty.flat(&mut self.out);
        self.out.push_str(" = ");
        Ty::Path(path.clone()).flat(&mut self.out);
        self.out.push_str(" {");
        self.fits &= self.out.len() - begin <= room(indent);
        self.out.push('\n');
        let inner = indent + INDENT as usize;
        for (name, value) in fields {
            self.start(inner);
            let begin = self.out.len();
            self.out.push_str(name);
            self.out.push_str(": ");
            if value.flat(&mut self.out) {
                self.out.push(',');
                self.end_line(inner, begin, |p| struct_field(p, name, value));
            } else {
                // Not the whole line: no key for the layouts cache.
                self.out.truncate(begin - inner);
                let mut p = Printer::new(inner);
                struct_field(&mut p, name, value);
                self.out.push_str(&p.finish());
            }
        }
        self.line(indent, "};");
    }

    /// An expression statement (a function's body).
    pub fn statement(&mut self, indent: usize, expr: &Expr) {
        self.start(indent);
        let begin = self.out.len();
        if !expr.flat(&mut self.out) {
            self.fits = false;
        }
        self.end_line(indent, begin, |p| {
            p.ibox(0);
            expr.print(p);
            p.end();
            p.hardbreak();
        });
    }

    /// The text, when every line fitted.
    pub fn finish(self) -> Option<String> {
        self.fits.then_some(self.out)
    }
}
