//! Every operation of every service, through its generated typed client, against the
//! sandbox (which verifies the SigV4 signature with scratchstack and validates the request
//! against the spec), in both authentication modes; plus typed errors, validation before
//! sending, retries, dry runs and the URL-escape guard.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kernel_core::typed::ServiceContext;
use kernel_core::{CallOptions, Error, RequestError};
use kernel_e2e::{client, sandbox};
use kernel_sandbox::Fault;
use serde_json::json;

const CARD: &str = "4111111111111111";

async fn tokenize(kernel: &kernel_core::KernelClient) -> Result<String, Error> {
    let reply = kernel_k3::K3::new(kernel)
        .tokenize()
        .body_map(|b| {
            b.card_number(CARD)
                .exp_month("12")
                .exp_year("2030")
                .cvv("123")
        })
        .send()
        .await?;
    Ok(reply.into_inner().token.to_string())
}

#[tokio::test]
async fn every_operation_in_both_modes_is_signed_verified_and_typed() {
    let sandbox = sandbox().await;
    for external in [false, true] {
        let kernel = client(&sandbox, external).await;

        let token = tokenize(&kernel).await.expect("tokenize");
        assert!(token.starts_with("tok_"), "a sandbox token");

        let paze = kernel_wallets::Paze::new(&kernel)
            .decode_token()
            .body_map(|b| b.token("eyJhbGciOiJSU0EtT0FFUC0yNTYifQ.sandbox"))
            .send()
            .await
            .expect("paze");
        assert_eq!(paze.decoded.card_last_four.as_str(), "1111");

        let apple = kernel_wallets::AppleWallet::new(&kernel)
            .decrypt_payment_token()
            .body(
                serde_json::from_value::<kernel_wallets::apple::types::ApplePayPaymentToken>(json!({
                    "paymentData": {
                        "version": "EC_v1", "data": "ZGF0YQ==", "signature": "c2ln",
                        "header": {"ephemeralPublicKey": "ZXBr", "publicKeyHash": "aGFzaA==", "transactionId": "0a1b"}
                    }
                }))
                .expect("a valid token"),
            )
            .send()
            .await
            .expect("apple");
        assert_eq!(apple.currency_code.as_str(), "840");

        let google =
            kernel_wallets::GoogleWallet::new(&kernel)
                .decrypt_payment_method_token()
                .body(
                    serde_json::from_value::<
                        kernel_wallets::google::types::GooglePayPaymentMethodToken,
                    >(json!({
                        "protocolVersion": "ECv2", "signature": "c2ln",
                        "intermediateSigningKey": {"signedKey": "{}", "signatures": ["c2ln"]},
                        "signedMessage": "{\"encryptedMessage\":\"x\"}"
                    }))
                    .expect("a valid token"),
                )
                .send()
                .await
                .expect("google");
        assert_eq!(google.payment_method_details.expiration_month.get(), 12);

        let bin = kernel_binlookup::BinLookup::new(&kernel)
            .lookup()
            .card_bin("411111")
            .send()
            .await
            .expect("bin lookup");
        assert_eq!(bin.card_brand, "VISA");
        assert_eq!(bin.status().as_u16(), 200);

        let bank = kernel_bankdata::BankData::new(&kernel)
            .lookup_routing_number()
            .routing_number("021000021")
            .send()
            .await
            .expect("bank data");
        assert!(bank.ach_supported);
    }
    let c = sandbox.counters();
    assert_eq!(c.verified_requests, 12);
    assert_eq!(c.rejected_requests, 0);
    assert_eq!(c.invalid_requests, 0);
    assert_eq!(c.assume_role_calls, 2, "one AssumeRole per mode");
    // Every operation of the six built-in services was served as a spec operation, twice.
    // (Services added with `cargo xtask regen` have no hand-written test here: the
    // conformance test and the CLI's every-operation test cover every spec generically.)
    for (_, prefix, ops) in kernel_sandbox::Sandbox::served_operations() {
        if !kernel_core::Service::ALL.iter().any(|s| s.prefix == prefix) {
            continue;
        }
        for op in ops {
            let key = format!("{prefix} {op}");
            assert_eq!(c.operation_requests.get(&key), Some(&2), "{key}: {c:?}");
        }
    }
}

