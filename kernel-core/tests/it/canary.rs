//! Card data hygiene: canaries pushed through success, 4xx, 5xx, timeout, decode and STS
//! failure paths with tracing at TRACE never show up in logs, `Display` or `Debug`.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kernel_core::{CallOptions, Error};
use serde_json::json;

use crate::support;

const CARD: &str = "4000056655665556"; // Luhn-valid public test card
const CVV: &str = "8153";
const BASE_SECRET: &str = "CANARYbaseSECRETkey0123456789abcdefCANAR"; // 40 chars, AWS-shaped
const WALLET_TOKEN: &str = "CANARY-wallet-token-eyJhbGciOiJFQ0RILUVTIn0";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Captures every tracing event at TRACE on this thread (the tests run on a current-thread
/// runtime, so the sandbox's and the SDK's background tasks are captured too).
fn capture_trace() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(capture.clone())
        .finish();
    (capture, tracing::subscriber::set_default(subscriber))
}

/// Text that must never appear. `extra` holds the run's temporary secret and token.
fn assert_clean(what: &str, text: &str, extra: &[String]) {
    let mut canaries: Vec<String> = vec![
        CARD.into(),
        format!("\"cvv\":\"{CVV}\""),
        format!("cvv={CVV}"),
        BASE_SECRET.into(),
        WALLET_TOKEN.into(),
        "AWS4-HMAC-SHA256 Credential".into(),
        "Signature=".into(),
    ];
    canaries.extend(extra.iter().cloned());
    for c in &canaries {
        assert!(!text.contains(c.as_str()), "{what} leaked {c:?}:\n{text}");
    }
}

/// A one-shot HTTP server answering every request with `status` and a body that echoes
/// card data, as a misbehaving kernel might.
async fn leaky_server(status: u16) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = vec![0u8; 65536];
            let _ = sock.read(&mut buf).await;
            let body = format!("{{\"message\":\"card {CARD} cvv {CVV} refused\"}}");
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(body.as_bytes()).await;
        }
    });
    (format!("http://{addr}"), task)
}

#[tokio::test]
async fn canaries_never_leak() {
    let (capture, _default) = capture_trace();

    let sandbox = support::sandbox_with(|c| c.base_secret_access_key = BASE_SECRET.into()).await;
    let (leaky5xx, t1) = leaky_server(500).await;
    let (leaky4xx, t2) = leaky_server(422).await;
    let (silent, t3) = crate::e2e::silent_server_url().await;
    let cfg = support::config_builder(&sandbox, true)
        .service_endpoint_url("paze-wallet-key-service", &leaky5xx)
        .service_endpoint_url("apple-wallet-key-service", &leaky4xx)
        .service_endpoint_url("google-wallet-key-service", &silent)
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let client = support::client_from(&sandbox, cfg, Default::default()).await;
    let card = json!({"card_number": CARD, "exp_month": "12", "exp_year": "2030", "cvv": CVV});
    let mut outputs = Vec::new();

    // Success path (tokenize) — the token is returned, the card is not logged.
    let ok = client
        .k3("v1/tokenize", CallOptions::new().json(&card))
        .await
        .unwrap();
    outputs.push(format!("{ok:?}"));
    // 4xx from the sandbox (bad month), with the card in the request.
    let bad = json!({"card_number": CARD, "exp_month": "13", "exp_year": "2030", "cvv": CVV});
    let e = client
        .k3("v1/tokenize", CallOptions::new().json(&bad))
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
    outputs.push(format!("{e} {e:?}"));
    // 4xx and 5xx whose bodies echo the card: kept in the error, never printed.
    let e = client
        .apple_wallet("decrypt", CallOptions::new().json(&card))
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(422));
    assert!(
        String::from_utf8_lossy(e.as_status().unwrap().body()).contains(CARD),
        "body still accessible"
    );
    outputs.push(format!("{e} {e:?}"));
    let e = client
        .paze(
            "decode-token",
            CallOptions::new().json(&json!({"token": WALLET_TOKEN})),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(500));
    outputs.push(format!("{e} {e:?}"));
    // Timeout with a wallet token in the body.
    let e = client
        .google_wallet(
            "decrypt",
            CallOptions::new().json(&json!({"signedMessage": WALLET_TOKEN, "card": CARD})),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    outputs.push(format!("{e} {e:?}"));
    // Decoding a response that holds card data into the wrong type.
    let echoed = client
        .call(
            "echo",
            "x",
            CallOptions::new().json(&json!({"card_number": CARD})),
        )
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(echoed.body()).contains(CARD),
        "the echo returns what the user sent"
    );
    let e = echoed.json::<Vec<u32>>().unwrap_err();
    outputs.push(format!("{e} {e:?}"));
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Wrong {
        body_utf8: u64,
    }
    let e = echoed.json::<Wrong>().unwrap_err();
    outputs.push(format!("{e} {e:?}"));
    // A card number in the path and a query key.
    let _ = client
        .call(
            "echo",
            &format!("cards/{CARD}?{CARD}"),
            CallOptions::new().method(http::Method::GET),
        )
        .await
        .unwrap();
    // Options and client Debug.
    outputs.push(format!(
        "{:?}",
        CallOptions::new().json(&card).header("x-card", CARD)
    ));
    outputs.push(format!("{client:?}"));

    // STS failure path.
    sandbox.set_sts_failure(Some(kernel_sandbox::StsFailure::InternalError));
    let creds = client.credentials().get().await.unwrap();
    let secret = creds.credentials().secret_access_key().to_owned();
    let token = creds.credentials().session_token().unwrap().to_owned();
    outputs.push(format!("{creds:?} {:?}", client.credentials()));
    client.credentials().invalidate(creds.access_key_id());
    let e = client
        .bin_lookup("?card_bin=400005", CallOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AssumeRole(_)), "{e:?}");
    outputs.push(format!("{e} {e:?}"));

    let extra = [secret, token, sandbox.config().external_id.clone()];
    for o in &outputs {
        assert_clean("error/Debug output", o, &extra);
    }
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("kernel_call"), "the capture works: {logs}");
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "trace level active"
    );
    assert_clean("logs", &logs, &extra);
    t1.abort();
    t2.abort();
    t3.abort();
}

