//! Fault injection: scripted gateway faults, clock skew and STS failure countdowns, seen by clients
//! that sign with aws-sigv4 (the SDK's signer) — and, for the drop faults, by a raw TCP client
//! that proves not a single response byte was written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant, SystemTime};

use aws_sdk_sts::error::ProvideErrorMetadata;
use chrono::{DateTime, NaiveDateTime, Utc};
use common::{Creds, assume_mode1, bounded, call, request, send, sign_request, start, start_with};
use kernel_sandbox::{Fault, Sandbox, SandboxConfig, StsFailure};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CARD: &str =
    r#"{"card_number":"4111111111111111","exp_month":"12","exp_year":"2030","cvv":"123"}"#;
const TOKENIZE: &str = "/k3/v1/tokenize";
const MSG_EXPIRED_TOKEN: &str = "The security token included in the request is expired";
const MSG_INVALID_TOKEN: &str = "The security token included in the request is invalid.";

/// A request to the gateway signed (execute-api, sandbox region) as of `time`.
fn signed_at(
    sandbox: &Sandbox,
    creds: &Creds,
    method: Method,
    path: &str,
    body: Option<&str>,
    time: SystemTime,
) -> reqwest::Request {
    let mut req = request(sandbox, method, path, body);
    sign_request(
        &mut req,
        creds,
        &sandbox.config().region,
        "execute-api",
        time,
    );
    req
}

fn signed(
    sandbox: &Sandbox,
    creds: &Creds,
    method: Method,
    path: &str,
    body: Option<&str>,
) -> reqwest::Request {
    signed_at(sandbox, creds, method, path, body, SystemTime::now())
}

/// Sends and returns status, headers and JSON body (the common checks of `send` included).
async fn send_full(req: reqwest::Request) -> (u16, HeaderMap, Value) {
    let response = bounded("gateway request", common::http().execute(req))
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = bounded("gateway body", response.bytes())
        .await
        .expect("body");
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers.contains_key("x-amzn-requestid"));
    (
        status,
        headers,
        serde_json::from_slice(&body).expect("JSON body"),
    )
}

/// What a raw TCP client saw after writing one request.
#[derive(Debug)]
struct Raw {
    /// Every byte the server wrote before the connection ended.
    bytes: Vec<u8>,
    /// The connection ended with a reset rather than end-of-stream.
    reset: bool,
}

/// Writes `req` as raw HTTP/1.1 (with `connection: close`, unsigned and harmless) on a fresh
/// connection and reads until the server closes it.
async fn raw_exchange(sandbox: &Sandbox, req: &reqwest::Request) -> Raw {
    let addr = sandbox.gateway_endpoint().replace("http://", "");
    let url = req.url();
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let body = req
        .body()
        .and_then(|b| b.as_bytes())
        .unwrap_or(&[])
        .to_vec();
    let mut head = format!("{} {target} HTTP/1.1\r\nhost: {addr}\r\n", req.method());
    for (name, value) in req.headers() {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut wire = head.into_bytes();
    wire.extend_from_slice(&body);

    let mut stream = bounded("connect", tokio::net::TcpStream::connect(&addr))
        .await
        .expect("connects");
    stream.write_all(&wire).await.expect("request written");
    let mut bytes = Vec::new();
    let mut reset = false;
    let mut chunk = [0u8; 4096];
    loop {
        match bounded("server closes the connection", stream.read(&mut chunk)).await {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                reset = true;
                break;
            }
            Err(e) => panic!("unexpected read error: {e}"),
        }
    }
    Raw { bytes, reset }
}

fn parse_amz(s: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ")
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .and_utc()
}