#[tokio::test]
async fn constrained_values_are_refused_before_anything_is_sent() {
    let sandbox = sandbox().await;
    let kernel = client(&sandbox, false).await;
    let cases: Vec<Result<(), Error>> = vec![
        kernel_binlookup::BinLookup::new(&kernel)
            .lookup()
            .card_bin("4111")
            .send()
            .await
            .map(drop),
        kernel_binlookup::BinLookup::new(&kernel)
            .lookup()
            .card_bin("41111a")
            .send()
            .await
            .map(drop),
        kernel_bankdata::BankData::new(&kernel)
            .lookup_routing_number()
            .routing_number("02100002")
            .send()
            .await
            .map(drop),
        // Nine digits, wrong ABA checksum (the last digit of 021000021 changed).
        kernel_bankdata::BankData::new(&kernel)
            .lookup_routing_number()
            .routing_number("021000022")
            .send()
            .await
            .map(drop),
        kernel_k3::K3::new(&kernel)
            .tokenize()
            .body_map(|b| {
                b.card_number(CARD)
                    .exp_month("13")
                    .exp_year("2030")
                    .cvv("123")
            })
            .send()
            .await
            .map(drop),
        kernel_k3::K3::new(&kernel)
            .tokenize()
            .body_map(|b| {
                b.card_number("4111 1111 1111 1111")
                    .exp_month("12")
                    .exp_year("2030")
                    .cvv("123")
            })
            .send()
            .await
            .map(drop),
        // A required field never set.
        kernel_k3::K3::new(&kernel)
            .tokenize()
            .body_map(|b| b.card_number(CARD).exp_month("12").exp_year("2030"))
            .send()
            .await
            .map(drop),
    ];
    let mut messages = Vec::new();
    for (i, r) in cases.into_iter().enumerate() {
        let e = r.expect_err("refused");
        assert!(
            matches!(e, Error::InvalidRequest(RequestError::Parameter { .. })),
            "case {i}: {e:?}"
        );
        let text = format!("{e} {e:?}");
        assert!(!text.contains("4111"), "case {i} quotes the value: {text}");
        assert!(
            !text.contains("021000022"),
            "case {i} quotes the value: {text}"
        );
        messages.push(e.to_string());
    }
    // Parameters name the rule they broke, as body fields do.
    for rule in [
        "conversion to `CardBin` for card_bin failed: doesn't match pattern",
        "for routing_number failed: RoutingNumber: not an ABA routing number (checksum)",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(rule)),
            "{rule}: {messages:#?}"
        );
    }
    assert_eq!(sandbox.counters().gateway_requests, 0, "nothing was sent");
    assert_eq!(
        sandbox.counters().assume_role_calls,
        0,
        "no credentials were even loaded"
    );
}

#[test]
fn checked_types_validate_when_built_and_keep_the_generated_api() {
    use kernel_bankdata::types::RoutingNumber;
    let ok = RoutingNumber::try_from("021000021").expect("a published routing number");
    assert_eq!(ok.as_str(), "021000021"); // Deref<Target = String>, as typify's newtypes
    assert_eq!(ok.to_string(), "021000021");
    assert_eq!(String::from(ok.clone()), "021000021");
    let why = RoutingNumber::try_from("021000022").expect_err("checksum");
    assert!(
        why.contains("checksum") && !why.contains("021000022"),
        "{why}"
    );
    let why = "02100002".parse::<RoutingNumber>().expect_err("length");
    assert!(why.contains("does not match"), "{why}");
    // Responses go through the same check.
    assert!(serde_json::from_value::<RoutingNumber>(json!("021000022")).is_err());
    assert_eq!(
        serde_json::from_value::<RoutingNumber>(json!("021000021")).expect("valid"),
        ok
    );
}

