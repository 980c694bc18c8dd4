mod models {
    nango::nango_models!(nango_yaml);
}

fn main() {}
