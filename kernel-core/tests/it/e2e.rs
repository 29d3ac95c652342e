//! End to end over loopback: the SDK signs, the sandbox's independent verifier
//! (scratchstack-aws-signature, API Gateway's double-encoded canonical path) accepts.

use std::time::Duration;

use http::Method;
use kernel_core::{CallOptions, Error, Service, TimeoutKind, TransportError};
use serde_json::{Value, json};

use crate::support;

async fn echo(
    client: &kernel_core::KernelClient,
    method: Method,
    endpoint: &str,
    opts: CallOptions,
) -> Value {
    let resp = client
        .call("echo", endpoint, opts.method(method))
        .await
        .unwrap_or_else(|e| panic!("{endpoint:?}: {e}"));
    assert_eq!(resp.status(), 200);
    resp.json().unwrap()
}

#[tokio::test]
async fn signed_requests_of_every_shape_verify() {
    let sandbox = support::sandbox().await;
    let client = support::client(&sandbox, false).await;

    // GET with a query.
    let e = echo(
        &client,
        Method::GET,
        "items?card_bin=411111&x=y",
        CallOptions::new(),
    )
    .await;
    assert_eq!(e["method"], "GET");
    assert_eq!(e["raw_path"], "/echo/items");
    assert_eq!(e["raw_query"], "card_bin=411111&x=y");
    assert_eq!(e["headers"]["accept"][0], "application/json");
    assert!(
        e["headers"].get("content-type").is_none(),
        "no body, no content-type"
    );

    // POST with a JSON body: exact bytes, content-type set.
    let body = json!({"card_number": "4111111111111111", "nested": {"a": [1, 2, 3]}, "s": "é ü"});
    let e = echo(
        &client,
        Method::POST,
        "v1/things",
        CallOptions::new().json(&body),
    )
    .await;
    assert_eq!(e["headers"]["content-type"][0], "application/json");
    assert_eq!(
        serde_json::from_str::<Value>(e["body_utf8"].as_str().unwrap()).unwrap(),
        body
    );

    // Raw bytes body.
    let e = echo(
        &client,
        Method::PUT,
        "raw",
        CallOptions::new().body(&b"\x00\x01binary"[..]),
    )
    .await;
    assert_eq!(e["body_base64"], "AAFiaW5hcnk=");

    // Paths: a space, a non-ASCII character, and `@ = $`.
    let e = echo(&client, Method::GET, "a b/c", CallOptions::new()).await;
    assert_eq!(e["raw_path"], "/echo/a%20b/c");
    let e = echo(&client, Method::GET, "café/é", CallOptions::new()).await;
    assert_eq!(e["raw_path"], "/echo/caf%C3%A9/%C3%A9");
    let e = echo(
        &client,
        Method::GET,
        "x/$default/@connections/a=b",
        CallOptions::new(),
    )
    .await;
    assert_eq!(e["raw_path"], "/echo/x/$default/@connections/a=b");
    let e = echo(
        &client,
        Method::GET,
        "x/%40already%20encoded",
        CallOptions::new(),
    )
    .await;
    assert_eq!(e["raw_path"], "/echo/x/%40already%20encoded");

    // Queries: repeated keys (unsorted), a key without value, + vs %2B vs %20, raw space.
    let e = echo(&client, Method::GET, "q?b=2&a=1&a=0", CallOptions::new()).await;
    assert_eq!(e["raw_query"], "b=2&a=1&a=0");
    let e = echo(&client, Method::GET, "q?flag&x=1", CallOptions::new()).await;
    assert_eq!(e["raw_query"], "flag&x=1");
    let e = echo(
        &client,
        Method::GET,
        "q?p=a+b&e=a%2Bb&s=a%20b",
        CallOptions::new(),
    )
    .await;
    assert_eq!(e["raw_query"], "p=a+b&e=a%2Bb&s=a%20b");
    let e = echo(&client, Method::GET, "q?s=a b&t=~*'()", CallOptions::new()).await;
    assert_eq!(e["raw_query"], "s=a%20b&t=~*%27()");
    let e = echo(
        &client,
        Method::GET,
        "q?k=%3D%26&empty=",
        CallOptions::new(),
    )
    .await;
    assert_eq!(e["raw_query"], "k=%3D%26&empty=");

    // A non-default port: the sandbox listens on a random one, and the signed host has it.
    let port = url::Url::parse(&sandbox.gateway_endpoint())
        .unwrap()
        .port()
        .unwrap();
    assert_ne!(port, 80);
    assert_eq!(e["headers"]["host"][0], format!("127.0.0.1:{port}"));

    // Other methods and extra headers (signed too).
    let e = echo(
        &client,
        Method::DELETE,
        "d",
        CallOptions::new()
            .header("X-Idempotency-Key", "k-1")
            .header("x-multi", "a")
            .header("x-multi", "b"),
    )
    .await;
    assert_eq!(e["method"], "DELETE");
    assert_eq!(e["headers"]["x-idempotency-key"][0], "k-1");
    assert_eq!(e["headers"]["x-multi"], json!(["a", "b"]));

    let c = sandbox.counters();
    assert_eq!(c.rejected_requests, 0, "{c:?}");
    assert_eq!(c.verified_requests, 13, "{c:?}");
    assert_eq!(c.assume_role_calls, 1, "one AssumeRole for all calls");
    assert_eq!(client.sts_calls(), 1);
}

