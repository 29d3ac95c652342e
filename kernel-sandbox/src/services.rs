//! Behaviour of the kernel services behind the gateway.
//!
//! Rule for every handler: no response, error or log line quotes an input value (card numbers,
//! CVVs and wallet tokens must never come back out).

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::Utc;
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::util::{base64, random_hex};

/// A service's answer: status and JSON body.
pub(crate) type ServiceResponse = (StatusCode, Value);

/// The request as the services see it (after verification).
pub(crate) struct ServiceRequest<'a> {
    pub(crate) method: &'a Method,
    pub(crate) raw_path: &'a str,
    pub(crate) raw_query: Option<&'a str>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a Bytes,
}

/// A handler of one route.
pub(crate) type Handler = fn(&ServiceRequest<'_>) -> ServiceResponse;

/// A route's handler, and whether a 200 from it means a K3 token was minted.
#[derive(Clone, Copy)]
pub(crate) struct Route {
    pub(crate) handler: Handler,
    pub(crate) mints_token: bool,
}

/// Finds the handler for `method` and the raw wire `path`, or `None` (API Gateway's "Missing
/// Authentication Token" for routes that do not exist).
pub(crate) fn route(method: &Method, path: &str) -> Option<Route> {
    let trimmed = path.strip_prefix('/')?;
    let (prefix, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let plain = |handler: Handler| Route {
        handler,
        mints_token: false,
    };
    Some(match (prefix, rest) {
        ("echo", _) => plain(echo),
        ("k3", "v1/tokenize") if method == Method::POST => Route {
            handler: k3_tokenize,
            mints_token: true,
        },
        ("paze-wallet-key-service", "decode-token") if method == Method::POST => {
            plain(paze_decode_token)
        }
        ("apple-wallet-key-service", "decrypt") if method == Method::POST => plain(apple_decrypt),
        ("google-wallet-key-service", "decrypt") if method == Method::POST => plain(google_decrypt),
        ("bin-lookup-service", "") if method == Method::GET => plain(bin_lookup),
        ("bank-data-service", "") if method == Method::GET => plain(bank_data),
        _ => return None,
    })
}

fn message(status: StatusCode, text: &str) -> ServiceResponse {
    (status, json!({ "message": text }))
}

fn bad_request(text: &str) -> ServiceResponse {
    message(StatusCode::BAD_REQUEST, text)
}

/// Parses a JSON object body; the error never quotes the body.
fn json_object(body: &Bytes) -> Result<Map<String, Value>, ServiceResponse> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad_request("request body must be a JSON object")),
        Err(_) => Err(bad_request("request body is not valid JSON")),
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A string field, or a non-negative integer rendered as a string.
fn digits_field(map: &Map<String, Value>, name: &str) -> Option<String> {
    match map.get(name)? {
        Value::String(s) if all_digits(s) => Some(s.clone()),
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

/// Luhn (mod 10) check over a string of ASCII digits.
pub(crate) fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// Card brand from the leading digits (IIN ranges of the major networks).
pub(crate) fn card_brand(pan: &str) -> &'static str {
    let prefix = |n: usize| {
        pan.get(..n)
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
    };
    match () {
        _ if pan.starts_with('4') => "VISA",
        _ if (51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4)) => "MASTERCARD",
        _ if matches!(prefix(2), 34 | 37) => "AMEX",
        _ if prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3)) => "DISCOVER",
        _ if (3528..=3589).contains(&prefix(4)) => "JCB",
        _ if (300..=305).contains(&prefix(3))
            || matches!(prefix(2), 36 | 38 | 39)
            || prefix(4) == 3095 =>
        {
            "DINERS"
        }
        _ => "UNKNOWN",
    }
}

