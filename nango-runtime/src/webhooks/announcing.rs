//! What a run's sync webhooks announce: every change since the previous webhook of the same
//! sync and model, not only the run's own.
//!
//! A run that fails or is killed half-way keeps the records it wrote, and a consumer that follows
//! webhooks must hear of them. The store counts each write's changes per (run, model) in the
//! write's own transaction, so it knows what a killed run changed; after a successful run the
//! service asks it for what is still unannounced ([`Store::announce`](crate::store::Store::announce))
//! and [`webhooks_for`] turns that into the payloads: the counts are summed over those runs and
//! `modifiedAfter` is the start of the earliest of them, so reading
//! `/records?modified_after=<modifiedAfter>` returns every record they changed.
//!
//! The payloads are queued in the store in the same transaction that marks the runs announced,
//! then delivered and taken off the queue; a service killed in between sends them when it starts
//! again, with the same [`WEBHOOK_ID_HEADER`](super::WEBHOOK_ID_HEADER) (delivery is at least
//! once). The counts therefore add up: summed over the webhooks a receiver got (each id once),
//! `added - deleted` is what the store holds.

use super::{SyncErrorInfo, SyncIdentity, SyncWebhook, WebhookSyncType};
use crate::engine::RunReport;
use crate::store::{RunStatus, Unannounced};
use crate::{Connection, SyncRegistration};

/// The sync webhooks of a run, one per model (spec §6.2).
///
/// After a success: one per model whose `unannounced` changes are not empty (every model with
/// `always`), with those counts and, as `modifiedAfter`, the start of the earliest run that made
/// them (the run's own start when none did). After a failure: one error webhook per model, which
/// announces nothing; the run's changes come with the next success's webhooks.
///
/// ```
/// use nango_runtime::store::{ChangeCounts, Unannounced};
/// # fn demo(connection: &nango_runtime::Connection, sync: &'static nango_runtime::SyncRegistration,
/// #         report: &nango_runtime::engine::RunReport, killed_run_start: chrono::DateTime<chrono::Utc>) {
/// // The run wrote 5 records; a run killed before it had written 40 that nobody announced.
/// let unannounced = [Unannounced {
///     model: "Ticket".into(),
///     counts: ChangeCounts { added: 45, ..Default::default() },
///     since: Some(killed_run_start),
/// }];
/// let hooks = nango_runtime::webhooks::webhooks_for(connection, sync, report, false, &unannounced);
/// assert_eq!(hooks[0].modified_after, Some(killed_run_start));
/// # }
/// ```
pub fn webhooks_for(
    connection: &Connection,
    sync: &'static SyncRegistration,
    report: &RunReport,
    always: bool,
    unannounced: &[Unannounced],
) -> Vec<SyncWebhook> {
    let sync_type =
        if report.last_sync_date.is_none() { WebhookSyncType::Initial } else { WebhookSyncType::Incremental };
    let uses_checkpoints = report.checkpoint_from.is_some() || report.checkpoint_to.is_some();
    sync.descriptor
        .outputs
        .iter()
        .filter_map(|model| {
            let identity = SyncIdentity::new(
                connection.connection_id.clone(),
                connection.provider_config_key.clone(),
                sync.descriptor.name,
                *model,
            );
            let hook = if report.status == RunStatus::Success {
                let pending = unannounced.iter().find(|u| u.model == *model);
                let counts = pending.map(|u| u.counts).unwrap_or_default();
                if counts.is_empty() && !always {
                    return None;
                }
                let since = pending.and_then(|u| u.since).map_or(report.started_at, |t| t.min(report.started_at));
                SyncWebhook::success(identity, sync_type, since, counts)
            } else {
                let error = SyncErrorInfo::new("script_error", report.error.clone().unwrap_or_default());
                let failed_at = chrono::Duration::from_std(report.duration)
                    .ok()
                    .and_then(|d| report.started_at.checked_add_signed(d))
                    .unwrap_or(report.started_at);
                SyncWebhook::error(identity, sync_type, error, report.started_at, failed_at)
            };
            Some(if uses_checkpoints {
                hook.with_checkpoints(report.checkpoint_from.clone(), report.checkpoint_to.clone())
            } else {
                hook
            })
        })
        .collect()
}
