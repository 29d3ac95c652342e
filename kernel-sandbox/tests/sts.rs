//! The STS endpoint driven by aws-sdk-sts (and aws-config's AssumeRoleProvider), as the SDK does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_sts::error::ProvideErrorMetadata;
use common::{bounded, start, start_with, sts_client, sts_client_with};
use kernel_sandbox::{AssumeRoleRecord, QAKERNEL_ACCOUNT, SandboxConfig, StsFailure};

/// Seconds from now until `t` (negative when in the past).
fn secs_until(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::now()) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

#[tokio::test]
async fn mode1_assume_role_returns_credentials_and_expiry() {
    let sandbox = start().await;
    let out = bounded(
        "assume",
        sts_client(&sandbox)
            .assume_role()
            .role_arn("arn:aws:iam::075149869707:role/kernel-access")
            .role_session_name("kernel-service-call")
            .send(),
    )
    .await
    .expect("AssumeRole succeeds");

    let creds = out.credentials().expect("credentials");
    assert!(creds.access_key_id().starts_with("ASIA"));
    assert_eq!(creds.access_key_id().len(), 20);
    assert!(
        creds.access_key_id()[4..]
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    );
    assert_eq!(creds.secret_access_key().len(), 40);
    assert!(creds.session_token().len() > 300);
    let expiry = SystemTime::try_from(*creds.expiration()).expect("expiration");
    let left = secs_until(expiry);
    assert!(
        (3590..=3600).contains(&left),
        "default lifetime 3600 s, got {left}"
    );

    let user = out.assumed_role_user().expect("assumed role user");
    assert_eq!(
        user.arn(),
        "arn:aws:sts::075149869707:assumed-role/kernel-access/kernel-service-call"
    );
    assert!(user.assumed_role_id().starts_with("AROA"));
    assert!(user.assumed_role_id().ends_with(":kernel-service-call"));

    let counters = sandbox.counters();
    assert_eq!(counters.assume_role_calls, 1);
    assert_eq!(counters.assume_role_granted, 1);
    assert_eq!(counters.assume_role_denied, 0);
    assert_eq!(
        counters.last_assume_role,
        Some(AssumeRoleRecord {
            role_arn: "arn:aws:iam::075149869707:role/kernel-access".into(),
            role_session_name: "kernel-service-call".into(),
            external_id_sent: false,
            duration_seconds: None,
        })
    );
    assert_eq!(sandbox.minted_credentials(), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn mode2_assume_role_with_external_id_honours_duration() {
    let sandbox = start().await;
    let out = bounded(
        "assume",
        sts_client(&sandbox)
            .assume_role()
            .role_arn(sandbox.config().external_role_arn())
            .role_session_name("kernel-service-call")
            .external_id("sandbox-external-id")
            .duration_seconds(900)
            .send(),
    )
    .await
    .expect("mode 2 AssumeRole succeeds");
    let expiry = SystemTime::try_from(*out.credentials().expect("credentials").expiration())
        .expect("expiration");
    let left = secs_until(expiry);
    assert!(
        (890..=900).contains(&left),
        "DurationSeconds 900 honoured, got {left}"
    );
    assert_eq!(
        out.assumed_role_user().expect("user").arn(),
        "arn:aws:sts::075149869707:assumed-role/kernel-access-external/kernel-service-call"
    );
    let record = sandbox.counters().last_assume_role.expect("recorded");
    assert!(record.external_id_sent);
    assert_eq!(record.duration_seconds, Some(900));
    // The ExternalId value is never kept, not even in Debug output.
    assert!(!format!("{:?}", sandbox.counters()).contains("sandbox-external-id"));
    assert!(!format!("{sandbox:?}").contains("sandbox-external-id"));
    assert!(!format!("{sandbox:?}").contains(&sandbox.config().base_secret_access_key));
}

#[tokio::test]
async fn aws_config_assume_role_provider_works_against_the_sandbox() {
    let sandbox = start_with(SandboxConfig {
        kernel_account: QAKERNEL_ACCOUNT.into(),
        external_id: "partner-xyz".into(),
        ..SandboxConfig::default()
    })
    .await;
    let c = sandbox.config();
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(c.region.clone()))
        .endpoint_url(sandbox.sts_endpoint())
        .credentials_provider(aws_credential_types::Credentials::new(
            &c.base_access_key_id,
            &c.base_secret_access_key,
            None,
            None,
            "sandbox-base",
        ))
        .load()
        .await;
    let provider = aws_config::sts::AssumeRoleProvider::builder(c.external_role_arn())
        .external_id("partner-xyz")
        .session_name("kernel-service-call")
        .configure(&base)
        .build()
        .await;
    let creds = bounded("provide credentials", provider.provide_credentials())
        .await
        .expect("credentials");
    assert!(creds.access_key_id().starts_with("ASIA"));
    assert!(creds.session_token().is_some());
    assert!(creds.expiry().is_some());
    assert_eq!(
        creds.account_id().map(|a| a.as_str()),
        Some(QAKERNEL_ACCOUNT)
    );
    assert_eq!(sandbox.counters().assume_role_granted, 1);
}

/// Sends an AssumeRole that must be refused with AccessDenied naming the role.
async fn expect_access_denied(
    client: &aws_sdk_sts::Client,
    role_arn: &str,
    external_id: Option<&str>,
) {
    let err = bounded(
        "assume",
        client
            .assume_role()
            .role_arn(role_arn)
            .role_session_name("kernel-service-call")
            .set_external_id(external_id.map(str::to_owned))
            .send(),
    )
    .await
    .expect_err("AssumeRole must be denied");
    let service_error = err.into_service_error();
    assert_eq!(
        service_error.code(),
        Some("AccessDenied"),
        "{service_error:?}"
    );
    let message = service_error.message().expect("message");
    assert_eq!(
        message,
        format!(
            "User: arn:aws:iam::111122223333:user/partner is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        )
    );
}

#[tokio::test]
async fn trust_rules_deny_wrong_external_id_and_foreign_roles() {
    let sandbox = start().await;
    let client = sts_client(&sandbox);
    let mode1 = sandbox.config().role_arn();
    let mode2 = sandbox.config().external_role_arn();

    expect_access_denied(&client, &mode2, Some("wrong-external-id")).await;
    expect_access_denied(&client, &mode2, None).await;
    expect_access_denied(&client, &mode1, Some("sandbox-external-id")).await;
    expect_access_denied(
        &client,
        "arn:aws:iam::999999999999:role/kernel-access",
        None,
    )
    .await;
    expect_access_denied(
        &client,
        "arn:aws:iam::058264189048:role/kernel-access",
        None,
    )
    .await;
    expect_access_denied(&client, "arn:aws:iam::075149869707:role/admin", None).await;

    let counters = sandbox.counters();
    assert_eq!(counters.assume_role_calls, 6);
    assert_eq!(counters.assume_role_denied, 6);
    assert_eq!(counters.assume_role_granted, 0);
    assert_eq!(sandbox.minted_credentials(), 0);
}

#[tokio::test]
async fn invalid_parameters_are_validation_errors() {
    let sandbox = start().await;
    let client = sts_client(&sandbox);
    for (session, duration) in [
        ("x", None),
        ("has space", None),
        ("kernel-service-call", Some(60)),
    ] {
        let err = bounded(
            "assume",
            client
                .assume_role()
                .role_arn(sandbox.config().role_arn())
                .role_session_name(session)
                .set_duration_seconds(duration)
                .send(),
        )
        .await
        .expect_err("invalid input refused");
        let e = err.into_service_error();
        assert_eq!(
            e.code(),
            Some("ValidationError"),
            "{session:?} {duration:?}: {e:?}"
        );
    }
    let counters = sandbox.counters();
    assert_eq!(counters.assume_role_calls, 3);
    assert_eq!(
        counters.assume_role_granted + counters.assume_role_denied,
        0
    );
}

#[tokio::test]
async fn bad_base_credentials_are_rejected_by_signature_verification() {
    let sandbox = start().await;
    let c = sandbox.config().clone();

    let wrong_secret = sts_client_with(
        &sandbox,
        &c.base_access_key_id,
        "0123456789012345678901234567890123456789",
    );
    let err = bounded(
        "assume",
        wrong_secret
            .assume_role()
            .role_arn(c.role_arn())
            .role_session_name("kernel-service-call")
            .send(),
    )
    .await
    .expect_err("wrong secret refused");
    assert_eq!(
        err.into_service_error().code(),
        Some("SignatureDoesNotMatch")
    );

    let unknown_key = sts_client_with(&sandbox, "AKIAUNKNOWNKEY000000", &c.base_secret_access_key);
    let err = bounded(
        "assume",
        unknown_key
            .assume_role()
            .role_arn(c.role_arn())
            .role_session_name("kernel-service-call")
            .send(),
    )
    .await
    .expect_err("unknown key refused");
    assert_eq!(
        err.into_service_error().code(),
        Some("InvalidClientTokenId")
    );

    // An unsigned POST never reaches the trust rules.
    let response = common::http()
        .post(sandbox.sts_endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=s1",
            c.role_arn()
        ))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 403);
    let body = response.text().await.expect("body");
    assert!(
        body.contains("<Code>MissingAuthenticationToken</Code>"),
        "{body}"
    );

    let counters = sandbox.counters();
    assert_eq!(counters.assume_role_calls, 3);
    assert_eq!(counters.assume_role_granted, 0);
    assert_eq!(counters.assume_role_denied, 0);
}

