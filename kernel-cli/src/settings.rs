//! Configuration: the environment, with `--partner` / `--stage` applied on top.

use std::collections::BTreeMap;

use kernel_core::config::env;
use kernel_core::{Config, Error};

use crate::args::GlobalArgs;
use crate::failure::Failure;

/// The variables kernel-core reads, as a map (non-UTF-8 values of those are an error).
pub(crate) type Vars = BTreeMap<String, String>;

/// The environment's kernel variables plus the flag overrides.
pub(crate) fn vars(global: &GlobalArgs) -> Result<Vars, Failure> {
    let mut vars = kernel_core::config::env_vars().map_err(|e| Failure::from(Error::from(e)))?;
    if let Some(p) = &global.partner {
        vars.insert(env::PARTNER.to_owned(), p.clone());
    }
    if let Some(s) = &global.stage {
        vars.insert(env::STAGE.to_owned(), s.clone());
    }
    Ok(vars)
}

/// Points every service at `gateway` (an embedded sandbox): per-service overrides from the
/// environment are dropped, since they would win over the kernel-wide one.
pub(crate) fn with_gateway(mut vars: Vars, gateway: &str) -> Vars {
    vars.retain(|k, _| !k.starts_with(env::KERNEL_ENDPOINT_URL));
    vars.insert(env::KERNEL_ENDPOINT_URL.to_owned(), gateway.to_owned());
    vars
}

/// Validates the variables into a [`Config`] (exit 2 on error).
pub(crate) fn config(vars: &Vars) -> Result<Config, Failure> {
    Config::from_vars(vars).map_err(|e| Failure::from(Error::from(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_replaces_overrides() {
        let mut v = Vars::new();
        v.insert("PARTNER".into(), "paytheory".into());
        v.insert("STAGE".into(), "prod".into());
        v.insert("KERNEL_ENDPOINT_URL_K3".into(), "https://k3.example".into());
        let v = with_gateway(v, "http://127.0.0.1:1");
        assert_eq!(v.len(), 3);
        let cfg = config(&v).expect("valid");
        assert!(cfg.service_endpoint_url("k3").is_none());
        assert_eq!(
            cfg.endpoint_url().map(|u| u.as_str()),
            Some("http://127.0.0.1:1/")
        );
    }

    #[test]
    fn missing_partner_is_usage() {
        let mut v = Vars::new();
        v.insert("STAGE".into(), "prod".into());
        let e = config(&v).expect_err("missing PARTNER");
        assert_eq!(e.code, crate::failure::USAGE);
        assert!(e.message.contains("PARTNER"));
    }
}