#[tokio::test]
async fn error_statuses_come_back_as_kernel_errors_with_typed_bodies() {
    let sandbox = sandbox().await;
    let kernel = client(&sandbox, false).await;
    // The built-in BIN table does not know 999999: 404 documented by the spec.
    let e = kernel_binlookup::BinLookup::new(&kernel)
        .lookup()
        .card_bin("999999")
        .send()
        .await
        .expect_err("404");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(404));
    let body: kernel_binlookup::types::Error = e.error_body().expect("typed error body");
    assert_eq!(body.message, "BIN not found");
    assert!(
        !e.to_string().contains("BIN not found"),
        "bodies are never printed: {e}"
    );

    // Luhn is checked by the service, not by the types: a typed 400.
    let e = kernel_k3::K3::new(&kernel)
        .tokenize()
        .body_map(|b| {
            b.card_number("4111111111111112")
                .exp_month("12")
                .exp_year("2030")
                .cvv("123")
        })
        .send()
        .await
        .expect_err("400");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
    let body: kernel_k3::types::Error = e.error_body().expect("typed error body");
    assert_eq!(body.message, "invalid card_number");
    assert_eq!(sandbox.counters().tokens_issued, 0);

    // A handler a test registers replaces the built-in behaviour.
    sandbox.register_handler("bank-data-service", "lookupRoutingNumber", |req| {
        assert_eq!(
            req.query,
            vec![("routing_number".to_owned(), "021000021".to_owned())]
        );
        (429, json!({"message": "slow down"}))
    });
    let e = kernel_bankdata::BankData::with_options(&kernel, CallOptions::new().no_retries())
        .lookup_routing_number()
        .routing_number("021000021")
        .send()
        .await
        .expect_err("429");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(429));
    assert_eq!(e.attempts(), 1);
}

#[tokio::test]
async fn the_sandbox_validates_requests_against_the_spec() {
    let sandbox = sandbox().await;
    let kernel = client(&sandbox, false).await;
    // Raw calls can send what the typed clients cannot: the sandbox refuses them by spec.
    let cases = [
        (
            kernel_core::Service::BIN_LOOKUP,
            "?card_bin=12",
            None,
            "card_bin (query parameter): does not match ^[0-9]{6,8}$",
        ),
        (
            kernel_core::Service::BIN_LOOKUP,
            "?bin=411111",
            None,
            "card_bin (query parameter): required but missing",
        ),
        (
            kernel_core::Service::K3,
            "v1/tokenize",
            Some(json!({"card_number": CARD, "exp_month": "12", "exp_year": "2030"})),
            "cvv: required but missing",
        ),
        (
            kernel_core::Service::K3,
            "v1/tokenize",
            Some(json!({"card_number": CARD, "exp_month": 12, "exp_year": "2030", "cvv": "123"})),
            "exp_month: expected string, got integer",
        ),
        (
            kernel_core::Service::K3,
            "v1/tokenize",
            Some(
                json!({"card_number": CARD, "exp_month": "12", "exp_year": "2030", "cvv": "123", "pin": "1234"}),
            ),
            "pin: is not an allowed property",
        ),
        (
            kernel_core::Service::GOOGLE_WALLET,
            "decrypt",
            Some(
                json!({"protocolVersion": "ECv1", "signature": "s", "intermediateSigningKey": {"signedKey": "k", "signatures": ["s"]}, "signedMessage": "m"}),
            ),
            "protocolVersion: must be one of \"ECv2\"",
        ),
    ];
    for (service, endpoint, body, expected) in cases {
        let mut opts = CallOptions::new();
        if let Some(b) = &body {
            opts = opts.json(b);
        }
        let e = kernel
            .call_service(&service, endpoint, opts)
            .await
            .expect_err("400");
        let status = e.as_status().expect("a status error");
        assert_eq!(status.status().as_u16(), 400);
        assert_eq!(status.message().as_deref(), Some(expected));
        let msg = status.message().unwrap_or_default();
        assert!(
            !msg.contains(CARD) && !msg.contains("1234"),
            "values are never quoted: {msg}"
        );
    }
    assert_eq!(sandbox.counters().invalid_requests, 6);
    assert_eq!(sandbox.counters().tokens_issued, 0);
}