fn k3_tokenize(req: &ServiceRequest<'_>) -> ServiceResponse {
    let map = match json_object(req.body) {
        Ok(map) => map,
        Err(e) => return e,
    };
    let card_number = match map.get("card_number") {
        Some(Value::String(s))
            if (12..=19).contains(&s.len()) && all_digits(s) && luhn_valid(s) =>
        {
            s.as_str()
        }
        _ => return bad_request("invalid card_number"),
    };
    let month_ok = digits_field(&map, "exp_month")
        .filter(|m| m.len() <= 2)
        .and_then(|m| m.parse::<u8>().ok())
        .is_some_and(|m| (1..=12).contains(&m));
    if !month_ok {
        return bad_request("invalid exp_month");
    }
    if digits_field(&map, "exp_year").is_none_or(|y| y.len() != 4) {
        return bad_request("invalid exp_year");
    }
    let cvv_ok = match map.get("cvv") {
        Some(Value::String(s)) => (3..=4).contains(&s.len()) && all_digits(s),
        _ => false,
    };
    if !cvv_ok {
        return bad_request("invalid cvv");
    }
    let last_four = &card_number[card_number.len() - 4..];
    (
        StatusCode::OK,
        json!({
            "token": format!("tok_{}", random_hex(32)),
            "last_four": last_four,
            "card_brand": card_brand(card_number),
        }),
    )
}

fn paze_decode_token(req: &ServiceRequest<'_>) -> ServiceResponse {
    let map = match json_object(req.body) {
        Ok(map) => map,
        Err(e) => return e,
    };
    match map.get("token") {
        Some(Value::String(t)) if !t.is_empty() => (
            StatusCode::OK,
            json!({
                "decoded": {
                    "card_last_four": "1111",
                    "card_brand": "VISA",
                    "exp_month": "12",
                    "exp_year": "2030",
                    "token_type": "PAZE",
                }
            }),
        ),
        _ => bad_request("missing token"),
    }
}