#[tokio::test]
async fn six_services_in_both_modes() {
    let sandbox = support::sandbox().await;
    for external in [false, true] {
        let client = support::client(&sandbox, external).await;
        let card = json!({"card_number": "4111111111111111", "exp_month": "12", "exp_year": "2030", "cvv": "123"});
        let r = client
            .k3("v1/tokenize", CallOptions::new().json(&card))
            .await
            .unwrap();
        let v: Value = r.json().unwrap();
        assert!(v["token"].as_str().unwrap().starts_with("tok_"), "{v}");
        assert!(!String::from_utf8_lossy(r.body()).contains("4111111111111111"));

        let r = client
            .paze(
                "decode-token",
                CallOptions::new().json(&json!({"token": "paze-sandbox-token"})),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let apple = json!({"paymentData": {"version": "EC_v1", "data": "ZGF0YQ==", "signature": "c2ln",
            "header": {"ephemeralPublicKey": "a2V5", "publicKeyHash": "aGFzaA==", "transactionId": "abc"}}});
        let r = client
            .apple_wallet("decrypt", CallOptions::new().json(&apple))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let google = json!({"protocolVersion": "ECv2", "signature": "c2ln",
            "intermediateSigningKey": {"signedKey": "a2V5", "signatures": ["c2ln"]}, "signedMessage": "bXNn"});
        let r = client
            .google_wallet("decrypt", CallOptions::new().json(&google))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = client
            .bin_lookup("?card_bin=411111", CallOptions::new())
            .await
            .unwrap();
        let v: Value = r.json().unwrap();
        assert_eq!(v["card_brand"], "VISA");
        let r = client
            .bank_data("?routing_number=021000021", CallOptions::new())
            .await
            .unwrap();
        let v: Value = r.json().unwrap();
        assert!(v["bank_name"].as_str().unwrap().contains("JPMORGAN"), "{v}");
        assert_eq!(client.sts_calls(), 1);

        let rec = sandbox.counters().last_assume_role.unwrap();
        assert_eq!(rec.external_id_sent, external);
        assert_eq!(rec.role_session_name, "kernel-service-call");
        assert!(rec.role_arn.ends_with(if external {
            "role/kernel-access-external"
        } else {
            "role/kernel-access"
        }));
    }
    let c = sandbox.counters();
    assert_eq!(c.assume_role_calls, 2);
    assert_eq!(c.verified_requests, 12);
    assert_eq!(c.rejected_requests, 0);
}

#[tokio::test]
async fn error_status_keeps_status_headers_and_body() {
    let sandbox = support::sandbox().await;
    let client = support::client(&sandbox, false).await;
    let err = client
        .bin_lookup("?card_bin=12", CallOptions::new())
        .await
        .unwrap_err();
    let e = err.as_status().expect("a status error");
    assert_eq!(e.status(), 400);
    assert!(e.headers().contains_key("content-type"));
    assert!(e.message().is_some(), "body kept: {:?}", e.body());
    // Display names service, method, path and status, and points at the body without printing it.
    let text = err.to_string();
    assert!(
        text.contains("bin-lookup-service") && text.contains("400") && text.contains("GET"),
        "{text}"
    );
    // Unknown routes: API Gateway's 403 message is recognised and explained.
    let err = client
        .call("no-such-service", "x", CallOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403));
    assert!(
        err.to_string().contains("Missing Authentication Token"),
        "{err}"
    );
}

