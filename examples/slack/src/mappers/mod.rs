//! `mappers/`, as in the template.
pub mod to_message;
