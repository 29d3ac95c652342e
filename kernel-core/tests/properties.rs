//! Property tests (proptest) for the parts of kernel-core that take untrusted text:
//! configuration values, service prefixes and endpoints → the URL that gets signed and
//! sent, the log-safe path, and response decoding.
//!
//! Every property compares kernel-core against a small, independent model written here
//! (the URL rules of DESIGN.md part A/B), so each of them can fail. Inputs mix "nice"
//! values (which must be accepted and give exactly the documented URL) with hostile
//! fragments (`//`, `\`, `@`, `:`, `..`, `%2e`, control characters, unicode, `#`, `?`,
//! schemes, whitespace).
//!
//! Each property runs 512 cases (override with `PROPTEST_CASES`); the whole file takes a
//! few seconds in a debug build.
#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::future::IntoFuture;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use kernel_core::call::{loggable_path, loggable_path_str, loggable_query_keys};
use kernel_core::config::{check_dns_label, upper_snake};
use kernel_core::credentials::{CredentialSource, LoadFuture};
use kernel_core::resolve::{check_endpoint, check_service_prefix};
use kernel_core::{
    CallOptions, Config, Credentials, Error, KernelClient, KernelEnv, Resolved, RetryPolicy,
};
use proptest::prelude::*;
use proptest::sample::select;
use serde::Deserialize;
use url::Url;

/// 512 cases per property (`PROPTEST_CASES` overrides), no regression files written into
/// the source tree: a failure prints its minimal input, which belongs in a named test.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    let mut config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    // In CI a fixed seed (unless PROPTEST_RNG_SEED says otherwise), so that whether a change
    // lands never depends on luck; everywhere else a random seed, to keep exploring. A
    // failure prints its minimal input: add it to the unit tests when fixing it.
    if std::env::var_os("CI").is_some() && std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = proptest::test_runner::RngSeed::Fixed(20_261_203);
    }
    config
}

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

/// Pieces that have broken URL joiners somewhere. Concatenated at random.
const HOSTILE: &[&str] = &[
    "/",
    "//",
    "///",
    "\\",
    "/\\",
    "@",
    "user@",
    "user:pw@",
    ":",
    ":443",
    ":8080",
    ".",
    "..",
    "../",
    "./",
    "%2e",
    "%2E",
    "%2e%2e",
    ".%2e",
    "%2e.",
    "%2f",
    "%2F",
    "%5c",
    "%00",
    "%40",
    "%",
    "%zz",
    "#",
    "#frag",
    "?",
    "&",
    "=",
    ";",
    "https:",
    "http:",
    "HTTPS:",
    "javascript:",
    "file:",
    "data:",
    "mailto:",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\u{0}",
    "\u{b}",
    "\u{c}",
    "\u{1b}",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{200b}",
    "\u{202e}",
    "\u{2028}",
    "\u{3000}",
    "\u{feff}",
    "\u{ff0e}",
    "\u{ff0f}",
    "\u{2044}",
    "\u{2215}",
    "é",
    "ß",
    "İ",
    "🦀",
    "[::1]",
    "[",
    "]",
    "127.0.0.1",
    "localhost",
    "evil.example",
    "@evil.example",
    "//evil.example",
    "4111111111111111",
    "-",
    "_",
    "~",
    "A",
    "'",
    "\"",
    "<",
    ">",
    "{",
    "}",
    "|",
    "^",
    "`",
    "+",
    "*",
    "!",
    "$",
    ",",
];

/// Pieces a well-behaved caller would use.
const NICE: &[&str] = &[
    "v1",
    "v2",
    "tokenize",
    "detokenize",
    "card",
    "bin",
    "routing",
    "x-y",
    "a_b",
    "411111",
    "/",
    "?card_bin=411111",
    "?routing_number=021000021",
    "&k=v",
    "keys",
];

/// A short string: concatenated nice/hostile pieces, or arbitrary unicode.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => select(HOSTILE).prop_map(str::to_owned),
        2 => select(NICE).prop_map(str::to_owned),
        2 => "[a-z0-9]{1,6}",
    ];
    prop_oneof![
        4 => prop::collection::vec(piece, 0..8).prop_map(|v| v.concat()),
        2 => attack(),
        1 => "\\PC{0,12}",
        1 => any::<String>(),
    ]
}

/// Known shapes of "go somewhere else": junk + scheme + slashes + host + tail.
fn attack() -> impl Strategy<Value = String> {
    (
        select(
            &[
                "", "", " ", "  ", "/", "./", "%20", "\u{a0}", "\u{feff}", "\t", "v1/",
            ][..],
        ),
        select(
            &[
                "",
                "http:",
                "https:",
                "HTTP:",
                "hTtPs:",
                "javascript:",
                "file:",
                "ws:",
            ][..],
        ),
        select(&["", "//", "/", "\\", "/\\", "\\\\", "///", "%2f%2f"][..]),
        select(
            &[
                "evil.example",
                "user@evil.example",
                "u:p@evil.example",
                "evil.example:443",
                "127.0.0.1",
                "[::1]",
            ][..],
        ),
        select(&["", "/x", "?q=1", "#f", "/../..", " "][..]),
    )
        .prop_map(|(a, b, c, d, e)| format!("{a}{b}{c}{d}{e}"))
}

