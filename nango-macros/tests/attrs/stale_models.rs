//! A checked-in models file whose nango.yaml changed after `nango generate` wrote it: the check
//! `nango generate` puts at the top of src/models.rs (this line, with the hash of the nango.yaml
//! it read) fails the build and says what to run.
const _: () = nango::__private::check_models_source(::std::include_bytes!("scripts.yaml"), 1u64);

fn main() {}
