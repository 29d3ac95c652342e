//! Bad input is a typed error raised before anything is sent: the sandbox sees nothing.

use kernel_core::{CallOptions, Config, ConfigError, Error, KernelClient, RequestError};

use crate::support;

/// Endpoint forms that could change scheme, host or port (or smuggle a request).
pub const HOSTILE_ENDPOINTS: &[&str] = &[
    "//evil.example/x",
    "///evil.example/x",
    "/\\evil.example/x",
    "\\\\evil.example\\x",
    "https://evil.example/x",
    "http://evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "evil.example:443/x",
    "@evil.example/x",
    "user@evil.example/x",
    "user:pw@evil.example",
    "..",
    "../x",
    "v1/../../x",
    "v1/./x",
    "%2e%2e/x",
    "v1/%2E%2E/x",
    ".%2e/x",
    "v1//x",
    "v1/tokenize\r\nHost: evil.example",
    "v1/tokenize\n",
    "v1/\u{0}x",
    "v1/\u{7f}",
    "v1/tokenize#frag",
    "?x=1#frag",
    " https://evil.example/x",
    " javascript:evil.example:443",
];

#[tokio::test]
async fn hostile_endpoints_send_nothing() {
    let sandbox = support::sandbox().await;
    let client = support::client(&sandbox, false).await;
    for bad in HOSTILE_ENDPOINTS {
        let err = client
            .call("k3", bad, CallOptions::new().json(&serde_json::json!({})))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidRequest(RequestError::Endpoint { .. })),
            "{bad:?} gave {err:?}"
        );
        // The message names the construct and never echoes the input.
        assert!(!err.to_string().contains("evil.example"), "{err}");
        let err = client
            .bin_lookup(bad, CallOptions::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidRequest(_)),
            "{bad:?} gave {err:?}"
        );
    }
    let err = client
        .call("evil.example", "x", CallOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidRequest(RequestError::ServicePrefix { .. })
    ));
    let c = sandbox.counters();
    assert_eq!(c.gateway_requests, 0, "the gateway saw a request: {c:?}");
    assert_eq!(c.assume_role_calls, 0, "STS saw a request: {c:?}");
    assert_eq!(client.sts_calls(), 0);
}

#[tokio::test]
async fn reserved_and_malformed_headers_send_nothing() {
    let sandbox = support::sandbox().await;
    let client = support::client(&sandbox, false).await;
    for (name, value) in [
        ("Authorization", "AWS4-HMAC-SHA256 forged"),
        ("host", "evil.example"),
        ("X-Amz-Date", "20260101T000000Z"),
        ("x-amz-security-token", "forged"),
        ("x-ok", "line\r\nInjected: 1"),
        ("bad name", "v"),
    ] {
        let err = client
            .k3("v1/tokenize", CallOptions::new().header(name, value))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidRequest(RequestError::Header { .. })),
            "{name} gave {err:?}"
        );
        if value.len() > 3 {
            assert!(
                !err.to_string().contains(value),
                "header value echoed: {err}"
            );
        }
    }
    assert_eq!(sandbox.counters().gateway_requests, 0);
    assert_eq!(sandbox.counters().assume_role_calls, 0);
}

#[tokio::test]
async fn missing_or_invalid_configuration_fails_before_network() {
    let sandbox = support::sandbox().await;
    // Missing PARTNER through the builder path that reads vars.
    let err = Config::from_vars([
        ("STAGE", "prod"),
        ("KERNEL_ENDPOINT_URL", sandbox.gateway_endpoint().as_str()),
    ])
    .unwrap_err();
    assert!(matches!(
        err,
        ConfigError::Missing {
            name: "PARTNER",
            ..
        }
    ));
    // An STS endpoint that is not https/loopback is refused when the client is built.
    let cfg = support::config_builder(&sandbox, false).build().unwrap();
    let err = KernelClient::builder()
        .config(cfg)
        .sts_endpoint_url("http://sts.evil.example")
        .base_credentials(support::base_credentials(&sandbox))
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::BadEndpointOverride { .. })),
        "{err:?}"
    );
    // Zero timeouts would fail every call: refused.
    let err = support::config_builder(&sandbox, false)
        .read_timeout(std::time::Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        ConfigError::Invalid {
            name: "read_timeout",
            ..
        }
    ));
    assert_eq!(sandbox.counters().gateway_requests, 0);
    assert_eq!(sandbox.counters().assume_role_calls, 0);
}

#[tokio::test]
async fn assume_role_denied_is_a_clear_error() {
    // The sandbox expects another ExternalId: mode 2 is denied, nothing reaches the gateway.
    let sandbox = support::sandbox_with(|c| c.external_id = "the-real-external-id".into()).await;
    let cfg = support::config_builder(&sandbox, false)
        .external_id("a-wrong-external-id")
        .build()
        .unwrap();
    let client = support::client_from(&sandbox, cfg, Default::default()).await;
    let err = client
        .bin_lookup("?card_bin=411111", CallOptions::new())
        .await
        .unwrap_err();
    let Error::AssumeRole(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.code.as_deref(), Some("AccessDenied"));
    assert_eq!(
        e.role_arn,
        "arn:aws:iam::075149869707:role/kernel-access-external"
    );
    let text = err.to_string();
    assert!(text.contains("kernel-access-external"), "{text}");
    assert!(text.contains("ExternalId sent"), "{text}");
    assert!(
        !text.contains("a-wrong-external-id"),
        "ExternalId value leaked: {text}"
    );
    assert!(!format!("{err:?}").contains("a-wrong-external-id"));
    assert_eq!(sandbox.counters().assume_role_denied, 1);
    assert_eq!(sandbox.counters().gateway_requests, 0);
}