/// A value that may become a host label: known values, label-shaped values, or hostile.
/// Label-shaped, single hyphens only (so never the IDNA-reserved `ab--`).
const NICE_LABEL: &str = "[a-z0-9]([a-z0-9]|-[a-z0-9]){0,12}";

/// Labels that are valid LDH but special to IDNA/URL parsers: `xn--` (punycode, may not
/// decode), hyphens in 3rd/4th position, all-digit labels, 63/64 characters.
const IDNA_LABELS: &[&str] = &[
    "xn--",
    "xn--a",
    "xn--zz",
    "xn--nxasmq6b",
    "xn--ls8h",
    "ab--cd",
    "a---a",
    "0",
    "123",
    "0x7f",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

fn label_like(known: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(known).prop_map(str::to_owned),
        3 => "[a-z0-9][a-z0-9-]{0,14}",
        1 => select(IDNA_LABELS).prop_map(str::to_owned),
        1 => "[A-Za-z0-9._-]{0,8}",
        2 => text(),
    ]
}

const PARTNERS: &[&str] = &["paytheory", "innovate", "austin", "start", "acme-co", "p1"];
const STAGES: &[&str] = &["dev", "stage", "prod", "paytheory", "qa-2"];
const REGIONS: &[&str] = &["us-east-1", "us-west-2", "eu-central-1", ""];
const ENV_OVERRIDES: &[&str] = &["qakernel", "kernel", "", "Kernel", "prod"];
const PREFIXES: &[&str] = &[
    "k3",
    "paze-wallet-key-service",
    "apple-wallet-key-service",
    "google-wallet-key-service",
    "bin-lookup-service",
    "bank-data-service",
];

/// Endpoint override URLs: assembled from scheme, host, port and path pieces.
fn override_url() -> impl Strategy<Value = String> {
    let scheme = select(
        &[
            "https://",
            "http://",
            "HTTPS://",
            "ftp://",
            "file://",
            "ws://",
            "https:/",
            "https:",
            "https:\\\\",
            "",
            " https://",
        ][..],
    );
    let host = select(
        &[
            "127.0.0.1",
            "127.1",
            "0x7f.1",
            "2130706433",
            "localhost",
            "LOCALHOST",
            "localhost.",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "kernel.example",
            "kernel.example.",
            "user@kernel.example",
            "user:pw@127.0.0.1",
            "127.0.0.1@kernel.example",
            "xn--nxasmq6b.example",
            "ex ample",
            "exa%6dple.com",
            "ｅｘａｍｐｌｅ.com",
            "",
            "10.0.0.1",
        ][..],
    );
    let port = select(
        &[
            "", "", ":8080", ":443", ":80", ":0", ":65535", ":99999", ":",
        ][..],
    );
    let assembled = (scheme, host, port, prop::option::of(text())).prop_map(|(s, h, p, path)| {
        let path = path.map(|p| format!("/{p}")).unwrap_or_default();
        format!("{s}{h}{p}{path}")
    });
    prop_oneof![
        3 => select(NICE_OVERRIDES).prop_map(|(raw, _)| raw.to_owned()),
        3 => assembled,
        1 => text(),
    ]
}

/// Overrides that must be accepted, with the base they normalise to (before the prefix is
/// appended for the kernel-wide one).
const NICE_OVERRIDES: &[(&str, &str)] = &[
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080/"),
    ("http://localhost:9000/gw/", "http://localhost:9000/gw/"),
    ("http://[::1]:1234", "http://[::1]:1234/"),
    (
        "https://kernel.example/base",
        "https://kernel.example/base/",
    ),
    ("https://kernel.example:443/", "https://kernel.example/"),
    (
        "https://kernel.example:8443/a/b",
        "https://kernel.example:8443/a/b/",
    ),
];

/// Every input of one URL-building case.
#[derive(Debug, Clone)]
struct UrlCase {
    partner: String,
    stage: String,
    region: Option<String>,
    env_override: Option<String>,
    external_id: Option<String>,
    endpoint_url: Option<String>,
    /// (suffix, url, whether the suffix is replaced by the prefix's UPPER_SNAKE)
    service_override: Option<(String, String, bool)>,
    prefix: String,
    region_in_url: bool,
    endpoint: String,
}

impl UrlCase {
    fn vars(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("PARTNER".to_owned(), self.partner.clone()),
            ("STAGE".to_owned(), self.stage.clone()),
        ];
        let opt = |v: &mut Vec<_>, k: &str, val: &Option<String>| {
            if let Some(val) = val {
                v.push((k.to_owned(), val.clone()));
            }
        };
        opt(&mut v, "TARGET_REGION", &self.region);
        opt(&mut v, "KERNEL_ENV_OVERRIDE", &self.env_override);
        opt(&mut v, "K3_EXTERNAL_ID", &self.external_id);
        opt(&mut v, "KERNEL_ENDPOINT_URL", &self.endpoint_url);
        if let Some((suffix, url, _)) = &self.service_override {
            v.push((
                format!("KERNEL_ENDPOINT_URL_{}", self.suffix(suffix)),
                url.clone(),
            ));
        }
        v
    }

    fn suffix(&self, generated: &str) -> String {
        match &self.service_override {
            Some((_, _, true)) => upper_snake(&self.prefix),
            _ => generated.to_owned(),
        }
    }
}

