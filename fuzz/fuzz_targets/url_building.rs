//! A structured input (via `arbitrary`) → `Config::from_vars` → `Resolved::call_url`.
//!
//! Never a panic; an accepted call URL has exactly the scheme, host and port of the
//! resolved base (the per-service override's, else the kernel-wide override's, else
//! `https://{prefix|region}.{env}.{stage}.com`), its path starts with the base path, it
//! has no user-info or fragment, and it can be planned (signed) to the same URL.
#![no_main]

use arbitrary::Arbitrary;
use kernel_core::config::upper_snake;
use kernel_core::{CallOptions, Config, Resolved};
use libfuzzer_sys::fuzz_target;
use url::Url;

const PARTNERS: &[&str] = &["paytheory", "innovate", "austin", "start"];
const STAGES: &[&str] = &["dev", "stage", "prod", "paytheory"];
const PREFIXES: &[&str] = &[
    "k3",
    "paze-wallet-key-service",
    "apple-wallet-key-service",
    "google-wallet-key-service",
    "bin-lookup-service",
    "bank-data-service",
];
const OVERRIDES: &[&str] = &[
    "http://127.0.0.1:8080",
    "http://localhost:9000/gw/",
    "http://[::1]:1234",
    "https://kernel.example/base",
    "https://kernel.example:8443/a/b",
];

/// A value that is either one of a few known-good ones (index) or free text.
#[derive(Debug, Arbitrary)]
enum Pick {
    Known(u8),
    Free(String),
}

impl Pick {
    fn get(&self, known: &[&str]) -> String {
        match self {
            Pick::Known(i) => known[usize::from(*i) % known.len()].to_owned(),
            Pick::Free(s) => s.clone(),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    partner: Pick,
    stage: Pick,
    region: Option<Pick>,
    env_override: Option<Pick>,
    endpoint_url: Option<Pick>,
    /// (suffix from the prefix?, free suffix, url)
    service_override: Option<(bool, String, Pick)>,
    prefix: Pick,
    region_in_url: bool,
    endpoint: String,
}

fn last<'a>(vars: &'a [(String, String)], name: &str) -> Option<&'a str> {
    vars.iter()
        .rev()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

fn slash(p: &str) -> String {
    if p.ends_with('/') {
        p.to_owned()
    } else {
        format!("{p}/")
    }
}

/// DESIGN.md's rules, independent of kernel-core: (scheme, host, port, base path).
fn expected(
    vars: &[(String, String)],
    prefix: &str,
    region_in_url: bool,
) -> (String, String, Option<u16>, String) {
    let own = format!(
        "KERNEL_ENDPOINT_URL_{}",
        prefix.to_uppercase().replace('-', "_")
    );
    let pick = |raw: &str, path: String| {
        let u = Url::parse(raw).expect("accepted override parses");
        (
            u.scheme().to_owned(),
            u.host_str().unwrap_or_default().to_owned(),
            u.port_or_known_default(),
            path,
        )
    };
    if let Some(raw) = last(vars, &own) {
        let path = slash(Url::parse(raw).expect("parses").path());
        return pick(raw, path);
    }
    if let Some(raw) = last(vars, "KERNEL_ENDPOINT_URL") {
        let path = format!(
            "{}{prefix}/",
            slash(Url::parse(raw).expect("parses").path())
        );
        return pick(raw, path);
    }
    let partner = last(vars, "PARTNER").expect("partner");
    let stage = last(vars, "STAGE").expect("stage");
    let region = last(vars, "TARGET_REGION").unwrap_or("us-east-1");
    let env = match last(vars, "KERNEL_ENV_OVERRIDE") {
        Some(e) => e,
        None if partner == "innovate" || partner == "austin" => "qakernel",
        None => "kernel",
    };
    let stage = if partner == "start" && stage == "paytheory" {
        "paytheorystudy"
    } else {
        stage
    };
    if region_in_url {
        (
            "https".into(),
            format!("{region}.{env}.{stage}.com"),
            Some(443),
            format!("/{prefix}/"),
        )
    } else {
        (
            "https".into(),
            format!("{prefix}.{env}.{stage}.com"),
            Some(443),
            "/".into(),
        )
    }
}

fuzz_target!(|input: Input| {
    let prefix = input.prefix.get(PREFIXES);
    let mut vars = vec![
        ("PARTNER".to_owned(), input.partner.get(PARTNERS)),
        ("STAGE".to_owned(), input.stage.get(STAGES)),
    ];
    if let Some(r) = &input.region {
        vars.push(("TARGET_REGION".into(), r.get(&["us-east-1", "us-west-2"])));
    }
    if let Some(e) = &input.env_override {
        vars.push(("KERNEL_ENV_OVERRIDE".into(), e.get(&["qakernel", "kernel"])));
    }
    if let Some(u) = &input.endpoint_url {
        vars.push(("KERNEL_ENDPOINT_URL".into(), u.get(OVERRIDES)));
    }
    if let Some((own, suffix, u)) = &input.service_override {
        let suffix = if *own {
            upper_snake(&prefix)
        } else {
            suffix.clone()
        };
        vars.push((format!("KERNEL_ENDPOINT_URL_{suffix}"), u.get(OVERRIDES)));
    }
    let Ok(cfg) = Config::from_vars(vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))) else {
        return;
    };
    let resolved = Resolved::new(&cfg);
    let Ok(url) = resolved.call_url(&cfg, &prefix, input.region_in_url, &input.endpoint) else {
        return;
    };
    let (scheme, host, port, base_path) = expected(&vars, &prefix, input.region_in_url);
    assert_eq!(url.scheme(), scheme, "{url}");
    assert_eq!(url.host_str(), Some(host.as_str()), "{url}");
    assert_eq!(url.port_or_known_default(), port, "{url}");
    assert!(url.path().starts_with(&base_path), "{url} vs {base_path}");
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "{url}"
    );
    assert!(url.fragment().is_none(), "{url}");
    let plan = kernel_core::plan(
        &cfg,
        &prefix,
        &input.endpoint,
        CallOptions::new().region_in_url(input.region_in_url),
    )
    .expect("an accepted call URL can be planned and signed");
    assert_eq!(plan.url, url);
});
