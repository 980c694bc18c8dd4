//! Query strings and form bodies: percent-decoding, pairs, and the links that keep a query but
//! change one parameter.

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte; invalid escapes
/// are kept as they are and invalid UTF-8 is replaced.
pub(crate) fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// The decoded `key=value` pairs of a query string or form body, in order.
pub(crate) fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            (decode(key), decode(value))
        })
        .collect()
}

/// The first value of `key` in `pairs`.
pub(crate) fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Percent-encodes a query parameter's name or value (everything but unreserved characters).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `base + path + "?" + query` where the `key` parameter of the raw `query` is set to `value`
/// (replaced where it is, appended when absent); every other parameter is kept byte for byte.
pub(crate) fn with_param(base: &str, path: &str, query: &str, key: &str, value: &str) -> String {
    let mut pieces: Vec<String> = Vec::new();
    let mut replaced = false;
    for piece in query.split('&').filter(|piece| !piece.is_empty()) {
        let name = piece.split_once('=').map_or(piece, |(name, _)| name);
        if decode(name) == key {
            if !replaced {
                pieces.push(format!("{key}={value}"));
                replaced = true;
            }
        } else {
            pieces.push(piece.to_string());
        }
    }
    if !replaced {
        pieces.push(format!("{key}={value}"));
    }
    format!("{base}{path}?{}", pieces.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_splits() {
        assert_eq!(decode("a+b%20c%3D%zz"), "a b c=%zz");
        assert_eq!(decode(&encode("a b&c=é/~")), "a b&c=é/~");
        assert_eq!(
            pairs("a=1&&b=x%2By&c"),
            vec![("a".into(), "1".into()), ("b".into(), "x+y".into()), ("c".into(), "".into())]
        );
    }

    #[test]
    fn replaces_or_appends_a_parameter() {
        assert_eq!(
            with_param("http://h", "/p", "per_page=100&page=2&state=all", "page", "3"),
            "http://h/p?per_page=100&page=3&state=all"
        );
        assert_eq!(with_param("http://h", "/p", "state=all", "page", "2"), "http://h/p?state=all&page=2");
        assert_eq!(with_param("http://h", "/p", "", "page", "2"), "http://h/p?page=2");
    }
}
