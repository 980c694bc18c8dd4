fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Writes $OUT_DIR/nango_models.rs (+ schema.json, nango.json) and reruns when nango.yaml changes.
    // An invalid nango.yaml fails the build with `nango.yaml:LINE:COL: message` lines.
    nango_codegen::compile("nango.yaml")?;
    Ok(())
}