fn amz(t: SystemTime) -> String {
    DateTime::<Utc>::from(t)
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// Seconds between the response's `Date` and the real clock now.
fn date_offset(headers: &HeaderMap) -> i64 {
    let date = headers["date"].to_str().unwrap();
    let date = DateTime::parse_from_rfc2822(date)
        .unwrap_or_else(|e| panic!("{date}: {e}"))
        .with_timezone(&Utc);
    (date - Utc::now()).num_seconds()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[tokio::test]
async fn status_faults_answer_in_order_then_the_route_recovers() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    sandbox.inject("echo", [Fault::Status(503), Fault::Status(503)]);

    for _ in 0..2 {
        let (status, headers, body) =
            send_full(signed(&sandbox, &creds, Method::GET, "/echo/x", None)).await;
        assert_eq!(status, 503);
        assert_eq!(body, serde_json::json!({"message": "Service Unavailable"}));
        assert_eq!(headers["x-amzn-errortype"], "ServiceUnavailableException");
        assert!(!headers.contains_key("retry-after"));
    }
    let (status, echo) = call(&sandbox, &creds, Method::GET, "/echo/x", None).await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(echo["raw_path"], "/echo/x");

    let c = sandbox.counters();
    assert_eq!(c.faults_applied, 2);
    assert_eq!(c.injected_responses, 2);
    assert_eq!(c.verified_requests, 1);
    assert_eq!(c.rejected_requests, 0);
    assert_eq!(c.gateway_requests, 3);
    assert_eq!(c.route_requests.get("echo"), Some(&3));
    assert!(sandbox.scripted_faults().is_empty());
}

#[tokio::test]
async fn status_faults_use_api_gateway_messages_and_skip_the_service() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    let cases = [
        (
            502,
            "Internal server error",
            Some("InternalServerErrorException"),
        ),
        (
            504,
            "Endpoint request timed out",
            Some("InternalServerErrorException"),
        ),
        (429, "Too Many Requests", Some("TooManyRequestsException")),
        (
            500,
            "Internal server error",
            Some("InternalServerErrorException"),
        ),
        (418, "I'm a teapot", None),
    ];
    sandbox.inject("k3", cases.iter().map(|(code, ..)| Fault::Status(*code)));
    for (code, message, error_type) in cases {
        let (status, headers, body) =
            send_full(signed(&sandbox, &creds, Method::POST, TOKENIZE, Some(CARD))).await;
        assert_eq!(status, code);
        assert_eq!(body["message"], message, "{code}");
        assert_eq!(
            headers.get("x-amzn-errortype").map(|v| v.to_str().unwrap()),
            error_type,
            "{code}"
        );
    }
    assert_eq!(sandbox.counters().tokens_issued, 0, "the service never ran");

    let (status, body) = call(&sandbox, &creds, Method::POST, TOKENIZE, Some(CARD)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["token"].as_str().unwrap().starts_with("tok_"));
    let c = sandbox.counters();
    assert_eq!(c.tokens_issued, 1);
    assert_eq!(c.injected_responses, 5);
    assert_eq!(c.route_requests.get("k3"), Some(&6));
}

#[tokio::test]
async fn status_with_retry_after_sends_the_header() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    sandbox.inject(
        "bin-lookup-service",
        [
            Fault::StatusRetryAfter(429, 2),
            Fault::StatusRetryAfter(503, 7),
        ],
    );
    let path = "/bin-lookup-service/?card_bin=411111";
    for (code, retry_after, message) in [
        (429, "2", "Too Many Requests"),
        (503, "7", "Service Unavailable"),
    ] {
        let (status, headers, body) =
            send_full(signed(&sandbox, &creds, Method::GET, path, None)).await;
        assert_eq!(status, code);
        assert_eq!(headers["retry-after"], retry_after);
        assert_eq!(body["message"], message);
    }
    let (status, headers, _) = send_full(signed(&sandbox, &creds, Method::GET, path, None)).await;
    assert_eq!(status, 200);
    assert!(!headers.contains_key("retry-after"));
    assert_eq!(sandbox.counters().faults_applied, 2);
}

#[tokio::test]
async fn latency_delays_then_behaves_normally() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    let latency = Duration::from_millis(400);
    sandbox.inject("echo", [Fault::Latency(latency), Fault::Latency(latency)]);

    let started = Instant::now();
    let (status, _) = call(&sandbox, &creds, Method::GET, "/echo/slow", None).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= latency, "{:?}", started.elapsed());

    // Latency applies before authentication: an unsigned request waits, then is refused.
    let started = Instant::now();
    let (status, body) = send(request(&sandbox, Method::GET, "/echo/slow", None)).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (403, Some("Missing Authentication Token"))
    );
    assert!(started.elapsed() >= latency, "{:?}", started.elapsed());

    let c = sandbox.counters();
    assert_eq!(c.faults_applied, 2);
    assert_eq!((c.verified_requests, c.rejected_requests), (1, 1));
}

