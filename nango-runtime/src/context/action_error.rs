//! [`ActionError`]: how an action failed, in the terms the caller of `POST /action/trigger` is
//! answered with.

use serde_json::Value;

/// How an action failed, as Nango tells the caller of `POST /action/trigger`.
///
/// Action functions return [`crate::Result`], a boxed error; the runtime looks for an
/// `ActionError` there ([`ActionRegistration::call`](crate::ActionRegistration::call)) and
/// answers the caller by its kind:
///
/// | kind | status | `error.code` | what the caller gets |
/// | --- | --- | --- | --- |
/// | [`InvalidInput`](ActionError::InvalidInput) | 400 | `invalid_action_input` | the field and what is wrong with it, in `error.errors` |
/// | [`Reported`](ActionError::Reported) | 500 | `action_script_runtime_error` | the payload, as `error.payload` |
/// | [`Internal`](ActionError::Internal) | 500 | `action_script_failure` | that it failed; the cause goes to the server's log only |
///
/// Any other error an action returns, and a panic, is `Internal`.
///
/// An action reports an error for its caller as Nango's `throw new nango.ActionError({...})`:
///
/// ```
/// use nango_runtime::ActionError;
/// use serde_json::json;
///
/// fn check(title: &str) -> nango_runtime::Result<()> {
///     if title.is_empty() {
///         return Err(ActionError::new(json!({"code": "missing_title", "message": "a ticket needs a title"})).into());
///     }
///     Ok(())
/// }
///
/// let err = check("").unwrap_err();
/// let err = err.downcast_ref::<ActionError>().unwrap();
/// assert_eq!(err.code(), "action_script_runtime_error");
/// assert_eq!(err.payload().unwrap()["code"], "missing_title");
/// assert_eq!(err.to_string(), "a ticket needs a title");
///
/// // A payload that is not an object or an array is wrapped, as Nango's runner does.
/// assert_eq!(ActionError::new("no such user").payload(), Some(&json!({"message": "no such user"})));
/// assert_eq!(ActionError::message("no such user").payload(), Some(&json!({"message": "no such user"})));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// The input does not decode into the action's input model (Nango's `invalid_action_input`).
    #[error("invalid input for action `{action}`{}: {message}", at_field(.path))]
    InvalidInput {
        /// The action (nango.yaml name).
        action: String,
        /// Where in the input it fails, as Nango's validation errors give it: keys as strings,
        /// positions as numbers; empty for the input as a whole.
        path: Vec<Value>,
        /// What is wrong there (`invalid type: integer `42`, expected a string`,
        /// `missing field `title``).
        message: String,
    },
    /// The action refused or failed and says why to its caller: Nango's `ActionError`, whose
    /// payload the API returns as it is.
    #[error("{}", payload_text(.payload))]
    Reported {
        /// What the caller gets: an object or an array.
        payload: Value,
    },
    /// The action failed for a reason that is not for the caller: an error it did not report as
    /// an `ActionError`, or a panic. The caller learns only that it failed.
    #[error("action `{action}` failed")]
    Internal {
        /// The action (nango.yaml name).
        action: String,
        /// What went wrong (for the server's log).
        #[source]
        source: crate::Error,
    },
}

impl ActionError {
    /// An error for the caller with this payload (Nango's `new ActionError(payload)`). Objects and
    /// arrays are kept as they are; any other value becomes `{"message": value}`, as Nango's
    /// runner does.
    ///
    /// ```
    /// let e = nango_runtime::ActionError::new(serde_json::json!([{"id": 1, "error": "locked"}]));
    /// assert_eq!(e.payload().unwrap()[0]["error"], "locked");
    /// ```
    pub fn new(payload: impl Into<Value>) -> ActionError {
        let payload = match payload.into() {
            payload @ (Value::Object(_) | Value::Array(_)) => payload,
            other => serde_json::json!({ "message": other }),
        };
        ActionError::Reported { payload }
    }

    /// An error for the caller with a message only: the payload `{"message": message}`.
    ///
    /// ```
    /// let e = nango_runtime::ActionError::message("Id is required to delete a user");
    /// assert_eq!(e.to_string(), "Id is required to delete a user");
    /// ```
    pub fn message(message: impl Into<String>) -> ActionError {
        ActionError::new(Value::String(message.into()))
    }

    /// Decodes an action's JSON input into its input model; the error names the field that does
    /// not fit. The runner of every `#[nango_action]` function decodes its input with this.
    ///
    /// ```
    /// use nango_runtime::ActionError;
    /// #[derive(Debug, serde::Deserialize)]
    /// struct NewTicket { title: String }
    ///
    /// let ok: NewTicket = ActionError::decode_input("create-ticket", serde_json::json!({"title": "Fix it"})).unwrap();
    /// assert_eq!(ok.title, "Fix it");
    ///
    /// let err = ActionError::decode_input::<NewTicket>("create-ticket", serde_json::json!({"title": 42})).unwrap_err();
    /// assert_eq!(err.code(), "invalid_action_input");
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid input for action `create-ticket` at `title`: invalid type: integer `42`, expected a string"
    /// );
    /// ```
    pub fn decode_input<T: serde::de::DeserializeOwned>(action: &str, input: Value) -> Result<T, ActionError> {
        serde_path_to_error::deserialize(input).map_err(|e| {
            let path = e.path().iter().filter_map(segment_value).collect();
            ActionError::InvalidInput { action: action.to_owned(), path, message: e.into_inner().to_string() }
        })
    }

