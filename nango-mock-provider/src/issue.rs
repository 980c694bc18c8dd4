//! The JSON of an issue, in GitHub's shape, written by hand straight into the response body: a
//! page of 100 issues is about 200 KB, and serde would spend most of its time escaping strings
//! that are known not to need it. Only the title and the repository path are escaped.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Timelike};
use serde_json::Value;

/// Where issues are served from: the server's url and the repository of the request path, each
/// already escaped for a JSON string.
#[derive(Debug, Clone)]
pub(crate) struct Place<'a> {
    url: Cow<'a, str>,
    owner: Cow<'a, str>,
    repo: Cow<'a, str>,
}

impl<'a> Place<'a> {
    pub(crate) fn new(url: &'a str, owner: &'a str, repo: &'a str) -> Self {
        Place { url: escape(url), owner: escape(owner), repo: escape(repo) }
    }
}

/// The fields of an issue that can change; the rest comes from its number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    /// `None`: the generated title.
    pub(crate) title: Option<&'a str>,
    pub(crate) closed: bool,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) closed_at: Option<i64>,
}

/// One issue, serialised as GitHub's JSON (a subset of its fields, about 2 KB).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Issue<'a> {
    number: u64,
    fields: Fields<'a>,
    place: &'a Place<'a>,
    hash: u64,
}

const VERBS: [&str; 12] = [
    "Fix",
    "Add",
    "Improve",
    "Refactor",
    "Document",
    "Remove",
    "Speed up",
    "Handle errors in",
    "Support",
    "Investigate",
    "Test",
    "Clean up",
];
const OBJECTS: [&str; 12] = [
    "pagination",
    "the sync scheduler",
    "OAuth token refresh",
    "rate limit handling",
    "the record cache",
    "webhook delivery",
    "retry backoff",
    "connection config",
    "the CLI output",
    "model validation",
    "incremental syncs",
    "deleted record tracking",
];
const PLACES: [&str; 8] = [
    "in the runtime",
    "for large accounts",
    "on Windows",
    "behind a proxy",
    "after a restart",
    "under load",
    "in dry runs",
    "for new connections",
];
const SENTENCES: [&str; 8] = [
    "Steps to reproduce: run the sync against an account with a few thousand records and watch the logs.",
    "The expected behaviour is that every record is fetched exactly once and saved with its latest values.",
    "What happens instead is that some pages are fetched twice while others are skipped after a retry.",
    "This started after the last upgrade; the previous version did not show the problem.",
    "A workaround is to restart the sync from scratch, which takes a long time on big accounts.",
    "Logs and a minimal reproduction are attached below; happy to test a fix on our side.",
    "It might be related to how timestamps are compared when the provider returns them without milliseconds.",
    "We see it on both the hosted and the self-hosted deployments, with default settings.",
];
const USERS: [(&str, u64); 8] = [
    ("octocat", 1),
    ("hubot", 2),
    ("monalisa", 3),
    ("defunkt", 4),
    ("mojombo", 5),
    ("pjhyett", 6),
    ("wycats", 7),
    ("ezmobius", 8),
];
/// Name, name in a url path, color, description.
const LABELS: [(&str, &str, &str, &str); 8] = [
    ("bug", "bug", "d73a4a", "Something isn't working"),
    ("enhancement", "enhancement", "a2eeef", "New feature or request"),
    ("documentation", "documentation", "0075ca", "Improvements or additions to documentation"),
    ("question", "question", "d876e3", "Further information is requested"),
    ("good first issue", "good%20first%20issue", "7057ff", "Good for newcomers"),
    ("help wanted", "help%20wanted", "008672", "Extra attention is needed"),
    ("wontfix", "wontfix", "ffffff", "This will not be worked on"),
    ("duplicate", "duplicate", "cfd3d7", "This issue or pull request already exists"),
];

/// `text` escaped for the inside of a JSON string (borrowed when nothing needs escaping).
fn escape(text: &str) -> Cow<'_, str> {
    if !text.bytes().any(|byte| byte < 0x20 || byte == b'"' || byte == b'\\') {
        return Cow::Borrowed(text);
    }
    let quoted = Value::String(text.to_string()).to_string();
    Cow::Owned(quoted[1..quoted.len() - 1].to_string())
}

/// Appends text that needs no escaping.
fn raw(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
}

/// Appends a JSON string.
fn string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    raw(out, &escape(text));
    out.push(b'"');
}