#[tokio::test]
async fn other_actions_are_invalid() {
    let sandbox = start().await;
    let err = bounded(
        "get caller identity",
        sts_client(&sandbox).get_caller_identity().send(),
    )
    .await
    .expect_err("not implemented");
    assert_eq!(err.into_service_error().code(), Some("InvalidAction"));
    assert_eq!(sandbox.counters().assume_role_calls, 0);
}

#[tokio::test]
async fn injected_failures_and_latency() {
    let sandbox = start().await;
    let client = sts_client(&sandbox);
    let assume = || {
        client
            .assume_role()
            .role_arn(sandbox.config().role_arn())
            .role_session_name("kernel-service-call")
            .send()
    };

    for (failure, code, status) in [
        (StsFailure::Throttling, "Throttling", 400),
        (StsFailure::InternalError, "InternalFailure", 500),
        (StsFailure::Unavailable, "ServiceUnavailable", 503),
    ] {
        sandbox.set_sts_failure(Some(failure));
        let err = bounded("assume", assume())
            .await
            .expect_err("failure injected");
        let raw_status = err.raw_response().map(|r| r.status().as_u16());
        assert_eq!(raw_status, Some(status), "{failure:?}");
        let e = err.into_service_error();
        assert_eq!(e.code(), Some(code), "{failure:?}: {e:?}");
    }

    sandbox.set_sts_failure(None);
    sandbox.set_sts_latency(Duration::from_millis(400));
    let started = Instant::now();
    bounded("assume", assume()).await.expect("succeeds again");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "latency applied"
    );

    let counters = sandbox.counters();
    assert_eq!(counters.assume_role_calls, 4);
    assert_eq!(counters.assume_role_granted, 1);
    assert_eq!(counters.assume_role_denied, 0);
}

#[tokio::test]
async fn credential_lifetime_override() {
    let sandbox = start_with(SandboxConfig {
        credential_lifetime: Some(Duration::from_secs(120)),
        ..SandboxConfig::default()
    })
    .await;
    let client = sts_client(&sandbox);
    let expiry_after = |duration: Option<i32>| {
        let client = client.clone();
        let role = sandbox.config().role_arn();
        async move {
            let out = bounded(
                "assume",
                client
                    .assume_role()
                    .role_arn(role)
                    .role_session_name("kernel-service-call")
                    .set_duration_seconds(duration)
                    .send(),
            )
            .await
            .expect("granted");
            secs_until(
                SystemTime::try_from(*out.credentials().expect("creds").expiration())
                    .expect("expiry"),
            )
        }
    };
    let left = expiry_after(Some(3600)).await;
    assert!(
        (110..=120).contains(&left),
        "override wins over DurationSeconds: {left}"
    );
    sandbox.set_credential_lifetime(None);
    let left = expiry_after(Some(1800)).await;
    assert!(
        (1790..=1800).contains(&left),
        "DurationSeconds honoured again: {left}"
    );
    assert_eq!(sandbox.minted_credentials(), 2);
}
