//! Arbitrary bytes → `NAME=value` lines → `Config::from_vars`.
//!
//! Never a panic; when the configuration is accepted, every value that ends up in a host
//! name is a DNS label and every endpoint override is a clean `https://` (or loopback
//! `http://`) base, and the base URL of every known service lands where DESIGN.md says.
//!
//! To reach the interesting variables quickly, a name of one character is an alias:
//! `P` PARTNER, `S` STAGE, `R` TARGET_REGION, `X` K3_EXTERNAL_ID, `E` KERNEL_ENV_OVERRIDE,
//! `U` KERNEL_ENDPOINT_URL, `K` KERNEL_ENDPOINT_URL_K3, `B` KERNEL_ENDPOINT_URL_BIN_LOOKUP_SERVICE.
#![no_main]

use kernel_core::config::check_dns_label;
use kernel_core::{Config, Resolved, Service};
use libfuzzer_sys::fuzz_target;
use url::Url;

fn alias(name: &str) -> &str {
    match name {
        "P" => "PARTNER",
        "S" => "STAGE",
        "R" => "TARGET_REGION",
        "X" => "K3_EXTERNAL_ID",
        "E" => "KERNEL_ENV_OVERRIDE",
        "U" => "KERNEL_ENDPOINT_URL",
        "K" => "KERNEL_ENDPOINT_URL_K3",
        "B" => "KERNEL_ENDPOINT_URL_BIN_LOOKUP_SERVICE",
        other => other,
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

fn check_override(u: &Url) {
    assert!(
        u.scheme() == "https" || (u.scheme() == "http" && is_loopback(u)),
        "insecure override accepted: {u}"
    );
    assert!(u.host_str().is_some_and(|h| !h.is_empty()), "no host: {u}");
    assert!(
        u.username().is_empty() && u.password().is_none(),
        "user-info: {u}"
    );
    assert!(
        u.query().is_none() && u.fragment().is_none(),
        "query/fragment: {u}"
    );
    assert!(u.path().ends_with('/'), "no trailing slash: {u}");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let vars: Vec<(String, String)> = text
        .split('\n')
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (alias(k).to_owned(), v.to_owned()))
        .collect();
    let Ok(cfg) = Config::from_vars(vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))) else {
        return;
    };
    for (name, v) in [
        ("PARTNER", cfg.partner()),
        ("STAGE", cfg.stage()),
        ("TARGET_REGION", cfg.region()),
    ] {
        assert!(check_dns_label(name, v).is_ok(), "{name}={v:?} accepted");
    }
    if let Some(u) = cfg.endpoint_url() {
        check_override(u);
    }
    let resolved = Resolved::new(&cfg);
    for service in Service::ALL {
        if let Some(u) = cfg.service_endpoint_url(service.prefix) {
            check_override(u);
        }
        let base = resolved
            .base_url(&cfg, service.prefix, service.region_in_url)
            .expect("an accepted config has a base URL for every known service");
        assert!(base.path().ends_with('/'), "{base}");
        if cfg.service_endpoint_url(service.prefix).is_none() && cfg.endpoint_url().is_none() {
            let host = if service.region_in_url {
                format!(
                    "{}.{}.{}.com",
                    cfg.region(),
                    resolved.kernel_env(),
                    resolved.url_stage()
                )
            } else {
                format!(
                    "{}.{}.{}.com",
                    service.prefix,
                    resolved.kernel_env(),
                    resolved.url_stage()
                )
            };
            assert_eq!(base.scheme(), "https");
            assert_eq!(base.host_str(), Some(host.as_str()), "{base}");
            assert_eq!(base.port(), None, "{base}");
        }
        // A fixed, harmless endpoint must always be accepted on an accepted config.
        let url = resolved
            .call_url(
                &cfg,
                service.prefix,
                service.region_in_url,
                "v1/x?card_bin=411111",
            )
            .expect("a plain endpoint is accepted");
        assert_eq!(url.host(), base.host());
        assert_eq!(url.port_or_known_default(), base.port_or_known_default());
    }
});
