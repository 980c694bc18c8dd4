//! Record types.

/// A record type of a nango.yaml model: what a sync saves and what a consumer reads back. The
/// code generated from nango.yaml implements it for every sync output model.
///
/// ```
/// use nango_types::Model;
///
/// #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
/// struct Ticket { id: i64, title: String }
///
/// impl Model for Ticket {
///     const NAME: &'static str = "Ticket";
///     fn id(&self) -> String { self.id.to_string() }
/// }
///
/// assert_eq!(Ticket { id: 7, title: "Fix it".into() }.id(), "7");
/// assert_eq!(Ticket::json_schema()["type"], "object");
/// ```
pub trait Model: serde::Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static {
    /// The model's name in nango.yaml (and in the records API).
    const NAME: &'static str;

    /// The record's `id`, as a string (numbers are written in decimal).
    fn id(&self) -> String;

    /// The model's JSON Schema (draft 2020-12). Generated models return their definition in the
    /// `schema.json` that nango-codegen builds from nango.yaml, with the definitions it refers to
    /// under `$defs` (the same schema `/openapi.json` serves); the default, for hand-written
    /// types, only says it is an object.
    fn json_schema() -> serde_json::Value {
        serde_json::json!({"type": "object"})
    }
}
