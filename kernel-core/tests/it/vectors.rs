//! DESIGN.md part A, example by example.

use kernel_core::{AuthMode, Config, ConfigError, KernelEnv, Resolved, Service};

fn cfg(vars: &[(&str, &str)]) -> Config {
    Config::from_vars(vars.iter().copied()).unwrap()
}

fn call_url(c: &Config, s: &Service, endpoint: &str) -> String {
    Resolved::new(c)
        .call_url(c, s.prefix, s.region_in_url, endpoint)
        .unwrap()
        .to_string()
}

#[test]
fn kernel_env_selection() {
    let env = |vars: &[(&str, &str)]| Resolved::new(&cfg(vars)).kernel_env();
    assert_eq!(
        env(&[("PARTNER", "innovate"), ("STAGE", "dev")]),
        KernelEnv::QaKernel
    );
    assert_eq!(
        env(&[("PARTNER", "austin"), ("STAGE", "dev")]),
        KernelEnv::QaKernel
    );
    assert_eq!(
        env(&[("PARTNER", "paytheory"), ("STAGE", "prod")]),
        KernelEnv::Kernel
    );
    assert_eq!(
        env(&[("PARTNER", "start"), ("STAGE", "paytheory")]),
        KernelEnv::Kernel
    );
    // The override wins in both directions.
    assert_eq!(
        env(&[
            ("PARTNER", "innovate"),
            ("STAGE", "dev"),
            ("KERNEL_ENV_OVERRIDE", "kernel")
        ]),
        KernelEnv::Kernel
    );
    assert_eq!(
        env(&[
            ("PARTNER", "paytheory"),
            ("STAGE", "dev"),
            ("KERNEL_ENV_OVERRIDE", "qakernel")
        ]),
        KernelEnv::QaKernel
    );
    // Empty override = unset.
    assert_eq!(
        env(&[
            ("PARTNER", "innovate"),
            ("STAGE", "dev"),
            ("KERNEL_ENV_OVERRIDE", "")
        ]),
        KernelEnv::QaKernel
    );
}

#[test]
fn accounts() {
    assert_eq!(KernelEnv::QaKernel.account_id(), "058264189048");
    assert_eq!(KernelEnv::Kernel.account_id(), "075149869707");
    let r = Resolved::new(&cfg(&[("PARTNER", "innovate"), ("STAGE", "dev")]));
    assert_eq!(r.account_id(), "058264189048");
    let r = Resolved::new(&cfg(&[("PARTNER", "paytheory"), ("STAGE", "prod")]));
    assert_eq!(r.account_id(), "075149869707");
}

#[test]
fn role_arns_and_modes() {
    let r = Resolved::new(&cfg(&[("PARTNER", "paytheory"), ("STAGE", "prod")]));
    assert_eq!(r.mode(), AuthMode::Internal);
    assert_eq!(r.role_arn(), "arn:aws:iam::075149869707:role/kernel-access");
    let c = cfg(&[
        ("PARTNER", "innovate"),
        ("STAGE", "dev"),
        ("K3_EXTERNAL_ID", "ext-123"),
    ]);
    let r = Resolved::new(&c);
    assert_eq!(r.mode(), AuthMode::External);
    assert_eq!(
        r.role_arn(),
        "arn:aws:iam::058264189048:role/kernel-access-external"
    );
    assert_eq!(c.external_id().unwrap().expose(), "ext-123");
    // An empty K3_EXTERNAL_ID is mode 1.
    let r = Resolved::new(&cfg(&[
        ("PARTNER", "innovate"),
        ("STAGE", "dev"),
        ("K3_EXTERNAL_ID", ""),
    ]));
    assert_eq!(r.mode(), AuthMode::Internal);
    assert_eq!(r.role_arn(), "arn:aws:iam::058264189048:role/kernel-access");
}

