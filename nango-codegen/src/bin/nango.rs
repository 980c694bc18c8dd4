fn main() {
    std::process::exit(nango_codegen::cli::main());
}
