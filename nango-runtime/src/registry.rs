//! The registry of the functions of a binary.
//!
//! `#[nango_sync]`, `#[nango_action]`, `#[nango_on_event]` and `#[nango_webhook]` (nango-macros)
//! submit one registration per annotated function with its typed description from nango.yaml;
//! [`inventory`] collects them at link time. [`check_registry`] and [`check_on_events`] compare
//! what is linked with what nango.yaml declares.

use crate::{ActionDescriptor, ActionError, BoxFuture, OnEventDescriptor, Result, ScriptEnv, SyncDescriptor, SyncEnv};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A `#[nango_on_event]` function of this binary.
#[derive(Debug)]
pub struct OnEventRegistration {
    /// What nango.yaml says about the script.
    pub descriptor: OnEventDescriptor,
    /// The Rust function's name.
    pub function: &'static str,
    /// Where it is defined.
    pub file: &'static str,
    /// Line of the definition.
    pub line: u32,
    /// Runs it for a connection.
    pub run: fn(ScriptEnv) -> BoxFuture<Result<()>>,
}

/// A `#[nango_webhook]` function: handles webhook payloads for a sync with
/// `webhook-subscriptions`.
#[derive(Debug)]
pub struct WebhookRegistration {
    /// The sync whose webhooks it handles.
    pub descriptor: &'static SyncDescriptor,
    /// The Rust function's name.
    pub function: &'static str,
    /// Where it is defined.
    pub file: &'static str,
    /// Line of the definition.
    pub line: u32,
    /// Runs it on one payload.
    pub run: fn(SyncEnv, serde_json::Value) -> BoxFuture<Result<()>>,
}

/// A `#[nango_sync]` function of this binary.
#[derive(Debug)]
pub struct SyncRegistration {
    /// What nango.yaml says about the sync.
    pub descriptor: &'static SyncDescriptor,
    /// The Rust function's name.
    pub function: &'static str,
    /// Where it is defined.
    pub file: &'static str,
    /// Line of the definition.
    pub line: u32,
    /// Runs it.
    pub run: fn(SyncEnv) -> BoxFuture<Result<()>>,
    /// `(name, JSON Schema)` of its output models.
    pub schemas: fn() -> Vec<(&'static str, serde_json::Value)>,
}

/// A `#[nango_action]` function of this binary.
#[derive(Debug)]
pub struct ActionRegistration {
    /// What nango.yaml says about the action.
    pub descriptor: &'static ActionDescriptor,
    /// The Rust function's name.
    pub function: &'static str,
    /// Where it is defined.
    pub file: &'static str,
    /// Line of the definition.
    pub line: u32,
    /// Runs it on a JSON input (checked against the input model). [`ActionRegistration::call`]
    /// runs it and says how it failed.
    pub run: fn(ScriptEnv, serde_json::Value) -> BoxFuture<Result<serde_json::Value>>,
}

impl ActionRegistration {
    /// Runs the action on a JSON input: its output, or how it failed in the terms its caller is
    /// answered with: the [`ActionError`] the function returned (an input that does not decode is
    /// [`ActionError::InvalidInput`]), or [`ActionError::Internal`] for any other error and for a
    /// panic, which does not reach the caller's task.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// use nango_runtime::{ActionDescriptor, ActionError, ActionRegistration, ScriptEnv};
    /// static DESCRIPTOR: ActionDescriptor = ActionDescriptor {
    ///     integration: "github", name: "close-issue", description: "", input: None, outputs: &[],
    ///     endpoint: None, scopes: &[], version: "",
    /// };
    /// let action = ActionRegistration {
    ///     descriptor: &DESCRIPTOR, function: "close_issue", file: file!(), line: line!(),
    ///     run: |_env, input| Box::pin(async move {
    ///         match input["number"].as_u64() {
    ///             Some(0) => panic!("issue 0"),
    ///             Some(n) => Err(ActionError::new(serde_json::json!({"locked": n})).into()),
    ///             None => Err("no number".into()),
    ///         }
    ///     }),
    /// };
    /// let env = || ScriptEnv::detached("acme", serde_json::Value::Null);
    /// let reported = block_on(action.call(env(), serde_json::json!({"number": 7}))).unwrap_err();
    /// assert_eq!(reported.payload(), Some(&serde_json::json!({"locked": 7})));
    /// let other = block_on(action.call(env(), serde_json::json!({}))).unwrap_err();
    /// assert_eq!(other.code(), "action_script_failure");
    /// let panicked = block_on(action.call(env(), serde_json::json!({"number": 0}))).unwrap_err();
    /// assert_eq!(nango_types::text::error_chain(&panicked), "action `close-issue` failed: the function panicked: issue 0");
    /// ```
    pub async fn call(
        &self,
        env: ScriptEnv,
        input: serde_json::Value,
    ) -> std::result::Result<serde_json::Value, ActionError> {
        let action = self.descriptor.name;
        match CatchUnwind((self.run)(env, input)).await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(error)) => Err(ActionError::from_error(action, error)),
            Err(panic) => Err(ActionError::panicked(action, &*panic)),
        }
    }
}

