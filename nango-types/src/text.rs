//! Text for messages: excerpts of bodies and chains of errors, with secrets always taken out.
//!
//! Every message nango-rs builds from something it did not write (a provider's response body,
//! an HTTP library's error, which often repeats the URL with its query string) goes through
//! [`scrub`] first, so a token that travelled in a URL, a JSON body or a header value never
//! reaches a log line, a run's error, a webhook or an API response.
//!
//! ```
//! use nango_types::text;
//! let body = br#"{"error":"bad_verification_code","access_token":"gho_123"}"#;
//! assert_eq!(text::excerpt(body, 200), r#"{"error":"bad_verification_code","access_token":"***"}"#);
//! let html = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>...</body></html>";
//! assert_eq!(text::excerpt(html, 200), "an HTML page titled \"502 Bad Gateway\" (87 bytes)");
//! ```

use std::error::Error;

/// Shown in place of a secret.
pub const REDACTED: &str = "***";

/// Words that mark a JSON key, header or query parameter as holding a secret.
const SECRET_WORDS: [&str; 9] =
    ["token", "secret", "password", "passwd", "api_key", "apikey", "api-key", "authorization", "signature"];

/// Whether a key (JSON field, query parameter, header) names a secret: `access_token`,
/// `client_secret`, `X-Api-Key`, `password`...
///
/// ```
/// assert!(nango_types::text::is_secret_key("Refresh_Token"));
/// assert!(!nango_types::text::is_secret_key("per_page"));
/// ```
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| key.contains(w))
}

/// Query parameters that carry secrets besides [`is_secret_key`]'s: OAuth codes, bare `key`s and
/// signatures.
fn is_secret_param(name: &str) -> bool {
    is_secret_key(name) || matches!(name.to_ascii_lowercase().as_str(), "key" | "code" | "sig")
}

/// Takes secrets out of a text: the values of `known` secrets, the user-info and query values of
/// every `http(s)://` URL, the values of JSON string fields and `key=value` pairs whose key
/// names a secret ([`is_secret_key`]), and the credentials after `Bearer ` / `Basic `.
///
/// ```
/// use nango_types::text::scrub;
/// assert_eq!(
///     scrub("GET https://u:p@api.x.io/a?per_page=5&api_key=k1 failed", &[]),
///     "GET https://***@api.x.io/a?per_page=5&api_key=*** failed"
/// );
/// assert_eq!(scrub("token s3cr3t was refused", &["s3cr3t"]), "token *** was refused");
/// assert_eq!(scrub("Authorization: Bearer abc.def", &[]), "Authorization: Bearer ***");
/// ```
pub fn scrub(text: &str, known: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in known.iter().filter(|s| s.len() >= 3) {
        if out.contains(secret) {
            out = out.replace(secret, REDACTED);
        }
    }
    let out = scrub_urls(&out);
    let out = scrub_json_fields(&out);
    let out = scrub_pairs(&out);
    scrub_schemes(&out)
}

/// Where a URL ends in running text.
fn url_end(text: &str, start: usize) -> usize {
    text[start..]
        .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '<' | '>' | '`' | ',' | ']'))
        .map_or(text.len(), |i| start + i)
}

fn scrub_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("http://").into_iter().chain(rest.find("https://")).min() {
        let end = url_end(rest, i);
        out.push_str(&rest[..i]);
        out.push_str(&scrub_url(&rest[i..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// One URL: user-info replaced, secret query values replaced.
fn scrub_url(url: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let (head, tail) = url.split_at(scheme_end);
    let authority_end = tail.find(['/', '?', '#']).unwrap_or(tail.len());
    let (authority, path) = tail.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => format!("{REDACTED}{}", &authority[at..]),
        None => authority.to_owned(),
    };
    let path = match path.split_once('?') {
        Some((before, query)) => {
            let (query, fragment) = query.split_once('#').map_or((query, None), |(q, f)| (q, Some(f)));
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if is_secret_param(name) => format!("{name}={REDACTED}"),
                    _ => pair.to_owned(),
                })
                .collect();
            let mut p = format!("{before}?{}", query.join("&"));
            if let Some(f) = fragment {
                p.push('#');
                p.push_str(f);
            }
            p
        }
        None => path.to_owned(),
    };
    format!("{head}{authority}{path}")
}

/// `"access_token": "value"` → `"access_token": "***"` (JSON string values of secret keys).
fn scrub_json_fields(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        // A quoted key...
        let Some(key_len) = text[i + 1..].find('"') else { break };
        let key = &text[i + 1..i + 1 + key_len];
        let mut j = i + 1 + key_len + 1;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        // ... followed by a colon and a string value.
        if j < bytes.len() && bytes[j] == b':' && is_secret_key(key) {
            let mut k = j + 1;
            while k < bytes.len() && bytes[k].is_ascii_whitespace() {
                k += 1;
            }
            if k < bytes.len() && bytes[k] == b'"' {
                let mut end = k + 1;
                while end < bytes.len() && bytes[end] != b'"' {
                    end += if bytes[end] == b'\\' { 2 } else { 1 };
                }
                out.push_str(&text[copied..=k]);
                out.push_str(REDACTED);
                copied = end.min(bytes.len());
                i = copied + 1;
                continue;
            }
        }
        i += 1 + key_len + 1;
    }
    out.push_str(&text[copied.min(text.len())..]);
    out
}

