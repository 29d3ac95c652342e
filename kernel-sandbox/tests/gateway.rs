//! The gateway: requests signed with aws-sigv4 (the SDK's signer) and verified by the sandbox's
//! independent verifier, and every refusal API Gateway would answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime};

use common::{Creds, assume_mode1, bounded, call, request, send, sign_request, start, start_with};
use kernel_sandbox::SandboxConfig;
use reqwest::Method;
use serde_json::Value;

const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

fn rejections(sandbox: &kernel_sandbox::Sandbox, reason: &str) -> u64 {
    sandbox
        .counters()
        .rejections
        .get(reason)
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn echo_accepts_double_encoded_paths_and_awkward_queries() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;

    // (what the test asks reqwest for, the wire path reqwest sends, the raw query on the wire)
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("/echo/plain", "/echo/plain", None),
        ("/echo/a b/é/@ = $", "/echo/a%20b/%C3%A9/@%20=%20$", None),
        (
            "/echo/already%20encoded/%40x",
            "/echo/already%20encoded/%40x",
            None,
        ),
        ("/echo/a+b/c~d_e.f-g", "/echo/a+b/c~d_e.f-g", None),
        ("/echo//double//slash/", "/echo//double//slash/", None),
        (
            "/echo/q?b=2&a=1&a=0&flag&plus=a+b&enc=%2B&sp=x%20y&tilde=~&eq=%3D",
            "/echo/q",
            Some("b=2&a=1&a=0&flag&plus=a+b&enc=%2B&sp=x%20y&tilde=~&eq=%3D"),
        ),
        ("/echo/?card_bin=411111", "/echo/", Some("card_bin=411111")),
    ];
    for (asked, wire_path, wire_query) in cases {
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let body = (method == Method::POST).then_some(r#"{"hello":"wörld"}"#);
            let (status, echo) = call(&sandbox, &creds, method.clone(), asked, body).await;
            assert_eq!(status, 200, "{method} {asked}: {echo}");
            assert_eq!(echo["method"], method.as_str());
            assert_eq!(echo["raw_path"], *wire_path, "{asked}");
            assert_eq!(
                echo["raw_query"],
                wire_query.map_or(Value::Null, Value::from),
                "{asked}"
            );
            let headers = echo["headers"].as_object().expect("headers");
            assert!(
                !headers.contains_key("authorization"),
                "authorization never echoed"
            );
            assert!(
                !headers.contains_key("x-amz-security-token"),
                "token never echoed"
            );
            assert!(headers.contains_key("x-amz-date"));
            assert_eq!(
                headers["host"][0],
                sandbox.gateway_endpoint().trim_start_matches("http://")
            );
            match body {
                Some(b) => {
                    assert_eq!(echo["body_utf8"], b);
                    assert_eq!(headers["content-type"][0], "application/json");
                }
                None => assert_eq!(echo["body_utf8"], ""),
            }
        }
    }
    let counters = sandbox.counters();
    let n = (cases.len() * 3) as u64;
    assert_eq!(counters.verified_requests, n);
    assert_eq!(counters.gateway_requests, n);
    assert_eq!(counters.rejected_requests, 0);
}

#[tokio::test]
async fn echo_reports_binary_bodies_and_repeated_headers() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    let mut req = common::http()
        .put(format!("{}/echo/bin", sandbox.gateway_endpoint()))
        .header("x-custom", "one")
        .header("x-custom", "two")
        .body(vec![0u8, 159, 146, 150, 255])
        .build()
        .unwrap();
    sign_request(
        &mut req,
        &creds,
        "us-east-1",
        "execute-api",
        SystemTime::now(),
    );
    let (status, echo) = send(req).await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(echo["body_base64"], "AJ+Slv8=");
    assert_eq!(echo["body_utf8"], Value::Null);
    assert_eq!(
        echo["headers"]["x-custom"],
        serde_json::json!(["one", "two"])
    );
}

