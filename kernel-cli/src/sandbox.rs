//! The embedded sandbox (`--sandbox`, `kernel demo`).

use aws_credential_types::provider::SharedCredentialsProvider;
use kernel_core::{Config, Credentials, KernelClient, Resolved};
use kernel_sandbox::{Sandbox, SandboxConfig};

use crate::failure::Failure;

/// Starts a sandbox playing the kernel account and region `config` resolves to. In mode 2 it
/// requires the configured ExternalId; otherwise it keeps its default one.
pub(crate) async fn start_for(config: &Config) -> Result<Sandbox, Failure> {
    let defaults = SandboxConfig::default();
    let sc = SandboxConfig {
        kernel_account: Resolved::new(config).account_id().to_owned(),
        region: config.region().to_owned(),
        external_id: config
            .external_id()
            .map_or(defaults.external_id.clone(), |e| e.expose().to_owned()),
        ..defaults
    };
    Sandbox::start(sc)
        .await
        .map_err(|e| Failure::runtime(format!("could not start the embedded sandbox: {e}")))
}

/// A client for `config` (whose kernel endpoint must already be the sandbox's gateway) that
/// assumes its role at the sandbox's STS with the sandbox's base credentials.
pub(crate) async fn client(sandbox: &Sandbox, config: Config) -> Result<KernelClient, Failure> {
    let sc = sandbox.config();
    let base = Credentials::new(
        &sc.base_access_key_id,
        &sc.base_secret_access_key,
        None,
        None,
        "sandbox",
    );
    KernelClient::builder()
        .config(config)
        .sts_endpoint_url(sandbox.sts_endpoint())
        .base_credentials(SharedCredentialsProvider::new(base))
        .build()
        .await
        .map_err(Failure::from)
}
