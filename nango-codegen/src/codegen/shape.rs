//! What Rust type a nango.yaml type becomes, decided once: the Rust emitter (`types.rs`) and the
//! JSON Schema (`schema.rs`) both follow these decisions, so a schema always describes the type
//! generated beside it.

use crate::ir::{Field, Literal, Primitive, TypeExpr};

/// How a union (`A | B | ...`) is represented in Rust.
pub(crate) struct UnionShape<'a> {
    /// A member is `null`, `undefined`, `void` or `never`: the Rust type is an `Option`.
    pub nullable: bool,
    /// A member is `undefined` or `void`: as a field, the key may be absent.
    pub may_be_absent: bool,
    /// What the non-null members become.
    pub kind: UnionKind<'a>,
}

/// The Rust type of a union's non-null members.
pub(crate) enum UnionKind<'a> {
    /// No member is left: `serde_json::Value`.
    Any,
    /// Only string literals: an enum of them (plus the catch-all variant when it is on).
    Literals(Vec<&'a str>),
    /// Only `true` / `false`: `bool`.
    Bool,
    /// One member is left: its own type.
    Single(&'a TypeExpr),
    /// An untagged enum: one `Literal` variant for the string literals (when there are any),
    /// then one variant per other member, in this order (serde tries them in order).
    Untagged {
        /// The string literals, in order.
        literals: Vec<&'a str>,
        /// The members that are not string literals, in order.
        others: Vec<&'a TypeExpr>,
    },
}

/// `null` or a type that stands for "no value".
fn is_null_like(t: &TypeExpr) -> bool {
    matches!(t, TypeExpr::Literal(Literal::Null))
        || matches!(t, TypeExpr::Primitive(Primitive::Undefined | Primitive::Void | Primitive::Never))
}

/// Classifies a union's members (duplicates count once).
pub(crate) fn union(members: &[TypeExpr]) -> UnionShape<'_> {
    let nullable = members.iter().any(is_null_like);
    let may_be_absent =
        members.iter().any(|t| matches!(t, TypeExpr::Primitive(Primitive::Undefined | Primitive::Void)));
    let mut rest: Vec<&TypeExpr> = Vec::new();
    for m in members.iter().filter(|t| !is_null_like(t)) {
        if !rest.contains(&m) {
            rest.push(m);
        }
    }
    let literals: Vec<&str> = rest
        .iter()
        .filter_map(|t| match t {
            TypeExpr::Literal(Literal::String(s)) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    let kind = if rest.is_empty() {
        UnionKind::Any
    } else if literals.len() == rest.len() {
        UnionKind::Literals(literals)
    } else if rest.iter().all(|t| matches!(t, TypeExpr::Literal(Literal::Bool(_)))) {
        UnionKind::Bool
    } else if rest.len() == 1 {
        UnionKind::Single(rest[0])
    } else {
        let others = rest.into_iter().filter(|t| !matches!(t, TypeExpr::Literal(Literal::String(_)))).collect();
        UnionKind::Untagged { literals, others }
    };
    UnionShape { nullable, may_be_absent, kind }
}

/// What the Rust type of `t` admits besides a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flags {
    /// It is an `Option`: `None` is written as `null` (unless a field skips it).
    pub nullable: bool,
    /// As a field, the key may be absent even without `?` (`undefined`, `void`, `never`).
    pub implicitly_optional: bool,
}

/// The [`Flags`] of a type (the emitter's `RustType` carries the same).
pub(crate) fn flags(t: &TypeExpr) -> Flags {
    match t {
        TypeExpr::Primitive(Primitive::Undefined | Primitive::Never | Primitive::Void) => {
            Flags { nullable: true, implicitly_optional: true }
        }
        TypeExpr::Union(members) => {
            let shape = union(members);
            if let UnionKind::Single(inner) = shape.kind {
                let inner = flags(inner);
                if inner.nullable || !shape.nullable {
                    return Flags {
                        nullable: inner.nullable,
                        implicitly_optional: shape.may_be_absent || inner.implicitly_optional,
                    };
                }
            }
            Flags { nullable: shape.nullable, implicitly_optional: shape.may_be_absent }
        }
        _ => Flags { nullable: false, implicitly_optional: false },
    }
}

/// How a field's key and value appear in the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    /// The key is always there (its value may be `null` when the type is nullable).
    Required,
    /// `Option<T>`, left out when `None`: the key is absent or holds a value.
    Optional,
    /// `name?: T | null`: `Option<Option<T>>`, absent, `null` and a value are all distinct.
    OptionalNullable,
}

/// The [`Presence`] of a field.
pub(crate) fn presence(field: &Field) -> Presence {
    let flags = flags(&field.ty);
    if !(field.optional || flags.implicitly_optional) {
        Presence::Required
    } else if flags.nullable && field.optional {
        Presence::OptionalNullable
    } else {
        Presence::Optional
    }
}