/// Mostly nice, sometimes hostile: each configuration field that is refused ends the case
/// early, so hostile values are kept rare per field to leave many cases reaching the URL.
fn mostly<N, H>(nice: N, hostile: H) -> impl Strategy<Value = String>
where
    N: Strategy<Value = String> + 'static,
    H: Strategy<Value = String> + 'static,
{
    prop_oneof![9 => nice, 1 => hostile]
}

fn nice_label(known: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        2 => select(known).prop_map(str::to_owned),
        1 => NICE_LABEL,
    ]
}

fn url_case() -> impl Strategy<Value = UrlCase> {
    (
        (
            mostly(nice_label(PARTNERS), label_like(PARTNERS)),
            mostly(nice_label(STAGES), label_like(STAGES)),
            prop::option::of(mostly(nice_label(REGIONS), label_like(REGIONS))),
            prop::option::weighted(
                0.3,
                mostly(
                    select(&["qakernel", "kernel"][..]).prop_map(str::to_owned),
                    label_like(ENV_OVERRIDES),
                ),
            ),
            prop::option::of(select(&["", "ext-123", "secret"][..]).prop_map(str::to_owned)),
        ),
        (
            prop::option::weighted(0.3, override_url()),
            prop::option::weighted(
                0.3,
                (
                    prop_oneof!["[A-Z0-9_]{1,12}", text()],
                    override_url(),
                    prop::bool::weighted(0.8),
                ),
            ),
            mostly(nice_label(PREFIXES), label_like(PREFIXES)),
            any::<bool>(),
            text(),
        ),
    )
        .prop_map(
            |(
                (partner, stage, region, env_override, external_id),
                (endpoint_url, service_override, prefix, region_in_url, endpoint),
            )| UrlCase {
                partner,
                stage,
                region,
                env_override,
                external_id,
                endpoint_url,
                service_override,
                prefix,
                region_in_url,
                endpoint,
            },
        )
}

// ---------------------------------------------------------------------------------------
// The model: DESIGN.md's URL rules, written independently of kernel-core
// ---------------------------------------------------------------------------------------

/// Where a call must go: scheme, host, port and the base path the URL path must start with.
#[derive(Debug, PartialEq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
    base_path: String,
}

/// The last non-empty value of a variable (an empty variable counts as unset).
fn var<'a>(vars: &'a [(String, String)], name: &str) -> Option<&'a str> {
    vars.iter()
        .rev()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

fn with_trailing_slash(path: &str) -> String {
    if path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    }
}

fn origin_of(url: &Url, base_path: String) -> Origin {
    Origin {
        scheme: url.scheme().to_owned(),
        host: url.host_str().unwrap_or_default().to_owned(),
        port: url.port_or_known_default(),
        base_path,
    }
}

/// DESIGN.md: per-service override, else kernel-wide override + `/{prefix}/`, else the
/// kernel host (`{prefix}.{env}.{stage}.com` or `{region}.{env}.{stage}.com/{prefix}/`).
fn expected_origin(vars: &[(String, String)], prefix: &str, region_in_url: bool) -> Origin {
    let service_var = format!(
        "KERNEL_ENDPOINT_URL_{}",
        prefix.to_uppercase().replace('-', "_")
    );
    if let Some(raw) = var(vars, &service_var) {
        let u = Url::parse(raw).expect("an accepted override parses");
        return origin_of(&u, with_trailing_slash(u.path()));
    }
    if let Some(raw) = var(vars, "KERNEL_ENDPOINT_URL") {
        let u = Url::parse(raw).expect("an accepted override parses");
        return origin_of(&u, format!("{}{prefix}/", with_trailing_slash(u.path())));
    }
    let partner = var(vars, "PARTNER").expect("accepted configs have a partner");
    let stage = var(vars, "STAGE").expect("accepted configs have a stage");
    let region = var(vars, "TARGET_REGION").unwrap_or("us-east-1");
    let env = match var(vars, "KERNEL_ENV_OVERRIDE") {
        Some(e) => e,
        None if partner == "innovate" || partner == "austin" => "qakernel",
        None => "kernel",
    };
    let stage = if partner == "start" && stage == "paytheory" {
        "paytheorystudy"
    } else {
        stage
    };
    let (host, base_path) = if region_in_url {
        (format!("{region}.{env}.{stage}.com"), format!("/{prefix}/"))
    } else {
        (format!("{prefix}.{env}.{stage}.com"), "/".to_owned())
    };
    Origin {
        scheme: "https".into(),
        host,
        port: Some(443),
        base_path,
    }
}

