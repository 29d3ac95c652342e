//! Checks against independent peers running in Python (installed by `cargo xtask test`
//! into `target/peer-venv`; the interpreter is `KERNEL_PEER_PYTHON`, else that venv's):
//!
//! * **botocore** as a second SigV4 signer: for a fixed list of requests, frozen time and
//!   fixed credentials, `kernel_core::signing::sign_request` must produce byte-identical
//!   `authorization`, `x-amz-date` and `x-amz-security-token` headers
//!   (`tests/peers/botocore_sign.py`).
//! * **moto** as a real STS: a [`KernelClient`] built through its builder assumes the kernel
//!   role (mode 1 and mode 2) at a local `moto_server`, and the returned credentials are
//!   proven to belong to the assumed role with `GetCallerIdentity`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::identity::Identity;
use kernel_core::{Config, Credentials, KernelClient};
use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Locating the peers
// ---------------------------------------------------------------------------------------

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("kernel-core lives inside the workspace")
        .to_path_buf()
}

/// `KERNEL_PEER_PYTHON`, else `<workspace>/target/peer-venv/bin/python`.
fn peer_python() -> PathBuf {
    let from_env = std::env::var_os("KERNEL_PEER_PYTHON").filter(|v| !v.is_empty());
    let default = workspace_root().join("target/peer-venv/bin/python");
    let candidate = from_env.map(PathBuf::from).unwrap_or(default);
    if !candidate.exists() {
        panic!(
            "no Python peer interpreter at {} (KERNEL_PEER_PYTHON or target/peer-venv): \
             run `cargo xtask test` (it installs the Python peers)",
            candidate.display()
        );
    }
    candidate
}

/// Runs a Python script from `tests/peers/` with `input` on stdin; returns parsed stdout.
fn run_peer_script(script: &str, input: &Value) -> Value {
    let python = peer_python();
    let script = workspace_root().join("tests/peers").join(script);
    let mut child = Command::new(&python)
        .arg(&script)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} {}: {e}",
                python.display(),
                script.display()
            )
        });
    let mut stdin = child.stdin.take().expect("piped stdin");
    let payload = serde_json::to_vec(input).expect("input serialises");
    // A writer thread, so that a large document cannot deadlock against a full stdout pipe.
    let writer = std::thread::spawn(move || stdin.write_all(&payload));
    let output = child.wait_with_output().expect("peer script runs");
    writer
        .join()
        .expect("writer thread")
        .expect("peer script reads its stdin");
    assert!(
        output.status.success(),
        "{} failed ({}):\n{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{} printed no JSON ({e}):\n{}\nstderr:\n{}",
            script.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

// ---------------------------------------------------------------------------------------
// botocore: byte-identical SigV4
// ---------------------------------------------------------------------------------------

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN: &str = "FwoGZXIvYXdzEXAMPLETOKEN";
const REGION: &str = "us-east-1";
/// 2026-12-03T12:00:00Z.
const FROZEN_UNIX: u64 = 1_796_299_200;
const FROZEN_ISO: &str = "2026-12-03T12:00:00Z";
const FROZEN_AMZ: &str = "20261203T120000Z";

/// The case with a raw `+` in the query, and its `%20` spelling (given to botocore only).
const PLUS_CASE: &str = "query-plus-vs-2b-vs-20";
const PLUS_AS_SPACE: &str = "query-plus-spelled-%20";

struct SignCase {
    name: &'static str,
    method: reqwest::Method,
    url: &'static str,
    extra_headers: &'static [(&'static str, &'static str)],
    body: Option<&'static str>,
}

fn sign_cases() -> Vec<SignCase> {
    use reqwest::Method;
    let case = |name, method, url| SignCase {
        name,
        method,
        url,
        extra_headers: &[],
        body: None,
    };
    vec![
        case(
            "get-bin-lookup",
            Method::GET,
            "https://us-east-1.kernel.prod.com/bin-lookup-service/?card_bin=411111",
        ),
        SignCase {
            body: Some(
                r#"{"card_number":"4111111111111111","exp_month":"12","exp_year":"2030","cvv":"123"}"#,
            ),
            ..case(
                "post-k3-tokenize-json",
                Method::POST,
                "https://k3.kernel.prod.com/v1/tokenize",
            )
        },
        case(
            "path-space-and-e-acute",
            Method::GET,
            "https://us-east-1.kernel.prod.com/echo/a b/é",
        ),
        case(
            "path-reserved-at-equals-dollar",
            Method::GET,
            "https://us-east-1.kernel.prod.com/echo/$default/@connections/a=b",
        ),
        case(
            "query-repeated-keys",
            Method::GET,
            "https://us-east-1.kernel.prod.com/echo/?b=2&a=1&a=0",
        ),
        case(
            "query-key-without-value",
            Method::GET,
            "https://us-east-1.kernel.prod.com/echo/?flag&x=1",
        ),
        case(
            PLUS_CASE,
            Method::GET,
            "https://us-east-1.kernel.prod.com/echo/?q=a+b&r=a%2Bb&s=a%20b",
        ),
        case(
            "non-default-port",
            Method::GET,
            "https://example.test:8443/x",
        ),
        SignCase {
            extra_headers: &[("x-idempotency-key", "3f0c2a8e-6b1d-4c5e-9a7f-000000000001")],
            body: Some(r#"{"amount":100}"#),
            ..case(
                "custom-header-idempotency-key",
                Method::POST,
                "https://us-east-1.kernel.prod.com/paze-wallet-service/v1/decrypt",
            )
        },
    ]
}

/// One request as the SDK builds it, before and after `sign_request`.
struct Signed {
    name: &'static str,
    url: String,
    /// The request's headers before signing (what botocore is given).
    headers_before: Vec<(String, String)>,
    body: Vec<u8>,
    authorization: String,
    x_amz_date: String,
    x_amz_security_token: Option<String>,
}

fn identity() -> Identity {
    Identity::from(Credentials::new(
        ACCESS_KEY,
        SECRET_KEY,
        Some(SESSION_TOKEN.to_owned()),
        None,
        "test",
    ))
}

fn sign_with_kernel_core(case: &SignCase, identity: &Identity) -> Signed {
    let url = Url::parse(case.url).expect("case URL parses");
    let mut req = reqwest::Request::new(case.method.clone(), url);
    let h = req.headers_mut();
    h.insert("accept", HeaderValue::from_static("application/json"));
    if case.body.is_some() {
        h.insert("content-type", HeaderValue::from_static("application/json"));
    }
    for (name, value) in case.extra_headers {
        h.append(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    if let Some(body) = case.body {
        *req.body_mut() = Some(reqwest::Body::from(body.as_bytes().to_vec()));
    }
    let url = req.url().as_str().to_owned();
    let headers_before = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                v.to_str().expect("ASCII header").to_owned(),
            )
        })
        .collect();
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(FROZEN_UNIX);
    kernel_core::signing::sign_request(&mut req, REGION, identity, time)
        .unwrap_or_else(|e| panic!("{}: kernel-core could not sign: {e}", case.name));
    let get = |name: &str| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().expect("ASCII").to_owned())
    };
    Signed {
        name: case.name,
        url,
        headers_before,
        body: case.body.map(|b| b.as_bytes().to_vec()).unwrap_or_default(),
        authorization: get("authorization").expect("authorization header"),
        x_amz_date: get("x-amz-date").expect("x-amz-date header"),
        x_amz_security_token: get("x-amz-security-token"),
    }
}

