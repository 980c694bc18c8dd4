//! The project a models file describes: `models::PROJECT`, generated from nango.yaml beside the
//! models, holds every script nango.yaml declares and reaches the function of each, so that
//! `fn main() -> ExitCode { models::PROJECT.main() }` runs the start-up checks and the CLI.
//!
//! How a function is reached: its attribute (`#[nango_sync]`, ...) implements
//! [`ScriptFunction`] for the script's marker type (`models::syncs::GithubTickets`), and the
//! generated [`Project::link`] names each marker's implementation. Naming it is what keeps the
//! function (and its registration) in the binary when it lives in a library crate, whose unused
//! object files the linker would otherwise drop: no `let _ = sync::my_sync;` in user code. A
//! script without a function is not a compile error there (the models may be used on their own,
//! by consumers or before the functions are written); [`Project::check`] reports it at start-up.

use crate::{ActionDescriptor, OnEventDescriptor, SyncDescriptor};

/// What a models file generated from nango.yaml declares, and the link to its functions.
///
/// Generated as `models::PROJECT`; `main` is one call:
///
/// ```no_run,standalone_crate
/// # extern crate nango_runtime as nango; // what a crate naming the `nango` facade has not to write
/// mod models {
///     // Usually `nango::include_models!()` or src/models.rs; this reads a fixture of nango-rs.
///     nango_macros::nango_models!("../fixtures/valid/github/nango.yaml");
/// }
/// fn main() -> std::process::ExitCode {
///     models::PROJECT.main()
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Project {
    /// Every sync of nango.yaml.
    pub syncs: &'static [SyncDescriptor],
    /// Every action of nango.yaml.
    pub actions: &'static [ActionDescriptor],
    /// Every on-event script of nango.yaml.
    pub on_events: &'static [OnEventDescriptor],
    /// The addresses of the scripts' functions (those that have one): naming them keeps the
    /// functions linked. Generated; see the module documentation.
    pub link: fn() -> Vec<usize>,
}

impl Project {
    /// Every start-up check, one line per problem: each sync, action and on-event script of
    /// nango.yaml has exactly one function, and no sync has two webhook handlers.
    ///
    /// ```standalone_crate
    /// # extern crate nango_runtime as nango;
    /// mod models {
    ///     nango_macros::nango_models!("../fixtures/valid/github/nango.yaml");
    /// }
    /// fn main() {
    ///     // This program has no #[nango_sync] or #[nango_action] function.
    ///     let problems = models::PROJECT.check().unwrap_err();
    ///     assert_eq!(problems[0], "sync `github-tickets` of `github` has no #[nango_sync] function");
    /// }
    /// ```
    pub fn check(&self) -> Result<(), Vec<String>> {
        // Kept opaque to the optimizer: the addresses must stay referenced for the linker.
        std::hint::black_box((self.link)());
        let mut problems = Vec::new();
        for result in [crate::check_registry(self.syncs, self.actions), crate::check_on_events(self.on_events)] {
            problems.extend(result.err().unwrap_or_default());
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    /// The program's `main`: runs [`Project::check`] (printing each problem and failing when
    /// there is one), then the runtime's command line ([`crate::cli::main`]).
    #[cfg(feature = "runtime")]
    pub fn main(&self) -> std::process::ExitCode {
        self.main_from(std::env::args_os())
    }

    /// [`Project::main`] with given arguments (the program's name first).
    #[cfg(feature = "runtime")]
    pub fn main_from(
        &self,
        args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
    ) -> std::process::ExitCode {
        if let Err(code) = self.start() {
            return code;
        }
        crate::cli::main_from(args)
    }

    /// [`Project::check`] for a `main` of its own: prints each problem to stderr and gives the
    /// exit code to return when there is one.
    ///
    /// ```no_run,standalone_crate
    /// # extern crate nango_runtime as nango;
    /// # mod models { nango_macros::nango_models!("../fixtures/valid/github/nango.yaml"); }
    /// fn main() -> std::process::ExitCode {
    ///     if let Err(code) = models::PROJECT.start() {
    ///         return code;
    ///     }
    ///     // ... the program's own start-up, then:
    ///     nango::cli::main()
    /// }
    /// ```
    pub fn start(&self) -> Result<(), std::process::ExitCode> {
        self.check().map_err(|problems| {
            for problem in problems {
                eprintln!("error: {problem}");
            }
            std::process::ExitCode::FAILURE
        })
    }
}

/// Implemented for a script's marker type by the script's attribute; `K` says which function
/// (the sync's own, or its webhook handler). Not written by hand.
pub trait ScriptFunction<K> {
    /// The address of the function's runner.
    fn address() -> usize;
}

/// The kinds of [`ScriptFunction`].
pub mod kind {
    /// `#[nango_sync]`
    #[derive(Debug)]
    pub struct Sync;
    /// `#[nango_action]`
    #[derive(Debug)]
    pub struct Action;
    /// `#[nango_webhook]`
    #[derive(Debug)]
    pub struct Webhook;
    /// `#[nango_on_event]`
    #[derive(Debug)]
    pub struct OnEvent;
}

/// Asks whether marker `T` has a function of kind `K`, without failing to compile when it has
/// none: `(&Probe::<T, K>::NEW).address()` resolves to [`Found`] when `T: ScriptFunction<K>`,
/// else to [`Missing`] (method resolution tries the receiver as written before auto-referencing
/// it; the generated code imports both traits).
#[derive(Debug)]
pub struct Probe<T, K>(std::marker::PhantomData<fn() -> (T, K)>);

impl<T, K> Probe<T, K> {
    /// The probe.
    pub const NEW: Self = Probe(std::marker::PhantomData);
}

/// The probe of a marker that has its function.
pub trait Found {
    /// The function's address.
    fn address(&self) -> Option<usize>;
}

impl<T: ScriptFunction<K>, K> Found for Probe<T, K> {
    fn address(&self) -> Option<usize> {
        Some(T::address())
    }
}

/// The probe of a marker without a function.
pub trait Missing {
    /// None.
    fn address(&self) -> Option<usize>;
}

impl<T, K> Missing for &Probe<T, K> {
    fn address(&self) -> Option<usize> {
        None
    }
}