/// The invariant every accepted call URL must satisfy.
fn assert_lands_on(url: &Url, want: &Origin) -> Result<(), TestCaseError> {
    prop_assert_eq!(url.scheme(), want.scheme.as_str(), "scheme of {}", url);
    prop_assert_eq!(url.host_str(), Some(want.host.as_str()), "host of {}", url);
    prop_assert_eq!(url.port_or_known_default(), want.port, "port of {}", url);
    prop_assert!(
        url.path().starts_with(&want.base_path),
        "path of {} does not start with {}",
        url,
        want.base_path
    );
    prop_assert!(
        url.username().is_empty() && url.password().is_none(),
        "user-info in {}",
        url
    );
    prop_assert!(url.fragment().is_none(), "fragment in {}", url);
    Ok(())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

// ---------------------------------------------------------------------------------------
// URL building
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// Arbitrary configuration, prefix and endpoint: either something refuses, or the call
    /// URL goes exactly where DESIGN.md says (scheme, host, port, base path).
    #[test]
    fn call_url_is_refused_or_lands_on_the_resolved_origin(case in url_case()) {
        let vars = case.vars();
        let Ok(cfg) = Config::from_vars(vars.clone()) else { return Ok(()) };
        let resolved = Resolved::new(&cfg);
        let Ok(url) = resolved.call_url(&cfg, &case.prefix, case.region_in_url, &case.endpoint)
        else {
            return Ok(());
        };
        let want = expected_origin(&vars, &case.prefix, case.region_in_url);
        assert_lands_on(&url, &want)?;
        // Only https leaves the machine.
        prop_assert!(url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&url)));
        // base_url agrees with the model too (it is what call_url compares against).
        let base = resolved
            .base_url(&cfg, &case.prefix, case.region_in_url)
            .map_err(|e| TestCaseError::fail(format!("call_url succeeded, base_url failed: {e}")))?;
        prop_assert_eq!(base.path(), want.base_path.as_str());
        prop_assert!(url.as_str().starts_with(base.as_str()), "{} vs base {}", url, base);
    }

    /// Whatever `call_url` accepts can also be planned: signed (aws-sigv4 re-parses the URL
    /// as an `http::Uri`) and turned into an `http::Uri` (what reqwest sends), to the same URL.
    #[test]
    fn accepted_call_urls_can_be_signed_and_sent(case in url_case()) {
        let vars = case.vars();
        let Ok(cfg) = Config::from_vars(vars) else { return Ok(()) };
        let resolved = Resolved::new(&cfg);
        let Ok(url) = resolved.call_url(&cfg, &case.prefix, case.region_in_url, &case.endpoint)
        else {
            return Ok(());
        };
        prop_assert!(http::Uri::try_from(url.as_str()).is_ok(), "http::Uri refuses {}", url);
        let opts = CallOptions::new().region_in_url(case.region_in_url);
        let plan = kernel_core::plan(&cfg, &case.prefix, &case.endpoint, opts);
        prop_assert!(plan.is_ok(), "plan failed for {}: {:?}", url, plan.err());
        let plan = plan.unwrap();
        prop_assert_eq!(&plan.url, &url);
        let host = plan.headers.iter().find(|(k, _)| k == "host").map(|(_, v)| v.clone());
        let want_host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        prop_assert_eq!(host, Some(want_host));
    }

    /// Nice inputs are never refused, and give exactly base + endpoint (the other direction:
    /// a validator that refused everything would pass the property above).
    #[test]
    fn nice_inputs_build_exactly_the_documented_url(
        partner in prop_oneof![select(PARTNERS).prop_map(str::to_owned), NICE_LABEL],
        stage in prop_oneof![select(STAGES).prop_map(str::to_owned), "[a-z][a-z0-9]{0,10}"],
        region in prop::option::of(select(&["us-east-1", "us-west-2", "eu-west-1"][..])),
        env_override in prop::option::of(select(&["qakernel", "kernel"][..])),
        endpoint_url in prop::option::weighted(0.25, select(NICE_OVERRIDES)),
        service_override in prop::option::weighted(0.25, select(NICE_OVERRIDES)),
        prefix in prop_oneof![select(PREFIXES).prop_map(str::to_owned), NICE_LABEL],
        region_in_url in any::<bool>(),
        leading_slash in any::<bool>(),
        segments in prop::collection::vec("[a-zA-Z0-9_~-]{1,8}", 0..5),
        trailing_slash in any::<bool>(),
        query in prop::option::of(prop::collection::vec(("[a-z_]{1,8}", "[A-Za-z0-9_-]{0,16}"), 1..4)),
    ) {
        let mut vars = vec![("PARTNER".to_owned(), partner.clone()), ("STAGE".to_owned(), stage.clone())];
        if let Some(r) = region { vars.push(("TARGET_REGION".into(), r.into())); }
        if let Some(e) = env_override { vars.push(("KERNEL_ENV_OVERRIDE".into(), e.into())); }
        if let Some((raw, _)) = endpoint_url { vars.push(("KERNEL_ENDPOINT_URL".into(), raw.into())); }
        if let Some((raw, _)) = service_override {
            vars.push((format!("KERNEL_ENDPOINT_URL_{}", upper_snake(&prefix)), raw.into()));
        }
        let mut endpoint = segments.join("/");
        if trailing_slash && !segments.is_empty() { endpoint.push('/'); }
        if let Some(q) = &query {
            let pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
            endpoint.push('?');
            endpoint.push_str(&pairs.join("&"));
        }
        let endpoint_arg = if leading_slash { format!("/{endpoint}") } else { endpoint.clone() };

        let cfg = Config::from_vars(vars.clone());
        prop_assert!(cfg.is_ok(), "nice config refused: {:?}", cfg.err());
        let cfg = cfg.unwrap();
        prop_assert!(check_endpoint(&endpoint_arg).is_ok(), "nice endpoint {:?} refused", endpoint_arg);
        let url = Resolved::new(&cfg).call_url(&cfg, &prefix, region_in_url, &endpoint_arg);
        prop_assert!(url.is_ok(), "nice call refused: {:?}", url.err());
        let url = url.unwrap();

        let base = match (service_override, endpoint_url) {
            (Some((_, base)), _) => base.to_owned(),
            (None, Some((_, base))) => format!("{base}{prefix}/"),
            (None, None) => {
                let want = expected_origin(&vars, &prefix, region_in_url);
                format!("https://{}{}", want.host, want.base_path)
            }
        };
        prop_assert_eq!(url.as_str(), format!("{base}{endpoint}"));
    }

    /// Configuration from arbitrary variables: refused, or every value that reaches a host
    /// name is a DNS label and every override is a clean https (or loopback http) base.
    #[test]
    fn config_from_arbitrary_vars_is_refused_or_safe(
        vars in (
            mostly(nice_label(PARTNERS), label_like(PARTNERS)),
            mostly(nice_label(STAGES), label_like(STAGES)),
            prop::collection::vec(
                prop_oneof![
                    2 => (Just("KERNEL_ENDPOINT_URL".to_owned()), override_url()),
                    2 => (
                        prop_oneof![
                            3 => "KERNEL_ENDPOINT_URL_[A-Z0-9_]{1,8}",
                            1 => "KERNEL_ENDPOINT_URL_[A-Za-z0-9_.-]{0,8}",
                        ],
                        override_url(),
                    ),
                    1 => (Just("TARGET_REGION".to_owned()), mostly(nice_label(REGIONS), text())),
                    1 => (Just("KERNEL_ENV_OVERRIDE".to_owned()), label_like(ENV_OVERRIDES)),
                    1 => (Just("K3_EXTERNAL_ID".to_owned()), text()),
                    1 => (select(&["PARTNER", "STAGE"][..]).prop_map(str::to_owned), label_like(STAGES)),
                    1 => (select(&["partner", "OTHER", "KERNEL_ENDPOINT_UR"][..]).prop_map(str::to_owned), text()),
                ],
                0..6,
            ),
        )
            .prop_flat_map(|(partner, stage, extra)| {
                let mut v = vec![("PARTNER".to_owned(), partner), ("STAGE".to_owned(), stage)];
                v.extend(extra);
                Just(v).prop_shuffle()
            }),
    ) {
        let Ok(cfg) = Config::from_vars(vars.clone()) else {
            return Ok(());
        };
        // The model: the last non-empty value of each variable wins.
        prop_assert_eq!(Some(cfg.partner()), var(&vars, "PARTNER"));
        prop_assert_eq!(Some(cfg.stage()), var(&vars, "STAGE"));
        prop_assert_eq!(cfg.region(), var(&vars, "TARGET_REGION").unwrap_or("us-east-1"));
        for (name, v) in [("PARTNER", cfg.partner()), ("STAGE", cfg.stage()), ("TARGET_REGION", cfg.region())] {
            prop_assert!(check_dns_label(name, v).is_ok(), "{}={:?} accepted", name, v);
        }
        prop_assert_eq!(
            cfg.kernel_env_override(),
            var(&vars, "KERNEL_ENV_OVERRIDE").map(|v| KernelEnv::parse(v).unwrap())
        );
        prop_assert_eq!(cfg.external_id().map(|e| e.expose()), var(&vars, "K3_EXTERNAL_ID"));
        let mut overrides: Vec<&Url> = cfg.endpoint_url().into_iter().collect();
        for (k, _) in &vars {
            if let Some(suffix) = k.strip_prefix("KERNEL_ENDPOINT_URL_")
                && var(&vars, k).is_some()
            {
                let u = cfg.service_endpoint_url(suffix);
                prop_assert!(u.is_some(), "{} set but not kept", k);
                overrides.extend(u);
            }
        }
        for u in overrides {
            prop_assert!(u.scheme() == "https" || (u.scheme() == "http" && is_loopback(u)), "{}", u);
            prop_assert!(u.host_str().is_some_and(|h| !h.is_empty()), "{}", u);
            prop_assert!(u.username().is_empty() && u.password().is_none(), "{}", u);
            prop_assert!(u.query().is_none() && u.fragment().is_none(), "{}", u);
            prop_assert!(u.path().ends_with('/'), "{}", u);
        }
    }

    /// A service prefix is accepted exactly when it is a DNS label (it becomes a host label
    /// for K3 and a path segment otherwise).
    #[test]
    fn service_prefix_is_accepted_iff_dns_label(prefix in label_like(PREFIXES)) {
        let label = !prefix.is_empty()
            && prefix.len() <= 63
            && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !prefix.starts_with('-')
            && !prefix.ends_with('-')
            // RFC 5891 §4.2.3.1: `ab--` is reserved for IDNA (`xn--`); URL parsers decode
            // such labels and refuse malformed ones.
            && prefix.get(2..4) != Some("--");
        prop_assert_eq!(check_service_prefix(&prefix).is_ok(), label, "{:?}", prefix);
    }
}

