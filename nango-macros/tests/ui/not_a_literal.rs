mod models {
    nango_macros::nango_models!(nango_yaml);
}

fn main() {}
