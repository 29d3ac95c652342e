//! Per-call cost of the SDK's hot path, against two floors:
//!
//! * `floor/raw_crypto`: the cryptography SigV4 cannot avoid — SHA-256 of the body and of a
//!   canonical request, plus the five HMAC-SHA256 of key derivation and signature;
//! * `call/unsigned_reqwest`: a plain, unsigned reqwest GET to a loopback server.
//!
//! and what the SDK adds on top: `sign/*` (aws-sigv4 over a finished request),
//! `credentials/get_warm` (the cache's fast path), `call/kernel_client_signed` (a full
//! `KernelClient` call — resolve, validate, credentials, sign, send, read — to the same
//! server). Run: `cargo bench -p kernel-core --bench signing`; results in BENCHMARKS.md.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use aws_smithy_runtime_api::client::identity::Identity;
use criterion::{Criterion, criterion_group, criterion_main};
use kernel_core::credentials::{CredentialCache, CredentialSource, LoadFuture, RefreshSettings};
use kernel_core::{CallOptions, Config, Credentials, KernelClient};
use sha2::{Digest, Sha256};

const BODY: &[u8] =
    br#"{"card_number":"4111111111111111","exp_month":"12","exp_year":"2030","cvv":"123"}"#;

fn creds() -> Credentials {
    Credentials::new(
        "ASIAEXAMPLEEXAMPLE01",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        Some("FwoGZXIvYXdzEXAMPLETOKEN".repeat(20)),
        Some(SystemTime::now() + Duration::from_secs(3600)),
        "bench",
    )
}

struct Static;
impl CredentialSource for Static {
    fn load(&self) -> LoadFuture<'_> {
        Box::pin(async { Ok(creds()) })
    }
}

fn post_request() -> reqwest::Request {
    let mut r = reqwest::Request::new(
        http::Method::POST,
        "https://k3.kernel.prod.com/v1/tokenize".parse().unwrap(),
    );
    r.headers_mut()
        .insert("accept", "application/json".parse().unwrap());
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    *r.body_mut() = Some(reqwest::Body::from(BODY));
    r
}

fn get_request() -> reqwest::Request {
    let mut r = reqwest::Request::new(
        http::Method::GET,
        "https://us-east-1.kernel.prod.com/bin-lookup-service/?card_bin=411111"
            .parse()
            .unwrap(),
    );
    r.headers_mut()
        .insert("accept", "application/json".parse().unwrap());
    r
}

fn floor(c: &mut Criterion) {
    let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let canonical = "POST\n/v1/tokenize\n\naccept:application/json\ncontent-type:application/json\nhost:k3.kernel.prod.com\nx-amz-date:20261203T120000Z\nx-amz-security-token:FwoGZXIvYXdzEXAMPLETOKEN\n\naccept;content-type;host;x-amz-date;x-amz-security-token\n";
    c.bench_function("floor/raw_crypto", |b| {
        b.iter(|| {
            let body_hash = hex_sha256(black_box(BODY));
            let creq_hash = hex_sha256(format!("{canonical}{body_hash}").as_bytes());
            let sts = format!("AWS4-HMAC-SHA256\n20261203T120000Z\n20261203/us-east-1/execute-api/aws4_request\n{creq_hash}");
            let key = aws_sigv4::sign::v4::generate_signing_key(
                black_box(secret),
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_299_200),
                "us-east-1",
                "execute-api",
            );
            black_box(aws_sigv4::sign::v4::calculate_signature(key, sts.as_bytes()))
        })
    });
}

fn hex_sha256(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    let mut s = String::with_capacity(64);
    for b in d.iter() {
        use std::fmt::Write;
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn sign(c: &mut Criterion) {
    let identity = Identity::from(creds());
    type Build = fn() -> reqwest::Request;
    let cases: [(&str, Build); 2] = [
        ("sign/post_json", post_request),
        ("sign/get_query", get_request),
    ];
    for (name, build) in cases {
        c.bench_function(name, |b| {
            b.iter_batched(
                build,
                |mut r| {
                    kernel_core::signing::sign_request(
                        &mut r,
                        "us-east-1",
                        &identity,
                        SystemTime::now(),
                    )
                    .unwrap();
                    r
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    c.bench_function("request/build_unsigned", |b| {
        b.iter(|| black_box(post_request()))
    });
}

fn credentials(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cache = CredentialCache::new(Static, RefreshSettings::default());
    rt.block_on(cache.get()).unwrap();
    c.bench_function("credentials/get_warm", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(cache.get().await.unwrap()) })
    });
}

fn calls(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(|| async { ([("content-type", "application/json")], "{}") });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    });
    let base = format!("http://{addr}");
    let plain = reqwest::Client::new();
    let url = format!("{base}/bin-lookup-service/?card_bin=411111");
    c.bench_function("call/unsigned_reqwest", |b| {
        b.to_async(&rt).iter(|| async {
            let r = plain
                .get(&url)
                .header("accept", "application/json")
                .send()
                .await
                .unwrap();
            black_box(r.bytes().await.unwrap())
        })
    });
    let cfg = Config::builder()
        .partner("paytheory")
        .stage("prod")
        .endpoint_url(&base)
        .build()
        .unwrap();
    let client = rt
        .block_on(
            KernelClient::builder()
                .config(cfg)
                .credential_source(Static)
                .build(),
        )
        .unwrap();
    c.bench_function("call/kernel_client_signed", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                client
                    .bin_lookup("?card_bin=411111", CallOptions::new())
                    .await
                    .unwrap(),
            )
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = floor, sign, credentials, calls
}
criterion_main!(benches);
