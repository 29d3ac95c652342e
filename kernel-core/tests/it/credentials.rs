//! The credential cache against the sandbox's STS: single-flight, refresh ahead of expiry,
//! riding through an STS outage while the credentials are valid, invalidation.

use std::time::{Duration, Instant, SystemTime};

use kernel_core::{CallOptions, Error, KernelClient};
use kernel_sandbox::StsFailure;

use crate::support;

async fn bin(client: &KernelClient) -> Result<(), Error> {
    client
        .bin_lookup("?card_bin=411111", CallOptions::new())
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_calls_one_assume_role() {
    let sandbox = support::sandbox().await;
    // Slow STS so that every caller arrives while the first load is in flight.
    sandbox.set_sts_latency(Duration::from_millis(300));
    let client = support::client(&sandbox, false).await;
    let calls = (0..1000).map(|_| {
        let c = client.clone();
        tokio::spawn(async move { bin(&c).await })
    });
    let results = futures::future::join_all(calls).await;
    let failed = results.iter().filter(|r| !matches!(r, Ok(Ok(())))).count();
    assert_eq!(failed, 0, "failed calls: {failed}");
    assert_eq!(client.sts_calls(), 1, "client-side AssumeRole count");
    let c = sandbox.counters();
    assert_eq!(c.assume_role_calls, 1, "sandbox-side AssumeRole count");
    assert_eq!(c.verified_requests, 1000);
    assert_eq!(c.rejected_requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_credentials_refresh_ahead_of_expiry() {
    let sandbox =
        support::sandbox_with(|c| c.credential_lifetime = Some(Duration::from_secs(6))).await;
    let client = support::client(&sandbox, false).await;
    bin(&client).await.unwrap();
    let first = client.credentials().get().await.unwrap();
    let first_expiry = first.expiry();
    let first_key = first.access_key_id().to_owned();
    let started = Instant::now();
    let mut switched_at: Option<SystemTime> = None;
    let mut calls = 0;
    // ~8 s of traffic, 4 concurrent callers every 40 ms: spans more than one lifetime.
    while started.elapsed() < Duration::from_secs(8) {
        let batch = (0..4).map(|_| bin(&client));
        for r in futures::future::join_all(batch).await {
            r.expect("no call may fail across a refresh");
            calls += 1;
        }
        let now = client.credentials().get().await.unwrap();
        if switched_at.is_none() && now.access_key_id() != first_key {
            switched_at = Some(SystemTime::now());
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let switched_at = switched_at.expect("credentials were refreshed");
    assert!(
        switched_at < first_expiry,
        "the refresh must happen before the old credentials expire"
    );
    let c = sandbox.counters();
    assert!(c.assume_role_calls >= 2, "{c:?}");
    // At most one refresh per (lifetime/2): no refresh storm.
    assert!(c.assume_role_calls <= 5, "refresh storm: {c:?}");
    assert_eq!(
        c.rejected_requests, 0,
        "no request was sent with expired credentials: {c:?}"
    );
    assert_eq!(
        c.verified_requests,
        calls + 1,
        "every call reached the gateway and verified"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_outage_during_refresh_is_ridden_out_while_credentials_are_valid() {
    let sandbox =
        support::sandbox_with(|c| c.credential_lifetime = Some(Duration::from_secs(6))).await;
    let client = support::client(&sandbox, false).await;
    bin(&client).await.unwrap();
    let creds = client.credentials().get().await.unwrap();
    let expiry = creds.expiry();
    sandbox.set_sts_failure(Some(StsFailure::Unavailable));
    let outage_calls_before = sandbox.counters().assume_role_calls;

    // Every call succeeds until the credentials are about to expire (1 s safety margin).
    let mut ok = 0;
    while SystemTime::now() + Duration::from_millis(1300) < expiry {
        let batch = (0..4).map(|_| bin(&client));
        for r in futures::future::join_all(batch).await {
            r.expect("calls keep succeeding while the credentials are valid");
            ok += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok > 40, "enough calls were made during the outage: {ok}");
    let during = sandbox.counters().assume_role_calls - outage_calls_before;
    assert!(during >= 1, "a refresh was attempted during the outage");
    assert!(during <= 20, "STS was hammered during the outage: {during}");

    // Once they have expired, calls fail with a clear, typed error.
    while SystemTime::now() < expiry + Duration::from_millis(200) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let err = bin(&client).await.unwrap_err();
    let Error::AssumeRole(e) = &err else {
        panic!("{err:?}")
    };
    assert!(e.retryable);
    let text = err.to_string();
    assert!(
        text.contains("arn:aws:iam::075149869707:role/kernel-access"),
        "{text}"
    );
    assert!(
        text.contains("retry later") || text.contains("STS"),
        "{text}"
    );
    assert_eq!(sandbox.counters().rejections.get("expired-token"), None);

    // STS recovers: the next call after the negative-cache window succeeds.
    sandbox.set_sts_failure(None);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    bin(&client).await.expect("recovers once STS is back");
}

#[tokio::test]
async fn invalidate_drops_only_the_rejected_credentials() {
    let sandbox = support::sandbox().await;
    let client = support::client(&sandbox, false).await;
    bin(&client).await.unwrap();
    let a = client.credentials().get().await.unwrap();
    assert!(!client.credentials().invalidate("ASIANOTTHEONE"));
    assert_eq!(
        client.credentials().get().await.unwrap().access_key_id(),
        a.access_key_id()
    );
    assert!(client.credentials().invalidate(a.access_key_id()));
    bin(&client).await.unwrap();
    let b = client.credentials().get().await.unwrap();
    assert_ne!(a.access_key_id(), b.access_key_id());
    assert_eq!(client.sts_calls(), 2);
    // A late invalidation of the old key does not drop the new credentials.
    assert!(!client.credentials().invalidate(a.access_key_id()));
    assert_eq!(
        client.credentials().get().await.unwrap().access_key_id(),
        b.access_key_id()
    );
}
