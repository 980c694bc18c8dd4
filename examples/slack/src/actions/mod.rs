//! `actions/`: one file per action, as in the template.
pub mod send_message;
