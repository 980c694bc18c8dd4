//! Models generated at build time from `nango.yaml`.

mod models {
    nango_runtime::include_models!();
}

use nango_runtime::{Model, SyncDefinition};

fn main() {
    for sync in models::SYNCS {
        println!("{} / {}: {} ({:?})", sync.integration, sync.name, sync.runs, sync.interval);
    }
    let ticket: models::Ticket = serde_json_ticket();
    println!("{} #{}: {}", models::Ticket::NAME, ticket.id(), ticket.title);
    assert_eq!(<models::syncs::GithubTickets as SyncDefinition>::DESCRIPTOR.outputs, ["Ticket"]);
}

fn serde_json_ticket() -> models::Ticket {
    let json = r#"{"id": "1", "author": "octocat", "author_id": "583231", "title": "Fix it", "state": "open",
                   "labels": ["bug"], "created_at": "2024-01-02T03:04:05Z"}"#;
    nango_runtime::__private::serde_json::from_str(json).expect("a valid ticket")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_models_work() {
        let ticket = serde_json_ticket();
        assert_eq!(ticket.state, models::TicketState::Open);
        assert_eq!(ticket.closed_at, None);
        assert_eq!(models::SYNCS[0].interval.as_secs(), 3600);
        assert_eq!(models::ACTIONS[0].name, "create-ticket");
        // A value nango.yaml does not list still reads, through the catch-all variant.
        let json = nango_runtime::__private::serde_json::json!("reopened");
        let state: models::TicketState = nango_runtime::__private::serde_json::from_value(json).unwrap();
        assert_eq!(state, models::TicketState::Other("reopened".into()));
    }
}