#[tokio::test]
async fn drop_before_read_closes_without_answer_and_without_processing() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;

    // Control: the raw client does see an answer when there is no fault.
    let raw = raw_exchange(
        &sandbox,
        &signed(&sandbox, &creds, Method::GET, "/echo/control", None),
    )
    .await;
    assert!(raw.bytes.starts_with(b"HTTP/1.1 200 "), "{raw:?}");

    sandbox.inject("k3", [Fault::DropBeforeRead]);
    let raw = raw_exchange(
        &sandbox,
        &signed(&sandbox, &creds, Method::POST, TOKENIZE, Some(CARD)),
    )
    .await;
    assert!(raw.bytes.is_empty(), "no response byte: {raw:?}");
    let c = sandbox.counters();
    assert_eq!(c.dropped_before_read, 1);
    assert_eq!(c.tokens_issued, 0, "the tokenize was not processed");
    assert_eq!(c.verified_requests, 1, "only the control request");
    assert_eq!(c.faults_applied, 1);

    // An HTTP client sees a failed request (no status).
    sandbox.inject("k3", [Fault::DropBeforeRead]);
    let err = bounded(
        "dropped request",
        common::http().execute(signed(&sandbox, &creds, Method::POST, TOKENIZE, Some(CARD))),
    )
    .await
    .expect_err("connection closed without a response");
    assert!(err.status().is_none(), "{err:?}");

    // Before authentication: even an unsigned request is dropped, not refused.
    sandbox.inject("echo", [Fault::DropBeforeRead]);
    let raw = raw_exchange(&sandbox, &request(&sandbox, Method::GET, "/echo/x", None)).await;
    assert!(raw.bytes.is_empty(), "{raw:?}");

    let c = sandbox.counters();
    assert_eq!(c.dropped_before_read, 3);
    assert_eq!(c.tokens_issued, 0);
    assert_eq!(c.rejected_requests, 0);
    assert_eq!(
        c.gateway_requests,
        c.verified_requests + c.rejected_requests + c.injected_responses + c.dropped_before_read
    );

    // The script is used up: the route works again.
    let (status, _) = call(&sandbox, &creds, Method::POST, TOKENIZE, Some(CARD)).await;
    assert_eq!(status, 200);
    assert_eq!(sandbox.counters().tokens_issued, 1);
}

#[tokio::test]
async fn drop_after_read_processes_the_request_then_closes_without_answer() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    sandbox.inject("k3", [Fault::DropAfterRead]);
    let raw = raw_exchange(
        &sandbox,
        &signed(&sandbox, &creds, Method::POST, TOKENIZE, Some(CARD)),
    )
    .await;
    assert!(raw.bytes.is_empty(), "no response byte: {raw:?}");
    assert!(
        !raw.reset,
        "the whole request was read: a clean end-of-stream"
    );
    let c = sandbox.counters();
    assert_eq!(c.tokens_issued, 1, "the token was minted exactly once");
    assert_eq!(c.dropped_after_read, 1);
    assert_eq!(c.verified_requests, 1, "served");
    assert_eq!(c.faults_applied, 1);

    sandbox.inject("k3", [Fault::DropAfterRead]);
    let err = bounded(
        "dropped request",
        common::http().execute(signed(&sandbox, &creds, Method::POST, TOKENIZE, Some(CARD))),
    )
    .await
    .expect_err("connection closed without a response");
    assert!(err.status().is_none(), "{err:?}");
    let c = sandbox.counters();
    assert_eq!((c.tokens_issued, c.dropped_after_read), (2, 2));
    assert_eq!(c.route_requests.get("k3"), Some(&2));
}

#[tokio::test]
async fn post_auth_faults_wait_for_an_authenticated_request() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    sandbox.inject("echo", [Fault::Status(503), Fault::DropAfterRead]);
    // Unsigned requests are refused and leave the post-authentication faults in place.
    for _ in 0..2 {
        let raw = raw_exchange(&sandbox, &request(&sandbox, Method::GET, "/echo/x", None)).await;
        assert!(raw.bytes.starts_with(b"HTTP/1.1 403 "), "{raw:?}");
        assert!(
            String::from_utf8_lossy(&raw.bytes).contains("Missing Authentication Token"),
            "{raw:?}"
        );
    }
    assert_eq!(
        sandbox.scripted_faults().get("echo").map(Vec::len),
        Some(2),
        "nothing consumed by refused requests"
    );
    let c = sandbox.counters();
    assert_eq!(c.faults_applied, 0);
    assert_eq!(c.rejected_requests, 2);
    // The first authenticated request takes the 503, the next the drop, then normal.
    assert_eq!(
        call(&sandbox, &creds, Method::GET, "/echo/", None).await.0,
        503
    );
    let raw = raw_exchange(
        &sandbox,
        &signed(&sandbox, &creds, Method::GET, "/echo/x", None),
    )
    .await;
    assert!(raw.bytes.is_empty(), "dropped without an answer: {raw:?}");
    assert_eq!(
        call(&sandbox, &creds, Method::GET, "/echo/", None).await.0,
        200
    );
    let c = sandbox.counters();
    assert_eq!(c.faults_applied, 2);
    assert_eq!(c.dropped_after_read, 1);
    assert!(sandbox.scripted_faults().is_empty());
}

