mod models {
    nango::nango_models!("no-such-folder/nango.yaml");
}

fn main() {}
