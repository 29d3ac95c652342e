//! The real specs in `openapi/` load, normalise without surprises and satisfy the policy.

use std::path::Path;

fn openapi_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi")
}

#[test]
fn every_spec_in_openapi_complies() {
    let specs = kernel_spec::load_dir(&openapi_dir()).expect("specs load");
    assert_eq!(specs.len(), 6, "one spec per kernel service");
    for spec in &specs {
        let problems = kernel_spec::policy::check(spec);
        assert!(
            problems.is_empty(),
            "{}:\n{}",
            spec.name,
            problems
                .iter()
                .map(|p| format!("  {p}\n"))
                .collect::<String>()
        );
    }
}

#[test]
fn metadata_matches_design_md() {
    let specs = kernel_spec::load_dir(&openapi_dir()).expect("specs load");
    let mut table: Vec<(String, bool, String, String)> = specs
        .iter()
        .map(|s| {
            let m = s.meta.as_ref().expect("x-kernel");
            (
                m.prefix.clone(),
                m.region_in_url,
                m.default_method.clone(),
                m.subsystem.clone(),
            )
        })
        .collect();
    table.sort();
    let expected = [
        (
            "apple-wallet-key-service",
            true,
            "POST",
            "APPLE WALLET KEY SERVICE",
        ),
        ("bank-data-service", true, "GET", "BANK DATA SERVICE"),
        ("bin-lookup-service", true, "GET", "BIN LOOKUP SERVICE"),
        (
            "google-wallet-key-service",
            true,
            "POST",
            "GOOGLE WALLET KEY SERVICE",
        ),
        ("k3", false, "POST", "K3"),
        (
            "paze-wallet-key-service",
            true,
            "POST",
            "PAZE WALLET KEY SERVICE",
        ),
    ];
    let expected: Vec<(String, bool, String, String)> = expected
        .iter()
        .map(|(p, r, m, s)| (p.to_string(), *r, m.to_string(), s.to_string()))
        .collect();
    assert_eq!(table, expected);
}

#[test]
fn a_broken_example_is_reported_by_place_not_value() {
    let text = std::fs::read_to_string(openapi_dir().join("k3.yaml")).expect("read");
    let broken = text.replacen("exp_month: \"12\"", "exp_month: \"13\"", 1);
    let spec = kernel_spec::load_str("k3.yaml", &broken).expect("loads");
    let problems = kernel_spec::policy::check(&spec);
    assert_eq!(problems.len(), 1, "{problems:?}");
    let msg = problems[0].to_string();
    assert!(msg.starts_with("k3.yaml: operation `tokenize` (POST /v1/tokenize): request body example: exp_month: does not match"), "{msg}");
}
