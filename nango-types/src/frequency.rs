//! The `runs:` / frequency grammar (spec §7.1), with one verdict everywhere: `nango validate`
//! reads nango.yaml's `runs:` with [`parse`], and the runtime reads the frequency a caller sets
//! through `PUT /sync/update-connection-frequency` with the same function, so a text accepted
//! in one place is accepted in the other with the same interval.
//!
//! The grammar is Nango's `getInterval`: exact phrases first (`every half day`, `every half
//! hour`, `every quarter hour`, `every hour`, `every day`, `every week`, `every month` = 30
//! days), otherwise the first `every ` is removed and the rest read as `<number> <unit>` the way
//! vercel's `ms` does (case-insensitive units, no unit = milliseconds, no compounds). Nango
//! refuses intervals under 30 seconds; we also refuse intervals over [`MAX`] (a year and a
//! day), which Nango accepts up to overflow: `every 1000000000 weeks` is a typo, not a
//! schedule, and no run time computed from a valid frequency can overflow a date.
//!
//! ```
//! use nango_types::frequency::{self, FrequencyError};
//! use std::time::Duration;
//! assert_eq!(frequency::parse("every 1.5 hours"), Ok(Duration::from_secs(5400)));
//! assert_eq!(frequency::parse("every 60000"), Ok(Duration::from_secs(60)));
//! assert_eq!(frequency::parse("every 20s"), Err(FrequencyError::TooShort(Duration::from_secs(20))));
//! assert!(matches!(frequency::parse("every 1000000000 weeks"), Err(FrequencyError::TooLong(_))));
//! assert_eq!(frequency::parse("Every Hour"), Err(FrequencyError::Invalid));
//! ```

use std::fmt;
use std::time::Duration;

/// Shortest interval accepted (Nango's minimum).
pub const MIN: Duration = Duration::from_secs(30);

/// Longest interval accepted: 366 days (so `every 1y`, 365.25 days, passes).
pub const MAX: Duration = Duration::from_secs(366 * 86_400);

/// Why a frequency was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrequencyError {
    /// Not understood (Nango's `sync_interval_invalid`).
    Invalid,
    /// Understood, but shorter than [`MIN`] (Nango's `sync_interval_too_short`).
    TooShort(Duration),
    /// Understood, but longer than [`MAX`] (ours: `sync_interval_too_long`).
    TooLong(Duration),
}

impl FrequencyError {
    /// The error code: `sync_interval_invalid`, `sync_interval_too_short` or
    /// `sync_interval_too_long`.
    pub fn code(&self) -> &'static str {
        match self {
            FrequencyError::Invalid => "sync_interval_invalid",
            FrequencyError::TooShort(_) => "sync_interval_too_short",
            FrequencyError::TooLong(_) => "sync_interval_too_long",
        }
    }

    /// What the text was refused for, naming it: `"every 20s" is 20s, below the 30 second
    /// minimum`.
    pub fn describe(&self, text: &str) -> String {
        match self {
            FrequencyError::Invalid => format!("\"{text}\" is not a valid interval"),
            FrequencyError::TooShort(d) => format!("\"{text}\" is {}, below the 30 second minimum", human(*d)),
            FrequencyError::TooLong(d) => {
                format!("\"{text}\" is {}, above the maximum of {}", human(*d), human(MAX))
            }
        }
    }

    /// How to write an accepted one.
    pub fn help(&self) -> &'static str {
        match self {
            FrequencyError::Invalid => {
                "write `every <number> <unit>` with a unit of s, m, h, d, w or y (e.g. `every 30 minutes`), or `every half hour`, `every hour`, `every day`, `every week`, `every month`"
            }
            FrequencyError::TooShort(_) => "use an interval of at least 30 seconds, e.g. `every 30s` or `every minute`",
            FrequencyError::TooLong(_) => "use an interval of at most 366 days, e.g. `every 30 days` or `every week`",
        }
    }
}

impl fmt::Display for FrequencyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrequencyError::Invalid => f.write_str("not a valid interval"),
            FrequencyError::TooShort(d) => write!(f, "{} is below the 30 second minimum", human(*d)),
            FrequencyError::TooLong(d) => write!(f, "{} is above the maximum of {}", human(*d), human(MAX)),
        }
    }
}

impl std::error::Error for FrequencyError {}

/// Parses a `runs:` value or a frequency into an interval (see the module's documentation).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(nango_types::frequency::parse("every half hour"), Ok(Duration::from_secs(1800)));
/// assert!(nango_types::frequency::parse("every 1h30m").is_err());
/// ```
pub fn parse(text: &str) -> Result<Duration, FrequencyError> {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    let phrase = match text {
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
        None => parse_ms(&text.replacen("every ", "", 1)).ok_or(FrequencyError::Invalid)?,
    };
    if millis.is_nan() {
        return Err(FrequencyError::Invalid);
    }
    // Compared before rounding, as Nango does (29999.5 ms is too short).
    if millis < MIN.as_millis() as f64 {
        return Err(FrequencyError::TooShort(Duration::from_millis(millis.max(0.0) as u64)));
    }
    if millis > MAX.as_millis() as f64 {
        // `as u64` saturates, so an absurd value still reads as "too long", never as zero.
        return Err(FrequencyError::TooLong(Duration::from_millis(millis as u64)));
    }
    Ok(Duration::from_millis(millis.round() as u64))
}

