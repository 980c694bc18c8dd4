//! `helpers/`, as in the template.
pub mod get_subdomain;
