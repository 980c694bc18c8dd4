//! A nango-rs project: syncs and actions declared in nango.yaml, written in Rust.

mod actions;
mod models;
mod on_events;
mod syncs;

fn main() {
    // Every sync and action of nango.yaml needs exactly one #[nango_sync] / #[nango_action].
    let checks = [
        nango_runtime::check_registry(models::SYNCS, models::ACTIONS),
        nango_runtime::check_on_events(models::ON_EVENTS),
    ];
    for problems in checks.into_iter().filter_map(Result::err) {
        for problem in problems {
            eprintln!("error: {problem}");
        }
        std::process::exit(1);
    }
    println!("{} sync(s), {} action(s):", models::SYNCS.len(), models::ACTIONS.len());
    for sync in models::SYNCS {
        println!("  sync   {}/{}: {} -> {:?}", sync.integration, sync.name, sync.runs, sync.outputs);
    }
    for action in models::ACTIONS {
        println!("  action {}/{}: {:?} -> {:?}", action.integration, action.name, action.input, action.outputs);
    }
}
