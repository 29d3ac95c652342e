//! Reliability under injected faults (the sandbox scripts them per route). Every test
//! asserts the outcome and how many requests the sandbox saw.

use std::time::{Duration, Instant};

use kernel_core::{CallOptions, Error, KernelClient, RetryPolicy, TimeoutKind, TransportError};
use kernel_sandbox::{Fault, Sandbox, StsFailure};
use serde_json::json;

use crate::support;

const BIN: &str = "bin-lookup-service";

fn card() -> serde_json::Value {
    json!({"card_number": "4111111111111111", "exp_month": "12", "exp_year": "2030", "cvv": "123"})
}

fn seen(sandbox: &Sandbox, route: &str) -> u64 {
    sandbox
        .counters()
        .route_requests
        .get(route)
        .copied()
        .unwrap_or(0)
}

async fn bin(client: &KernelClient, opts: CallOptions) -> Result<kernel_core::Response, Error> {
    client.bin_lookup("?card_bin=411111", opts).await
}

async fn tokenize(
    client: &KernelClient,
    opts: CallOptions,
) -> Result<kernel_core::Response, Error> {
    client.k3("v1/tokenize", opts.json(&card())).await
}

/// A fast policy so that tests do not sleep through real backoff.
fn fast() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    }
}

async fn setup() -> (Sandbox, KernelClient) {
    let sandbox = support::sandbox().await;
    let client = support::client(&sandbox, false).await;
    (sandbox, client)
}

#[tokio::test]
async fn get_is_retried_through_503s() {
    let (sandbox, client) = setup().await;
    sandbox.inject(BIN, [Fault::Status(503), Fault::Status(503)]);
    let r = bin(&client, CallOptions::new().retry(fast()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(seen(&sandbox, BIN), 3);
}

#[tokio::test]
async fn each_transient_status_is_retried_for_get() {
    let (sandbox, client) = setup().await;
    for status in [429, 502, 503, 504] {
        sandbox.inject(BIN, [Fault::Status(status)]);
        bin(&client, CallOptions::new().retry(fast()))
            .await
            .unwrap();
    }
    assert_eq!(seen(&sandbox, BIN), 8);
    // 500 is not transient: no retry.
    sandbox.inject(BIN, [Fault::Status(500)]);
    let err = bin(&client, CallOptions::new().retry(fast()))
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    assert_eq!(err.attempts(), 1);
    assert_eq!(seen(&sandbox, BIN), 9);
}

#[tokio::test]
async fn attempts_are_bounded_and_reported() {
    let (sandbox, client) = setup().await;
    sandbox.inject(
        BIN,
        [
            Fault::Status(503),
            Fault::Status(503),
            Fault::Status(504),
            Fault::Status(503),
        ],
    );
    let err = bin(&client, CallOptions::new().retry(fast()))
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(504));
    let text = err.to_string();
    assert!(
        text.contains("gave up after 3 attempts (1: HTTP 503; 2: HTTP 503; 3: HTTP 504)"),
        "{text}"
    );
    assert_eq!(seen(&sandbox, BIN), 3);
    sandbox.clear_faults();
    // Per-call "no retries".
    sandbox.inject(BIN, [Fault::Status(503)]);
    let err = bin(&client, CallOptions::new().no_retries())
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 1);
    assert_eq!(seen(&sandbox, BIN), 4);
}

#[tokio::test]
async fn tokenize_is_never_repeated_after_503() {
    let (sandbox, client) = setup().await;
    sandbox.inject("k3", [Fault::Status(503)]);
    let err = tokenize(&client, CallOptions::new().retry(fast()))
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(err.attempts(), 1);
    assert_eq!(seen(&sandbox, "k3"), 1, "the POST was sent exactly once");
    assert_eq!(sandbox.counters().tokens_issued, 0);
}

