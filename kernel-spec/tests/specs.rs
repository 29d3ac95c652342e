//! The real specs in `openapi/` load, normalise without surprises and satisfy the policy.

use std::path::Path;

fn openapi_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi")
}

#[test]
fn every_spec_in_openapi_complies() {
    let specs = kernel_spec::load_dir(&openapi_dir()).expect("specs load");
    // The six services of DESIGN.md at least (metadata_matches_design_md checks them);
    // a service added with `cargo xtask regen` is checked like them.
    assert!(specs.len() >= 6, "one spec per kernel service");
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

/// The prefixes DESIGN.md names, written out here (not read from the specs under test).
fn kernel_core_prefixes() -> [&'static str; 6] {
    [
        "apple-wallet-key-service",
        "bank-data-service",
        "bin-lookup-service",
        "google-wallet-key-service",
        "k3",
        "paze-wallet-key-service",
    ]
}

#[test]
fn metadata_matches_design_md() {
    let specs = kernel_spec::load_dir(&openapi_dir()).expect("specs load");
    // DESIGN.md's six services; other specs in openapi/ (added services) are not in it.
    let design_prefixes = kernel_core_prefixes();
    let mut table: Vec<(String, bool, String, String)> = specs
        .iter()
        .filter(|s| {
            s.meta
                .as_ref()
                .is_some_and(|m| design_prefixes.contains(&m.prefix.as_str()))
        })
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

/// The policy's messages for `file` from `openapi/` with `from` replaced by `to` once.
fn problems_after_edit(file: &str, from: &str, to: &str) -> Vec<String> {
    let text = std::fs::read_to_string(openapi_dir().join(file)).expect("read");
    let edited = text.replacen(from, to, 1);
    assert_ne!(edited, text, "the fixture edit applies to {file}");
    let spec = kernel_spec::load_str(file, &edited).expect("loads");
    kernel_spec::policy::check(&spec)
        .iter()
        .map(ToString::to_string)
        .collect()
}

const EXP_MONTH_PATTERN: &str = "      pattern: \"^(0[1-9]|1[0-2])$\"";

#[test]
fn a_default_its_schema_refuses_is_reported_where_it_is() {
    let with_default = |d: &str| format!("{EXP_MONTH_PATTERN}\n      default: \"{d}\"");
    let problems = problems_after_edit("k3.yaml", EXP_MONTH_PATTERN, &with_default("13"));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("k3.yaml: components.schemas.ExpMonth default: does not match"),
        "{problems:?}"
    );
    assert!(!problems[0].contains("13"), "names the rule, not the value");

    let good = problems_after_edit("k3.yaml", EXP_MONTH_PATTERN, &with_default("01"));
    assert!(good.is_empty(), "a good default is accepted: {good:?}");
}

#[test]
fn a_bad_default_inside_an_operation_names_the_operation() {
    let problems = problems_after_edit(
        "binlookup.yaml",
        "          schema: { $ref: \"#/components/schemas/CardBin\" }",
        "          schema: { type: string, pattern: \"^[0-9]{6,8}$\", default: \"41\" }",
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("operation `")
            && problems[0].contains("parameter card_bin default: does not match"),
        "{problems:?}"
    );
}
