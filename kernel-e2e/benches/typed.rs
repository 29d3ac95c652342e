//! What a generated, typed call costs on top of the raw kernel-core call it runs on:
//! progenitor's request building, newtype validation, the hand-over to kernel-core
//! (`ServiceContext::execute`), the response's round trip through `reqwest::Response` and
//! typed decoding. Both hit the same loopback server answering a BIN record, with static
//! credentials (signing included in both). Run: `cargo bench -p kernel-e2e --bench typed`;
//! results in BENCHMARKS.md.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use kernel_core::credentials::{CredentialSource, LoadFuture};
use kernel_core::{CallOptions, Config, Credentials, KernelClient};

const BIN: &str = r#"{"card_bin":"411111","card_brand":"VISA","card_type":"CREDIT","card_level":"CLASSIC","bank_name":"SANDBOX TEST BANK","country":"US"}"#;

struct Static;
impl CredentialSource for Static {
    fn load(&self) -> LoadFuture<'_> {
        Box::pin(async {
            Ok(Credentials::new(
                "ASIAEXAMPLEEXAMPLE01",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                Some("FwoGZXIvYXdzEXAMPLETOKEN".repeat(20)),
                Some(SystemTime::now() + Duration::from_secs(3600)),
                "bench",
            ))
        })
    }
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
            .fallback(|| async { ([("content-type", "application/json")], BIN) });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    });
    let cfg = Config::builder()
        .partner("paytheory")
        .stage("prod")
        .endpoint_url(format!("http://{addr}"))
        .build()
        .unwrap();
    let kernel = rt
        .block_on(
            KernelClient::builder()
                .config(cfg)
                .credential_source(Static)
                .build(),
        )
        .unwrap();
    c.bench_function("bin_lookup/raw_call_json", |b| {
        b.to_async(&rt).iter(|| async {
            let r = kernel
                .bin_lookup("?card_bin=411111", CallOptions::new())
                .await
                .unwrap();
            black_box(r.json::<kernel_binlookup::types::BinInfo>().unwrap())
        })
    });
    let typed = kernel_binlookup::BinLookup::new(&kernel);
    c.bench_function("bin_lookup/typed_client", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(typed.lookup().card_bin("411111").send().await.unwrap()) })
    });
    c.bench_function("bin_lookup/typed_client_built_per_call", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                kernel_binlookup::BinLookup::new(&kernel)
                    .lookup()
                    .card_bin("411111")
                    .send()
                    .await
                    .unwrap(),
            )
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = calls
}
criterion_main!(benches);
