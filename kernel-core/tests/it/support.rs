//! Shared set-up: a sandbox kernel on loopback and clients pointed at it.

use std::time::Duration;

use kernel_core::{Config, ConfigBuilder, Credentials, KernelClient, RefreshSettings, Resolved};
use kernel_sandbox::{Sandbox, SandboxConfig};

pub const PARTNER: &str = "paytheory";
pub const STAGE: &str = "prod";

/// A sandbox playing the kernel account that PARTNER/STAGE resolve to.
pub async fn sandbox_with(f: impl FnOnce(&mut SandboxConfig)) -> Sandbox {
    let cfg = Config::builder()
        .partner(PARTNER)
        .stage(STAGE)
        .build()
        .unwrap();
    let mut sc = SandboxConfig {
        kernel_account: Resolved::new(&cfg).account_id().to_owned(),
        ..SandboxConfig::default()
    };
    f(&mut sc);
    Sandbox::start(sc)
        .await
        .expect("sandbox starts on loopback")
}

pub async fn sandbox() -> Sandbox {
    sandbox_with(|_| {}).await
}

/// Config builder pointed at the sandbox's gateway; mode 2 when `external` is set.
pub fn config_builder(sandbox: &Sandbox, external: bool) -> ConfigBuilder {
    let b = Config::builder()
        .partner(PARTNER)
        .stage(STAGE)
        .endpoint_url(sandbox.gateway_endpoint())
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(10));
    if external {
        b.external_id(sandbox.config().external_id.clone())
    } else {
        b
    }
}

pub fn base_credentials(sandbox: &Sandbox) -> Credentials {
    let sc = sandbox.config();
    Credentials::new(
        &sc.base_access_key_id,
        &sc.base_secret_access_key,
        None,
        None,
        "sandbox-base",
    )
}

pub async fn client_from(
    sandbox: &Sandbox,
    config: Config,
    refresh: RefreshSettings,
) -> KernelClient {
    KernelClient::builder()
        .config(config)
        .sts_endpoint_url(sandbox.sts_endpoint())
        .base_credentials(base_credentials(sandbox))
        .refresh_settings(refresh)
        .build()
        .await
        .expect("client builds")
}

pub async fn client(sandbox: &Sandbox, external: bool) -> KernelClient {
    client_from(
        sandbox,
        config_builder(sandbox, external).build().unwrap(),
        RefreshSettings::default(),
    )
    .await
}