#[test]
fn defaults() {
    let c = cfg(&[("PARTNER", "paytheory"), ("STAGE", "prod")]);
    assert_eq!(c.region(), "us-east-1");
    assert_eq!(c.session_name(), "kernel-service-call");
    assert_eq!(c.connect_timeout().as_secs(), 30);
    assert_eq!(c.read_timeout().as_secs(), 30);
    let c = cfg(&[
        ("PARTNER", "paytheory"),
        ("STAGE", "prod"),
        ("TARGET_REGION", "eu-west-1"),
    ]);
    assert_eq!(c.region(), "eu-west-1");
    assert_eq!(
        call_url(&c, &Service::PAZE, ""),
        "https://eu-west-1.kernel.prod.com/paze-wallet-key-service/"
    );
}

#[test]
fn k3_urls_without_region() {
    let c = cfg(&[("PARTNER", "innovate"), ("STAGE", "dev")]);
    let r = Resolved::new(&c);
    assert_eq!(
        r.base_url(&c, "k3", false).unwrap().as_str(),
        "https://k3.qakernel.dev.com/"
    );
    assert_eq!(
        call_url(&c, &Service::K3, "v1/tokenize"),
        "https://k3.qakernel.dev.com/v1/tokenize"
    );
    let c = cfg(&[("PARTNER", "start"), ("STAGE", "paytheory")]);
    assert_eq!(Resolved::new(&c).url_stage(), "paytheorystudy");
    assert_eq!(
        Resolved::new(&c)
            .base_url(&c, "k3", false)
            .unwrap()
            .as_str(),
        "https://k3.kernel.paytheorystudy.com/"
    );
    // Only partner `start` with stage `paytheory` is special.
    let c = cfg(&[("PARTNER", "paytheory"), ("STAGE", "paytheory")]);
    assert_eq!(Resolved::new(&c).url_stage(), "paytheory");
    let c = cfg(&[("PARTNER", "start"), ("STAGE", "prod")]);
    assert_eq!(Resolved::new(&c).url_stage(), "prod");
}

#[test]
fn regional_urls() {
    let c = cfg(&[("PARTNER", "paytheory"), ("STAGE", "prod")]);
    let r = Resolved::new(&c);
    assert_eq!(
        r.base_url(&c, "paze-wallet-key-service", true)
            .unwrap()
            .as_str(),
        "https://us-east-1.kernel.prod.com/paze-wallet-key-service/"
    );
    assert_eq!(
        call_url(&c, &Service::BIN_LOOKUP, "?card_bin=411111"),
        "https://us-east-1.kernel.prod.com/bin-lookup-service/?card_bin=411111"
    );
    let expected = [
        (Service::K3, "https://k3.kernel.prod.com/x"),
        (
            Service::PAZE,
            "https://us-east-1.kernel.prod.com/paze-wallet-key-service/x",
        ),
        (
            Service::APPLE_WALLET,
            "https://us-east-1.kernel.prod.com/apple-wallet-key-service/x",
        ),
        (
            Service::GOOGLE_WALLET,
            "https://us-east-1.kernel.prod.com/google-wallet-key-service/x",
        ),
        (
            Service::BIN_LOOKUP,
            "https://us-east-1.kernel.prod.com/bin-lookup-service/x",
        ),
        (
            Service::BANK_DATA,
            "https://us-east-1.kernel.prod.com/bank-data-service/x",
        ),
    ];
    for (s, url) in expected {
        assert_eq!(call_url(&c, &s, "x"), url, "{}", s.prefix);
    }
}

#[test]
fn service_table() {
    use kernel_core::resolve::DefaultMethod::{Get, Post};
    let rows = [
        (Service::K3, "k3", false, Post, "K3"),
        (
            Service::PAZE,
            "paze-wallet-key-service",
            true,
            Post,
            "PAZE WALLET KEY SERVICE",
        ),
        (
            Service::APPLE_WALLET,
            "apple-wallet-key-service",
            true,
            Post,
            "APPLE WALLET KEY SERVICE",
        ),
        (
            Service::GOOGLE_WALLET,
            "google-wallet-key-service",
            true,
            Post,
            "GOOGLE WALLET KEY SERVICE",
        ),
        (
            Service::BIN_LOOKUP,
            "bin-lookup-service",
            true,
            Get,
            "BIN LOOKUP SERVICE",
        ),
        (
            Service::BANK_DATA,
            "bank-data-service",
            true,
            Get,
            "BANK DATA SERVICE",
        ),
    ];
    for (s, prefix, region, method, subsystem) in rows {
        assert_eq!(
            (s.prefix, s.region_in_url, s.default_method, s.subsystem),
            (prefix, region, method, subsystem)
        );
    }
}