/// `client_secret=value` in form bodies or free text (URLs are done already).
fn scrub_pairs(text: &str) -> String {
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(eq) = text[from..].find('=').map(|i| from + i) {
        let key_start = text[..eq].rfind(|c: char| !is_key_char(c)).map_or(0, |i| i + 1);
        let value_end = text[eq + 1..]
            .find(|c: char| c.is_whitespace() || matches!(c, '&' | '"' | '\'' | ',' | ';' | ')'))
            .map_or(text.len(), |i| eq + 1 + i);
        let value = &text[eq + 1..value_end];
        if key_start < eq && is_secret_key(&text[key_start..eq]) && !value.is_empty() && value != REDACTED {
            out.push_str(&text[copied..=eq]);
            out.push_str(REDACTED);
            copied = value_end;
        }
        from = value_end.max(eq + 1);
    }
    out.push_str(&text[copied..]);
    out
}

/// `Bearer <token>` / `Basic <credentials>` → `Bearer ***`, when what follows looks like a
/// credential (not a plain lower-case word such as in "Basic auth failed").
fn scrub_schemes(text: &str) -> String {
    let mut out = text.to_owned();
    for scheme in ["Bearer ", "bearer ", "Basic ", "basic "] {
        let mut from = 0;
        while let Some(i) = out[from..].find(scheme).map(|i| from + i) {
            let start = i + scheme.len();
            let end = out[start..]
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ')'))
                .map_or(out.len(), |j| start + j);
            let word = &out[start..end];
            let plain_word = word.chars().all(|c| c.is_ascii_lowercase());
            if word.len() >= 3 && word != REDACTED && !plain_word {
                out.replace_range(start..end, REDACTED);
            }
            from = start.min(out.len());
            if from >= out.len() {
                break;
            }
        }
    }
    out
}

/// A short, readable, scrubbed excerpt of a body for a message: trimmed, cut to at most
/// `max_bytes` on a character boundary (with `…` when cut), and for an HTML page just its title
/// and size, since a provider's error page says nothing more useful.
///
/// ```
/// assert_eq!(nango_types::text::excerpt("  héllo wörld  ".as_bytes(), 6), "héllo…");
/// ```
pub fn excerpt(body: &[u8], max_bytes: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if let Some(title) = html_title(trimmed) {
        return match title {
            Some(t) => format!("an HTML page titled \"{}\" ({} bytes)", scrub(&cut(t, 120), &[]), body.len()),
            None => format!("an HTML page ({} bytes)", body.len()),
        };
    }
    scrub(&cut(trimmed, max_bytes), &[])
}

/// `Some(title)` when the text is an HTML page (or a fragment of one): what it starts with after
/// a byte-order mark, an XML prolog and comments is a document or structural tag, or one of them
/// comes early. The title is the `<title>`, else the first `<h1>`.
fn html_title(text: &str) -> Option<Option<&str>> {
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        let lower = rest.get(..rest.len().min(8))?.to_ascii_lowercase();
        let closing = if lower.starts_with("<?xml") {
            "?>"
        } else if lower.starts_with("<!--") {
            "-->"
        } else {
            break;
        };
        rest = rest[rest.find(closing)? + closing.len()..].trim_start();
    }
    let head = rest.get(..rest.len().min(512)).unwrap_or(rest).to_ascii_lowercase();
    const OPENINGS: [&str; 8] = ["<!doctype html", "<html", "<head", "<body", "<center", "<h1", "<div", "<p>"];
    let page = OPENINGS.iter().any(|o| head.starts_with(o))
        || (head.starts_with('<') && ["<html", "<body", "</h1>", "<title>"].iter().any(|t| head.contains(t)));
    if !page {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let inside = |open: &str, close: &str| {
        let start = lower.find(open)? + open.len();
        let end = lower[start..].find(close)? + start;
        text.get(start..end).map(str::trim).filter(|t| !t.is_empty())
    };
    Some(inside("<title>", "</title>").or_else(|| inside("<h1>", "</h1>")))
}