#[tokio::test]
async fn tokenize_is_never_repeated_after_a_dropped_connection() {
    let (sandbox, client) = setup().await;
    // The service processed the request (a token was minted), then the connection died.
    sandbox.inject("k3", [Fault::DropAfterRead]);
    let err = tokenize(&client, CallOptions::new().retry(fast()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert_eq!(err.attempts(), 1);
    let c = sandbox.counters();
    assert_eq!(c.route_requests.get("k3"), Some(&1));
    assert_eq!(c.tokens_issued, 1, "tokenized once, never twice");
    assert_eq!(c.dropped_after_read, 1);
    // Dropped before the body was read: the client cannot tell the difference, so it
    // still does not repeat the POST.
    sandbox.inject("k3", [Fault::DropBeforeRead]);
    let err = tokenize(&client, CallOptions::new().retry(fast()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert_eq!(seen(&sandbox, "k3"), 2);
    assert_eq!(sandbox.counters().tokens_issued, 1);
}

#[tokio::test]
async fn get_is_retried_after_a_dropped_connection() {
    let (sandbox, client) = setup().await;
    sandbox.inject(BIN, [Fault::DropAfterRead, Fault::DropBeforeRead]);
    let r = bin(&client, CallOptions::new().retry(fast()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(seen(&sandbox, BIN), 3);
}

#[tokio::test]
async fn post_marked_idempotent_is_retried() {
    let (sandbox, client) = setup().await;
    sandbox.inject("k3", [Fault::Status(503)]);
    let r = tokenize(
        &client,
        CallOptions::new()
            .retry(fast())
            .idempotent(true)
            .header("x-idempotency-key", "order-42"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(seen(&sandbox, "k3"), 2);
    assert_eq!(sandbox.counters().tokens_issued, 1);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (sandbox, client) = setup().await;
    sandbox.inject(BIN, [Fault::StatusRetryAfter(429, 1)]);
    let started = Instant::now();
    bin(&client, CallOptions::new().retry(fast()))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(seen(&sandbox, BIN), 2);
    // A Retry-After beyond max_retry_after ends the retries at once.
    sandbox.inject(BIN, [Fault::StatusRetryAfter(503, 30)]);
    let policy = RetryPolicy {
        max_retry_after: Duration::from_secs(2),
        ..fast()
    };
    let started = Instant::now();
    let err = bin(&client, CallOptions::new().retry(policy))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert!(err.to_string().contains("Retry-After"), "{err}");
    assert_eq!(seen(&sandbox, BIN), 3);
}

#[tokio::test]
async fn read_timeout_is_retried_for_get_not_for_post() {
    let (sandbox, client) = setup().await;
    let opts = || {
        CallOptions::new()
            .retry(fast())
            .read_timeout(Duration::from_millis(300))
    };
    sandbox.inject(BIN, [Fault::Latency(Duration::from_secs(2))]);
    bin(&client, opts()).await.unwrap();
    assert_eq!(seen(&sandbox, BIN), 2);
    sandbox.inject("k3", [Fault::Latency(Duration::from_secs(2))]);
    let err = tokenize(&client, opts()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport(TransportError::Timeout {
                kind: TimeoutKind::Read,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(seen(&sandbox, "k3"), 1);
}

#[tokio::test]
async fn overall_deadline_says_so() {
    let (sandbox, client) = setup().await;
    sandbox.inject(
        BIN,
        [
            Fault::Latency(Duration::from_secs(3)),
            Fault::Latency(Duration::from_secs(3)),
        ],
    );
    let started = Instant::now();
    let err = bin(
        &client,
        CallOptions::new()
            .retry(fast())
            .deadline(Duration::from_millis(500)),
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(
            err,
            Error::Transport(TransportError::Timeout {
                kind: TimeoutKind::Deadline,
                ..
            })
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("overall deadline timeout"),
        "{err}"
    );
}

#[tokio::test]
async fn clock_skew_is_learnt_from_date_and_kept() {
    for skew in [600i64, -600] {
        let (sandbox, client) = setup().await;
        sandbox.set_clock_skew(skew);
        // A POST is corrected too: the authorizer refused it before the service saw it.
        let r = tokenize(&client, CallOptions::new().no_retries())
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(seen(&sandbox, "k3"), 2);
        assert_eq!(sandbox.counters().tokens_issued, 1);
        let learnt = client.clock_offset_ms();
        assert!(
            (learnt - skew * 1000).abs() < 2500,
            "skew {skew}s, learnt {learnt} ms"
        );
        // Later calls sign with the corrected clock at once.
        bin(&client, CallOptions::new().no_retries()).await.unwrap();
        assert_eq!(seen(&sandbox, BIN), 1);
        let rej = sandbox.counters().rejections;
        let reason = if skew > 0 {
            "signature-expired"
        } else {
            "signature-not-yet-current"
        };
        assert_eq!(rej.get(reason), Some(&1), "{rej:?}");
    }
}

#[tokio::test]
async fn rejected_credentials_are_replaced_once() {
    let (sandbox, client) = setup().await;
    bin(&client, CallOptions::new()).await.unwrap();
    assert_eq!(client.sts_calls(), 1);
    sandbox.inject(BIN, [Fault::RejectTokenExpired]);
    bin(&client, CallOptions::new().no_retries()).await.unwrap();
    assert_eq!(client.sts_calls(), 2, "the role was assumed again");
    assert_eq!(seen(&sandbox, BIN), 3);
    sandbox.inject("k3", [Fault::RejectTokenInvalid]);
    tokenize(&client, CallOptions::new()).await.unwrap();
    assert_eq!(client.sts_calls(), 3);
    assert_eq!(sandbox.counters().tokens_issued, 1);
    // Rejected twice in a row: one replacement, then the error.
    sandbox.inject(BIN, [Fault::RejectTokenExpired, Fault::RejectTokenExpired]);
    let err = bin(&client, CallOptions::new()).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403));
    assert_eq!(err.attempts(), 2);
    assert!(err.to_string().contains("security token"), "{err}");
}

#[tokio::test]
async fn sts_throttling_is_retried_with_backoff() {
    let (sandbox, client) = setup().await;
    sandbox.fail_sts_next(2, StsFailure::Throttling);
    bin(&client, CallOptions::new()).await.unwrap();
    assert_eq!(sandbox.counters().assume_role_calls, 3);
    assert_eq!(
        client.sts_calls(),
        1,
        "one logical AssumeRole, retried inside the STS client"
    );
}

#[tokio::test]
async fn sts_5xx_is_retried_and_access_denied_is_not() {
    let (sandbox, client) = setup().await;
    sandbox.fail_sts_next(1, StsFailure::Unavailable);
    bin(&client, CallOptions::new()).await.unwrap();
    assert_eq!(sandbox.counters().assume_role_calls, 2);

    let cfg = support::config_builder(&sandbox, false)
        .external_id("not-the-external-id")
        .build()
        .unwrap();
    let denied = support::client_from(&sandbox, cfg, Default::default()).await;
    let err = bin(&denied, CallOptions::new()).await.unwrap_err();
    let Error::AssumeRole(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.code.as_deref(), Some("AccessDenied"));
    assert!(!e.retryable);
    let text = err.to_string();
    assert!(
        text.contains("mode 2") && text.contains("ExternalId sent"),
        "{text}"
    );
    assert!(!text.contains("not-the-external-id"));
    assert_eq!(
        sandbox.counters().assume_role_calls,
        3,
        "AccessDenied is not retried"
    );
}

#[tokio::test]
async fn retry_quota_stops_hammering_a_failing_kernel() {
    let (sandbox, client) = setup().await;
    sandbox.inject(BIN, std::iter::repeat_n(Fault::Status(503), 400));
    let policy = RetryPolicy {
        base_delay: Duration::from_millis(1),
        ..RetryPolicy::default()
    };
    let mut calls = 0;
    while client.retry_tokens() >= 5 && calls < 100 {
        let err = bin(&client, CallOptions::new().retry(policy))
            .await
            .unwrap_err();
        assert_eq!(err.attempts(), 3);
        calls += 1;
    }
    assert_eq!(calls, 50, "500 tokens / (2 retries x 5)");
    let before = seen(&sandbox, BIN);
    let err = bin(&client, CallOptions::new().retry(policy))
        .await
        .unwrap_err();
    assert_eq!(
        seen(&sandbox, BIN) - before,
        1,
        "no retry once the quota is empty"
    );
    assert_eq!(err.attempts(), 1);
    assert!(err.to_string().contains("retry quota exhausted"), "{err}");
    // Successes refill it.
    sandbox.clear_faults();
    for _ in 0..5 {
        bin(&client, CallOptions::new()).await.unwrap();
    }
    assert_eq!(client.retry_tokens(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_ride_out_sts_failing_during_refresh() {
    // 10 s credentials: advisory window 5 s (refresh somewhere in [expiry-5 s, expiry-2.5 s]),
    // mandatory window 2.5 s, safety margin 1 s.
    let sandbox =
        support::sandbox_with(|c| c.credential_lifetime = Some(Duration::from_secs(10))).await;
    let client = support::client(&sandbox, false).await;
    bin(&client, CallOptions::new()).await.unwrap();
    let expiry = client.credentials().get().await.unwrap().expiry();
    sandbox.set_sts_failure(Some(StsFailure::Unavailable));
    // Into the mandatory window, where every refresh attempt fails, while still valid.
    let target = expiry - Duration::from_millis(2400);
    if let Ok(wait) = target.duration_since(std::time::SystemTime::now()) {
        tokio::time::sleep(wait).await;
    }
    let calls = (0..256).map(|_| {
        let c = client.clone();
        tokio::spawn(async move { bin(&c, CallOptions::new()).await.map(|_| ()) })
    });
    let results = futures::future::join_all(calls).await;
    let failed = results.iter().filter(|r| !matches!(r, Ok(Ok(())))).count();
    assert_eq!(failed, 0, "no call fails while the credentials are valid");
    assert!(
        std::time::SystemTime::now() < expiry,
        "the calls ran before expiry"
    );
    // The background refresh hit the failing STS (bounded wait: it runs concurrently).
    let deadline = Instant::now() + Duration::from_secs(5);
    while sandbox.counters().assume_role_calls < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        sandbox.counters().assume_role_calls >= 2,
        "a refresh was attempted"
    );
    // Single-flight plus backoff: a handful of refresh attempts, not one per call.
    assert!(
        client.sts_calls() <= 4,
        "STS hammered: {}",
        client.sts_calls()
    );
    assert_eq!(sandbox.counters().rejected_requests, 0);
}

#[tokio::test]
async fn huge_or_endless_bodies_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n").await;
                let chunk = format!("{:x}\r\n{}\r\n", 65536, "x".repeat(65536));
                // "Endless": up to 64 MiB, far beyond the 1 MiB cap.
                for _ in 0..1024 {
                    if sock.write_all(chunk.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let sandbox = support::sandbox().await;
    let cfg = support::config_builder(&sandbox, false)
        .service_endpoint_url(BIN, format!("http://{addr}"))
        .max_response_bytes(1024 * 1024)
        .build()
        .unwrap();
    let client = support::client_from(&sandbox, cfg, Default::default()).await;
    let err = bin(&client, CallOptions::new()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport(TransportError::BodyTooLarge {
                limit: 1_048_576,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(err.attempts(), 1, "not retried");
    server.abort();
}