/// One case for `botocore_sign.py`: the request exactly as kernel-core saw it before signing
/// (URL string, headers in order), with `url` and `body` given separately so that the
/// sanity cases can vary them.
fn peer_case(name: &str, method: &str, s: &Signed, url: &str, body: &[u8]) -> Value {
    json!({
        "name": name,
        "method": method,
        "url": url,
        "headers": s.headers_before,
        "body_b64": aws_smithy_types::base64::encode(body),
    })
}

#[test]
fn botocore_signs_byte_identical_authorization() {
    let identity = identity();
    let cases = sign_cases();
    let signed: Vec<Signed> = cases
        .iter()
        .map(|c| sign_with_kernel_core(c, &identity))
        .collect();

    let mut peer_cases = Vec::new();
    for (c, s) in cases.iter().zip(&signed) {
        peer_cases.push(peer_case(s.name, c.method.as_str(), s, &s.url, &s.body));
    }
    // Sanity: the comparison must be able to fail. botocore signs the POST with one byte of
    // the body changed; that signature must differ from kernel-core's for the real body.
    let post = signed
        .iter()
        .position(|s| s.name == "post-k3-tokenize-json")
        .expect("post case");
    let mut tampered = signed[post].body.clone();
    *tampered.last_mut().expect("non-empty body") = b' ';
    peer_cases.push(peer_case(
        "sanity-body-differs",
        "POST",
        &signed[post],
        &signed[post].url,
        &tampered,
    ));
    // Sanity: the `+` case with the raw `+` spelled `%20` (see the assertion below).
    let plus = signed
        .iter()
        .position(|s| s.name == PLUS_CASE)
        .expect("plus case");
    let plus_as_space = signed[plus].url.replace("q=a+b", "q=a%20b");
    peer_cases.push(peer_case(
        PLUS_AS_SPACE,
        "GET",
        &signed[plus],
        &plus_as_space,
        &signed[plus].body,
    ));

    let input = json!({
        "time": FROZEN_ISO,
        "region": REGION,
        "service": kernel_core::signing::SERVICE_NAME,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "token": SESSION_TOKEN,
        "cases": peer_cases,
    });
    let started = Instant::now();
    let out = run_peer_script("botocore_sign.py", &input);
    let results = out["results"].as_array().expect("results array");
    assert_eq!(results.len(), peer_cases.len(), "one result per case");
    eprintln!(
        "botocore {} signed {} requests in {:?}",
        out["botocore"],
        results.len(),
        started.elapsed()
    );
    let peer = |name: &str| -> &Value {
        results
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("botocore result for {name}"))
    };

    let mut mismatches = Vec::new();
    for s in &signed {
        assert_eq!(s.x_amz_date, FROZEN_AMZ, "{}: frozen x-amz-date", s.name);
        // The raw-`+` case is compared with botocore's signature of the same request with
        // the `+` spelled `%20`; its divergence on the raw URL is asserted below.
        let (p, url_given) = if s.name == PLUS_CASE {
            (peer(PLUS_AS_SPACE), plus_as_space.as_str())
        } else {
            (peer(s.name), s.url.as_str())
        };
        let theirs = (
            p["authorization"].as_str().unwrap_or_default(),
            p["x-amz-date"].as_str().unwrap_or_default(),
            p["x-amz-security-token"].as_str(),
        );
        let ours = (
            s.authorization.as_str(),
            s.x_amz_date.as_str(),
            s.x_amz_security_token.as_deref(),
        );
        if ours == theirs {
            eprintln!("{:<32} identical: {}", s.name, s.authorization);
        } else {
            let method = cases
                .iter()
                .find(|c| c.name == s.name)
                .map(|c| c.method.as_str())
                .unwrap_or("?");
            mismatches.push(format!(
                "case {}: {method} {}  (botocore given {url_given})\n  kernel-core: {ours:?}\n  botocore:    {theirs:?}\n  botocore canonical request:\n{}\n",
                s.name,
                s.url,
                p["canonical_request"].as_str().unwrap_or_default()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from botocore:\n{}",
        mismatches.len(),
        signed.len(),
        mismatches.join("\n")
    );

    // Known, expected divergence. botocore canonicalises a query it finds in the URL
    // verbatim (`q=a+b`): it assumes the URL was built by botocore, which always writes
    // `%20`. aws-sigv4 (and API Gateway, which decodes the received query before
    // re-encoding it) reads a raw `+` as a space: `q=a%20b`. kernel-core matched botocore
    // on the `%20` spelling above; on the raw URL botocore must differ.
    let raw_plus = peer(PLUS_CASE);
    assert!(
        raw_plus["canonical_request"]
            .as_str()
            .unwrap_or_default()
            .contains("\nq=a+b&r=a%2Bb&s=a%20b\n"),
        "botocore's canonical query for the raw `+` URL changed: {}",
        raw_plus["canonical_request"]
    );
    assert_ne!(
        raw_plus["authorization"].as_str().unwrap_or_default(),
        signed[plus].authorization,
        "botocore now reads a raw `+` in the query as a space; update this case"
    );

    // Sanity checks that the comparison is real.
    let tampered = peer("sanity-body-differs");
    assert_eq!(tampered["x-amz-date"], FROZEN_AMZ);
    assert_ne!(
        tampered["authorization"].as_str().unwrap_or_default(),
        signed[post].authorization,
        "a different body must give a different signature"
    );
    for s in &signed {
        assert!(
            s.authorization.contains("SignedHeaders=accept;")
                && s.authorization
                    .contains(";host;x-amz-date;x-amz-security-token"),
            "{}: unexpected signed headers: {}",
            s.name,
            s.authorization
        );
        assert_eq!(s.x_amz_security_token.as_deref(), Some(SESSION_TOKEN));
    }
    let custom = signed
        .iter()
        .find(|s| s.name == "custom-header-idempotency-key")
        .expect("custom header case");
    assert!(
        custom
            .authorization
            .contains("SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token;x-idempotency-key,"),
        "{}",
        custom.authorization
    );
}

// ---------------------------------------------------------------------------------------
// moto: a real STS for AssumeRole
// ---------------------------------------------------------------------------------------

/// moto's default account id.
const MOTO_DEFAULT_ACCOUNT: &str = "123456789012";

/// A `moto_server` on 127.0.0.1, killed on drop.
struct MotoServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl MotoServer {
    const READY_WITHIN: Duration = Duration::from_secs(30);

    async fn start() -> MotoServer {
        let python = peer_python();
        // A free port: bind :0, read it, drop the listener. (Another process could take it
        // in between; moto then fails to bind and the readiness check reports its log.)
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("moto-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("moto log file");
        let child = Command::new(&python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log fd"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} -m moto.server: {e}", python.display()));
        let mut server = MotoServer { child, port, log };
        server.wait_ready().await;
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    async fn wait_ready(&mut self) {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("http client");
        let started = Instant::now();
        let probe = format!("{}/moto-api/", self.url());
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "moto_server exited early ({status}); log {}:\n{}",
                    self.log.display(),
                    self.log_text()
                );
            }
            if let Ok(r) = http.get(&probe).send().await
                && r.status().is_success()
            {
                eprintln!(
                    "moto_server ready on port {} after {:?}",
                    self.port,
                    started.elapsed()
                );
                return;
            }
            if started.elapsed() > Self::READY_WITHIN {
                panic!(
                    "moto_server not ready on port {} within {:?}; log {}:\n{}",
                    self.port,
                    Self::READY_WITHIN,
                    self.log.display(),
                    self.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Builds a real client against moto, assumes the role, and proves it with
/// GetCallerIdentity. Mode 2 differs from mode 1 only by the ExternalId and the role name.
///
/// moto does not enforce ExternalId (nor any trust policy; the role need not even exist):
/// this checks that mode 2 assumes `kernel-access-external` and that the call succeeds, not
/// that a wrong ExternalId is refused. Denials are tested against a fake STS elsewhere.
async fn assume_role_at_moto(external_id: Option<&str>, role_name: &str) {
    let moto = MotoServer::start().await;
    let mut cfg = Config::builder().partner("paytheory").stage("prod");
    if let Some(ext) = external_id {
        cfg = cfg.external_id(ext);
    }
    let cfg = cfg.build().expect("valid config");
    let client = KernelClient::builder()
        .config(cfg)
        .sts_endpoint_url(moto.url())
        .base_credentials(SharedCredentialsProvider::new(Credentials::new(
            "AKIDBASE",
            "basesecret",
            None,
            None,
            "static",
        )))
        .build()
        .await
        .expect("client builds");
    assert!(
        client
            .resolved()
            .role_arn()
            .ends_with(&format!(":role/{role_name}")),
        "resolved role {}",
        client.resolved().role_arn()
    );
    assert_eq!(client.sts_calls(), 0, "building makes no STS call");

    let started = Instant::now();
    let first = client.credentials().get().await.unwrap_or_else(|e| {
        panic!(
            "AssumeRole at moto failed: {e}\nmoto log:\n{}",
            moto.log_text()
        )
    });
    eprintln!("AssumeRole at moto took {:?}", started.elapsed());
    let c = first.credentials();
    assert!(
        c.access_key_id().starts_with("ASIA"),
        "temporary access key id, got {}",
        c.access_key_id()
    );
    assert!(
        c.session_token().is_some_and(|t| !t.is_empty()),
        "session token present"
    );
    let lifetime = first
        .expiry()
        .duration_since(SystemTime::now())
        .expect("expiry in the future");
    assert!(
        lifetime > Duration::from_secs(55 * 60) && lifetime <= Duration::from_secs(61 * 60),
        "STS default session length is 1 h; got {lifetime:?}"
    );
    assert_eq!(client.sts_calls(), 1);

    let second = client
        .credentials()
        .get()
        .await
        .expect("cached credentials");
    assert_eq!(
        client.sts_calls(),
        1,
        "the second get() is served from the cache"
    );
    assert_eq!(second.access_key_id(), first.access_key_id());

    // Prove the role really was assumed at moto: ask who these credentials are.
    let sts_conf = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new(REGION))
        .endpoint_url(moto.url())
        .credentials_provider(c.clone())
        .build();
    let who = aws_sdk_sts::Client::from_conf(sts_conf)
        .get_caller_identity()
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "GetCallerIdentity at moto failed: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            )
        });
    let arn = who.arn().expect("caller ARN");
    eprintln!("GetCallerIdentity: {arn} (account {:?})", who.account());
    // moto 5 puts the assumed-role ARN in the account of the role ARN (the kernel account);
    // accept its own default account too, in case a later moto changes that.
    let rest = arn
        .strip_prefix("arn:aws:sts::")
        .unwrap_or_else(|| panic!("assumed-role ARN, got {arn}"));
    let (account, role_part) = rest.split_once(':').expect("account:resource");
    assert!(
        account == client.resolved().account_id() || account == MOTO_DEFAULT_ACCOUNT,
        "account id in {arn}: expected the kernel account {} (or moto's default)",
        client.resolved().account_id()
    );
    assert_eq!(
        role_part,
        format!("assumed-role/{role_name}/kernel-service-call"),
        "caller ARN {arn}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_assume_role_mode1() {
    assume_role_at_moto(None, "kernel-access").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_assume_role_mode2() {
    assume_role_at_moto(Some("partner-external-id"), "kernel-access-external").await;
}
