//! End-to-end tests of the `kernel` binary. Every run starts from an empty environment (plus
//! PATH and HOME) and is killed after a deadline.

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const CARD: &str = "4111111111111111";
const TOKENIZE_BODY: &str =
    r#"{"card_number":"4111111111111111","exp_month":"12","exp_year":"2030","cvv":"123"}"#;
const PROD: &[(&str, &str)] = &[("PARTNER", "paytheory"), ("STAGE", "prod")];
const DEADLINE: Duration = Duration::from_secs(60);

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
    fn error_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn kernel(args: &[&str], envs: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kernel"));
    cmd.env_clear();
    for keep in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    // Belt and braces: no test may reach instance metadata if it fell through to the AWS chain.
    cmd.env("AWS_EC2_METADATA_DISABLED", "true");
    cmd.envs(envs.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn kernel");
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let t_out = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kernel {args:?} did not finish within {DEADLINE:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Out {
        code: status.code(),
        stdout: String::from_utf8_lossy(&t_out.join().expect("stdout reader")).into_owned(),
        stderr: String::from_utf8_lossy(&t_err.join().expect("stderr reader")).into_owned(),
    }
}

fn with<'a>(base: &[(&'a str, &'a str)], more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.iter().chain(more).copied().collect()
}

fn assert_one_error_line(out: &Out) {
    let lines = out.error_lines();
    assert_eq!(lines.len(), 1, "expected exactly one stderr line: {out:?}");
    assert!(lines[0].starts_with("error: "), "{out:?}");
}

#[test]
fn demo_calls_all_services_in_both_modes_with_two_assume_roles() {
    let out = kernel(&["demo"], &[]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let rows: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("mode 1 ") || l.starts_with("mode 2 "))
        .collect();
    assert_eq!(rows.len(), 12, "{out:?}");
    for row in &rows {
        assert!(row.contains(" 200 "), "not a 200 row: {row}");
        assert!(
            row.contains("http://127.0.0.1:"),
            "sandbox URL missing: {row}"
        );
        assert!(!row.contains("FAILED"), "{row}");
    }
    assert_eq!(rows.iter().filter(|r| r.starts_with("mode 2 ")).count(), 6);
    assert!(
        out.stdout
            .contains("https://k3.kernel.prod.com/v1/tokenize"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains("https://us-east-1.kernel.prod.com/bin-lookup-service/?card_bin=411111"),
        "{out:?}"
    );
    assert!(out.stdout.contains("token issued"), "{out:?}");
    assert!(out.stdout.contains("12/12 calls succeeded"), "{out:?}");
    assert!(out.stdout.contains("STS AssumeRole calls: 2"), "{out:?}");
    assert!(
        out.stdout.contains("2 (client-side) / 2 (sandbox)"),
        "{out:?}"
    );
    let all = out.all();
    for secret in [
        CARD,
        "tok_",
        "sandbox-paze-token",
        "sandbox-external-id",
        "sandbox/base/secret",
    ] {
        assert!(!all.contains(secret), "{secret} leaked: {out:?}");
    }
}

#[test]
fn demo_follows_partner_flag_to_qakernel() {
    let out = kernel(&["demo", "--partner", "innovate", "--stage", "dev"], &[]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("058264189048"), "{out:?}");
    assert!(
        out.stdout
            .contains("https://k3.qakernel.dev.com/v1/tokenize"),
        "{out:?}"
    );
    assert!(out.stdout.contains("12/12 calls succeeded"), "{out:?}");
}

#[test]
fn dry_run_bin_lookup_mode_1() {
    let out = kernel(&["--dry-run", "bin-lookup", "?card_bin=411111"], PROD);
    assert_eq!(out.code, Some(0), "{out:?}");
    let s = &out.stdout;
    assert!(
        s.contains("https://us-east-1.kernel.prod.com/bin-lookup-service/?card_bin=411111"),
        "{out:?}"
    );
    assert!(s.contains("075149869707"), "{out:?}");
    assert!(
        s.contains("arn:aws:iam::075149869707:role/kernel-access"),
        "{out:?}"
    );
    assert!(!s.contains("kernel-access-external"), "{out:?}");
    assert!(s.contains("GET"), "{out:?}");
    assert!(s.contains("us-east-1"), "{out:?}");
    let signatures: Vec<&str> = s.split("Signature=").skip(1).collect();
    assert!(
        !signatures.is_empty(),
        "no authorization header shown: {out:?}"
    );
    for rest in signatures {
        assert!(
            rest.starts_with("<redacted>"),
            "unredacted signature: {out:?}"
        );
    }
    assert!(!s.contains("dry-run-placeholder"), "{out:?}");
    assert!(s.contains("x-amz-security-token: <"), "{out:?}");
    assert!(out.stderr.trim().is_empty(), "{out:?}");
}

#[test]
fn dry_run_mode_2_shows_role_not_external_id() {
    let external = "ext-id-s3cr3t-4242";
    let envs = with(PROD, &[("K3_EXTERNAL_ID", external)]);
    let out = kernel(&["--dry-run", "bin-lookup", "?card_bin=411111"], &envs);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout
            .contains("arn:aws:iam::075149869707:role/kernel-access-external"),
        "{out:?}"
    );
    assert!(!out.all().contains(external), "external id leaked: {out:?}");
}

#[test]
fn dry_run_flags_override_environment() {
    let out = kernel(
        &[
            "--dry-run",
            "--partner",
            "innovate",
            "--stage",
            "dev",
            "k3",
            "v1/tokenize",
            "-d",
            TOKENIZE_BODY,
        ],
        PROD,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout
            .contains("https://k3.qakernel.dev.com/v1/tokenize"),
        "{out:?}"
    );
    assert!(out.stdout.contains("058264189048"), "{out:?}");
    assert!(out.stdout.contains("POST"), "{out:?}");
    assert!(
        out.stdout.contains("content-type: application/json"),
        "{out:?}"
    );
    assert!(!out.all().contains(CARD), "{out:?}");
}

#[test]
fn dry_run_without_partner_is_a_config_error() {
    let out = kernel(
        &["--dry-run", "bin-lookup", "?card_bin=411111"],
        &[("STAGE", "prod")],
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_one_error_line(&out);
    assert!(out.stderr.contains("PARTNER"), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[test]
fn sandbox_k3_tokenize_returns_token_and_never_shows_card_data() {
    for args in [
        vec!["--sandbox", "k3", "v1/tokenize", "-d", TOKENIZE_BODY],
        vec!["--sandbox", "-v", "k3", "v1/tokenize", "-d", TOKENIZE_BODY],
        vec!["--sandbox", "-vv", "k3", "v1/tokenize", "-d", TOKENIZE_BODY],
    ] {
        let envs = with(PROD, &[("RUST_LOG", "trace")]);
        let out = kernel(&args, &envs);
        assert_eq!(out.code, Some(0), "{out:?}");
        let body: serde_json::Value =
            serde_json::from_str(&out.stdout).expect("stdout is exactly the JSON body");
        let token = body.get("token").and_then(|t| t.as_str()).unwrap_or("");
        assert!(!token.is_empty(), "{out:?}");
        let all = out.all();
        assert!(!all.contains(CARD), "card number leaked: {out:?}");
        assert!(!all.contains("cvv"), "cvv leaked: {out:?}");
        assert!(!all.contains(r#""123""#), "cvv leaked: {out:?}");
        assert!(!all.contains(TOKENIZE_BODY), "{out:?}");
        assert!(!all.contains("sandbox/base/secret"), "{out:?}");
        assert!(!all.contains("SecretAccessKey"), "{out:?}");
        assert!(!all.contains("SessionToken"), "{out:?}");
        assert!(!all.contains("Signature="), "{out:?}");
        // The token goes to stdout once (the body), never into logs.
        assert!(!out.stderr.contains(token), "{out:?}");
        if args.contains(&"-v") {
            assert!(out.stderr.contains("< HTTP 200 OK"), "{out:?}");
        }
    }
}

#[test]
fn sandbox_mode_2_and_body_from_file() {
    let path = std::env::temp_dir().join(format!("kernel-cli-test-{}.json", std::process::id()));
    std::fs::write(&path, TOKENIZE_BODY).expect("write body file");
    let data = format!("@{}", path.display());
    let envs = with(PROD, &[("K3_EXTERNAL_ID", "ext-id-s3cr3t-4242")]);
    let out = kernel(
        &["--sandbox", "-v", "k3", "v1/tokenize", "-d", &data],
        &envs,
    );
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("\"token\""), "{out:?}");
    assert!(out.stderr.contains("kernel-access-external"), "{out:?}");
    assert!(!out.all().contains("ext-id-s3cr3t-4242"), "{out:?}");
    assert!(!out.all().contains(CARD), "{out:?}");
}

#[test]
fn sandbox_get_services() {
    let out = kernel(&["--sandbox", "bin-lookup", "?card_bin=411111"], PROD);
    assert_eq!(out.code, Some(0), "{out:?}");
    let body: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON body");
    assert_eq!(body["card_brand"], "VISA", "{out:?}");
    let out = kernel(
        &["--sandbox", "bank-data", "?routing_number=021000021"],
        PROD,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    // The generic call reaches the same route with an explicit method.
    let out = kernel(
        &[
            "--sandbox",
            "call",
            "bin-lookup-service",
            "?card_bin=411111",
            "-X",
            "GET",
        ],
        PROD,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
}

#[test]
fn host_changing_endpoint_is_refused() {
    for args in [
        vec!["k3", "//evil.example/x"],
        vec!["--dry-run", "k3", "//evil.example/x"],
        vec!["--sandbox", "call", "k3", "//evil.example/x"],
        vec!["call", "bin-lookup-service", "https://evil.example/x"],
    ] {
        let out = kernel(&args, PROD);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert_one_error_line(&out);
        assert!(out.stderr.contains("endpoint refused"), "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
    }
}

#[test]
fn unknown_service_is_a_403_with_one_line_reason() {
    let out = kernel(&["--sandbox", "call", "no-such-service", "x"], PROD);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_one_error_line(&out);
    assert!(out.stderr.contains("403"), "{out:?}");
    assert!(
        out.stderr.contains("Missing Authentication Token"),
        "{out:?}"
    );
    assert!(
        out.stdout.is_empty(),
        "error body must be withheld by default: {out:?}"
    );

    let out = kernel(
        &[
            "--sandbox",
            "call",
            "no-such-service",
            "x",
            "--show-error-body",
        ],
        PROD,
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stdout.contains("Missing Authentication Token"),
        "{out:?}"
    );
}

#[test]
fn service_error_status_exits_1_and_withholds_body() {
    let out = kernel(&["--sandbox", "bin-lookup", "?card_bin=999999"], PROD);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_one_error_line(&out);
    assert!(out.stderr.contains("404"), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[test]
fn input_errors_exit_2_without_echoing_data() {
    // Not JSON.
    let out = kernel(
        &[
            "--dry-run",
            "k3",
            "v1/tokenize",
            "-d",
            r#"{"card_number":"4111111111111111""#,
        ],
        PROD,
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_one_error_line(&out);
    assert!(!out.all().contains(CARD), "{out:?}");
    // A signing header cannot be supplied.
    let out = kernel(
        &[
            "--dry-run",
            "k3",
            "v1/tokenize",
            "-H",
            "Authorization: Bearer s3cr3t",
        ],
        PROD,
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_one_error_line(&out);
    assert!(!out.all().contains("s3cr3t"), "{out:?}");
    // A mistyped card number as an extra argument: clap's usage error is redacted.
    let out = kernel(&["--dry-run", "k3", "v1/tokenize", CARD], PROD);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(!out.all().contains(CARD), "{out:?}");
    // Unsafe configuration.
    let out = kernel(
        &["--dry-run", "bin-lookup", "?card_bin=411111"],
        &[("PARTNER", "evil.example/"), ("STAGE", "prod")],
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_one_error_line(&out);
}

#[test]
fn transport_failures_exit_3() {
    // Base credentials present but STS unreachable (a closed loopback port).
    let envs = with(
        PROD,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE01"),
            (
                "AWS_SECRET_ACCESS_KEY",
                "not/a/real/secret/key/xxxxxxxxxxxxxxxxxxx",
            ),
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9"),
            ("KERNEL_ENDPOINT_URL", "http://127.0.0.1:9"),
        ],
    );
    let out = kernel(&["bin-lookup", "?card_bin=411111"], &envs);
    assert_eq!(out.code, Some(3), "{out:?}");
    assert_one_error_line(&out);
    assert!(out.stderr.contains("could not assume role"), "{out:?}");
    assert!(!out.all().contains("not/a/real/secret"), "{out:?}");
}

#[test]
fn help_and_usage() {
    let out = kernel(&["--help"], &[]);
    assert_eq!(out.code, Some(0), "{out:?}");
    for cmd in [
        "call",
        "k3",
        "paze",
        "apple-wallet",
        "google-wallet",
        "bin-lookup",
        "bank-data",
        "demo",
    ] {
        assert!(out.stdout.contains(cmd), "{cmd} missing from help: {out:?}");
    }
    let out = kernel(&["--dry-run", "--sandbox", "demo"], &[]);
    assert_eq!(out.code, Some(2), "{out:?}");
    let out = kernel(&[], &[]);
    assert_eq!(out.code, Some(2), "{out:?}");
}

/// A sandbox in this test process with scripted faults; the binary reaches it through the
/// same environment a person would export (the sandbox binary prints these lines).
fn faulty_sandbox(
    faults: Vec<kernel_sandbox::Fault>,
) -> (tokio::runtime::Runtime, kernel_sandbox::Sandbox) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let sandbox = rt
        .block_on(kernel_sandbox::Sandbox::start(
            kernel_sandbox::SandboxConfig::default(),
        ))
        .expect("sandbox");
    sandbox.inject("bin-lookup-service", faults);
    (rt, sandbox)
}

#[test]
fn status_after_exhausted_retries_still_exits_1_with_every_attempt() {
    use kernel_sandbox::Fault;
    let (_rt, sandbox) = faulty_sandbox(vec![
        Fault::Status(503),
        Fault::Status(503),
        Fault::Status(503),
    ]);
    let sts = sandbox.sts_endpoint();
    let gateway = sandbox.gateway_endpoint();
    let cfg = sandbox.config().clone();
    let envs = [
        ("PARTNER", "paytheory"),
        ("STAGE", "prod"),
        ("AWS_ENDPOINT_URL_STS", sts.as_str()),
        ("KERNEL_ENDPOINT_URL", gateway.as_str()),
        ("AWS_ACCESS_KEY_ID", cfg.base_access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", cfg.base_secret_access_key.as_str()),
        ("AWS_REGION", "us-east-1"),
    ];
    let out = kernel(&["bin-lookup", "?card_bin=411111"], &envs);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_one_error_line(&out);
    assert!(
        out.stderr
            .contains("gave up after 3 attempts (1: HTTP 503; 2: HTTP 503; 3: HTTP 503)"),
        "{out:?}"
    );
    assert!(out.stderr.contains("--show-error-body"), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(
        sandbox.counters().route_requests.get("bin-lookup-service"),
        Some(&3)
    );
    assert!(!out.all().contains(&cfg.base_secret_access_key));
}

// --- Typed subcommands (generated from openapi/ into src/typed.rs) ---------------------

#[test]
fn typed_lookup_against_the_sandbox_prints_the_typed_answer() {
    let out = kernel(
        &["--sandbox", "bin-lookup", "lookup", "--card-bin", "411111"],
        PROD,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["card_brand"], "VISA");
    assert_eq!(v["card_bin"], "411111");
}

#[test]
fn typed_tokenize_reads_the_body_from_a_file_and_never_prints_it() {
    let dir = std::env::temp_dir().join(format!("kernel-cli-typed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("card.json");
    std::fs::write(&file, TOKENIZE_BODY).expect("write");
    let body = format!("@{}", file.display());
    let out = kernel(
        &["--sandbox", "-vv", "k3", "tokenize", "--body", &body],
        PROD,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert!(
        v["token"].as_str().is_some_and(|t| t.starts_with("tok_")),
        "{out:?}"
    );
    assert_eq!(v["last_four"], "1111");
    assert!(!out.all().contains(CARD), "{out:?}");
    assert!(!out.stderr.contains("\"123\""), "{out:?}");
    let dry = kernel(&["--dry-run", "k3", "tokenize", "--body", &body], PROD);
    assert_eq!(dry.code, Some(0), "{dry:?}");
    assert!(
        dry.stdout
            .contains("https://k3.kernel.prod.com/v1/tokenize"),
        "{dry:?}"
    );
    assert!(dry.stdout.contains(" bytes (not shown)"), "{dry:?}");
    assert!(!dry.all().contains(CARD), "{dry:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn typed_examples_run_every_operation_against_the_sandbox() {
    for args in [
        ["k3", "tokenize"],
        ["paze", "decode-token"],
        ["apple-wallet", "decrypt-payment-token"],
        ["google-wallet", "decrypt-payment-method-token"],
        ["bin-lookup", "lookup"],
        ["bank-data", "lookup-routing-number"],
    ] {
        let out = kernel(&["--sandbox", args[0], args[1], "--example"], PROD);
        assert_eq!(out.code, Some(0), "{args:?}: {out:?}");
        serde_json::from_str::<serde_json::Value>(&out.stdout).expect("JSON on stdout");
    }
}

#[test]
fn typed_input_errors_exit_2_name_the_problem_and_send_nothing() {
    // A value the type refuses: no network (there is no sandbox and no AWS config).
    let out = kernel(&["bin-lookup", "lookup", "--card-bin", "12"], PROD);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_one_error_line(&out);
    assert!(out.stderr.contains("card_bin"), "{out:?}");
    assert!(
        out.stderr
            .contains("invalid input: card_bin: does not match ^[0-9]{6,8}$"),
        "{out:?}"
    );
    // Bodies are checked against the spec: the error names the field and the rule, never
    // the value.
    for (body, expected) in [
        (
            format!(r#"{{"card_number":"{CARD}"}}"#),
            "invalid input: exp_month: required but missing",
        ),
        (
            format!(r#"{{"card_number":{CARD},"exp_month":"12","exp_year":"2030","cvv":"123"}}"#),
            "invalid input: card_number: expected string, got integer",
        ),
        (
            format!(r#"{{"card_number":"{CARD}","exp_month":"13","exp_year":"2030","cvv":"123"}}"#),
            "invalid input: exp_month: does not match ^(0[1-9]|1[0-2])$",
        ),
        (
            "{not json".to_owned(),
            "--body is not valid JSON (line 1, column 2)",
        ),
    ] {
        let out = kernel(&["--dry-run", "k3", "tokenize", "--body", &body], PROD);
        assert_eq!(out.code, Some(2), "{body}: {out:?}");
        assert_one_error_line(&out);
        assert!(out.stderr.contains(expected), "{expected}: {out:?}");
        assert!(!out.all().contains(CARD), "{out:?}");
    }
    // Spec examples are test data: never sent to a real kernel.
    let out = kernel(&["k3", "tokenize", "--example"], PROD);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr
            .contains("--example only goes with --sandbox or --dry-run"),
        "{out:?}"
    );
    // A required parameter missing: clap's usage error.
    let out = kernel(&["bin-lookup", "lookup"], PROD);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("--card-bin"), "{out:?}");
}

#[test]
fn typed_error_status_exits_1() {
    let out = kernel(
        &["--sandbox", "bin-lookup", "lookup", "--card-bin", "999999"],
        PROD,
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_one_error_line(&out);
    assert!(out.stderr.contains("404"), "{out:?}");
    assert!(
        !out.stderr.contains("BIN not found"),
        "bodies are withheld: {out:?}"
    );
}
