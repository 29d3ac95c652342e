//! Nothing sensitive reaches the sandbox's log lines or error bodies: card numbers, CVVs, wallet
//! tokens, secret keys, session tokens, ExternalIds and Authorization headers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use common::{assume_mode1, bounded, call, request, send, sign_request, start, sts_client};
use reqwest::Method;

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

#[tokio::test]
async fn logs_and_errors_never_contain_secrets() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        // The sandbox's own events only: the client libraries log their side at TRACE.
        .with_env_filter("kernel_sandbox=trace")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber)
        .expect("only subscriber of this test binary");

    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    // Mode 2 with a wrong ExternalId, then the right one.
    let client = sts_client(&sandbox);
    for external_id in ["WRONG-EXTERNAL-ID-VALUE", "sandbox-external-id"] {
        let _ = bounded(
            "assume",
            client
                .assume_role()
                .role_arn(sandbox.config().external_role_arn())
                .role_session_name("kernel-service-call")
                .external_id(external_id)
                .send(),
        )
        .await;
    }

    let mut bodies = Vec::new();
    let card =
        r#"{"card_number":"4111111111111111","exp_month":"12","exp_year":"2030","cvv":"987"}"#;
    bodies.push(
        call(
            &sandbox,
            &creds,
            Method::POST,
            "/k3/v1/tokenize",
            Some(card),
        )
        .await
        .1,
    );
    let bad_card =
        r#"{"card_number":"4111111111111112","exp_month":"12","exp_year":"2030","cvv":"987"}"#;
    bodies.push(
        call(
            &sandbox,
            &creds,
            Method::POST,
            "/k3/v1/tokenize",
            Some(bad_card),
        )
        .await
        .1,
    );
    let bad_cvv =
        r#"{"card_number":"4111111111111111","exp_month":"12","exp_year":"2030","cvv":"98x7"}"#;
    bodies.push(
        call(
            &sandbox,
            &creds,
            Method::POST,
            "/k3/v1/tokenize",
            Some(bad_cvv),
        )
        .await
        .1,
    );
    bodies.push(
        call(
            &sandbox,
            &creds,
            Method::POST,
            "/k3/v1/tokenize",
            Some("{not json 4111111111111111"),
        )
        .await
        .1,
    );
    let paze = r#"{"token":"PAZE-WALLET-TOKEN-VALUE"}"#;
    bodies.push(
        call(
            &sandbox,
            &creds,
            Method::POST,
            "/paze-wallet-key-service/decode-token",
            Some(paze),
        )
        .await
        .1,
    );
    bodies.push(
        call(
            &sandbox,
            &creds,
            Method::GET,
            "/bin-lookup-service/?card_bin=41111111",
            None,
        )
        .await
        .1,
    );
    // A tampered request (signature mismatch) and a malformed Authorization header.
    let mut tampered = request(&sandbox, Method::POST, "/k3/v1/tokenize", Some(card));
    sign_request(
        &mut tampered,
        &creds,
        "us-east-1",
        "execute-api",
        SystemTime::now(),
    );
    *tampered.body_mut() = Some(bad_card.into());
    bodies.push(send(tampered).await.1);
    let mut malformed = request(&sandbox, Method::GET, "/echo/", None);
    malformed.headers_mut().insert(
        "authorization",
        "AWS4-HMAC-SHA256 SIGNATURE-LIKE-SECRET-0123456789"
            .parse()
            .unwrap(),
    );
    bodies.push(send(malformed).await.1);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("gateway request"),
        "gateway requests are logged: {logs}"
    );
    assert!(
        logs.contains("sts request"),
        "sts requests are logged: {logs}"
    );
    let everything = format!("{logs}\n{}", serde_json::Value::Array(bodies));
    let secret = sandbox.config().base_secret_access_key.clone();
    let forbidden = [
        "4111111111111111",
        "4111111111111112",
        // The CVV, in any quoted or assigned form (bare digits may occur inside random ids).
        "\"987",
        "987\"",
        "'987",
        ": 987",
        "PAZE-WALLET-TOKEN-VALUE",
        "WRONG-EXTERNAL-ID-VALUE",
        "sandbox-external-id",
        "SIGNATURE-LIKE-SECRET",
        "AWS4-HMAC-SHA256",
        "Signature=",
        secret.as_str(),
        creds.secret_access_key.as_str(),
        creds.session_token.as_deref().unwrap(),
    ];
    // The BIN lookup answers with the BIN (by design), but the query value is never logged.
    assert!(!logs.contains("41111111"), "query value logged:\n{logs}");
    for needle in forbidden {
        assert!(
            !everything.contains(needle),
            "{needle:?} leaked into:\n{everything}"
        );
    }
}