#[tokio::test]
async fn typed_calls_take_kernel_core_retries_and_timeouts() {
    let sandbox = sandbox().await;
    let kernel = client(&sandbox, false).await;
    // GET: retried through 503, 502.
    sandbox.inject(
        "bin-lookup-service",
        [Fault::Status(503), Fault::Status(502)],
    );
    let bin = kernel_binlookup::BinLookup::new(&kernel)
        .lookup()
        .card_bin("555555")
        .send()
        .await
        .expect("succeeds on the third attempt");
    assert_eq!(bin.card_brand, "MASTERCARD");
    assert_eq!(
        sandbox.counters().route_requests.get("bin-lookup-service"),
        Some(&3)
    );
    // POST: not repeated after a 503 (it may have reached the service).
    sandbox.inject("k3", [Fault::Status(503)]);
    let e = tokenize(&kernel).await.expect_err("503");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(sandbox.counters().route_requests.get("k3"), Some(&1));
    // The per-client read timeout applies (2 s latency, 300 ms timeout, no retries).
    sandbox.inject(
        "bank-data-service",
        [Fault::Latency(Duration::from_secs(2))],
    );
    let slow = kernel_bankdata::BankData::with_options(
        &kernel,
        CallOptions::new()
            .read_timeout(Duration::from_millis(300))
            .no_retries(),
    );
    let e = slow
        .lookup_routing_number()
        .routing_number("021000021")
        .send()
        .await
        .expect_err("timeout");
    assert!(
        matches!(
            e.last(),
            Error::Transport(kernel_core::TransportError::Timeout { .. })
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn dry_run_context_plans_and_sends_nothing() {
    let sandbox = sandbox().await;
    let kernel = client(&sandbox, true).await;
    let plans = Arc::new(Mutex::new(Vec::new()));
    let ctx =
        ServiceContext::new(&kernel, kernel_binlookup::bin_lookup::SERVICE).dry_run(plans.clone());
    let e = kernel_binlookup::BinLookup::from_context(ctx)
        .lookup()
        .card_bin("411111")
        .send()
        .await
        .expect_err("dry run");
    assert!(
        matches!(e, Error::InvalidRequest(RequestError::DryRun)),
        "{e:?}"
    );
    let plans = plans.lock().expect("lock");
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].method.as_str(), "GET");
    assert!(
        plans[0]
            .url
            .as_str()
            .ends_with("/bin-lookup-service/?card_bin=411111"),
        "{}",
        plans[0].url
    );
    assert!(plans[0].role_arn.ends_with(":role/kernel-access-external"));
    assert_eq!(sandbox.counters().gateway_requests, 0);
    assert_eq!(sandbox.counters().assume_role_calls, 0);
}

#[tokio::test]
async fn base_urls_follow_design_md() {
    // No network: the generated clients' base URLs, from the real configuration.
    let config = kernel_core::Config::builder()
        .partner("innovate")
        .stage("dev")
        .build()
        .expect("config");
    let kernel = kernel_core::KernelClient::builder()
        .config(config)
        .credential_source(NeverSource)
        .build()
        .await
        .expect("client");
    use kernel_k3::ClientInfo as _;
    assert_eq!(
        kernel_k3::K3::new(&kernel).baseurl(),
        "https://k3.qakernel.dev.com"
    );
    assert_eq!(
        kernel_binlookup::BinLookup::new(&kernel).baseurl(),
        "https://us-east-1.qakernel.dev.com/bin-lookup-service"
    );
    assert_eq!(
        kernel_wallets::Paze::new(&kernel).baseurl(),
        "https://us-east-1.qakernel.dev.com/paze-wallet-key-service"
    );
}

struct NeverSource;
impl kernel_core::CredentialSource for NeverSource {
    fn load(&self) -> kernel_core::credentials::LoadFuture<'_> {
        Box::pin(async { panic!("no credentials are loaded in this test") })
    }
}

