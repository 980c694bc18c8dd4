fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Typed models and sync descriptors from nango.yaml, into $OUT_DIR.
    nango_codegen::compile("nango.yaml")?;
    Ok(())
}