// ---------------------------------------------------------------------------------------
// check_endpoint as a guard of its own (differential against the URL parser)
// ---------------------------------------------------------------------------------------

const BASES: &[&str] = &[
    "https://k3.qakernel.dev.com/",
    "https://us-east-1.kernel.prod.com/bin-lookup-service/",
    "http://127.0.0.1:8080/gw/k3/",
    "https://[::1]:8443/",
];

proptest! {
    #![proptest_config(config())]

    /// `check_endpoint` accepts ⇒ base + endpoint (how `call_url` joins) parses and keeps
    /// scheme, host, port and base path: the lexical check alone is enough, the parsed
    /// re-check in `call_url` is only defence in depth.
    #[test]
    fn check_endpoint_accepts_only_what_keeps_the_origin_when_appended(
        base in select(BASES),
        endpoint in text(),
    ) {
        if check_endpoint(&endpoint).is_err() {
            return Ok(());
        }
        let base = Url::parse(base).unwrap();
        let rest = endpoint.strip_prefix('/').unwrap_or(&endpoint);
        let joined = Url::parse(&format!("{base}{rest}"));
        prop_assert!(joined.is_ok(), "accepted {:?} does not parse: {:?}", endpoint, joined.err());
        let joined = joined.unwrap();
        assert_lands_on(&joined, &origin_of(&base, base.path().to_owned()))?;
    }
}