/// The range check of [`parse`] on an interval: at least [`MIN`], at most [`MAX`]. For
/// intervals read back from storage, which an older program or a hand-made edit may have put
/// out of range: anything this returns can be added to any date of this millennium without
/// overflow.
///
/// ```
/// use nango_types::frequency::{check, FrequencyError};
/// use std::time::Duration;
/// assert_eq!(check(Duration::from_secs(60)), Ok(Duration::from_secs(60)));
/// assert!(matches!(check(Duration::from_secs(u64::MAX)), Err(FrequencyError::TooLong(_))));
/// ```
pub fn check(interval: Duration) -> Result<Duration, FrequencyError> {
    if interval < MIN {
        Err(FrequencyError::TooShort(interval))
    } else if interval > MAX {
        Err(FrequencyError::TooLong(interval))
    } else {
        Ok(interval)
    }
}

/// `count` texts near the grammar, valid and not, from a seed (the same seed gives the same
/// texts): for property tests of every place that reads frequencies, which must all give
/// [`parse`]'s verdict. They mix the exact phrases and near misses, `every` present, missing or
/// doubled, integers from 0 to 30 digits, decimals, signs, exponents and stray dots, every unit
/// spelling in any case, unknown units, and odd spacing.
///
/// ```
/// let texts = nango_types::frequency::samples(7, 100);
/// assert_eq!(texts.len(), 100);
/// assert_eq!(texts, nango_types::frequency::samples(7, 100));
/// ```
pub fn samples(seed: u64, count: usize) -> Vec<String> {
    const PHRASES: [&str; 9] = [
        "every half day",
        "every half hour",
        "every quarter hour",
        "every hour",
        "every day",
        "every week",
        "every month",
        "every minute",
        "every year",
    ];
    const UNITS: [&str; 33] = [
        "",
        "ms",
        "msec",
        "msecs",
        "millisecond",
        "milliseconds",
        "s",
        "sec",
        "secs",
        "second",
        "seconds",
        "m",
        "min",
        "mins",
        "minute",
        "minutes",
        "h",
        "hr",
        "hrs",
        "hour",
        "hours",
        "d",
        "day",
        "days",
        "w",
        "week",
        "weeks",
        "y",
        "yr",
        "yrs",
        "year",
        "years",
        "mo",
    ];
    // xorshift64*: enough to spread cases, and no dependency.
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move |n: u64| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    };
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let mut text = String::new();
        if next(10) == 0 {
            let phrase = PHRASES[next(PHRASES.len() as u64) as usize];
            text.push_str(&match next(4) {
                0 => phrase.to_uppercase(),
                1 => format!("{phrase} "),
                _ => phrase.to_owned(),
            });
            out.push(text);
            continue;
        }
        match next(10) {
            0 => {}
            1 => text.push_str("every every "),
            2 => text.push_str("Every "),
            _ => text.push_str("every "),
        }
        if next(8) == 0 {
            text.push('-');
        }
        let digits = match next(6) {
            0 => 1 + next(30),
            1 => 1 + next(3),
            _ => 1 + next(8),
        };
        for i in 0..digits {
            text.push(char::from(b'0' + next(10) as u8));
            if i == 0 && next(12) == 0 {
                text.push('.');
            }
        }
        match next(12) {
            0 => text.push_str(".5"),
            1 => text.push('.'),
            2 => text.push_str("e3"),
            _ => {}
        }
        text.push_str(&" ".repeat(next(3) as usize));
        let unit = UNITS[next(UNITS.len() as u64) as usize];
        text.push_str(&match next(6) {
            0 => unit.to_uppercase(),
            1 => format!("{unit}x"),
            _ => unit.to_owned(),
        });
        out.push(text);
    }
    out
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
    if number.is_empty() || number.matches('.').count() > 1 || number.ends_with('.') {
        return None;
    }
    let value: f64 = text[..i].parse().ok()?;
    let unit = text[i..].trim_start_matches(' ').to_ascii_lowercase();
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
/// count, no years, no bare milliseconds. nango-rs runs such schedules; `nango validate` warns
/// that Nango would not deploy them.
///
/// ```
/// use nango_types::frequency::deployable;
/// assert!(deployable("every 5 minutes"));
/// assert!(!deployable("every 1.5 hours"));
/// assert!(!deployable("every 2 weeks"));
/// ```
pub fn deployable(text: &str) -> bool {
    if text.is_empty() {
        return true;
    }
    let rest = text.strip_prefix("every ").unwrap_or(text);
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
/// assert_eq!(nango_types::frequency::human(Duration::from_secs(5400)), "1h 30m");
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

/// One row of the shared verdict table (`fixtures/frequencies.tsv` in the repository): what
/// [`parse`] answers for a text, as the tests of `nango validate` and of the API compare it.
///
/// ```
/// use nango_types::frequency::Verdict;
/// assert_eq!(Verdict::of("every 5m"), Verdict::Interval(300_000));
/// assert_eq!(Verdict::of("every 5m").to_string(), "300000");
/// assert_eq!("sync_interval_too_short".parse::<Verdict>(), Ok(Verdict::Refused("sync_interval_too_short")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted, with the interval in milliseconds.
    Interval(u64),
    /// Refused with this code.
    Refused(&'static str),
}

impl Verdict {
    /// [`parse`]'s verdict on a text.
    pub fn of(text: &str) -> Verdict {
        match parse(text) {
            Ok(d) => Verdict::Interval(d.as_millis() as u64),
            Err(e) => Verdict::Refused(e.code()),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Interval(ms) => write!(f, "{ms}"),
            Verdict::Refused(code) => f.write_str(code),
        }
    }
}

impl std::str::FromStr for Verdict {
    type Err = String;

    fn from_str(s: &str) -> Result<Verdict, String> {
        for e in [FrequencyError::Invalid, FrequencyError::TooShort(MIN), FrequencyError::TooLong(MAX)] {
            if s == e.code() {
                return Ok(Verdict::Refused(e.code()));
            }
        }
        s.parse().map(Verdict::Interval).map_err(|_| format!("`{s}` is neither a number of milliseconds nor a code"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table the codegen and runtime tests also read.
    #[test]
    fn shared_verdict_table() {
        let table = include_str!("../../fixtures/frequencies.tsv");
        let mut rows = 0;
        for line in table.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let (text, expected) = line.split_once('\t').expect("text<TAB>verdict");
            let expected: Verdict = expected.parse().unwrap();
            assert_eq!(Verdict::of(text), expected, "{text:?}");
            rows += 1;
        }
        assert!(rows > 30, "{rows} rows");
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
            assert!(deployable(ok), "{ok}");
        }
        for bad in ["every 1.5 hours", "every 2 weeks", "every 1y", "every 60000", "every 5  minutes"] {
            assert!(!deployable(bad), "{bad}");
        }
    }

    /// Property test over texts near the grammar ([`samples`]): parsing never panics, whatever
    /// it accepts is within [`MIN`]..=[`MAX`], and `every <integer> <unit>` gets the verdict exact
    /// integer arithmetic gives (no float rounding or overflow at the bounds).
    #[test]
    fn generated_texts_parse_within_range_and_agree_with_exact_arithmetic() {
        let texts = samples(0x5eed, 20_000);
        let mut accepted = 0;
        for text in &texts {
            let verdict = std::panic::catch_unwind(|| parse(text)).unwrap_or_else(|_| panic!("{text:?} panicked"));
            if let Ok(d) = verdict {
                assert!((MIN..=MAX).contains(&d), "{text:?} gave {d:?}");
                accepted += 1;
            }
            if let Some(expected) = exact(text) {
                assert_eq!(Verdict::of(text), expected, "{text:?}");
            }
        }
        // The generator reaches both sides of the grammar.
        assert!(accepted > 2_000 && accepted < 18_000, "{accepted} of {} accepted", texts.len());
    }

    /// The verdict on `every <digits> <unit>` by integer arithmetic, for the texts of that form.
    fn exact(text: &str) -> Option<Verdict> {
        let rest = text.strip_prefix("every ")?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 30 || rest[..digits].starts_with('0') {
            return None;
        }
        let n: u128 = rest[..digits].parse().ok()?;
        let unit = rest[digits..].trim_start_matches(' ').to_ascii_lowercase();
        let factor: u128 = match unit.as_str() {
            "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" | "" => 1,
            "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
            "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000,
            "d" | "day" | "days" => 86_400_000,
            "w" | "week" | "weeks" => 604_800_000,
            _ => return None,
        };
        let ms = n.checked_mul(factor)?;
        Some(if ms < MIN.as_millis() {
            Verdict::Refused("sync_interval_too_short")
        } else if ms > MAX.as_millis() {
            Verdict::Refused("sync_interval_too_long")
        } else {
            // Below 2^53 every product is exact in f64 too.
            Verdict::Interval(ms as u64)
        })
    }

    #[test]
    fn a_range_check_for_intervals_read_back_from_storage() {
        assert_eq!(check(Duration::from_secs(3600)), Ok(Duration::from_secs(3600)));
        assert_eq!(check(Duration::from_secs(1)), Err(FrequencyError::TooShort(Duration::from_secs(1))));
        assert!(matches!(check(Duration::from_secs(u64::MAX)), Err(FrequencyError::TooLong(_))));
    }

    #[test]
    fn messages_name_the_text() {
        let e = parse("every 20s").unwrap_err();
        assert_eq!(e.describe("every 20s"), "\"every 20s\" is 20s, below the 30 second minimum");
        let e = parse("every 18446744073709551616 seconds").unwrap_err();
        assert_eq!(e.code(), "sync_interval_too_long");
        assert!(e.describe("x").contains("above the maximum of 366d"));
    }
}
