//! Turns the call flags into [`CallOptions`].

use std::io::Read as _;

use http::Method;
use kernel_core::CallOptions;

use crate::args::CallArgs;
use crate::failure::Failure;

/// Builds the options of one call. Header problems (reserved or malformed names/values) are
/// kept in the options by kernel-core and reported, by name only, when the call is planned.
/// `region_in_url` is `Some` for the generic call only (services bring their own default).
pub(crate) fn options(
    args: &CallArgs,
    region_in_url: Option<bool>,
) -> Result<CallOptions, Failure> {
    let mut o = CallOptions::new();
    if let Some(m) = &args.method {
        let upper = m.trim().to_ascii_uppercase();
        let method = Method::from_bytes(upper.as_bytes())
            .ok()
            .filter(|_| !upper.is_empty())
            .ok_or_else(|| Failure::usage("-X: not a valid HTTP method"))?;
        o = o.method(method);
    }
    let mut custom_content_type = false;
    for (i, h) in args.headers.iter().enumerate() {
        // The value is never echoed: it may be a credential.
        let (name, value) = h.split_once(':').ok_or_else(|| {
            Failure::usage(format!(
                "-H #{}: expected 'Name: value' (no ':' found)",
                i + 1
            ))
        })?;
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-type") {
            custom_content_type = true;
        }
        o = o.header(name, value.trim());
    }
    if let Some(data) = &args.data {
        let body = read_data(data)?;
        if !custom_content_type {
            check_json(&body)?;
        }
        o = o.body(body);
    }
    if let Some(r) = region_in_url {
        o = o.region_in_url(r);
    }
    if let Some(s) = &args.subsystem {
        o = o.subsystem(s.clone());
    }
    if let Some(t) = args.timeout {
        o = o.read_timeout(t);
    }
    if let Some(t) = args.connect_timeout {
        o = o.connect_timeout(t);
    }
    Ok(o)
}

/// `-d JSON`, `-d @file`, `-d @-` (stdin).
pub(crate) fn read_data(data: &str) -> Result<Vec<u8>, Failure> {
    read_data_for("-d", data)
}

/// [`read_data`] for the flag `flag` (named in errors).
pub(crate) fn read_data_for(flag: &str, data: &str) -> Result<Vec<u8>, Failure> {
    match data.strip_prefix('@') {
        None => Ok(data.as_bytes().to_vec()),
        Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Failure::usage(format!("{flag} @-: could not read stdin: {e}")))?;
            Ok(buf)
        }
        Some(path) => std::fs::read(path)
            .map_err(|e| Failure::usage(format!("{flag} @{path}: could not read the file: {e}"))),
    }
}

/// The body must be JSON (unless the caller set its own Content-Type). serde's message is not
/// shown because it can quote the input; the position is enough.
fn check_json(body: &[u8]) -> Result<(), Failure> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map(|_| ())
        .map_err(|e| {
            Failure::usage(format!(
                "the -d body is not valid JSON ({:?} error at line {}, column {}); nothing was sent \
                 (pass -H 'Content-Type: ...' to send a non-JSON body)",
                e.classify(),
                e.line(),
                e.column()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> CallArgs {
        CallArgs {
            method: None,
            data: None,
            headers: vec![],
            subsystem: None,
            timeout: None,
            connect_timeout: None,
        }
    }

    #[test]
    fn json_is_checked_without_echo() {
        let a = CallArgs {
            data: Some("{\"card_number\":\"4111111111111111\"".into()),
            ..args()
        };
        let e = options(&a, None).expect_err("invalid JSON is refused");
        assert_eq!(e.code, crate::failure::USAGE);
        assert!(!e.message.contains("4111"), "{}", e.message);
        let a = CallArgs {
            data: Some("not json".into()),
            headers: vec!["Content-Type: text/plain".into()],
            ..args()
        };
        assert!(options(&a, None).is_ok());
    }

    #[test]
    fn header_without_colon_is_refused_without_echo() {
        let a = CallArgs {
            headers: vec!["x-api-key s3cr3t".into()],
            ..args()
        };
        let e = options(&a, None).expect_err("refused");
        assert!(!e.message.contains("s3cr3t"));
    }

    #[test]
    fn bad_method() {
        let a = CallArgs {
            method: Some("GE T".into()),
            ..args()
        };
        assert!(options(&a, None).is_err());
        let a = CallArgs {
            method: Some("get".into()),
            ..args()
        };
        assert!(options(&a, None).is_ok());
    }
}