/// The first of `paths` (dot-separated) that is not a non-empty string in `map`.
fn first_missing_string(map: &Map<String, Value>, paths: &[&'static str]) -> Option<&'static str> {
    paths.iter().copied().find(|path| {
        let mut node: Option<&Value> = None;
        for (i, key) in path.split('.').enumerate() {
            node = if i == 0 {
                map.get(key)
            } else {
                node.and_then(|n| n.get(key))
            };
        }
        !matches!(node, Some(Value::String(s)) if !s.is_empty())
    })
}

fn apple_decrypt(req: &ServiceRequest<'_>) -> ServiceResponse {
    let map = match json_object(req.body) {
        Ok(map) => map,
        Err(e) => return e,
    };
    let required = [
        "paymentData.version",
        "paymentData.data",
        "paymentData.signature",
        "paymentData.header.ephemeralPublicKey",
        "paymentData.header.publicKeyHash",
        "paymentData.header.transactionId",
    ];
    if let Some(missing) = first_missing_string(&map, &required) {
        return bad_request(&format!("missing field: {missing}"));
    }
    if map
        .get("paymentData")
        .and_then(|p| p.get("version"))
        .and_then(Value::as_str)
        != Some("EC_v1")
    {
        return bad_request("unsupported paymentData.version (expected EC_v1)");
    }
    (
        StatusCode::OK,
        json!({
            "paymentDataType": "3DSecure",
            "applicationExpirationDate": "301231",
            "currencyCode": "840",
            "transactionAmount": 1000,
            "deviceManufacturerIdentifier": "040010030273",
            "last_four": "1111",
        }),
    )
}

fn google_decrypt(req: &ServiceRequest<'_>) -> ServiceResponse {
    let map = match json_object(req.body) {
        Ok(map) => map,
        Err(e) => return e,
    };
    let required = [
        "protocolVersion",
        "signature",
        "intermediateSigningKey.signedKey",
        "signedMessage",
    ];
    if let Some(missing) = first_missing_string(&map, &required) {
        return bad_request(&format!("missing field: {missing}"));
    }
    let signatures_ok = map
        .get("intermediateSigningKey")
        .and_then(|k| k.get("signatures"))
        .and_then(Value::as_array)
        .is_some_and(|a| {
            !a.is_empty() && a.iter().all(|s| s.as_str().is_some_and(|s| !s.is_empty()))
        });
    if !signatures_ok {
        return bad_request("missing field: intermediateSigningKey.signatures");
    }
    if map.get("protocolVersion").and_then(Value::as_str) != Some("ECv2") {
        return bad_request("unsupported protocolVersion (expected ECv2)");
    }
    let expiration_ms = (Utc::now() + chrono::TimeDelta::days(1)).timestamp_millis();
    (
        StatusCode::OK,
        json!({
            "paymentMethod": "CARD",
            "paymentMethodDetails": {
                "authMethod": "CRYPTOGRAM_3DS",
                "expirationMonth": 12,
                "expirationYear": 2030,
                "last_four": "1111",
            },
            "messageExpiration": expiration_ms.to_string(),
            "messageId": format!("sandbox-{}", random_hex(24)),
        }),
    )
}

/// First value of a query parameter (form-decoded).
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `(bin, brand, type, level, bank, country)` for public test BINs.
const BINS: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "411111",
        "VISA",
        "CREDIT",
        "CLASSIC",
        "SANDBOX TEST BANK (VISA)",
        "US",
    ),
    (
        "400005",
        "VISA",
        "DEBIT",
        "CLASSIC",
        "SANDBOX TEST BANK (VISA DEBIT)",
        "US",
    ),
    (
        "555555",
        "MASTERCARD",
        "CREDIT",
        "STANDARD",
        "SANDBOX TEST BANK (MASTERCARD)",
        "US",
    ),
    (
        "222300",
        "MASTERCARD",
        "CREDIT",
        "WORLD",
        "SANDBOX TEST BANK (MASTERCARD 2-SERIES)",
        "US",
    ),
    (
        "378282",
        "AMEX",
        "CREDIT",
        "GOLD",
        "AMERICAN EXPRESS (TEST)",
        "US",
    ),
    (
        "601111",
        "DISCOVER",
        "CREDIT",
        "CLASSIC",
        "DISCOVER BANK (TEST)",
        "US",
    ),
    (
        "353011",
        "JCB",
        "CREDIT",
        "CLASSIC",
        "JCB CO., LTD. (TEST)",
        "JP",
    ),
    (
        "305693",
        "DINERS",
        "CREDIT",
        "CLASSIC",
        "DINERS CLUB INTERNATIONAL (TEST)",
        "US",
    ),
];

fn bin_lookup(req: &ServiceRequest<'_>) -> ServiceResponse {
    let bin = match query_param(req.raw_query, "card_bin") {
        Some(b) if (6..=8).contains(&b.len()) && all_digits(&b) => b,
        _ => return bad_request("invalid card_bin"),
    };
    match BINS.iter().find(|(prefix, ..)| bin.starts_with(prefix)) {
        Some((_, brand, card_type, level, bank, country)) => (
            StatusCode::OK,
            json!({
                "card_bin": bin,
                "card_brand": brand,
                "card_type": card_type,
                "card_level": level,
                "bank_name": bank,
                "country": country,
            }),
        ),
        None => message(StatusCode::NOT_FOUND, "BIN not found"),
    }
}

/// `(routing number, bank, city, state, ach, wire)` for well-known public routing numbers.
const ROUTING_NUMBERS: &[(&str, &str, &str, &str, bool, bool)] = &[
    (
        "021000021",
        "JPMORGAN CHASE BANK, NA",
        "TAMPA",
        "FL",
        true,
        true,
    ),
    (
        "026009593",
        "BANK OF AMERICA, N.A.",
        "NEW YORK",
        "NY",
        true,
        true,
    ),
    (
        "121000248",
        "WELLS FARGO BANK, NA",
        "SAN FRANCISCO",
        "CA",
        true,
        true,
    ),
    (
        "011000015",
        "FEDERAL RESERVE BANK OF BOSTON",
        "BOSTON",
        "MA",
        true,
        true,
    ),
];