#[tokio::test]
async fn tampered_body_is_a_signature_mismatch() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    let mut req = request(&sandbox, Method::POST, "/echo/x", Some(r#"{"amount":1}"#));
    sign_request(
        &mut req,
        &creds,
        "us-east-1",
        "execute-api",
        SystemTime::now(),
    );
    *req.body_mut() = Some(r#"{"amount":9}"#.into());
    let (status, body) = send(req).await;
    assert_eq!(status, 403);
    assert_eq!(body["message"], MISMATCH);
    assert_eq!(rejections(&sandbox, "signature-mismatch"), 1);

    // A tampered path, query or signed header is caught too.
    let mut req = request(&sandbox, Method::GET, "/echo/x?a=1", None);
    sign_request(
        &mut req,
        &creds,
        "us-east-1",
        "execute-api",
        SystemTime::now(),
    );
    req.url_mut().set_query(Some("a=2"));
    assert_eq!(send(req).await.0, 403);
    let mut req = request(&sandbox, Method::GET, "/echo/x", None);
    sign_request(
        &mut req,
        &creds,
        "us-east-1",
        "execute-api",
        SystemTime::now(),
    );
    req.url_mut().set_path("/echo/y");
    assert_eq!(send(req).await.0, 403);
    let mut req = request(&sandbox, Method::GET, "/echo/x", None);
    sign_request(
        &mut req,
        &creds,
        "us-east-1",
        "execute-api",
        SystemTime::now(),
    );
    req.headers_mut()
        .insert("accept", "text/html".parse().unwrap());
    assert_eq!(send(req).await.0, 403);
    // Signed with the minted key but the wrong secret.
    let wrong = Creds {
        secret_access_key: "x".repeat(40),
        ..creds.clone()
    };
    assert_eq!(
        call(&sandbox, &wrong, Method::GET, "/echo/x", None).await.0,
        403
    );
    assert_eq!(rejections(&sandbox, "signature-mismatch"), 5);
    assert_eq!(sandbox.counters().verified_requests, 0);
}

#[tokio::test]
async fn single_encoded_signatures_are_refused_like_api_gateway() {
    use aws_sigv4::http_request::{
        PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, sign,
    };
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    let mut req = request(&sandbox, Method::GET, "/echo/a b", None);
    // Sign with Single encoding, as S3 wants: API Gateway (and the sandbox) refuse it.
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    let identity = aws_credential_types::Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.clone(),
        creds.session_token.clone(),
        None,
        "test",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("execute-api")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "GET",
        req.url().as_str(),
        std::iter::empty(),
        SignableBody::Bytes(&[]),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    for (name, value) in instructions.headers() {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap();
        req.headers_mut().insert(name, value.parse().unwrap());
    }
    let (status, body) = send(req).await;
    assert_eq!(status, 403);
    assert_eq!(body["message"], MISMATCH);
}

#[tokio::test]
async fn unsigned_and_non_sigv4_requests_miss_the_authentication_token() {
    let sandbox = start().await;
    let (status, body) = send(request(
        &sandbox,
        Method::GET,
        "/bin-lookup-service/?card_bin=411111",
        None,
    ))
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        serde_json::json!({"message": "Missing Authentication Token"})
    );
    let mut req = request(&sandbox, Method::GET, "/echo/", None);
    req.headers_mut()
        .insert("authorization", "Bearer abc".parse().unwrap());
    assert_eq!(send(req).await.0, 403);
    assert_eq!(rejections(&sandbox, "missing-authentication-token"), 2);
}

#[tokio::test]
async fn unknown_keys_and_wrong_tokens_are_invalid_tokens() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    let invalid =
        serde_json::json!({"message": "The security token included in the request is invalid."});

    let unknown = Creds {
        access_key_id: "ASIAUNKNOWNUNKNOWN00".into(),
        secret_access_key: "y".repeat(40),
        session_token: Some("token".into()),
    };
    assert_eq!(
        call(&sandbox, &unknown, Method::GET, "/echo/", None).await,
        (403, invalid.clone())
    );

    // The base credentials are for STS only.
    let base = Creds {
        access_key_id: sandbox.config().base_access_key_id.clone(),
        secret_access_key: sandbox.config().base_secret_access_key.clone(),
        session_token: None,
    };
    assert_eq!(
        call(&sandbox, &base, Method::GET, "/echo/", None).await,
        (403, invalid.clone())
    );

    let no_token = Creds {
        session_token: None,
        ..creds.clone()
    };
    assert_eq!(
        call(&sandbox, &no_token, Method::GET, "/echo/", None).await,
        (403, invalid.clone())
    );

    // The session token of another minted pair.
    let other = assume_mode1(&sandbox).await;
    let crossed = Creds {
        session_token: other.session_token.clone(),
        ..creds.clone()
    };
    assert_eq!(
        call(&sandbox, &crossed, Method::GET, "/echo/", None).await,
        (403, invalid)
    );

    assert_eq!(rejections(&sandbox, "invalid-token"), 4);
    // Both minted pairs still work.
    assert_eq!(
        call(&sandbox, &creds, Method::GET, "/echo/", None).await.0,
        200
    );
    assert_eq!(
        call(&sandbox, &other, Method::GET, "/echo/", None).await.0,
        200
    );
}