/// A future that turns a panic while it is polled into an `Err` with the panic's payload.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        // Unwind safety: after a panic the future is never polled again (the caller gets Ready),
        // so no state it left half-updated is observed; it is only dropped.
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

inventory::collect!(SyncRegistration);
inventory::collect!(ActionRegistration);
inventory::collect!(OnEventRegistration);
inventory::collect!(WebhookRegistration);

/// Every `#[nango_on_event]` function linked into this binary.
pub fn registered_on_events() -> impl Iterator<Item = &'static OnEventRegistration> {
    inventory::iter::<OnEventRegistration>.into_iter()
}

/// Every `#[nango_webhook]` function linked into this binary.
pub fn registered_webhooks() -> impl Iterator<Item = &'static WebhookRegistration> {
    inventory::iter::<WebhookRegistration>.into_iter()
}

/// Every `#[nango_sync]` function linked into this binary.
pub fn registered_syncs() -> impl Iterator<Item = &'static SyncRegistration> {
    inventory::iter::<SyncRegistration>.into_iter()
}

/// Every `#[nango_action]` function linked into this binary.
pub fn registered_actions() -> impl Iterator<Item = &'static ActionRegistration> {
    inventory::iter::<ActionRegistration>.into_iter()
}

/// The integrations (provider config keys of nango.yaml) this binary has a sync, action,
/// on-event script or webhook handler for: the ones a connection can be made for.
pub fn registered_integrations() -> std::collections::BTreeSet<&'static str> {
    registered_syncs()
        .map(|s| s.descriptor.integration)
        .chain(registered_actions().map(|a| a.descriptor.integration))
        .chain(registered_on_events().map(|e| e.descriptor.integration))
        .chain(registered_webhooks().map(|w| w.descriptor.integration))
        .collect()
}

/// Adds a problem unless exactly one function (name, file, line) implements the script.
fn check_one(
    problems: &mut Vec<String>,
    kind: &str,
    name: &str,
    integration: &str,
    attribute: &str,
    found: impl Iterator<Item = (&'static str, &'static str, u32)>,
) {
    let found: Vec<String> = found.map(|(function, file, line)| format!("{function} ({file}:{line})")).collect();
    match found.len() {
        0 => problems.push(format!("{kind} `{name}` of `{integration}` has no {attribute} function")),
        1 => {}
        n => problems.push(format!("{kind} `{name}` of `{integration}` has {n} implementations: {}", found.join(", "))),
    }
}

/// Every declared on-event script has exactly one `#[nango_on_event]` function, and no sync has
/// two webhook handlers. One line per problem.
pub fn check_on_events(declared: &[OnEventDescriptor]) -> std::result::Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for script in declared {
        let found = registered_on_events()
            .filter(|r| {
                r.descriptor.integration == script.integration
                    && r.descriptor.name == script.name
                    && r.descriptor.event == script.event
            })
            .map(|r| (r.function, r.file, r.line));
        check_one(&mut problems, "on-event script", script.name, script.integration, "#[nango_on_event]", found);
    }
    let mut webhooks: Vec<&WebhookRegistration> = registered_webhooks().collect();
    webhooks.sort_by_key(|w| (w.descriptor.integration, w.descriptor.name));
    for pair in webhooks.windows(2) {
        if (pair[0].descriptor.integration, pair[0].descriptor.name)
            == (pair[1].descriptor.integration, pair[1].descriptor.name)
        {
            problems.push(format!(
                "sync `{}` has two webhook handlers: {} ({}:{}) and {} ({}:{})",
                pair[0].descriptor.name,
                pair[0].function,
                pair[0].file,
                pair[0].line,
                pair[1].function,
                pair[1].file,
                pair[1].line
            ));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// Compares the registered functions with what nango.yaml declares: every declared sync and
/// action has exactly one implementation. Returns one line per problem, naming each.
pub fn check_registry(syncs: &[SyncDescriptor], actions: &[ActionDescriptor]) -> std::result::Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for sync in syncs {
        let found = registered_syncs()
            .filter(|r| r.descriptor.integration == sync.integration && r.descriptor.name == sync.name)
            .map(|r| (r.function, r.file, r.line));
        check_one(&mut problems, "sync", sync.name, sync.integration, "#[nango_sync]", found);
    }
    for action in actions {
        let found = registered_actions()
            .filter(|r| r.descriptor.integration == action.integration && r.descriptor.name == action.name)
            .map(|r| (r.function, r.file, r.line));
        check_one(&mut problems, "action", action.name, action.integration, "#[nango_action]", found);
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}