proptest! {
    #![proptest_config(config())]

    /// `check_endpoint` is public and documented as the guard against endpoints that change
    /// the host. A caller (or a future refactor) resolving the endpoint as a relative
    /// reference with `Url::join` (RFC 3986 / WHATWG) must not be sent elsewhere either.
    ///
    /// This property found a bug: the URL parser strips leading spaces, so
    /// `" javascript:evil.example:443"` passed the scheme check (its "scheme" was
    /// `" javascript"`) and `join` sent it elsewhere. `check_endpoint` now refuses leading
    /// and trailing spaces; `leading_space_schemes_are_refused` pins the shrunk inputs.
    #[test]
    fn check_endpoint_accepts_only_what_keeps_the_host_when_joined(
        base in select(BASES),
        endpoint in text(),
    ) {
        if check_endpoint(&endpoint).is_err() {
            return Ok(());
        }
        let base = Url::parse(base).unwrap();
        if let Ok(joined) = base.join(&endpoint) {
            prop_assert_eq!(joined.scheme(), base.scheme(), "{:?} → {}", endpoint, joined);
            prop_assert_eq!(joined.host_str(), base.host_str(), "{:?} → {}", endpoint, joined);
            prop_assert_eq!(joined.port_or_known_default(), base.port_or_known_default());
        }
    }
}

