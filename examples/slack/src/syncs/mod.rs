//! `syncs/`: one file per sync, as in the template.
pub mod channels;