    /// The error of an action function, as the caller is to be answered: the `ActionError` it
    /// returned, or [`ActionError::Internal`] for any other error.
    ///
    /// ```
    /// use nango_runtime::ActionError;
    /// let reported = ActionError::from_error("create-ticket", ActionError::message("no").into());
    /// assert!(matches!(reported, ActionError::Reported { .. }));
    /// let other = ActionError::from_error("create-ticket", "database is locked".into());
    /// assert_eq!(other.code(), "action_script_failure");
    /// assert_eq!(nango_types::text::error_chain(&other), "action `create-ticket` failed: database is locked");
    /// ```
    pub fn from_error(action: &str, error: crate::Error) -> ActionError {
        match error.downcast::<ActionError>() {
            Ok(action_error) => *action_error,
            Err(source) => ActionError::Internal { action: action.to_owned(), source },
        }
    }

    /// An action that panicked, with the panic's message (for the server's log).
    pub(crate) fn panicked(action: &str, panic: &(dyn std::any::Any + Send)) -> ActionError {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        ActionError::Internal { action: action.to_owned(), source: format!("the function panicked: {message}").into() }
    }

    /// The `error.code` of the API's answer: `invalid_action_input`,
    /// `action_script_runtime_error` (Nango's type of an `ActionError`) or
    /// `action_script_failure`.
    pub fn code(&self) -> &'static str {
        match self {
            ActionError::InvalidInput { .. } => "invalid_action_input",
            ActionError::Reported { .. } => "action_script_runtime_error",
            ActionError::Internal { .. } => "action_script_failure",
        }
    }

    /// The HTTP status of the API's answer: 400 for an input the caller can fix, 500 otherwise
    /// (Nango's runner reports every action failure with 500).
    ///
    /// ```
    /// assert_eq!(nango_runtime::ActionError::message("no").status(), 500);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            ActionError::InvalidInput { .. } => 400,
            ActionError::Reported { .. } | ActionError::Internal { .. } => 500,
        }
    }

    /// The payload of a [`Reported`](ActionError::Reported) error.
    pub fn payload(&self) -> Option<&Value> {
        match self {
            ActionError::Reported { payload } => Some(payload),
            _ => None,
        }
    }
}

/// ` at `items[0].id`` for a path, nothing for the input as a whole.
fn at_field(path: &[Value]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            Value::Number(n) => text.push_str(&format!("[{n}]")),
            Value::String(key) if text.is_empty() => text.push_str(key),
            Value::String(key) => {
                text.push('.');
                text.push_str(key);
            }
            other => text.push_str(&other.to_string()),
        }
    }
    if text.is_empty() { text } else { format!(" at `{text}`") }
}

/// The payload's `message` when it has one, else the payload as compact JSON.
fn payload_text(payload: &Value) -> String {
    match payload.get("message") {
        Some(Value::String(message)) => message.clone(),
        _ => payload.to_string(),
    }
}

/// One step of a decoding path as Nango writes it: a key, or a position.
fn segment_value(segment: &serde_path_to_error::Segment) -> Option<Value> {
    match segment {
        serde_path_to_error::Segment::Seq { index } => Some(Value::from(*index)),
        serde_path_to_error::Segment::Map { key } => Some(Value::String(key.clone())),
        serde_path_to_error::Segment::Enum { variant } => Some(Value::String(variant.clone())),
        serde_path_to_error::Segment::Unknown => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Input {
        title: String,
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        id: u64,
    }

    #[test]
    fn a_bad_input_names_the_field_at_any_depth() {
        let err = ActionError::decode_input::<Input>("a", json!({"title": "t", "items": [{"id": 1}, {"id": "x"}]}))
            .unwrap_err();
        let ActionError::InvalidInput { path, message, .. } = &err else { panic!("{err:?}") };
        assert_eq!(path, &[json!("items"), json!(1), json!("id")]);
        assert!(message.starts_with("invalid type: string \"x\""), "{message}");
        assert!(err.to_string().starts_with("invalid input for action `a` at `items[1].id`: "), "{err}");
    }

    #[test]
    fn a_missing_field_is_named_in_the_message() {
        let err = ActionError::decode_input::<Input>("a", json!({"items": []})).unwrap_err();
        assert_eq!(err.to_string(), "invalid input for action `a`: missing field `title`");
        let err = ActionError::decode_input::<Input>("a", json!(42)).unwrap_err();
        assert_eq!(err.to_string(), "invalid input for action `a`: invalid type: integer `42`, expected struct Input");
    }

    #[test]
    fn a_payload_without_a_message_reads_as_json() {
        let err = ActionError::new(json!({"code": "locked"}));
        assert_eq!(err.to_string(), r#"{"code":"locked"}"#);
        assert_eq!((err.status(), err.code()), (500, "action_script_runtime_error"));
    }

    #[test]
    fn a_panic_keeps_its_message_for_the_log() {
        let err = ActionError::panicked("a", &"boom");
        assert_eq!(nango_types::text::error_chain(&err), "action `a` failed: the function panicked: boom");
        let err = ActionError::panicked("a", &String::from("owned"));
        assert_eq!(nango_types::text::error_chain(&err), "action `a` failed: the function panicked: owned");
        let err = ActionError::panicked("a", &7u8);
        assert!(err.to_string().contains("action `a` failed"));
    }
}
