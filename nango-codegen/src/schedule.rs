//! The `runs:` grammar (spec §7.1): `every half hour`, `every 5 minutes`, `every 1.5h`, ...

use std::time::Duration;

/// Shortest interval Nango accepts.
pub const MIN_INTERVAL: Duration = Duration::from_secs(30);

/// Why a `runs:` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunsError {
    /// Not understood (`sync_interval_invalid`).
    Invalid,
    /// Understood, but shorter than 30 seconds (`sync_interval_too_short`).
    TooShort(Duration),
}

/// Parses a `runs:` value into an interval, exactly as Nango's `getInterval` does.
///
/// Exact phrases first (`every half day`, `every half hour`, `every quarter hour`, `every hour`,
/// `every day`, `every week`, `every month` = 30 days), otherwise the first `every ` is removed and
/// the rest read as `<number> <unit>` (a number without unit is milliseconds).
///
/// ```
/// use nango_codegen::schedule::{parse_runs, RunsError};
/// use std::time::Duration;
/// assert_eq!(parse_runs("every half hour"), Ok(Duration::from_secs(1800)));
/// assert_eq!(parse_runs("every 1.5 hours"), Ok(Duration::from_secs(5400)));
/// assert_eq!(parse_runs("every 60000"), Ok(Duration::from_secs(60)));
/// assert_eq!(parse_runs("every 20s"), Err(RunsError::TooShort(Duration::from_secs(20))));
/// assert_eq!(parse_runs("every 1h30m"), Err(RunsError::Invalid));
/// ```
pub fn parse_runs(runs: &str) -> Result<Duration, RunsError> {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    let phrase = match runs {
        "every half day" => Some(12 * HOUR),
        "every half hour" => Some(30 * MINUTE),
        "every quarter hour" => Some(15 * MINUTE),
        "every hour" => Some(HOUR),
        "every day" => Some(DAY),
        "every week" => Some(7 * DAY),
        "every month" => Some(30 * DAY),
        _ => None,
    };
    let millis = match phrase {
        Some(secs) => (secs * 1000) as f64,
        None => {
            let rest = runs.replacen("every ", "", 1);
            parse_ms(&rest).ok_or(RunsError::Invalid)?
        }
    };
    if !(millis.is_finite()) {
        return Err(RunsError::Invalid);
    }
    if millis < MIN_INTERVAL.as_millis() as f64 {
        let shown = Duration::from_millis(millis.max(0.0) as u64);
        return Err(RunsError::TooShort(shown));
    }
    Ok(Duration::from_millis(millis.round() as u64))
}

/// vercel `ms` v3: `^(-?(?:\d+)?\.?\d+) *(unit)?$`, case-insensitive, at most 100 characters.
fn parse_ms(text: &str) -> Option<f64> {
    if text.is_empty() || text.len() > 100 {
        return None;
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    if bytes.first() == Some(&b'-') {
        i += 1;
    }
    let num_start = i;
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        i += 1;
    }
    let number = &text[num_start..i];
    // (?:\d+)?\.?\d+ : digits, at most one dot, and at least one digit after it.
    let dots = number.matches('.').count();
    if number.is_empty() || dots > 1 || number.ends_with('.') {
        return None;
    }
    let value: f64 = text[..i].parse().ok()?;
    let rest = text[i..].trim_start_matches(' ');
    let unit = rest.to_ascii_lowercase();
    let factor: f64 = match unit.as_str() {
        "" | "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 1.0,
        "s" | "sec" | "secs" | "second" | "seconds" => 1000.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000.0,
        "d" | "day" | "days" => 86_400_000.0,
        "w" | "week" | "weeks" => 604_800_000.0,
        "y" | "yr" | "yrs" | "year" | "years" => 31_557_600_000.0,
        _ => return None,
    };
    Some(value * factor)
}

/// The stricter check Nango's server applies at deploy (spec §1.6): no fractions, no weeks
/// count, no years, no bare milliseconds.
///
/// ```
/// use nango_codegen::schedule::deployable_runs;
/// assert!(deployable_runs("every 5 minutes"));
/// assert!(deployable_runs("every hour"));
/// assert!(!deployable_runs("every 1.5 hours"));
/// assert!(!deployable_runs("every 2 weeks"));
/// ```
pub fn deployable_runs(runs: &str) -> bool {
    if runs.is_empty() {
        return true;
    }
    let rest = runs.strip_prefix("every ").unwrap_or(runs);
    if matches!(rest, "month" | "week" | "half day" | "half hour" | "quarter hour") {
        return true;
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let mut unit = &rest[digits..];
    if let Some(c) = unit.chars().next().filter(|c| c.is_whitespace()) {
        unit = &unit[c.len_utf8()..];
    }
    matches!(
        unit,
        "s" | "sec"
            | "secs"
            | "second"
            | "seconds"
            | "m"
            | "min"
            | "mins"
            | "minute"
            | "minutes"
            | "h"
            | "hr"
            | "hrs"
            | "hour"
            | "hours"
            | "d"
            | "day"
            | "days"
    )
}

/// Formats an interval for messages: `30s`, `5m`, `1h 30m`, `2d`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(nango_codegen::schedule::human(Duration::from_secs(5400)), "1h 30m");
/// ```
pub fn human(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            parts.push(format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_cases_from_the_spec() {
        for ok in [
            "every 5 minutes",
            "every 30min",
            "every 2 weeks",
            "every 1y",
            "every 60000",
            "every 30s",
            "every 5m",
            "every 10m",
            "every week",
            "every month",
            "every day",
            "every half day",
        ] {
            assert!(parse_runs(ok).is_ok(), "{ok}");
        }
        assert_eq!(parse_runs("every month"), Ok(Duration::from_secs(30 * 86_400)));
        assert!(matches!(parse_runs("every 20s"), Err(RunsError::TooShort(_))));
        for bad in ["every 1 month", "each hour", "hourly", "every 1h30m", "", "every", "every .", "every 5 parsecs"] {
            assert_eq!(parse_runs(bad), Err(RunsError::Invalid), "{bad}");
        }
        assert_eq!(parse_runs("every 2 HOURS"), Ok(Duration::from_secs(7200)));
        assert!(matches!(parse_runs("every -5 minutes"), Err(RunsError::TooShort(_))));
    }

    #[test]
    fn deploy_regex() {
        for ok in [
            "every 30 minutes",
            "every 1h",
            "every day",
            "every 2 days",
            "every half hour",
            "every quarter hour",
            "every month",
            "every week",
            "every hour",
        ] {
            assert!(deployable_runs(ok), "{ok}");
        }
        for bad in ["every 1.5 hours", "every 2 weeks", "every 1y", "every 60000", "every 5  minutes"] {
            assert!(!deployable_runs(bad), "{bad}");
        }
    }
}