#[tokio::test]
async fn response_headers_keep_every_value() {
    let sandbox = support::sandbox().await;
    let client = support::client(&sandbox, false).await;
    let r = client
        .call("echo", "h", CallOptions::new().method(Method::GET))
        .await
        .unwrap();
    assert!(r.header_values("date").count() == 1);
    assert!(r.duration() > Duration::ZERO);
    assert!(!r.headers().is_empty());
}

/// A TCP server that accepts and reads but never answers.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock); // keep the connection open, say nothing
        }
    });
    (format!("http://{addr}"), task)
}

pub async fn silent_server_url() -> (String, tokio::task::JoinHandle<()>) {
    silent_server().await
}

#[tokio::test]
async fn read_timeout_is_applied_per_client_and_per_call() {
    let sandbox = support::sandbox().await;
    let (silent, task) = silent_server().await;
    let cfg = support::config_builder(&sandbox, false)
        .service_endpoint_url("k3", &silent)
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let client = support::client_from(&sandbox, cfg, Default::default()).await;
    let started = std::time::Instant::now();
    let err = client
        .k3("v1/tokenize", CallOptions::new().json(&json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::Timeout { kind: TimeoutKind::Read, after, .. }) if after == Duration::from_millis(300)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // Per-call override.
    let err = client
        .k3(
            "v1/tokenize",
            CallOptions::new().read_timeout(Duration::from_millis(150)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::Timeout { kind: TimeoutKind::Read, after, .. }) if after == Duration::from_millis(150)),
        "{err:?}"
    );
    assert!(err.to_string().contains("read timeout"), "{err}");
    task.abort();
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let sandbox = support::sandbox().await;
    // Bind and drop to get a port with nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = support::config_builder(&sandbox, false)
        .service_endpoint_url("bin-lookup-service", format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let client = support::client_from(&sandbox, cfg, Default::default()).await;
    let err = client
        .bin_lookup("?card_bin=411111", CallOptions::new())
        .await
        .unwrap_err();
    // Never sent, so retried (3 attempts by default), then reported with every attempt.
    assert!(
        matches!(err.last(), Error::Transport(TransportError::Connect { .. })),
        "{err:?}"
    );
    assert_eq!(err.attempts(), 3, "{err}");
    assert!(
        err.to_string().contains("gave up after 3 attempts"),
        "{err}"
    );
    // Without retries: the plain connect error.
    let err = client
        .bin_lookup("?card_bin=411111", CallOptions::new().no_retries())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::Connect { .. })),
        "{err:?}"
    );
    assert!(
        !err.to_string().contains("card_bin=411111"),
        "query values stay out of errors: {err}"
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    // A server answering 307 to another host: the SDK returns the 307 as is.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    let task = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = listener.accept().await {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(b"HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.2:9/steal\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    let sandbox = support::sandbox().await;
    let cfg = support::config_builder(&sandbox, false)
        .service_endpoint_url("k3", format!("http://{addr}"))
        .build()
        .unwrap();
    let client = support::client_from(&sandbox, cfg, Default::default()).await;
    let r = client
        .k3("v1/tokenize", CallOptions::new().json(&json!({})))
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    task.abort();
}

#[test]
fn services_are_what_the_convenience_calls_use() {
    assert_eq!(Service::ALL.len(), 6);
}