#[test]
fn endpoint_overrides() {
    let c = cfg(&[
        ("PARTNER", "paytheory"),
        ("STAGE", "prod"),
        ("KERNEL_ENDPOINT_URL", "http://127.0.0.1:4566"),
    ]);
    assert_eq!(
        call_url(&c, &Service::K3, "v1/tokenize"),
        "http://127.0.0.1:4566/k3/v1/tokenize"
    );
    assert_eq!(
        call_url(&c, &Service::BIN_LOOKUP, "?card_bin=411111"),
        "http://127.0.0.1:4566/bin-lookup-service/?card_bin=411111"
    );
    // The per-service override wins over the kernel-wide one, for that service only.
    let c = cfg(&[
        ("PARTNER", "paytheory"),
        ("STAGE", "prod"),
        ("KERNEL_ENDPOINT_URL", "http://127.0.0.1:4566"),
        (
            "KERNEL_ENDPOINT_URL_BIN_LOOKUP_SERVICE",
            "https://bins.example.test/v2",
        ),
        ("KERNEL_ENDPOINT_URL_K3", "http://localhost:9000/"),
    ]);
    assert_eq!(
        call_url(&c, &Service::BIN_LOOKUP, "?card_bin=411111"),
        "https://bins.example.test/v2/?card_bin=411111"
    );
    assert_eq!(
        call_url(&c, &Service::K3, "v1/tokenize"),
        "http://localhost:9000/v1/tokenize"
    );
    assert_eq!(
        call_url(&c, &Service::BANK_DATA, "?routing_number=021000021"),
        "http://127.0.0.1:4566/bank-data-service/?routing_number=021000021"
    );
    // Builder equivalents.
    let c = Config::builder()
        .partner("paytheory")
        .stage("prod")
        .endpoint_url("https://kernel.example.test")
        .service_endpoint_url("paze-wallet-key-service", "https://paze.example.test")
        .build()
        .unwrap();
    assert_eq!(
        call_url(&c, &Service::K3, "v1/tokenize"),
        "https://kernel.example.test/k3/v1/tokenize"
    );
    assert_eq!(
        call_url(&c, &Service::PAZE, "decode-token"),
        "https://paze.example.test/decode-token"
    );
}

