//! Models generated at build time from `nango.yaml`.

mod models {
    nango::include_models!();
}

use nango::{Model, SyncDefinition};

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
    nango::serde_json::from_str(json).expect("a valid ticket")
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
        let json = nango::serde_json::json!("reopened");
        let state: models::TicketState = nango::serde_json::from_value(json).unwrap();
        assert_eq!(state, models::TicketState::Other("reopened".into()));
    }
}

/// The `github-tickets` sync of nango.yaml (checked at compile time by `#[nango_sync]`).
#[nango::nango_sync]
async fn github_tickets(nango: &mut nango::NangoSync<models::syncs::GithubTickets>) -> nango::Result<()> {
    nango.batch_save(vec![serde_json_ticket()]).await
}

/// The `create-ticket` action of nango.yaml.
#[nango::nango_action]
async fn create_ticket(
    _nango: &mut nango::NangoAction<models::actions::CreateTicket>,
    input: models::CreateTicket,
) -> nango::Result<models::Ticket> {
    let mut ticket = serde_json_ticket();
    ticket.title = input.title;
    Ok(ticket)
}

#[cfg(test)]
mod registry_tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn every_declared_script_is_registered_once() {
        nango::check_registry(models::SYNCS, models::ACTIONS).unwrap();
        let sync = nango::registered_syncs().next().unwrap();
        assert_eq!((sync.descriptor.name, sync.function), ("github-tickets", "github_tickets"));
        assert_eq!(sync.descriptor.interval.as_secs(), 3600);
        let batches = block_on(nango::run_in_memory(sync, nango::SyncInput::default())).unwrap();
        assert_eq!(batches[0].model, "Ticket");
        assert_eq!(batches[0].records[0]["title"], "Fix it");

        let action = nango::registered_actions().next().unwrap();
        let input = nango::serde_json::json!({"title": "New"});
        let output = block_on((action.run)(nango::ScriptEnv::detached("conn", Default::default()), input)).unwrap();
        assert_eq!(output["title"], "New");
        let bad =
            block_on((action.run)(nango::ScriptEnv::detached("conn", Default::default()), 42.into())).unwrap_err();
        assert!(bad.to_string().contains("invalid input for action `create-ticket`"), "{bad}");
    }
}
