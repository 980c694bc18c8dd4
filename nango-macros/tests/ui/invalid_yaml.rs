mod models {
    nango_macros::nango_models!("../../../../nango-macros/tests/ui/invalid.yaml");
}

fn main() {}
