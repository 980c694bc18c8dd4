mod models {
    nango_macros::nango_models!("no-such-folder/nango.yaml");
}

fn main() {}
