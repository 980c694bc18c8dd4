//! Typed models and sync descriptors from nango.yaml, into $OUT_DIR; and those of the example's
//! next version (next/nango.yaml: one more sync) into $OUT_DIR/next, for the
//! `github-tickets-next` binary that the rolling-deploy test runs beside this one.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    nango_codegen::compile("nango.yaml")?;
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    nango_codegen::Config::new().out_dir(out.join("next")).compile("next/nango.yaml")?;
    Ok(())
}
