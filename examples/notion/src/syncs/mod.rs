//! `syncs/`, as in the template.
pub mod users;
