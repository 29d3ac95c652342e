//! [`SandboxConfig`]: what the sandbox pretends to be and which credentials it accepts.

use std::fmt;
use std::time::Duration;

/// Account id of the `kernel` environment.
pub const KERNEL_ACCOUNT: &str = "075149869707";
/// Account id of the `qakernel` environment.
pub const QAKERNEL_ACCOUNT: &str = "058264189048";
/// The account the partner's base credentials belong to, as STS names it in `AccessDenied`
/// messages (`arn:aws:iam::{PARTNER_ACCOUNT}:user/partner`).
pub const PARTNER_ACCOUNT: &str = "111122223333";
/// Bounds of `DurationSeconds` (seconds), as real STS enforces them (roles allow up to 12 h here).
pub(crate) const MIN_DURATION_SECONDS: u32 = 900;
pub(crate) const MAX_DURATION_SECONDS: u32 = 43_200;
/// Lifetime of minted credentials when neither an override nor `DurationSeconds` is given.
pub(crate) const DEFAULT_DURATION_SECONDS: u32 = 3600;

/// Configuration of a [`Sandbox`](crate::Sandbox).
///
/// `Debug` never prints the secret access key nor the ExternalId.
#[derive(Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Account that owns the roles `kernel-access` and `kernel-access-external`.
    /// Default [`KERNEL_ACCOUNT`] (`075149869707`); [`QAKERNEL_ACCOUNT`] is `058264189048`.
    pub kernel_account: String,
    /// SigV4 region expected in the credential scope for both `sts` and `execute-api`.
    /// Default `us-east-1`.
    pub region: String,
    /// ExternalId that role `kernel-access-external` requires. Default `sandbox-external-id`.
    pub external_id: String,
    /// Access key id of the partner's base credentials, the only key STS accepts.
    /// Default `AKIASANDBOXPARTNER01`.
    pub base_access_key_id: String,
    /// Secret of the base credentials. It must be exactly 40 characters (like every AWS secret
    /// key; the verifier, scratchstack-aws-signature, accepts no other length).
    /// Default `sandbox/base/secret/not/a/real/secretkey`.
    pub base_secret_access_key: String,
    /// `None`: minted credentials live `DurationSeconds` (default 3600 s).
    /// `Some(d)`: minted credentials live `d`, whatever was asked (tests use seconds).
    pub credential_lifetime: Option<Duration>,
    /// Port of the STS listener on 127.0.0.1; 0 picks a free port.
    pub sts_port: u16,
    /// Port of the gateway listener on 127.0.0.1; 0 picks a free port.
    pub gateway_port: u16,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            kernel_account: KERNEL_ACCOUNT.to_owned(),
            region: "us-east-1".to_owned(),
            external_id: "sandbox-external-id".to_owned(),
            base_access_key_id: "AKIASANDBOXPARTNER01".to_owned(),
            base_secret_access_key: "sandbox/base/secret/not/a/real/secretkey".to_owned(),
            credential_lifetime: None,
            sts_port: 0,
            gateway_port: 0,
        }
    }
}

impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("kernel_account", &self.kernel_account)
            .field("region", &self.region)
            .field("external_id", &"** redacted **")
            .field("base_access_key_id", &self.base_access_key_id)
            .field("base_secret_access_key", &"** redacted **")
            .field("credential_lifetime", &self.credential_lifetime)
            .field("sts_port", &self.sts_port)
            .field("gateway_port", &self.gateway_port)
            .finish()
    }
}

impl SandboxConfig {
    /// ARN of the mode-1 role (`kernel-access`) in [`kernel_account`](Self::kernel_account).
    pub fn role_arn(&self) -> String {
        format!("arn:aws:iam::{}:role/kernel-access", self.kernel_account)
    }

    /// ARN of the mode-2 role (`kernel-access-external`) in [`kernel_account`](Self::kernel_account).
    pub fn external_role_arn(&self) -> String {
        format!(
            "arn:aws:iam::{}:role/kernel-access-external",
            self.kernel_account
        )
    }

    /// Checks what the servers cannot work without.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.base_secret_access_key.len() != 40 {
            return Err(format!(
                "base_secret_access_key must be exactly 40 characters (got {}); \
                 the SigV4 verifier accepts only AWS-shaped secret keys",
                self.base_secret_access_key.len()
            ));
        }
        if self.base_access_key_id.is_empty() || self.base_access_key_id.contains('/') {
            return Err("base_access_key_id must be non-empty and contain no '/'".to_owned());
        }
        if self.region.is_empty() || self.region.contains('/') {
            return Err("region must be non-empty and contain no '/'".to_owned());
        }
        if self.kernel_account.len() != 12
            || !self.kernel_account.bytes().all(|b| b.is_ascii_digit())
        {
            return Err("kernel_account must be a 12-digit AWS account id".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let config = SandboxConfig::default();
        let shown = format!("{config:?}");
        assert!(!shown.contains(&config.base_secret_access_key), "{shown}");
        assert!(!shown.contains(&config.external_id), "{shown}");
        assert!(shown.contains("AKIASANDBOXPARTNER01"));
    }

    #[test]
    fn default_validates() {
        assert_eq!(SandboxConfig::default().validate(), Ok(()));
        let bad = SandboxConfig {
            base_secret_access_key: "short".into(),
            ..SandboxConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