#[tokio::test]
async fn expired_credentials_are_expired_tokens() {
    let sandbox = start_with(SandboxConfig {
        credential_lifetime: Some(Duration::from_secs(1)),
        ..SandboxConfig::default()
    })
    .await;
    let creds = assume_mode1(&sandbox).await;
    assert_eq!(sandbox.minted_credentials(), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sandbox.minted_credentials(), 0);
    let (status, body) = call(&sandbox, &creds, Method::GET, "/echo/", None).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["message"],
        "The security token included in the request is expired"
    );
    assert_eq!(rejections(&sandbox, "expired-token"), 1);
}

#[tokio::test]
async fn clock_skew_beyond_five_minutes_is_refused() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;

    let mut req = request(&sandbox, Method::GET, "/echo/", None);
    sign_request(
        &mut req,
        &creds,
        "us-east-1",
        "execute-api",
        SystemTime::now() - Duration::from_secs(600),
    );
    let (status, body) = send(req).await;
    assert_eq!(status, 403);
    let message = body["message"].as_str().expect("message");
    assert!(message.starts_with("Signature expired: "), "{message}");
    assert!(message.contains(" is now earlier than "), "{message}");
    assert!(message.ends_with(" - 5 min.)"), "{message}");

    let mut req = request(&sandbox, Method::GET, "/echo/", None);
    sign_request(
        &mut req,
        &creds,
        "us-east-1",
        "execute-api",
        SystemTime::now() + Duration::from_secs(600),
    );
    let (status, body) = send(req).await;
    assert_eq!(status, 403);
    let message = body["message"].as_str().expect("message");
    assert!(
        message.starts_with("Signature not yet current: "),
        "{message}"
    );
    assert!(message.ends_with(" + 5 min.)"), "{message}");

    // Within the window is fine.
    let mut req = request(&sandbox, Method::GET, "/echo/", None);
    sign_request(
        &mut req,
        &creds,
        "us-east-1",
        "execute-api",
        SystemTime::now() - Duration::from_secs(200),
    );
    assert_eq!(send(req).await.0, 200);

    assert_eq!(rejections(&sandbox, "signature-expired"), 1);
    assert_eq!(rejections(&sandbox, "signature-not-yet-current"), 1);
}

#[tokio::test]
async fn credential_scope_must_be_region_and_execute_api() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    let mut req = request(&sandbox, Method::GET, "/echo/", None);
    sign_request(
        &mut req,
        &creds,
        "eu-west-1",
        "execute-api",
        SystemTime::now(),
    );
    let (status, body) = send(req).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["message"],
        "Credential should be scoped to a valid region, not 'eu-west-1'. "
    );

    let mut req = request(&sandbox, Method::GET, "/echo/", None);
    sign_request(&mut req, &creds, "us-east-1", "sts", SystemTime::now());
    let (status, body) = send(req).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["message"],
        "Credential should be scoped to correct service: 'execute-api'. "
    );
    assert_eq!(rejections(&sandbox, "bad-credential-scope"), 2);
}

#[tokio::test]
async fn unknown_routes_answer_missing_authentication_token() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    for (method, path) in [
        (Method::GET, "/nope/"),
        (Method::GET, "/"),
        (Method::GET, "/k3/v1/tokenize"),
        (Method::POST, "/bin-lookup-service/?card_bin=411111"),
        (Method::POST, "/k3/v2/tokenize"),
    ] {
        let (status, body) = call(&sandbox, &creds, method.clone(), path, None).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (403, Some("Missing Authentication Token")),
            "{method} {path}"
        );
    }
    assert_eq!(rejections(&sandbox, "unknown-route"), 5);
    assert_eq!(sandbox.counters().verified_requests, 0);
}

