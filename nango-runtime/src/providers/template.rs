//! The `${...}` templates of providers.yaml: values of the connection (`${connectionConfig.x}`,
//! `${credentials.x}`, `${apiKey}`, `${accessToken}`, `${clientId}`, `${clientSecret}`), times
//! (`${now}`, `${now:YYYY-MM-DD}`, `${now+7:days:X}`), `${random}`, the functions `base64`,
//! `sha256Hex` and `sha256Base64`, and fallbacks (`A || B`: the first alternative whose values
//! are all there).
//!
//! Templates that sign each request (`awsSigV4`, `hmacSha1Hex`, `ed25519Sign`, and the request's
//! `${method}`, `${path}`, ... they read) are refused with an error that says so: nango-rs does
//! not sign requests.

use base64::Engine;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Values for `${...}` templates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateValues {
    /// `connectionConfig.*`
    pub connection_config: BTreeMap<String, String>,
    /// `credentials.*`
    pub credentials: BTreeMap<String, String>,
    /// `apiKey`
    pub api_key: Option<String>,
    /// `accessToken`
    pub access_token: Option<String>,
    /// `clientId` (the OAuth app's)
    pub client_id: Option<String>,
    /// `clientSecret` (the OAuth app's)
    pub client_secret: Option<String>,
}

/// Why a template did not fill.
#[derive(Debug, Clone, PartialEq)]
enum Failure {
    /// A value this connection lacks (another alternative may do without it).
    Missing(String),
    /// Anything else: the message.
    Invalid(String),
}

/// Request-signing names: Nango computes them per request; nango-rs does not sign requests.
const SIGNING: &[&str] = &[
    "awsSigV4",
    "hmacSha1Hex",
    "ed25519Sign",
    "fingerprint",
    "method",
    "host",
    "path",
    "params",
    "endpoint",
    "bodyCanonicalParams",
];

/// Fills a template. `A || B` takes the first alternative whose values are all there. A name
/// without a value is an error naming it; request-signing templates are refused as such.
///
/// ```
/// use nango_runtime::providers::{interpolate, TemplateValues};
/// let mut values = TemplateValues::default();
/// values.connection_config.insert("subdomain".into(), "acme".into());
/// assert_eq!(interpolate("https://${connectionConfig.subdomain}.zendesk.com", &values).unwrap(), "https://acme.zendesk.com");
/// assert!(interpolate("Bearer ${apiKey}", &values).unwrap_err().contains("apiKey"));
///
/// // Fallbacks, as Nango writes them.
/// let url = "https://api.${connectionConfig.region}.intercom.io || https://api.intercom.io";
/// assert_eq!(interpolate(url, &values).unwrap(), "https://api.intercom.io");
///
/// // Functions and times.
/// values.credentials.insert("username".into(), "me".into());
/// values.credentials.insert("password".into(), "pw".into());
/// assert_eq!(interpolate("Basic ${base64(${credentials.username}:${credentials.password})}", &values).unwrap(), "Basic bWU6cHc=");
/// assert_eq!(interpolate("${now:YYYY}", &values).unwrap().len(), 4);
/// ```
pub fn interpolate(template: &str, values: &TemplateValues) -> Result<String, String> {
    let alternatives = split_alternatives(template);
    let mut first_failure = None;
    for alternative in &alternatives {
        match fill(alternative.trim(), values, Utc::now()) {
            Ok(text) => return Ok(text),
            Err(Failure::Invalid(message)) => return Err(message),
            Err(Failure::Missing(name)) => {
                first_failure.get_or_insert(name);
            }
        }
    }
    let name = first_failure.unwrap_or_default();
    Err(format!("`${{{name}}}` in `{template}` has no value for this connection"))
}

