// A quarter of `nango generate`'s instructions on big files were glibc's malloc and free (many
// small strings and type trees, built and dropped per field); mimalloc does the same work in a
// fraction of that (see BENCHMARKS.md). Only this binary uses it: build scripts and the macros,
// which turn the `cli` feature off, keep the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(nango_codegen::cli::main());
}