#[test]
fn sensitive_values_are_redacted_in_debug_and_checked_on_construction() {
    use kernel_k3::types::{CardNumber, Cvv, TokenizeRequest};
    let req: TokenizeRequest = serde_json::from_value(json!({
        "card_number": CARD, "exp_month": "12", "exp_year": "2030", "cvv": "987"
    }))
    .expect("valid");
    let debug = format!("{req:?} {:?}", req.card_number);
    assert!(!debug.contains(CARD) && !debug.contains("987"), "{debug}");
    assert!(debug.contains("CardNumber(<redacted>)"), "{debug}");
    // Serialized for the wire, of course.
    assert!(serde_json::to_string(&req).expect("json").contains(CARD));
    assert_eq!(req.card_number.expose(), CARD);
    // Constraints: length, digits; messages name the rule.
    assert_eq!(
        CardNumber::new("41111111111").err(),
        Some("CardNumber: shorter than 12 character(s)")
    );
    assert_eq!(
        CardNumber::new("41111111111111111111").err(),
        Some("CardNumber: longer than 19 character(s)")
    );
    assert!(CardNumber::new("4111-1111-1111-1111").is_err());
    assert!(Cvv::new("12").is_err() && Cvv::new("12345").is_err() && Cvv::new("1234").is_ok());
    let bad: Result<TokenizeRequest, _> = serde_json::from_value(json!({
        "card_number": "41111111111111x1", "exp_month": "12", "exp_year": "2030", "cvv": "987"
    }));
    let msg = bad.expect_err("refused").to_string();
    assert!(!msg.contains("41111111111111x1"), "{msg}");
    // typify's own constrained types.
    use kernel_k3::types::ExpMonth;
    for ok in ["01", "09", "10", "12"] {
        assert!(ExpMonth::try_from(ok).is_ok(), "{ok}");
    }
    for bad in ["00", "13", "1", "012", "ab"] {
        assert!(ExpMonth::try_from(bad).is_err(), "{bad}");
    }
    assert!(kernel_binlookup::types::CardBin::try_from("12345678").is_ok());
    assert!(kernel_binlookup::types::CardBin::try_from("123456789").is_err());
    assert!(kernel_wallets::paze::types::PazeToken::new("").is_err());
    assert!(
        format!(
            "{:?}",
            kernel_wallets::paze::types::PazeToken::new("secret-token").expect("ok")
        )
        .contains("<redacted>")
    );
}

#[tokio::test]
async fn a_path_parameter_cannot_leave_the_service_base() {
    // progenitor encodes path parameters but not `.`; the URL parser then resolves `..`.
    // kernel-core refuses any generated request whose URL leaves the service's base.
    let sandbox = sandbox().await;
    let kernel = client(&sandbox, false).await;
    let ctx = ServiceContext::new(&kernel, kernel_binlookup::bin_lookup::SERVICE);
    let request = reqwest::Request::new(
        http::Method::GET,
        format!("{}/../k3/v1/tokenize", ctx.base_url())
            .parse()
            .expect("url"),
    );
    let resp = ctx.execute(request, "escape").await;
    assert_eq!(resp.status().as_u16(), kernel_core::typed::CARRIER_STATUS);
    // A sibling whose name merely starts with the base path is not inside it either.
    let k3 = ServiceContext::new(&kernel, kernel_k3::k3::SERVICE);
    let sibling = reqwest::Request::new(
        http::Method::POST,
        format!("{}evil/v1/tokenize", k3.base_url())
            .parse()
            .expect("url"),
    );
    let resp = k3.execute(sibling, "escape").await;
    assert_eq!(resp.status().as_u16(), kernel_core::typed::CARRIER_STATUS);
    assert_eq!(sandbox.counters().gateway_requests, 0);
}