#[tokio::test]
async fn reject_faults_replace_authentication() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    sandbox.inject(
        "echo",
        [
            Fault::RejectTokenExpired,
            Fault::RejectTokenInvalid,
            Fault::RejectTokenExpired,
        ],
    );
    let (status, headers, body) =
        send_full(signed(&sandbox, &creds, Method::GET, "/echo/x", None)).await;
    assert_eq!(status, 403);
    assert_eq!(body, serde_json::json!({"message": MSG_EXPIRED_TOKEN}));
    assert_eq!(headers["x-amzn-errortype"], "ExpiredTokenException");

    let (status, headers, body) =
        send_full(signed(&sandbox, &creds, Method::GET, "/echo/x", None)).await;
    assert_eq!(status, 403);
    assert_eq!(body, serde_json::json!({"message": MSG_INVALID_TOKEN}));
    assert_eq!(headers["x-amzn-errortype"], "UnrecognizedClientException");

    // Regardless of the credentials: even an unsigned request gets the scripted refusal.
    let (status, body) = send(request(&sandbox, Method::GET, "/echo/x", None)).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (403, Some(MSG_EXPIRED_TOKEN))
    );

    // The same credentials work once the script is used up.
    assert_eq!(
        call(&sandbox, &creds, Method::GET, "/echo/x", None).await.0,
        200
    );
    let c = sandbox.counters();
    assert_eq!(c.rejections.get("expired-token"), Some(&2));
    assert_eq!(c.rejections.get("invalid-token"), Some(&1));
    assert_eq!(c.faults_applied, 3);
    assert_eq!((c.verified_requests, c.rejected_requests), (1, 3));
}

#[tokio::test]
async fn clock_skew_ahead_expires_real_time_signatures_and_skews_date() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    sandbox.set_clock_skew(600);
    assert_eq!(sandbox.clock_skew(), 600);

    // Signed with the real clock: 10 minutes in the gateway's past.
    let signed_time = SystemTime::now();
    let before = Utc::now();
    let (status, headers, body) = send_full(signed_at(
        &sandbox,
        &creds,
        Method::GET,
        "/echo/x",
        None,
        signed_time,
    ))
    .await;
    let after = Utc::now();
    assert_eq!(status, 403, "{body}");
    assert_eq!(headers["x-amzn-errortype"], "InvalidSignatureException");
    let message = body["message"].as_str().unwrap();
    let rest = message
        .strip_prefix(&format!(
            "Signature expired: {} is now earlier than ",
            amz(signed_time)
        ))
        .unwrap_or_else(|| panic!("{message}"));
    let (limit, now) = rest
        .strip_suffix(" - 5 min.)")
        .and_then(|r| r.split_once(" ("))
        .unwrap_or_else(|| panic!("{message}"));
    let (limit, now) = (parse_amz(limit), parse_amz(now));
    assert_eq!(now - limit, chrono::TimeDelta::minutes(5));
    let skewed = chrono::TimeDelta::seconds(600);
    assert!(
        now >= (before + skewed) - chrono::TimeDelta::seconds(1) && now <= after + skewed,
        "gateway now {now} is real time + 600 s ({before}..{after})"
    );
    let offset = date_offset(&headers);
    assert!(
        (598..=602).contains(&offset),
        "Date is skewed by {offset} s"
    );
    assert_eq!(
        sandbox.counters().rejections.get("signature-expired"),
        Some(&1)
    );

    // Signed with the gateway's clock (real + 600 s): accepted, and Date still skewed.
    let (status, headers, body) = send_full(signed_at(
        &sandbox,
        &creds,
        Method::POST,
        TOKENIZE,
        Some(CARD),
        SystemTime::now() + secs(600),
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    let offset = date_offset(&headers);
    assert!(
        (598..=602).contains(&offset),
        "Date is skewed by {offset} s"
    );

    // Back to the real clock: the same future signature is "not yet current".
    sandbox.set_clock_skew(0);
    let t = SystemTime::now() + secs(600);
    let (status, headers, body) =
        send_full(signed_at(&sandbox, &creds, Method::GET, "/echo/x", None, t)).await;
    assert_eq!(status, 403);
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "Signature not yet current: {} is still later than ",
            amz(t)
        )),
        "{message}"
    );
    assert!(date_offset(&headers).abs() <= 2);
}