/// Cuts on a character boundary, adding `…` when cut.
fn cut(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// An error with its causes, `outer: cause: root cause`, scrubbed: the top level of a library
/// error alone (`error sending request`) rarely says what happened. A cause whose text the
/// message already holds is not repeated, and the URL that HTTP libraries write into their
/// message (`... for url (https://...)`) is left out: callers name the request themselves.
///
/// ```
/// #[derive(Debug)]
/// struct Outer(std::io::Error);
/// impl std::fmt::Display for Outer {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("error sending request for url (https://x.io/?token=abc)")
///     }
/// }
/// impl std::error::Error for Outer {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> { Some(&self.0) }
/// }
/// let e = Outer(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused"));
/// assert_eq!(nango_types::text::error_chain(&e), "error sending request: connection refused");
/// ```
pub fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn Error + 'static)> = Some(error);
    while let Some(e) = current {
        let mut text = e.to_string();
        if let Some(i) = text.find(" for url (") {
            text.truncate(i);
        }
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    scrub(&parts.join(": "), &[])
}

/// A duration for messages: `250 ms`, `1.5 s`, `600 s`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(nango_types::text::human_duration(Duration::from_millis(1500)), "1.5 s");
/// ```
pub fn human_duration(d: std::time::Duration) -> String {
    if d >= std::time::Duration::from_secs(1) {
        let secs = d.as_secs_f64();
        if secs.fract() < 0.05 { format!("{} s", secs.round()) } else { format!("{secs:.1} s") }
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_what_is_not_secret() {
        assert_eq!(scrub("see https://x.io/a?b=1#frag", &[]), "see https://x.io/a?b=1#frag");
        assert_eq!(scrub("(https://x.io/?access_token=t&x=2)", &[]), "(https://x.io/?access_token=***&x=2)");
        assert_eq!(scrub("http://a:b@h:1/p", &[]), "http://***@h:1/p");
    }

    #[test]
    fn json_and_forms() {
        assert_eq!(scrub(r#"{"password" : "p\"w", "n": 1}"#, &[]), r#"{"password" : "***", "n": 1}"#);
        assert_eq!(
            scrub("grant_type=refresh_token&refresh_token=r1&client_secret=s2", &[]),
            "grant_type=refresh_token&refresh_token=***&client_secret=***"
        );
        assert_eq!(scrub("refresh_token=", &[]), "refresh_token=");
        assert_eq!(scrub("set password=hunter2 here", &[]), "set password=*** here");
        assert_eq!(scrub("Basic auth failed", &[]), "Basic auth failed");
        assert_eq!(scrub(r#"{"error":{"code":"invalid_request"}}"#, &[]), r#"{"error":{"code":"invalid_request"}}"#);
    }

    #[test]
    fn excerpts_are_cut_on_char_boundaries() {
        assert_eq!(excerpt(b"  {\"a\":1}\n", 100), "{\"a\":1}");
        let long = "é".repeat(700);
        let e = excerpt(long.as_bytes(), 500);
        assert!(e.ends_with('…') && e.len() <= 500 + '…'.len_utf8(), "{}", e.len());
        assert!(!e.contains('\u{FFFD}'));
        assert_eq!(excerpt(b"<html><body>oops</body></html>", 100), "an HTML page (30 bytes)");
    }

    /// Error pages of proxies and load balancers come in many openings: a byte-order mark, an
    /// XML prolog, a comment, a bare `<body>` or fragment. None of them may put the page itself
    /// (kilobytes of markup, scripts, inline styles) into a run's error.
    #[test]
    fn html_pages_become_a_short_description_whatever_they_start_with() {
        let filler = "<div class=\"x\">".repeat(200);
        for page in [
            format!(
                "\u{feff}<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>{filler}</body></html>"
            ),
            format!(
                "<?xml version=\"1.0\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0//EN\"><html><head><title>502 Bad Gateway</title></head>{filler}</html>"
            ),
            format!("<!-- generated by the edge -->\n<html><head><title>502 Bad Gateway</title></head>{filler}</html>"),
            format!("<body><center><h1>502 Bad Gateway</h1></center>{filler}</body>"),
            format!("<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>{filler}"),
        ] {
            let e = excerpt(page.as_bytes(), 1024);
            assert!(e.starts_with("an HTML page"), "{e:.200}");
            assert!(e.len() < 200, "{e}");
        }
        let e = excerpt(b"<center><h1>502 Bad Gateway</h1></center>", 1024);
        assert_eq!(e, "an HTML page titled \"502 Bad Gateway\" (41 bytes)");
        // Text that merely starts with `<` is not a page.
        assert_eq!(excerpt(b"<none> is not a valid value", 100), "<none> is not a valid value");
    }

    #[test]
    fn plain_text_is_left_alone() {
        let t = "Missing id field in record: {\"title\":\"x\"}. Model: Ticket";
        assert_eq!(scrub(t, &[]), t);
        assert_eq!(scrub("a token was refused", &[]), "a token was refused");
    }
}
