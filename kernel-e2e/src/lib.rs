//! Shared set-up for the end-to-end tests: a sandbox kernel on loopback and a
//! [`KernelClient`] pointed at it (its STS, its gateway, its base credentials).

use std::time::Duration;

use kernel_core::{Config, Credentials, KernelClient, Resolved};
use kernel_sandbox::{Sandbox, SandboxConfig};

/// Partner and stage the tests play (resolve to the `kernel` account, prod stage).
pub const PARTNER: &str = "paytheory";
/// See [`PARTNER`].
pub const STAGE: &str = "prod";

/// A sandbox playing the kernel account PARTNER/STAGE resolve to.
pub async fn sandbox() -> Sandbox {
    let cfg = Config::builder()
        .partner(PARTNER)
        .stage(STAGE)
        .build()
        .expect("valid config");
    Sandbox::start(SandboxConfig {
        kernel_account: Resolved::new(&cfg).account_id().to_owned(),
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts on loopback")
}

/// A client on the sandbox; mode 2 (ExternalId) when `external` is set.
pub async fn client(sandbox: &Sandbox, external: bool) -> KernelClient {
    let mut b = Config::builder()
        .partner(PARTNER)
        .stage(STAGE)
        .endpoint_url(sandbox.gateway_endpoint())
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(10));
    if external {
        b = b.external_id(sandbox.config().external_id.clone());
    }
    let sc = sandbox.config();
    KernelClient::builder()
        .config(b.build().expect("valid config"))
        .sts_endpoint_url(sandbox.sts_endpoint())
        .base_credentials(Credentials::new(
            &sc.base_access_key_id,
            &sc.base_secret_access_key,
            None,
            None,
            "sandbox-base",
        ))
        .build()
        .await
        .expect("client builds")
}

/// The README's Rust examples (raw and typed calls), compiled as doc tests so that they
/// cannot drift from the API. They live here because this crate sees every service crate.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
