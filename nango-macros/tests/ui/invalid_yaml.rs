mod models {
    nango::nango_models!("../../../../nango-macros/tests/ui/invalid.yaml");
}

fn main() {}