#[tokio::test]
async fn canaries_never_leak_on_fault_paths() {
    use kernel_sandbox::Fault;
    let (capture, _default) = capture_trace();

    let sandbox = support::sandbox_with(|c| c.base_secret_access_key = BASE_SECRET.into()).await;
    let client = support::client(&sandbox, true).await;
    let card = json!({"card_number": CARD, "exp_month": "12", "exp_year": "2030", "cvv": CVV});
    let wallet = json!({"token": WALLET_TOKEN});
    let fast = kernel_core::RetryPolicy {
        base_delay: Duration::from_millis(1),
        ..Default::default()
    };
    let mut outputs = Vec::new();
    let mut record = |r: Result<kernel_core::Response, Error>| match r {
        Ok(r) => outputs.push(format!("{r:?}")),
        Err(e) => outputs.push(format!("{e} {e:?}")),
    };

    sandbox.inject("k3", [Fault::Status(503)]);
    record(
        client
            .k3("v1/tokenize", CallOptions::new().json(&card).retry(fast))
            .await,
    );
    sandbox.inject("k3", [Fault::DropAfterRead]);
    record(
        client
            .k3("v1/tokenize", CallOptions::new().json(&card).retry(fast))
            .await,
    );
    sandbox.inject("k3", [Fault::DropBeforeRead]);
    record(
        client
            .k3("v1/tokenize", CallOptions::new().json(&card).retry(fast))
            .await,
    );
    sandbox.inject(
        "k3",
        [
            Fault::StatusRetryAfter(429, 0),
            Fault::Status(502),
            Fault::Status(504),
        ],
    );
    record(
        client
            .k3(
                "v1/tokenize",
                CallOptions::new().json(&card).retry(fast).idempotent(true),
            )
            .await,
    );
    sandbox.inject(
        "paze-wallet-key-service",
        [Fault::RejectTokenExpired, Fault::RejectTokenInvalid],
    );
    record(
        client
            .paze("decode-token", CallOptions::new().json(&wallet))
            .await,
    );
    sandbox.inject(
        "paze-wallet-key-service",
        [Fault::Latency(Duration::from_millis(500))],
    );
    record(
        client
            .paze(
                "decode-token",
                CallOptions::new()
                    .json(&wallet)
                    .read_timeout(Duration::from_millis(100)),
            )
            .await,
    );
    sandbox.inject(
        "paze-wallet-key-service",
        [Fault::Latency(Duration::from_millis(500))],
    );
    record(
        client
            .paze(
                "decode-token",
                CallOptions::new()
                    .json(&wallet)
                    .deadline(Duration::from_millis(100)),
            )
            .await,
    );
    sandbox.set_clock_skew(900);
    record(
        client
            .k3("v1/tokenize", CallOptions::new().json(&card))
            .await,
    );
    sandbox.set_clock_skew(0);
    sandbox.fail_sts_next(2, StsFailureKind::Throttling);
    let creds = client.credentials().get().await.unwrap();
    let secret = creds.credentials().secret_access_key().to_owned();
    let token = creds.credentials().session_token().unwrap().to_owned();
    client.credentials().invalidate(creds.access_key_id());
    record(
        client
            .k3("v1/tokenize", CallOptions::new().json(&card))
            .await,
    );

    let extra = [secret, token, sandbox.config().external_id.clone()];
    for o in &outputs {
        assert_clean("fault-path output", o, &extra);
    }
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying kernel call"), "retries were logged");
    assert!(logs.contains("clock skew"), "skew was logged");
    assert_clean("fault-path logs", &logs, &extra);
}

use kernel_sandbox::StsFailure as StsFailureKind;

/// A dry-run plan keeps the exact URL for its caller, but its `Debug` (what ends up in a
/// log line) shows parameter names, never a query value or a header value.
#[test]
fn plan_debug_shows_no_query_or_header_values() {
    let config = kernel_core::Config::builder()
        .partner(support::PARTNER)
        .stage(support::STAGE)
        .build()
        .expect("config");
    let options = CallOptions::new()
        .method(http::Method::GET)
        .header("x-card-cvv", CVV);
    let plan = kernel_core::plan(
        &config,
        "bin-lookup-service",
        &format!("?card_number={CARD}&mode=full"),
        options,
    )
    .expect("plan");
    assert!(
        plan.url.as_str().contains(CARD),
        "the caller keeps the exact URL"
    );
    let debug = format!("{plan:?} {plan:#?}");
    assert!(!debug.contains(CARD), "{debug}");
    assert!(!debug.contains(CVV), "{debug}");
    assert!(debug.contains("card_number,mode"), "{debug}");
    assert!(debug.contains("x-card-cvv"), "{debug}");
    assert!(debug.contains("bin-lookup-service"), "{debug}");
}