fn bank_data(req: &ServiceRequest<'_>) -> ServiceResponse {
    let routing = match query_param(req.raw_query, "routing_number") {
        Some(r) if kernel_spec::formats::is_aba_routing_number(&r) => r,
        _ => return bad_request("invalid routing_number"),
    };
    match ROUTING_NUMBERS
        .iter()
        .find(|(number, ..)| *number == routing)
    {
        Some((number, bank, city, state, ach, wire)) => (
            StatusCode::OK,
            json!({
                "routing_number": number,
                "bank_name": bank,
                "city": city,
                "state": state,
                "ach_supported": ach,
                "wire_supported": wire,
            }),
        ),
        None => message(StatusCode::NOT_FOUND, "routing number not found"),
    }
}

/// Headers that must never be echoed back.
const HIDDEN_HEADERS: &[&str] = &["authorization", "x-amz-security-token"];

fn echo(req: &ServiceRequest<'_>) -> ServiceResponse {
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in req.headers {
        if HIDDEN_HEADERS.contains(&name.as_str()) {
            continue;
        }
        headers
            .entry(name.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    (
        StatusCode::OK,
        json!({
            "method": req.method.as_str(),
            "raw_path": req.raw_path,
            "raw_query": req.raw_query,
            "headers": headers,
            "body_base64": base64(req.body),
            "body_utf8": std::str::from_utf8(req.body).ok(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(path: &str, body: &str) -> ServiceResponse {
        let body = Bytes::from(body.to_owned());
        let headers = HeaderMap::new();
        let req = ServiceRequest {
            method: &Method::POST,
            raw_path: path,
            raw_query: None,
            headers: &headers,
            body: &body,
        };
        let route = route(&Method::POST, path).expect("route exists");
        (route.handler)(&req)
    }

    fn get(path: &str, query: &str) -> ServiceResponse {
        let body = Bytes::new();
        let headers = HeaderMap::new();
        let req = ServiceRequest {
            method: &Method::GET,
            raw_path: path,
            raw_query: Some(query),
            headers: &headers,
            body: &body,
        };
        let route = route(&Method::GET, path).expect("route exists");
        (route.handler)(&req)
    }

    #[test]
    fn luhn_and_brands() {
        assert!(luhn_valid("4111111111111111"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(luhn_valid("378282246310005"));
        assert_eq!(card_brand("4111111111111111"), "VISA");
        assert_eq!(card_brand("5555555555554444"), "MASTERCARD");
        assert_eq!(card_brand("2223003122003222"), "MASTERCARD");
        assert_eq!(card_brand("378282246310005"), "AMEX");
        assert_eq!(card_brand("6011111111111117"), "DISCOVER");
        assert_eq!(card_brand("3530111333300000"), "JCB");
        assert_eq!(card_brand("30569309025904"), "DINERS");
    }

    #[test]
    fn aba_checksums() {
        for (number, ..) in ROUTING_NUMBERS {
            assert!(
                kernel_spec::formats::is_aba_routing_number(number),
                "{number}"
            );
        }
        assert!(!kernel_spec::formats::is_aba_routing_number("021000022"));
        assert!(!kernel_spec::formats::is_aba_routing_number("02100002"));
    }

    #[test]
    fn routes() {
        assert!(route(&Method::POST, "/k3/v1/tokenize").is_some_and(|r| r.mints_token));
        assert!(route(&Method::POST, "/echo/k3").is_some_and(|r| !r.mints_token));
        assert!(route(&Method::GET, "/k3/v1/tokenize").is_none());
        assert!(route(&Method::GET, "/bin-lookup-service/").is_some());
        assert!(route(&Method::GET, "/bin-lookup-service").is_some());
        assert!(route(&Method::DELETE, "/echo/anything/at/all").is_some());
        assert!(route(&Method::GET, "/nope/").is_none());
        assert!(route(&Method::GET, "/").is_none());
    }

    #[test]
    fn tokenize_validates_and_never_echoes() {
        let (status, body) = post(
            "/k3/v1/tokenize",
            r#"{"card_number":"4111111111111111","exp_month":"12","exp_year":"2030","cvv":"123"}"#,
        );
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["last_four"], "1111");
        assert_eq!(body["card_brand"], "VISA");
        let token = body["token"].as_str().expect("token");
        assert!(token.starts_with("tok_") && token.len() == 36);
        assert!(!body.to_string().contains("4111111111111111"));
        assert!(!body.to_string().contains("123\""));

        let cases = [
            (
                r#"{"card_number":"4111111111111112","exp_month":"12","exp_year":"2030","cvv":"123"}"#,
                "invalid card_number",
            ),
            (
                r#"{"card_number":"4111111111111111","exp_month":"13","exp_year":"2030","cvv":"123"}"#,
                "invalid exp_month",
            ),
            (
                r#"{"card_number":"4111111111111111","exp_month":12,"exp_year":"30","cvv":"123"}"#,
                "invalid exp_year",
            ),
            (
                r#"{"card_number":"4111111111111111","exp_month":1,"exp_year":2030,"cvv":"12"}"#,
                "invalid cvv",
            ),
            (
                "not json 4111111111111111",
                "request body is not valid JSON",
            ),
        ];
        for (input, expected) in cases {
            let (status, body) = post("/k3/v1/tokenize", input);
            assert_eq!(status, StatusCode::BAD_REQUEST, "{expected}");
            assert_eq!(body["message"], expected);
            assert!(!body.to_string().contains("4111111111111"));
        }
    }

    #[test]
    fn wallets() {
        let (status, body) = post(
            "/paze-wallet-key-service/decode-token",
            r#"{"token":"secret-wallet-token"}"#,
        );
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["decoded"]["token_type"], "PAZE");
        assert!(!body.to_string().contains("secret-wallet-token"));
        let (status, _) = post("/paze-wallet-key-service/decode-token", r#"{"token":""}"#);
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let apple = r#"{"paymentData":{"version":"EC_v1","data":"d","signature":"s","header":{"ephemeralPublicKey":"e","publicKeyHash":"h","transactionId":"t"}}}"#;
        let (status, body) = post("/apple-wallet-key-service/decrypt", apple);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["last_four"], "1111");
        let (status, body) = post(
            "/apple-wallet-key-service/decrypt",
            r#"{"paymentData":{"version":"EC_v1","data":"d","signature":"s","header":{"ephemeralPublicKey":"e","publicKeyHash":"h"}}}"#,
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["message"],
            "missing field: paymentData.header.transactionId"
        );

        let google = r#"{"protocolVersion":"ECv2","signature":"s","intermediateSigningKey":{"signedKey":"k","signatures":["x"]},"signedMessage":"m"}"#;
        let (status, body) = post("/google-wallet-key-service/decrypt", google);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["paymentMethodDetails"]["authMethod"], "CRYPTOGRAM_3DS");
        let (status, _) = post(
            "/google-wallet-key-service/decrypt",
            &google.replace("ECv2", "ECv1"),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn lookups() {
        let (status, body) = get("/bin-lookup-service/", "card_bin=41111122");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["card_brand"], "VISA");
        assert_eq!(body["card_bin"], "41111122");
        assert_eq!(
            get("/bin-lookup-service/", "card_bin=999999").0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get("/bin-lookup-service/", "card_bin=12345").0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            get("/bin-lookup-service/", "x=1").0,
            StatusCode::BAD_REQUEST
        );

        let (status, body) = get("/bank-data-service/", "routing_number=021000021");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["city"], "TAMPA");
        assert_eq!(body["ach_supported"], true);
        // Valid checksum, not in the table.
        assert!(kernel_spec::formats::is_aba_routing_number("011000028"));
        assert_eq!(
            get("/bank-data-service/", "routing_number=011000028").0,
            StatusCode::NOT_FOUND
        );
        let (status, body) = get("/bank-data-service/", "routing_number=021000022");
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["message"], "invalid routing_number");
    }
}
