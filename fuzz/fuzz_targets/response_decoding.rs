//! Arbitrary bytes → `serde_json` decode into a few response shapes, classified the way
//! kernel-core's decode path classifies failures (`kernel_core::error::DecodeError`:
//! category + line/column, never serde's message, which quotes the body).
//!
//! `Response` and `StatusError` have no public constructor, so this target cannot call
//! `Response::json` itself (the property test `response_decoding_matches_serde_and_leaks_nothing`
//! in kernel-core/tests/properties.rs does, through a loopback server). Here: never a
//! panic, a failure is never classified `io` for in-memory bytes, its position lies inside
//! the input, and a successful decode of a `Value` re-encodes and decodes to the same value.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Token {
    token: String,
    exp_month: u8,
    #[serde(default)]
    last4: Option<String>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct ErrorBody {
    message: String,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
enum Outcome {
    Approved { id: u64 },
    Declined(String),
    Pending,
}

/// The same mapping as `DecodeError::from_serde`.
fn category(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        Category::Io => "io",
        Category::Syntax => "syntax",
        Category::Data => "data",
        Category::Eof => "eof",
    }
}

fn decode<T: DeserializeOwned>(data: &[u8]) {
    if let Err(e) = serde_json::from_slice::<T>(data) {
        assert_ne!(
            category(&e),
            "io",
            "in-memory bytes cannot fail with io: {e:?}"
        );
        let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
        assert!(e.line() <= lines, "line {} beyond {lines}", e.line());
    }
}

fuzz_target!(|data: &[u8]| {
    decode::<serde_json::Value>(data);
    decode::<Token>(data);
    decode::<ErrorBody>(data);
    decode::<Outcome>(data);
    decode::<Vec<u64>>(data);
    decode::<HashMap<String, String>>(data);
    // Only exact for values without floats (serde_json's default float parsing is not
    // guaranteed to round-trip bit for bit).
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data)
        && !has_float(&v)
    {
        let again: serde_json::Value =
            serde_json::from_slice(&serde_json::to_vec(&v).expect("a Value serializes"))
                .expect("re-encoded JSON parses");
        assert_eq!(v, again);
    }
});

fn has_float(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Number(n) => n.is_f64(),
        serde_json::Value::Array(a) => a.iter().any(has_float),
        serde_json::Value::Object(o) => o.values().any(has_float),
        _ => false,
    }
}
