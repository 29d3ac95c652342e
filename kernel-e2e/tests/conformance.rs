//! The sandbox's built-in services answer what the specs promise: every operation, called
//! with its spec example through a plain kernel-core call, answers 2xx with a body that
//! validates against the spec's success schema (kernel-spec's validator), and each error
//! answer has the spec's `{ "message" }` shape.

use std::path::Path;

use kernel_core::{CallOptions, Service};
use kernel_e2e::{client, sandbox};
use kernel_spec::ParameterLocation;
use kernel_spec::schema::validate;
use serde_json::Value;

#[tokio::test]
async fn built_in_services_answer_as_the_specs_say() {
    let specs = kernel_spec::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi"))
        .expect("specs load");
    let sandbox = sandbox().await;
    let kernel = client(&sandbox, false).await;
    let mut checked = 0;
    for spec in &specs {
        let meta = spec.meta.as_ref().expect("x-kernel");
        let service = Service {
            prefix: Box::leak(meta.prefix.clone().into_boxed_str()),
            region_in_url: meta.region_in_url,
            default_method: kernel_core::resolve::DefaultMethod::Post,
            subsystem: Box::leak(meta.subsystem.clone().into_boxed_str()),
        };
        for op in kernel_spec::operations(&spec.doc) {
            let mut path = op.path.clone();
            let mut query = Vec::new();
            for p in &op.parameters {
                let example = match p.example.as_ref().expect("policy: examples") {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                match p.location {
                    ParameterLocation::Path => {
                        path = path.replace(&format!("{{{}}}", p.name), &example)
                    }
                    ParameterLocation::Query => query.push(format!("{}={example}", p.name)),
                    ParameterLocation::Header => {}
                }
            }
            let mut endpoint = path.trim_start_matches('/').to_owned();
            if !query.is_empty() {
                endpoint = format!("{endpoint}?{}", query.join("&"));
            }
            let mut opts = CallOptions::new().method(op.method.parse().expect("method"));
            if let Some(body) = op.body.as_ref().and_then(|b| b.example.as_ref()) {
                opts = opts.json(body);
            }
            let reply = kernel
                .call_service(&service, &endpoint, opts)
                .await
                .unwrap_or_else(|e| panic!("{} {}: {e}", spec.name, op.label()));
            let success = op.success().expect("a 2xx");
            assert_eq!(reply.status().as_str(), success.status, "{}", op.label());
            let body: Value = reply.json().expect("JSON");
            validate(&spec.doc, success.schema.as_ref().expect("schema"), &body).unwrap_or_else(
                |v| {
                    panic!(
                        "{} {}: the sandbox's answer breaks the spec: {v}",
                        spec.name,
                        op.label()
                    )
                },
            );
            checked += 1;
        }
    }
    let served: Vec<&str> = specs
        .iter()
        .filter_map(|s| s.meta.as_ref().map(|m| m.prefix.as_str()))
        .collect();
    for built_in in Service::ALL {
        assert!(
            served.contains(&built_in.prefix),
            "{}: no spec in openapi/",
            built_in.prefix
        );
    }
    assert!(
        checked >= Service::ALL.len(),
        "at least one operation per service"
    );
    // Error answers: a 404 and a 400 have the spec's error shape.
    let e = kernel
        .bin_lookup("?card_bin=999999", CallOptions::new())
        .await
        .expect_err("404");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(404));
    assert!(e.as_status().and_then(|s| s.message()).is_some());
}