/// Appends a number.
fn uint(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends `value` with at least `width` digits.
fn padded(out: &mut Vec<u8>, value: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut rest = value;
    let mut at = digits.len();
    while rest > 0 || digits.len() - at < width {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends a Unix time as the JSON string `"2024-01-01T00:00:00Z"`.
fn timestamp(out: &mut Vec<u8>, seconds: i64) {
    let time = DateTime::from_timestamp(seconds, 0).unwrap_or_default();
    out.push(b'"');
    padded(out, time.year().max(0) as u32, 4);
    out.push(b'-');
    padded(out, time.month(), 2);
    out.push(b'-');
    padded(out, time.day(), 2);
    out.push(b'T');
    padded(out, time.hour(), 2);
    out.push(b':');
    padded(out, time.minute(), 2);
    out.push(b':');
    padded(out, time.second(), 2);
    raw(out, "Z\"");
}

impl<'a> Issue<'a> {
    pub(crate) fn new(number: u64, fields: Fields<'a>, place: &'a Place<'a>) -> Self {
        Issue { number, fields, place, hash: mix(number) }
    }

    /// A pseudo-random index below `len`, from bits `shift..` of the issue's hash.
    fn pick(&self, shift: u32, len: usize) -> usize {
        ((self.hash >> shift) as usize) % len
    }

    /// The issue as a JSON value.
    pub(crate) fn to_value(self) -> Value {
        let mut out = Vec::with_capacity(2048);
        self.write(&mut out);
        serde_json::from_slice(&out).unwrap_or_default()
    }

    /// Appends `[issue, issue, …]`.
    pub(crate) fn write_all(issues: impl IntoIterator<Item = Issue<'a>>, out: &mut Vec<u8>) {
        out.push(b'[');
        for (index, issue) in issues.into_iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            issue.write(out);
        }
        out.push(b']');
    }

    /// `https://…/repos/{owner}/{repo}`
    fn repository(&self, out: &mut Vec<u8>) {
        raw(out, &self.place.url);
        raw(out, "/repos/");
        raw(out, &self.place.owner);
        out.push(b'/');
        raw(out, &self.place.repo);
    }

    /// `"https://…/repos/{owner}/{repo}/issues/{number}{tail}"`
    fn api(&self, out: &mut Vec<u8>, tail: &str) {
        out.push(b'"');
        self.repository(out);
        raw(out, "/issues/");
        uint(out, self.number);
        raw(out, tail);
        out.push(b'"');
    }

    fn user(&self, out: &mut Vec<u8>, shift: u32) {
        let (login, id) = USERS[self.pick(shift, USERS.len())];
        raw(out, "{\"login\":\"");
        raw(out, login);
        raw(out, "\",\"id\":");
        uint(out, id);
        raw(out, ",\"node_id\":\"MDQ6VXNlcj");
        uint(out, id);
        raw(out, "\",\"avatar_url\":\"https://avatars.githubusercontent.com/u/");
        uint(out, id);
        raw(out, "?v=4\",\"url\":\"");
        raw(out, &self.place.url);
        raw(out, "/users/");
        raw(out, login);
        raw(out, "\",\"html_url\":\"https://github.com/");
        raw(out, login);
        raw(out, "\",\"type\":\"User\",\"site_admin\":false}");
    }

    fn labels(&self, out: &mut Vec<u8>) {
        let first = self.pick(36, LABELS.len());
        out.push(b'[');
        for k in 0..self.pick(32, 4) {
            let index = (first + k * 3) % LABELS.len();
            let (name, path, color, description) = LABELS[index];
            if k > 0 {
                out.push(b',');
            }
            raw(out, "{\"id\":");
            uint(out, 208_045_946 + index as u64);
            raw(out, ",\"node_id\":\"MDU6TGFiZWwyMDgwNDU5N");
            uint(out, index as u64);
            raw(out, "\",\"url\":\"");
            self.repository(out);
            raw(out, "/labels/");
            raw(out, path);
            raw(out, "\",\"name\":\"");
            raw(out, name);
            raw(out, "\",\"color\":\"");
            raw(out, color);
            raw(out, "\",\"default\":");
            raw(out, if index < 7 { "true" } else { "false" });
            raw(out, ",\"description\":\"");
            raw(out, description);
            raw(out, "\"}");
        }
        out.push(b']');
    }

    /// Appends the issue's JSON object.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let (number, fields) = (self.number, self.fields);
        raw(out, "{\"url\":");
        self.api(out, "");
        raw(out, ",\"repository_url\":\"");
        self.repository(out);
        raw(out, "\",\"labels_url\":");
        self.api(out, "/labels{/name}");
        raw(out, ",\"comments_url\":");
        self.api(out, "/comments");
        raw(out, ",\"events_url\":");
        self.api(out, "/events");
        raw(out, ",\"html_url\":\"https://github.com/");
        raw(out, &self.place.owner);
        out.push(b'/');
        raw(out, &self.place.repo);
        raw(out, "/issues/");
        uint(out, number);
        raw(out, "\",\"id\":");
        uint(out, 1_000_000 + number);
        raw(out, ",\"node_id\":\"I_kwDOmock");
        uint(out, number);
        raw(out, "\",\"number\":");
        uint(out, number);
        raw(out, ",\"title\":");
        match fields.title {
            Some(title) => string(out, title),
            None => {
                raw(out, "\"Issue #");
                uint(out, number);
                raw(out, ": ");
                raw(out, VERBS[self.pick(0, VERBS.len())]);
                out.push(b' ');
                raw(out, OBJECTS[self.pick(8, OBJECTS.len())]);
                out.push(b' ');
                raw(out, PLACES[self.pick(16, PLACES.len())]);
                out.push(b'"');
            }
        }
        raw(out, ",\"user\":");
        self.user(out, 52);
        raw(out, ",\"labels\":");
        self.labels(out);
        raw(out, if fields.closed { ",\"state\":\"closed\"" } else { ",\"state\":\"open\"" });
        raw(out, ",\"locked\":false,\"assignee\":");
        if self.pick(40, 4) == 0 {
            self.user(out, 44);
            raw(out, ",\"assignees\":[");
            self.user(out, 44);
            out.push(b']');
        } else {
            raw(out, "null,\"assignees\":[]");
        }
        raw(out, ",\"milestone\":null,\"comments\":");
        uint(out, (self.hash >> 56) % 25);
        raw(out, ",\"created_at\":");
        timestamp(out, fields.created_at);
        raw(out, ",\"updated_at\":");
        timestamp(out, fields.updated_at);
        raw(out, ",\"closed_at\":");
        match fields.closed_at {
            Some(at) => timestamp(out, at),
            None => raw(out, "null"),
        }
        raw(
            out,
            if self.pick(60, 2) == 0 {
                ",\"author_association\":\"CONTRIBUTOR\""
            } else {
                ",\"author_association\":\"NONE\""
            },
        );
        raw(out, ",\"active_lock_reason\":null,\"body\":");
        if self.hash.is_multiple_of(5) {
            raw(out, "null");
        } else {
            let first = self.pick(28, SENTENCES.len());
            out.push(b'"');
            for k in 0..2 + self.pick(24, 3) {
                if k > 0 {
                    out.push(b' ');
                }
                raw(out, SENTENCES[(first + k * 3) % SENTENCES.len()]);
            }
            out.push(b'"');
        }
        let plus_one = (self.hash >> 48) % 4;
        raw(out, ",\"reactions\":{\"url\":");
        self.api(out, "/reactions");
        raw(out, ",\"total_count\":");
        uint(out, plus_one);
        raw(out, ",\"+1\":");
        uint(out, plus_one);
        raw(out, ",\"-1\":0,\"laugh\":0,\"hooray\":0,\"confused\":0,\"heart\":0,\"rocket\":0,\"eyes\":0}");
        raw(out, ",\"timeline_url\":");
        self.api(out, "/timeline");
        raw(out, if fields.closed { ",\"state_reason\":\"completed\"}" } else { ",\"state_reason\":null}" });
    }
}

/// A 64-bit mix (splitmix64's finaliser).
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_texts_need_no_escaping() {
        let labels = LABELS.iter().flat_map(|&(name, path, color, description)| [name, path, color, description]);
        let users = USERS.iter().map(|&(login, _)| login);
        for text in VERBS.into_iter().chain(OBJECTS).chain(PLACES).chain(SENTENCES).chain(labels).chain(users) {
            assert!(matches!(escape(text), Cow::Borrowed(_)), "{text}");
        }
    }

    #[test]
    fn numbers_and_timestamps() {
        let mut out = Vec::new();
        uint(&mut out, 0);
        out.push(b' ');
        uint(&mut out, u64::MAX);
        out.push(b' ');
        timestamp(&mut out, crate::data::EPOCH + 61);
        assert_eq!(String::from_utf8(out).unwrap(), "0 18446744073709551615 \"2024-01-01T00:01:01Z\"");
    }

    #[test]
    fn writes_valid_json_with_escaped_strings() {
        let place = Place::new("http://127.0.0.1:1", "o\"wner", "r");
        let fields = Fields {
            title: Some("A \"quoted\"\\ title\n"),
            closed: true,
            created_at: 0,
            updated_at: 60,
            closed_at: Some(60),
        };
        let json = Issue::new(12, fields, &place).to_value();
        assert_eq!(json["title"], "A \"quoted\"\\ title\n");
        assert_eq!(json["url"], "http://127.0.0.1:1/repos/o\"wner/r/issues/12");
        assert_eq!(json["labels_url"], "http://127.0.0.1:1/repos/o\"wner/r/issues/12/labels{/name}");
        assert_eq!(json["closed_at"], "1970-01-01T00:01:00Z");
        assert_eq!(json["state_reason"], "completed");
        assert_eq!(json["milestone"], Value::Null);
        assert_eq!(json["assignees"].as_array().unwrap().len(), usize::from(!json["assignee"].is_null()));
        assert_eq!(json.as_object().unwrap().len(), 27);
        for number in 1..500 {
            let fields = Fields { title: None, closed: false, created_at: 0, updated_at: 0, closed_at: None };
            let json = Issue::new(number, fields, &place).to_value();
            assert_eq!(json["number"], number, "{number} is valid JSON");
        }
    }
}
