#![no_main]
//! Any bytes must give diagnostics (or valid output), never a panic or a hang.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let out = nango_codegen::parse(text, "fuzz.yaml");
        for d in &out.diagnostics {
            // Rendering must not panic either, whatever the spans.
            let _ = d.render("fuzz.yaml", text);
        }
        let _ = out.nango_json();
    }
});