/// The shrunk counter-examples of the property above: each would leave the kernel host
/// under `Url::join`, so `check_endpoint` (and therefore `call_url`) refuses them.
#[test]
fn leading_space_schemes_are_refused() {
    let base = Url::parse("https://k3.qakernel.dev.com/").unwrap();
    let cfg = Config::from_vars([("PARTNER", "innovate"), ("STAGE", "dev")]).unwrap();
    for (endpoint, joined_to) in [
        (" http:evil.example/x", "http://evil.example/x"),
        ("  ws:/evil.example", "ws://evil.example/"),
        (
            " javascript:evil.example:443",
            "javascript:evil.example:443",
        ),
        ("v1/tokenize ", "https://k3.qakernel.dev.com/v1/tokenize"),
    ] {
        // What the danger was: a joined URL that changes the host (or silently drops text).
        assert_eq!(base.join(endpoint).unwrap().as_str(), joined_to);
        assert!(check_endpoint(endpoint).is_err(), "{endpoint:?}");
        assert!(
            Resolved::new(&cfg)
                .call_url(&cfg, "k3", false, endpoint)
                .is_err(),
            "{endpoint:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Log-safe paths
// ---------------------------------------------------------------------------------------

/// Length of the longest run of ASCII digits.
fn longest_digit_run(s: &str) -> usize {
    s.split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// Digits in the largest group of digit blocks joined by one separator (` `, `-`, `%20`,
/// `%2D`, `%2d`): an independent model of what the redaction must catch.
fn longest_separated_group(s: &str) -> usize {
    // Normalise the percent-encoded separators to one character, then split on anything
    // that is neither a digit nor a lone separator between digits.
    let t = s
        .replace("%20", " ")
        .replace("%2D", "-")
        .replace("%2d", "-");
    let chars: Vec<char> = t.chars().collect();
    let (mut best, mut cur) = (0, 0);
    for (i, c) in chars.iter().enumerate() {
        if c.is_ascii_digit() {
            cur += 1;
            best = best.max(cur);
        } else if (*c == ' ' || *c == '-')
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit)
        {
            // the group continues
        } else {
            cur = 0;
        }
    }
    best
}

/// Digit-heavy text: digit runs of every length around the threshold, separators, unicode.
fn digity() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[0-9]{1,20}",
        2 => select(&["/", "-", " ", "%20", "?", "=", "&", "a", "é", "٣", "１", "🦀", "\u{0}"][..]).prop_map(str::to_owned),
        1 => "\\PC{0,4}",
    ];
    prop::collection::vec(piece, 0..10).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config())]

    /// The log-safe path never carries 12+ consecutive digits (a card number), nor 12+
    /// digits in blocks joined by single spaces, dashes or `%20`/`%2D` (a formatted card
    /// number), and leaves text without such a group unchanged (away from `%2x` escapes).
    #[test]
    fn loggable_path_never_contains_twelve_digit_runs(path in digity()) {
        let logged = loggable_path_str(&path);
        prop_assert!(longest_digit_run(&logged) < 12, "{:?} logged as {:?}", path, logged);
        prop_assert!(longest_separated_group(&logged) < 12, "{:?} logged as {:?}", path, logged);
        if longest_separated_group(&path) >= 12 || longest_digit_run(&path) >= 12 {
            prop_assert!(logged.contains("[redacted]"));
        } else if !path.contains("%2") {
            // Around `%20`/`%2D` the redaction is deliberately conservative (the escape's own
            // digits may join a group, e.g. `%200000000000` holds a raw 12-digit run), so
            // "nothing to redact" is only checked away from percent-escaped separators.
            prop_assert_eq!(&logged, &path, "nothing to redact, yet changed");
        }
    }

    /// Same on real call URLs: path and query keys of whatever `call_url` builds.
    #[test]
    fn loggable_parts_of_call_urls_never_contain_twelve_digit_runs(
        segments in prop::collection::vec(digity(), 0..4),
        key in digity(),
        value in digity(),
    ) {
        let cfg = Config::from_vars([("PARTNER", "paytheory"), ("STAGE", "prod")]).unwrap();
        let endpoint = format!("{}?{key}={value}", segments.join("/"));
        let Ok(url) = Resolved::new(&cfg).call_url(&cfg, "k3", false, &endpoint) else {
            return Ok(());
        };
        let path = loggable_path(&url);
        prop_assert!(longest_digit_run(&path) < 12, "{} → {:?}", url, path);
        prop_assert!(!path.contains('?'));
        let keys = loggable_query_keys(&url);
        prop_assert!(longest_digit_run(&keys) < 12, "{} → {:?}", url, keys);
    }
}

// ---------------------------------------------------------------------------------------
// Response decoding, through the public path: a loopback server answers with arbitrary
// bytes, `KernelClient::call` returns a `Response` (or a `StatusError`), which decodes.
// ---------------------------------------------------------------------------------------

struct StaticCredentials;

impl CredentialSource for StaticCredentials {
    fn load(&self) -> LoadFuture<'_> {
        Box::pin(async {
            Ok(Credentials::new(
                "ASIAPROPERTYTESTKEY0",
                "property-test-secret",
                Some("property-test-token".into()),
                Some(SystemTime::now() + Duration::from_secs(3600)),
                "properties",
            ))
        })
    }
}

type Reply = Arc<Mutex<(u16, Vec<u8>)>>;

struct DecodeHarness {
    rt: tokio::runtime::Runtime,
    client: KernelClient,
    reply: Reply,
}

fn harness() -> &'static DecodeHarness {
    static HARNESS: OnceLock<DecodeHarness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let reply: Reply = Arc::new(Mutex::new((200, Vec::new())));
        let client = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let state = reply.clone();
            let app = axum::Router::new().fallback(move || {
                let state = state.clone();
                async move {
                    let (status, body) = state.lock().unwrap().clone();
                    (axum::http::StatusCode::from_u16(status).unwrap(), body)
                }
            });
            tokio::spawn(axum::serve(listener, app).into_future());
            let cfg = Config::builder()
                .partner("paytheory")
                .stage("prod")
                .endpoint_url(format!("http://{addr}"))
                .build()
                .unwrap();
            KernelClient::builder()
                .config(cfg)
                .credential_source(StaticCredentials)
                .retry_policy(RetryPolicy::none())
                .build()
                .await
                .unwrap()
        });
        DecodeHarness { rt, client, reply }
    })
}

