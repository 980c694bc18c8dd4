//! `actions/`: one file per action, as in the template.
pub mod create_user;
pub mod delete_user;