#[tokio::test]
async fn services_answer_signed_requests() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;

    let card =
        r#"{"card_number":"4111111111111111","exp_month":"12","exp_year":"2030","cvv":"123"}"#;
    let (status, body) = call(
        &sandbox,
        &creds,
        Method::POST,
        "/k3/v1/tokenize",
        Some(card),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["last_four"], "1111");
    assert_eq!(body["card_brand"], "VISA");
    assert!(body["token"].as_str().unwrap().starts_with("tok_"));
    assert!(!body.to_string().contains("4111111111111111"));

    let bad =
        r#"{"card_number":"4111111111111112","exp_month":"12","exp_year":"2030","cvv":"123"}"#;
    let (status, body) = call(&sandbox, &creds, Method::POST, "/k3/v1/tokenize", Some(bad)).await;
    assert_eq!(
        (status, body),
        (400, serde_json::json!({"message": "invalid card_number"}))
    );

    let (status, body) = call(
        &sandbox,
        &creds,
        Method::GET,
        "/bin-lookup-service/?card_bin=411111",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["card_brand"], "VISA");
    assert_eq!(body["card_type"], "CREDIT");
    let (status, body) = call(
        &sandbox,
        &creds,
        Method::GET,
        "/bin-lookup-service/?card_bin=999999",
        None,
    )
    .await;
    assert_eq!(
        (status, body),
        (404, serde_json::json!({"message": "BIN not found"}))
    );

    let (status, body) = call(
        &sandbox,
        &creds,
        Method::GET,
        "/bank-data-service/?routing_number=021000021",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["bank_name"], "JPMORGAN CHASE BANK, NA");
    assert_eq!(body["wire_supported"], true);

    let (status, body) = call(
        &sandbox,
        &creds,
        Method::POST,
        "/paze-wallet-key-service/decode-token",
        Some(r#"{"token":"paze-token-value"}"#),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["decoded"]["card_last_four"], "1111");
    assert!(!body.to_string().contains("paze-token-value"));

    let apple = r#"{"paymentData":{"version":"EC_v1","data":"ZGF0YQ==","signature":"c2ln","header":{"ephemeralPublicKey":"a2V5","publicKeyHash":"aGFzaA==","transactionId":"abc123"}}}"#;
    let (status, body) = call(
        &sandbox,
        &creds,
        Method::POST,
        "/apple-wallet-key-service/decrypt",
        Some(apple),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["paymentDataType"], "3DSecure");

    let google = r#"{"protocolVersion":"ECv2","signature":"sig","intermediateSigningKey":{"signedKey":"k","signatures":["s"]},"signedMessage":"m"}"#;
    let (status, body) = call(
        &sandbox,
        &creds,
        Method::POST,
        "/google-wallet-key-service/decrypt",
        Some(google),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["paymentMethod"], "CARD");

    // Services' own 4xx answers are verified requests, not rejections.
    let counters = sandbox.counters();
    assert_eq!(counters.verified_requests, 8);
    assert_eq!(counters.rejected_requests, 0);
}

#[tokio::test]
async fn counters_add_up() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    let unsigned = send(request(&sandbox, Method::GET, "/echo/", None));
    assert_eq!(unsigned.await.0, 403);
    assert_eq!(
        call(&sandbox, &creds, Method::GET, "/echo/1", None).await.0,
        200
    );
    assert_eq!(
        call(&sandbox, &creds, Method::GET, "/echo/2", None).await.0,
        200
    );
    assert_eq!(
        call(&sandbox, &creds, Method::GET, "/unknown", None)
            .await
            .0,
        403
    );
    let mut tampered = request(&sandbox, Method::POST, "/echo/", Some("{}"));
    sign_request(
        &mut tampered,
        &creds,
        "us-east-1",
        "execute-api",
        SystemTime::now(),
    );
    *tampered.body_mut() = Some("[]".into());
    assert_eq!(send(tampered).await.0, 403);

    let c = sandbox.counters();
    assert_eq!(c.gateway_requests, 5);
    assert_eq!(c.verified_requests, 2);
    assert_eq!(c.rejected_requests, 3);
    assert_eq!(
        c.gateway_requests,
        c.verified_requests + c.rejected_requests
    );
    assert_eq!(c.rejections.values().sum::<u64>(), c.rejected_requests);
    assert_eq!(
        c.rejections,
        [
            ("missing-authentication-token".to_owned(), 1),
            ("signature-mismatch".to_owned(), 1),
            ("unknown-route".to_owned(), 1)
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(
        (
            c.assume_role_calls,
            c.assume_role_granted,
            c.assume_role_denied
        ),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_servers() {
    let sandbox = start().await;
    let creds = assume_mode1(&sandbox).await;
    assert_eq!(
        call(&sandbox, &creds, Method::GET, "/echo/", None).await.0,
        200
    );
    let gateway = sandbox.gateway_endpoint();
    let sts = sandbox.sts_endpoint();
    bounded("shutdown", sandbox.shutdown()).await;
    for url in [&gateway, &sts] {
        assert!(
            common::http().get(url.as_str()).send().await.is_err(),
            "{url} stopped"
        );
    }

    let sandbox = start().await;
    let gateway = sandbox.gateway_endpoint();
    let clone = sandbox.clone();
    drop(sandbox);
    // Still served while a handle is alive.
    assert!(common::http().get(&gateway).send().await.is_ok());
    drop(clone);
    let mut stopped = false;
    for _ in 0..40 {
        if common::http().get(&gateway).send().await.is_err() {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stopped, "dropping the last handle stops the gateway");
}