#[derive(Debug, Deserialize, PartialEq)]
#[allow(dead_code)]
struct Token {
    token: String,
    exp_month: u8,
    #[serde(default)]
    last4: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[allow(dead_code)]
enum Outcome {
    Approved { id: u64 },
    Declined(String),
    Pending,
}

/// Checks one decode: same verdict as serde_json, and a failure is an `Error::Decode` whose
/// message quotes nothing from the body.
fn check_decode<T>(got: Result<T, Error>, body: &[u8]) -> Result<(), TestCaseError>
where
    T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let direct = serde_json::from_slice::<T>(body);
    match (got, direct) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
        (Err(Error::Decode(e)), Err(se)) => {
            prop_assert!(["syntax", "data", "eof"].contains(&e.category), "{:?}", e);
            prop_assert_eq!((e.line, e.column), (se.line(), se.column()));
            prop_assert!(
                e.target
                    .contains(std::any::type_name::<T>().rsplit("::").next().unwrap())
            );
            let shown = Error::Decode(e).to_string();
            prop_assert!(
                longest_digit_run(&shown) < 12,
                "decode error leaks digits: {}",
                shown
            );
            prop_assert!(
                !shown.contains("SECRET-CVV"),
                "decode error leaks the body: {}",
                shown
            );
        }
        (got, direct) => prop_assert!(
            false,
            "kernel-core says {:?}, serde_json says {:?}",
            got.map(|_| ()),
            direct.map(|_| ())
        ),
    }
    Ok(())
}

/// JSON-ish bodies: valid JSON values (often near the target shapes), mutated, or raw bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u8>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        select(
            &[
                "4111111111111111",
                "SECRET-CVV",
                "12",
                "Pending",
                "",
                "é\u{0}"
            ][..]
        )
        .prop_map(serde_json::Value::from),
        "\\PC{0,8}".prop_map(serde_json::Value::from),
    ];
    let value = leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    select(
                        &[
                            "token",
                            "exp_month",
                            "last4",
                            "message",
                            "Approved",
                            "Declined",
                            "id"
                        ][..]
                    )
                    .prop_map(str::to_owned),
                    "[a-z]{1,5}",
                ],
                inner,
                0..4,
            )
            .prop_map(|m: BTreeMap<String, serde_json::Value>| {
                serde_json::Value::Object(m.into_iter().collect())
            }),
        ]
    });
    prop_oneof![
        3 => value.clone().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        2 => (value, any::<prop::sample::Index>(), any::<u8>()).prop_map(|(v, at, byte)| {
            // One byte changed or the text cut short: near-valid JSON.
            let mut b = serde_json::to_vec(&v).unwrap();
            let i = at.index(b.len() + 1);
            if byte % 2 == 0 { b.truncate(i) } else if i < b.len() { b[i] = byte } else { b.push(byte) }
            b
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Arbitrary response bodies: `Response::json` / `StatusError::json` agree with
    /// serde_json for several target shapes, never panic, and a decode error never quotes
    /// the body (serde's own messages do: `invalid type: string "4111…"`). A status error's
    /// message shows neither the body nor a card number from the endpoint path.
    #[test]
    fn response_decoding_matches_serde_and_leaks_nothing(
        status in select(&[200u16, 201, 400, 404, 500][..]),
        body in body(),
        path_digits in "[0-9]{0,20}",
    ) {
        let h = harness();
        *h.reply.lock().unwrap() = (status, body.clone());
        let endpoint = format!("v1/decode/{path_digits}");
        let result = h.rt.block_on(h.client.call("k3", &endpoint, CallOptions::new().region_in_url(false)));
        if status < 400 {
            let response = result.map_err(|e| TestCaseError::fail(format!("call failed: {e}")))?;
            prop_assert_eq!(response.status().as_u16(), status);
            prop_assert_eq!(response.body().as_ref(), body.as_slice());
            check_decode(response.json::<serde_json::Value>(), &body)?;
            check_decode(response.json::<Token>(), &body)?;
            check_decode(response.json::<Vec<u64>>(), &body)?;
            check_decode(response.json::<HashMap<String, String>>(), &body)?;
            check_decode(response.json::<Outcome>(), &body)?;
        } else {
            let err = match result {
                Err(e) => e,
                Ok(r) => return Err(TestCaseError::fail(format!("status {} was not an error", r.status()))),
            };
            let shown = err.to_string();
            let se = err.as_status();
            prop_assert!(se.is_some(), "not a status error: {:?}", err);
            let se = se.unwrap();
            prop_assert_eq!(se.status().as_u16(), status);
            prop_assert_eq!(se.body().as_ref(), body.as_slice());
            prop_assert!(!shown.contains("4111111111111111"), "status error leaks the body: {}", shown);
            prop_assert!(!shown.contains("SECRET-CVV"), "status error leaks the body: {}", shown);
            prop_assert!(longest_digit_run(&shown) < 12, "status error leaks digits: {}", shown);
            check_decode(se.json::<serde_json::Value>(), &body)?;
            check_decode(se.json::<Token>(), &body)?;
            check_decode(se.json::<Outcome>(), &body)?;
        }
    }
}