/// The top-level ` || ` alternatives (not those inside `${...}`); one when there are none.
fn split_alternatives(template: &str) -> Vec<&str> {
    let bytes = template.as_bytes();
    let (mut depth, mut start, mut parts, mut i) = (0usize, 0usize, Vec::new(), 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth > 0 => depth -= 1,
            b'|' if depth == 0 && bytes.get(i + 1) == Some(&b'|') => {
                parts.push(&template[start..i]);
                start = i + 2;
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&template[start..]);
    parts
}

/// Fills one alternative.
fn fill(text: &str, values: &TemplateValues, now: DateTime<Utc>) -> Result<String, Failure> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = closing_brace(after).ok_or_else(|| Failure::Invalid(format!("unclosed `${{` in `{text}`")))?;
        out.push_str(&expression(&after[..end], values, now)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The position of the `}` closing a `${` whose content starts `text`, nested ones skipped.
fn closing_brace(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' if i > 0 && bytes[i - 1] == b'$' => depth += 1,
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The value of what is between `${` and `}`.
fn expression(expr: &str, values: &TemplateValues, now: DateTime<Utc>) -> Result<String, Failure> {
    let missing = |name: &str| Failure::Missing(name.to_owned());
    if let Some(open) = expr.find('(')
        && expr.ends_with(')')
        && expr[..open].chars().all(|c| c.is_ascii_alphanumeric())
    {
        let (function, argument) = (&expr[..open], &expr[open + 1..expr.len() - 1]);
        return match function {
            "base64" => Ok(base64::engine::general_purpose::STANDARD.encode(fill(argument, values, now)?)),
            "sha256Hex" | "sha256Base64" => sha256(function, &fill(argument, values, now)?),
            _ if SIGNING.contains(&function) => Err(signing(function)),
            _ => Err(Failure::Invalid(format!("unknown template function `{function}` in `${{{expr}}}`"))),
        };
    }
    if let Some(time) = expr.strip_prefix("now") {
        return time_value(time, now).ok_or_else(|| Failure::Invalid(format!("invalid time template `${{{expr}}}`")));
    }
    match expr.split_once('.') {
        Some(("connectionConfig", key)) => values.connection_config.get(key).cloned().ok_or_else(|| missing(expr)),
        Some(("credentials", key)) => values.credentials.get(key).cloned().ok_or_else(|| missing(expr)),
        _ => match expr {
            "apiKey" => values.api_key.clone().ok_or_else(|| missing(expr)),
            "accessToken" => values.access_token.clone().ok_or_else(|| missing(expr)),
            "clientId" => values.client_id.clone().ok_or_else(|| missing(expr)),
            "clientSecret" => values.client_secret.clone().ok_or_else(|| missing(expr)),
            "random" => Ok(random_hex()),
            _ if SIGNING.contains(&expr) => Err(signing(expr)),
            // A bare name of the connection's config (Nango's `aws` entry writes `${apiSubdomain}`).
            _ => values.connection_config.get(expr).cloned().ok_or_else(|| {
                Failure::Invalid(format!(
                    "unknown template variable `${{{expr}}}` (nor a key of the connection's config)"
                ))
            }),
        },
    }
}

fn signing(name: &str) -> Failure {
    Failure::Invalid(format!(
        "`{name}` belongs to a request signature, and nango-rs does not sign requests (providers that need \
         AWS SigV4, HMAC or Ed25519 signatures are not supported)"
    ))
}

#[cfg(feature = "runtime")]
fn sha256(function: &str, text: &str) -> Result<String, Failure> {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    Ok(match function {
        "sha256Hex" => digest.iter().map(|b| format!("{b:02x}")).collect(),
        _ => base64::engine::general_purpose::STANDARD.encode(digest),
    })
}

#[cfg(not(feature = "runtime"))]
fn sha256(function: &str, _text: &str) -> Result<String, Failure> {
    Err(Failure::Invalid(format!("`{function}` needs nango-runtime's `runtime` feature")))
}

/// A random 128-bit value in hex, for the request ids some providers want (not a secret).
fn random_hex() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hex = String::with_capacity(32);
    for _ in 0..2 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(Utc::now().timestamp_nanos_opt().unwrap_or_default() as u128);
        hex.push_str(&format!("{:016x}", hasher.finish()));
    }
    hex
}

/// `""` (RFC 3339), `:FORMAT` or `+N:unit:FORMAT` after `now`.
fn time_value(spec: &str, now: DateTime<Utc>) -> Option<String> {
    if spec.is_empty() {
        return Some(now.to_rfc3339());
    }
    if let Some(format) = spec.strip_prefix(':') {
        return Some(moment_format(now, format));
    }
    let shifted = spec.strip_prefix('+')?;
    let (amount, rest) = shifted.split_once(':')?;
    let (unit, format) = rest.split_once(':').unwrap_or((rest, ""));
    let amount: i64 = amount.parse().ok()?;
    let delta = match unit.trim_end_matches('s') {
        "second" => chrono::Duration::seconds(amount),
        "minute" => chrono::Duration::minutes(amount),
        "hour" => chrono::Duration::hours(amount),
        "day" => chrono::Duration::days(amount),
        _ => return None,
    };
    let at = now.checked_add_signed(delta)?;
    Some(if format.is_empty() { at.to_rfc3339() } else { moment_format(at, format) })
}

/// A time in a moment.js format, as Nango's templates write them (`YYYY-MM-DDTHH:mm:ss`, `X`,
/// `ddd, DD MMM YYYY HH:mm:ss ZZ`, `[literal]`).
fn moment_format(at: DateTime<Utc>, format: &str) -> String {
    const TOKENS: &[(&str, &str)] = &[
        ("YYYY", "%Y"),
        ("MMM", "%b"),
        ("MM", "%m"),
        ("DD", "%d"),
        ("ddd", "%a"),
        ("HH", "%H"),
        ("mm", "%M"),
        ("ss", "%S"),
        ("ZZ", "%z"),
        ("Z", "%:z"),
        ("X", "%s"),
    ];
    let mut out = String::new();
    let mut rest = format;
    'outer: while let Some(c) = rest.chars().next() {
        if c == '['
            && let Some(end) = rest.find(']')
        {
            out.push_str(&rest[1..end]);
            rest = &rest[end + 1..];
            continue;
        }
        for (token, chrono_format) in TOKENS {
            if let Some(after) = rest.strip_prefix(token) {
                out.push_str(&at.format(chrono_format).to_string());
                rest = after;
                continue 'outer;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_functions_and_errors() {
        let mut values = TemplateValues { api_key: Some("k".into()), ..TemplateValues::default() };
        values.credentials.insert("token".into(), "t".into());
        assert_eq!(interpolate("${apiKey}:${credentials.token}", &values).unwrap(), "k:t");
        assert!(interpolate("${bogus}", &values).unwrap_err().contains("unknown template variable"));
        assert!(interpolate("${apiKey", &values).unwrap_err().contains("unclosed"));
        assert_eq!(interpolate("no templates", &values).unwrap(), "no templates");
        assert_eq!(interpolate("${connectionConfig.version} || 2022-11-28", &values).unwrap(), "2022-11-28");
        let err = interpolate("${awsSigV4(${credentials.token}, us-east-1, iam)}", &values).unwrap_err();
        assert!(err.contains("does not sign requests"), "{err}");
        assert_eq!(interpolate("${random}", &values).unwrap().len(), 32);
    }

    #[test]
    fn times_in_moment_formats() {
        let at = DateTime::parse_from_rfc3339("2026-03-04T05:06:07Z").unwrap().with_timezone(&Utc);
        assert_eq!(moment_format(at, "YYYY-MM-DDTHH:mm:ss"), "2026-03-04T05:06:07");
        assert_eq!(moment_format(at, "YYYYMMDDTHHmmss[Z]"), "20260304T050607Z");
        assert_eq!(moment_format(at, "ddd, DD MMM YYYY HH:mm:ss ZZ"), "Wed, 04 Mar 2026 05:06:07 +0000");
        assert_eq!(time_value("+7:days:YYYY-MM-DD", at).unwrap(), "2026-03-11");
        assert_eq!(time_value("+1:minutes:X", at).unwrap(), (at.timestamp() + 60).to_string());
        assert_eq!(time_value(":X", at).unwrap(), at.timestamp().to_string());
    }
}