#[test]
fn required_and_unsafe_config_values() {
    let missing = Config::from_vars([("STAGE", "dev")]).unwrap_err();
    assert!(
        matches!(
            missing,
            ConfigError::Missing {
                name: "PARTNER",
                ..
            }
        ),
        "{missing:?}"
    );
    let missing = Config::from_vars([("PARTNER", "innovate")]).unwrap_err();
    assert!(
        matches!(missing, ConfigError::Missing { name: "STAGE", .. }),
        "{missing:?}"
    );
    let missing = Config::from_vars([("PARTNER", ""), ("STAGE", "dev")]).unwrap_err();
    assert!(matches!(
        missing,
        ConfigError::Missing {
            name: "PARTNER",
            ..
        }
    ));
    assert!(missing.to_string().contains("PARTNER is not set"));

    for (name, bad) in [
        ("PARTNER", "evil.com/"),
        ("PARTNER", "a.b"),
        ("PARTNER", "Innovate"),
        ("PARTNER", "-x"),
        ("STAGE", "dev@evil"),
        ("STAGE", "dev:8080"),
        ("STAGE", &"x".repeat(64)),
        ("TARGET_REGION", "us-east-1.evil.com"),
        ("TARGET_REGION", "us east"),
        ("KERNEL_ENV_OVERRIDE", "evil.com"),
        ("STAGE", "xn--a"), // IDNA-reserved: would fail host parsing
        ("PARTNER", "ab--cd"),
    ] {
        let mut vars = vec![("PARTNER", "paytheory"), ("STAGE", "prod")];
        vars.retain(|(k, _)| *k != name);
        vars.push((name, bad));
        let err = Config::from_vars(vars).unwrap_err();
        assert!(
            matches!(err, ConfigError::NotDnsLabel { name: n, .. } if n == name),
            "{name}={bad:?} gave {err:?}"
        );
    }
    let err = Config::from_vars([
        ("PARTNER", "x"),
        ("STAGE", "y"),
        ("KERNEL_ENV_OVERRIDE", "prodkernel"),
    ])
    .unwrap_err();
    assert!(matches!(err, ConfigError::UnknownKernelEnv { .. }));

    for bad in [
        "http://kernel.example.test",          // plain http off loopback
        "ftp://127.0.0.1",                     // scheme
        "https://user:pw@kernel.example.test", // user-info
        "https://kernel.example.test/?x=1",    // query
        "https://kernel.example.test/#frag",   // fragment
        "not a url",
        "https://kernel.example.test/\u{0}",
        "http://10.0.0.1", // private but not loopback
    ] {
        let err = Config::from_vars([
            ("PARTNER", "x"),
            ("STAGE", "y"),
            ("KERNEL_ENDPOINT_URL", bad),
        ])
        .unwrap_err();
        assert!(
            matches!(err, ConfigError::BadEndpointOverride { .. }),
            "{bad:?} gave {err:?}"
        );
        let err = Config::from_vars([
            ("PARTNER", "x"),
            ("STAGE", "y"),
            ("KERNEL_ENDPOINT_URL_K3", bad),
        ])
        .unwrap_err();
        assert!(
            matches!(err, ConfigError::BadEndpointOverride { .. }),
            "{bad:?} gave {err:?}"
        );
    }
    // Loopback http is fine in every form.
    for ok in [
        "http://127.0.0.1:1",
        "http://127.8.9.10",
        "http://localhost:80",
        "http://[::1]:9",
    ] {
        Config::from_vars([
            ("PARTNER", "x"),
            ("STAGE", "y"),
            ("KERNEL_ENDPOINT_URL", ok),
        ])
        .unwrap();
    }
}

#[test]
fn host_changing_endpoints_are_refused() {
    let c = cfg(&[("PARTNER", "paytheory"), ("STAGE", "prod")]);
    let r = Resolved::new(&c);
    for service in [Service::K3, Service::BIN_LOOKUP] {
        for bad in crate::bad_input::HOSTILE_ENDPOINTS {
            let res = r.call_url(&c, service.prefix, service.region_in_url, bad);
            assert!(
                matches!(res, Err(kernel_core::RequestError::Endpoint { .. })),
                "{}: {bad:?} gave {res:?}",
                service.prefix
            );
        }
    }
    // Hostile service prefixes.
    for bad in ["evil.com", "k3.evil", "K3", "", "a/b", "a@b", "x:1"] {
        let res = r.call_url(&c, bad, false, "v1/tokenize");
        assert!(
            matches!(res, Err(kernel_core::RequestError::ServicePrefix { .. })),
            "{bad:?}"
        );
    }
    // Legitimate shapes remain possible.
    for ok in [
        "v1/tokenize",
        "/v1/tokenize",
        "?card_bin=411111",
        "",
        "a b/é",
        "x/$default/@connections/a=b",
        "?a=1&a=2&flag",
    ] {
        let url = r.call_url(&c, "k3", false, ok).unwrap();
        assert_eq!(url.host_str(), Some("k3.kernel.prod.com"), "{ok:?}");
        assert_eq!(url.scheme(), "https");
        assert_eq!(url.port_or_known_default(), Some(443));
    }
}
