//! Small helpers shared by the STS endpoint and the gateway: random identifiers, XML escaping,
//! dates, base64 and the API Gateway path shim.

use chrono::{DateTime, Utc};

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A random string of `len` characters drawn from `alphabet`.
pub(crate) fn random_from(alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| char::from(alphabet[fastrand::usize(..alphabet.len())]))
        .collect()
}

/// `len` random upper-case letters and digits (the shape of AWS key ids).
pub(crate) fn random_upper_alnum(len: usize) -> String {
    random_from(UPPER_ALNUM, len)
}

/// `len` random characters of the alphabet AWS uses for secret keys and session tokens.
pub(crate) fn random_secret(len: usize) -> String {
    random_from(SECRET_ALPHABET, len)
}

/// `len` random lower-case hex digits.
pub(crate) fn random_hex(len: usize) -> String {
    random_from(b"0123456789abcdef", len)
}

/// A random identifier shaped like a UUID (8-4-4-4-12 lower-case hex), as AWS request ids are.
pub(crate) fn request_id() -> String {
    format!(
        "{}-{}-{}-{}-{}",
        random_hex(8),
        random_hex(4),
        random_hex(4),
        random_hex(4),
        random_hex(12)
    )
}

/// Escapes the five XML special characters.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// An HTTP date (RFC 7231 IMF-fixdate), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// ISO-8601 basic format used by SigV4 (`20261203T120000Z`).
pub(crate) fn amz_date(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Parses the SigV4 basic format `yyyyMMdd'T'HHmmss'Z'`.
pub(crate) fn parse_amz_date(s: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|naive| naive.and_utc())
}

/// ISO-8601 extended format with a `Z` suffix and whole seconds, as STS writes `Expiration`.
pub(crate) fn iso8601(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Standard base64 (RFC 4648, with padding).
pub(crate) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b0 = u32::from(chunk[0]);
        let b1 = chunk.get(1).copied().map_or(0, u32::from);
        let b2 = chunk.get(2).copied().map_or(0, u32::from);
        let n = (b0 << 16) | (b1 << 8) | b2;
        let sextet = |shift: u32| char::from(ALPHABET[((n >> shift) & 0x3f) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

/// The API Gateway path shim.
///
/// API Gateway (like every AWS service except S3) canonicalises the path *as it is on the wire*,
/// percent-encoded once more: every byte except `A-Za-z0-9-._~` and `/` becomes `%XX`, so a wire
/// `%20` becomes `%2520`, `$` becomes `%24` and `@` becomes `%40`. scratchstack instead normalises
/// each segment as if it were single-encoded. Encoding the wire path once here, before scratchstack
/// sees it, makes scratchstack's normalisation a no-op on the result and yields exactly the
/// double-encoded canonical path that API Gateway (and aws-sigv4's default `Double` mode) use.
pub(crate) fn double_encode_path(wire_path: &str) -> String {
    let mut out = String::with_capacity(wire_path.len() * 3);
    for &b in wire_path.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push_str(&format!("{b:02X}"));
        }
    }
    out
}

/// The path with only the *names* of the query parameters, for log lines: values may carry data
/// that must not be logged.
pub(crate) fn loggable_target(path: &str, query: Option<&str>) -> String {
    match query {
        None => mask_pan_like(&truncate(path, 256)),
        Some(q) => {
            let names: Vec<String> = form_urlencoded::parse(q.as_bytes())
                .map(|(name, _)| format!("{}=…", truncate(&name, 64)))
                .collect();
            mask_pan_like(&format!("{}?{}", truncate(path, 256), names.join("&")))
        }
    }
}

/// Replaces every group of 12 or more digits (long enough to be a card number), also when
/// written with single spaces or dashes between digit blocks, with `#`s of the same length,
/// so a card number put into a path never reaches a log line.
fn mask_pan_like(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // Extend the group over digits and single separators followed by a digit.
        let (mut end, mut digits) = (i, 0);
        while end < chars.len() {
            if chars[end].is_ascii_digit() {
                digits += 1;
                end += 1;
            } else if matches!(chars[end], ' ' | '-')
                && chars.get(end + 1).is_some_and(char::is_ascii_digit)
            {
                end += 1;
            } else if chars[end] == '%'
                && matches!(chars.get(end + 1..end + 3), Some(['2', '0' | 'D' | 'd']))
                && chars.get(end + 3).is_some_and(char::is_ascii_digit)
            {
                end += 3; // a percent-encoded space or dash
            } else {
                break;
            }
        }
        if digits >= 12 {
            let mut k = i;
            while k < end {
                if chars[k] == '%' {
                    out.extend(&chars[k..k + 3]); // keep the escape itself readable
                    k += 3;
                } else {
                    out.push(if chars[k].is_ascii_digit() {
                        '#'
                    } else {
                        chars[k]
                    });
                    k += 1;
                }
            }
        } else {
            out.extend(&chars[i..end]);
        }
        i = end;
    }
    out
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max_chars).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64(input.as_bytes()), expected, "input {input:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn double_encoding_of_wire_paths() {
        assert_eq!(
            double_encode_path("/echo/a%20b/%C3%A9"),
            "/echo/a%2520b/%25C3%25A9"
        );
        assert_eq!(
            double_encode_path("/prod/$default/%40connections/abc%3D:x=y"),
            "/prod/%24default/%2540connections/abc%253D%3Ax%3Dy"
        );
        assert_eq!(double_encode_path("/a+b/~x_y.z-"), "/a%2Bb/~x_y.z-");
    }

    #[test]
    fn xml_escape_escapes_all_specials() {
        assert_eq!(
            xml_escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"
        );
    }

    #[test]
    fn amz_date_round_trips() {
        let t = parse_amz_date("20261203T124519Z").expect("valid date");
        assert_eq!(amz_date(t), "20261203T124519Z");
        assert_eq!(iso8601(t), "2026-12-03T12:45:19Z");
        assert_eq!(http_date(t), "Thu, 03 Dec 2026 12:45:19 GMT");
        assert!(parse_amz_date("2026-12-03T12:45:19Z").is_none());
    }

    #[test]
    fn loggable_target_drops_query_values() {
        let t = loggable_target("/bin-lookup-service/", Some("card_bin=411111&x"));
        assert_eq!(t, "/bin-lookup-service/?card_bin=…&x=…");
        assert!(!t.contains("411111"));
        let t = loggable_target("/echo/cards/4000056655665556/é", Some("4111111111111111"));
        assert_eq!(t, "/echo/cards/################/é?################=…");
        let t = loggable_target("/k3/v1/4111-1111-1111-1111", None);
        assert_eq!(t, "/k3/v1/####-####-####-####");
        assert_eq!(loggable_target("/x/2026-12-03", None), "/x/2026-12-03");
        let t = loggable_target("/k3/4111%201111%201111%201111", None);
        assert_eq!(t, "/k3/####%20####%20####%20####");
    }

    #[test]
    fn random_identifiers_have_the_right_shape() {
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        let key = random_upper_alnum(16);
        assert!(
            key.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        assert_eq!(random_secret(40).len(), 40);
    }
}
