//! The `runs:` grammar (spec §7.1): the shared [`nango_types::frequency`], which the runtime
//! also uses for frequencies set through its API, so both give one verdict.
//!
//! ```
//! use nango_codegen::schedule::{parse_runs, RunsError};
//! use std::time::Duration;
//! assert_eq!(parse_runs("every half hour"), Ok(Duration::from_secs(1800)));
//! assert_eq!(parse_runs("every 20s"), Err(RunsError::TooShort(Duration::from_secs(20))));
//! ```

pub use nango_types::frequency::{
    FrequencyError as RunsError, MAX as MAX_INTERVAL, MIN as MIN_INTERVAL, deployable as deployable_runs, human,
    parse as parse_runs,
};