#[tokio::test]
async fn clock_skew_behind_makes_real_time_signatures_not_yet_current() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    sandbox.set_clock_skew(-600);

    let t = SystemTime::now();
    let (status, headers, body) =
        send_full(signed_at(&sandbox, &creds, Method::GET, "/echo/x", None, t)).await;
    assert_eq!(status, 403, "{body}");
    let message = body["message"].as_str().unwrap();
    let rest = message
        .strip_prefix(&format!(
            "Signature not yet current: {} is still later than ",
            amz(t)
        ))
        .unwrap_or_else(|| panic!("{message}"));
    let (limit, now) = rest
        .strip_suffix(" + 5 min.)")
        .and_then(|r| r.split_once(" ("))
        .unwrap_or_else(|| panic!("{message}"));
    let (limit, now) = (parse_amz(limit), parse_amz(now));
    assert_eq!(limit - now, chrono::TimeDelta::minutes(5));
    let lag = (DateTime::<Utc>::from(t) - now).num_seconds();
    assert!((599..=601).contains(&lag), "gateway is {lag} s behind");
    let offset = date_offset(&headers);
    assert!(
        (-602..=-598).contains(&offset),
        "Date is skewed by {offset} s"
    );

    let t = SystemTime::now() - secs(600);
    assert_eq!(
        send(signed_at(&sandbox, &creds, Method::GET, "/echo/x", None, t))
            .await
            .0,
        200
    );
    assert_eq!(
        sandbox
            .counters()
            .rejections
            .get("signature-not-yet-current"),
        Some(&1)
    );
}

#[tokio::test]
async fn credential_expiry_stays_on_the_real_clock() {
    // Credentials valid for an hour; the gateway clock 2 h ahead: still accepted when the
    // signature time matches the gateway's clock.
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    sandbox.set_clock_skew(7200);
    let t = SystemTime::now() + secs(7200);
    let (status, body) = send(signed_at(&sandbox, &creds, Method::GET, "/echo/x", None, t)).await;
    assert_eq!(status, 200, "{body}");

    // Credentials that expired (real clock) are refused even with the gateway clock behind.
    let sandbox = start_with(SandboxConfig {
        credential_lifetime: Some(Duration::from_secs(1)),
        ..SandboxConfig::default()
    })
    .await;
    let creds = assume_mode1(&sandbox).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sandbox.set_clock_skew(-3600);
    let t = SystemTime::now() - secs(3600);
    let (status, body) = send(signed_at(&sandbox, &creds, Method::GET, "/echo/x", None, t)).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (403, Some(MSG_EXPIRED_TOKEN))
    );
}

#[tokio::test]
async fn fail_sts_next_fails_n_calls_then_recovers() {
    let sandbox = start().await;
    let client = common::sts_client(&sandbox);
    let assume = || {
        client
            .assume_role()
            .role_arn(sandbox.config().role_arn())
            .role_session_name("kernel-service-call")
            .send()
    };
    sandbox.fail_sts_next(2, StsFailure::Throttling);
    assert_eq!(
        sandbox.sts_failures_pending(),
        Some((2, StsFailure::Throttling))
    );
    for left in [1, 0] {
        let err = bounded("assume", assume()).await.expect_err("throttled");
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
        let e = err.into_service_error();
        assert_eq!(e.code(), Some("Throttling"), "{e:?}");
        assert_eq!(e.message(), Some("Rate exceeded"));
        assert_eq!(
            sandbox.sts_failures_pending().map(|(n, _)| n),
            (left > 0).then_some(left)
        );
    }
    bounded("assume", assume()).await.expect("STS recovered");
    let c = sandbox.counters();
    assert_eq!((c.assume_role_calls, c.assume_role_granted), (3, 1));

    // The countdown goes before a persistent failure, which applies again afterwards.
    sandbox.set_sts_failure(Some(StsFailure::InternalError));
    sandbox.fail_sts_next(1, StsFailure::Unavailable);
    let codes = [
        bounded("assume", assume())
            .await
            .expect_err("1")
            .into_service_error(),
        bounded("assume", assume())
            .await
            .expect_err("2")
            .into_service_error(),
    ];
    assert_eq!(codes[0].code(), Some("ServiceUnavailable"));
    assert_eq!(codes[1].code(), Some("InternalFailure"));
    sandbox.set_sts_failure(None);

    // clear_faults cancels the countdown.
    sandbox.fail_sts_next(5, StsFailure::Throttling);
    sandbox.clear_faults();
    assert_eq!(sandbox.sts_failures_pending(), None);
    bounded("assume", assume()).await.expect("no failure left");
}

