//! Small pieces several pages show: times, durations, status badges, change counts, links, and
//! the webhook deliveries table.

use crate::store::{DeliveryRecord, ModelCounts};
use chrono::{DateTime, Utc};
use maud::{Markup, html};

/// Longest error text shown in a table cell (the run page shows it whole).
pub(super) const CELL_ERROR_CHARS: usize = 240;

/// Percent-encodes one URL path segment (sync names come from nango.yaml and could hold
/// anything a path cannot).
pub(super) fn path_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// At most `max` characters, with an ellipsis when cut.
pub(super) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// `12s`, `5m`, `3h 20m`, `2d 4h`: short enough for a table cell.
pub(super) fn span(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 if secs % 3600 >= 60 => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ if secs % 86_400 >= 3600 => format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// A time as "12s ago" / "in 5m", the exact UTC time in its tooltip.
pub(super) fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> Markup {
    let secs = (now - t).num_seconds();
    let relative = match secs {
        0 => "just now".to_owned(),
        s if s > 0 => format!("{} ago", span(s.unsigned_abs())),
        s => format!("in {}", span(s.unsigned_abs())),
    };
    html! {
        time datetime=(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            title=(t.format("%Y-%m-%d %H:%M:%S UTC")) { (relative) }
    }
}

/// How long a run took: milliseconds for quick runs, where seconds would all read "0s".
pub(super) fn took(started: DateTime<Utc>, ended: Option<DateTime<Utc>>) -> Markup {
    let Some(ended) = ended else { return html! { span.muted { "running" } } };
    let ms = (ended - started).num_milliseconds().max(0);
    let text = match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => span(ms.unsigned_abs() / 1000),
    };
    html! { (text) }
}

/// A status as a coloured pill (`SUCCESS`, `PAUSED`...).
pub(super) fn badge(status: &str) -> Markup {
    html! { span class={ "badge status status-" (status.to_ascii_lowercase()) } { (status) } }
}

/// Added / updated / deleted per model.
pub(super) fn counts(counts: &ModelCounts) -> Markup {
    if counts.values().all(|c| c.is_empty()) {
        return html! { span.counts.muted { "no changes" } };
    }
    html! {
        span.counts {
            @for (model, c) in counts.iter().filter(|(_, c)| !c.is_empty()) {
                span title="added / updated / deleted" {
                    (model) " "
                    b.added { "+" (c.added) } " "
                    b.updated { "~" (c.updated) } " "
                    b.deleted { "−" (c.deleted) }
                }
            }
        }
    }
}

/// `#12`, linking to the run's page.
pub(super) fn run_link(id: i64) -> Markup {
    html! { a href={ "/console/runs/" (id) } { "#" (id) } }
}

/// A connection id with its integration below it.
pub(super) fn connection_cell(connection_id: &str, provider_config_key: &str) -> Markup {
    html! {
        strong { (connection_id) }
        div.muted.small { (provider_config_key) }
    }
}

/// Webhook delivery attempts, newest first; `with_run` adds a column linking each to its run
/// (the dashboard; a run's page lists only its own).
pub(super) fn deliveries_table(deliveries: &[DeliveryRecord], now: DateTime<Utc>, with_run: bool) -> Markup {
    if deliveries.is_empty() {
        return html! {
            table #deliveries { tbody {} }
            p.empty { "No webhook deliveries." }
        };
    }
    html! {
        table #deliveries {
            thead {
                tr {
                    @if with_run { th { "Run" } }
                    th { "Model" } th { "URL" } th.num { "Attempt" } th { "Answer" } th.num { "Took" } th { "At" }
                    th { "Error" }
                }
            }
            tbody {
                @for record in deliveries { (delivery_row(record, now, with_run)) }
            }
        }
    }
}

fn delivery_row(record: &DeliveryRecord, now: DateTime<Utc>, with_run: bool) -> Markup {
    let d = &record.attempt;
    html! {
        tr.delivery data-run-id=(record.run) {
            @if with_run { td { (run_link(record.run)) } }
            td { (record.model) }
            td.mono.small { (d.url) }
            td.num { (d.attempt) }
            td {
                @match d.status {
                    Some(s) if (200..300).contains(&s) => span.badge.status-success { (s) },
                    Some(s) => span.badge.status-error { (s) },
                    None => span.badge.status-error { "no answer" },
                }
            }
            td.num { (d.duration_ms) " ms" }
            td { (when(d.at, now)) }
            td.error.small { @if let Some(e) = &d.error { (clip(e, CELL_ERROR_CHARS)) } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_clips_read_well() {
        assert_eq!(span(42), "42s");
        assert_eq!(span(3600), "1h");
        assert_eq!(span(3 * 3600 + 20 * 60), "3h 20m");
        assert_eq!(span(2 * 86_400 + 4 * 3600), "2d 4h");
        assert_eq!(clip("héllo wörld", 5), "héllo…");
        assert_eq!(clip("short", 10), "short");
        assert_eq!(path_segment("issues pages/é"), "issues%20pages%2F%C3%A9");
    }

    #[test]
    fn values_are_escaped_in_text_and_attributes() {
        let hostile = r#"<a href="x">'&'</a>"#;
        let cell = connection_cell(hostile, "p\"k").into_string();
        assert_eq!(
            cell,
            r#"<strong>&lt;a href=&quot;x&quot;&gt;'&amp;'&lt;/a&gt;</strong><div class="muted small">p&quot;k</div>"#
        );
        assert_eq!(badge("A\"b").into_string(), r#"<span class="badge status status-a&quot;b">A&quot;b</span>"#);
    }
}