#[tokio::test]
async fn route_requests_count_every_request_by_first_segment() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    sandbox.inject("bin-lookup-service", [Fault::DropBeforeRead]);

    call(&sandbox, &creds, Method::GET, "/echo/a/b", None).await;
    call(&sandbox, &creds, Method::GET, "/echo", None).await;
    send(request(&sandbox, Method::POST, TOKENIZE, Some(CARD))).await; // unsigned: rejected
    call(&sandbox, &creds, Method::GET, "/nope/x", None).await; // unknown route
    call(&sandbox, &creds, Method::GET, "/", None).await;
    call(&sandbox, &creds, Method::GET, "/4111111111111111/x", None).await;
    let raw = raw_exchange(
        &sandbox,
        &signed(
            &sandbox,
            &creds,
            Method::GET,
            "/bin-lookup-service/?card_bin=411111",
            None,
        ),
    )
    .await;
    assert!(raw.bytes.is_empty());

    let c = sandbox.counters();
    let expected: Vec<(&str, u64)> = vec![
        ("", 1),
        ("################", 1),
        ("bin-lookup-service", 1),
        ("echo", 2),
        ("k3", 1),
        ("nope", 1),
    ];
    assert_eq!(
        c.route_requests,
        expected
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    );
    assert_eq!(c.route_requests.values().sum::<u64>(), c.gateway_requests);
    assert_eq!(c.gateway_requests, 7);
}

#[tokio::test]
async fn scripts_are_per_route_append_and_clear() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    sandbox.inject("echo", [Fault::Status(503)]);
    sandbox.inject("/echo/", [Fault::Status(500)]);
    sandbox.inject("k3", [Fault::DropBeforeRead]);
    assert_eq!(
        sandbox.scripted_faults(),
        [
            (
                "echo".to_owned(),
                vec![Fault::Status(503), Fault::Status(500)]
            ),
            ("k3".to_owned(), vec![Fault::DropBeforeRead]),
        ]
        .into_iter()
        .collect()
    );
    // Other routes are untouched.
    assert_eq!(
        call(
            &sandbox,
            &creds,
            Method::GET,
            "/bin-lookup-service/?card_bin=411111",
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(&sandbox, &creds, Method::GET, "/echo/", None).await.0,
        503
    );
    assert_eq!(
        call(&sandbox, &creds, Method::GET, "/echo/", None).await.0,
        500
    );
    assert_eq!(
        call(&sandbox, &creds, Method::GET, "/echo/", None).await.0,
        200
    );

    sandbox.inject("echo", [Fault::Status(503), Fault::DropAfterRead]);
    sandbox.clear_faults();
    assert!(sandbox.scripted_faults().is_empty());
    assert_eq!(
        call(&sandbox, &creds, Method::GET, "/echo/", None).await.0,
        200
    );
    let (status, _) = call(&sandbox, &creds, Method::POST, TOKENIZE, Some(CARD)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn shutdown_completes_with_a_request_in_flight_and_a_dropped_one() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    sandbox.inject(
        "echo",
        [
            Fault::DropAfterRead,
            Fault::Latency(Duration::from_millis(500)),
        ],
    );
    let raw = raw_exchange(
        &sandbox,
        &signed(&sandbox, &creds, Method::GET, "/echo/", None),
    )
    .await;
    assert!(raw.bytes.is_empty());
    let slow = tokio::spawn(common::http().execute(signed(
        &sandbox,
        &creds,
        Method::GET,
        "/echo/slow",
        None,
    )));
    tokio::time::sleep(Duration::from_millis(100)).await;
    bounded("shutdown", sandbox.shutdown()).await;
    let response = bounded("in-flight request", slow)
        .await
        .expect("task")
        .expect("the in-flight request is answered before the server stops");
    assert_eq!(response.status(), 200);
}
