//! `kernel demo`: the whole flow against an embedded sandbox. Both authentication modes,
//! all six services, one table.

use std::time::Instant;

use kernel_core::{CallOptions, Config, KernelClient, Resolved, Service, plan_service};
use serde_json::json;

use crate::args::GlobalArgs;
use crate::failure::{Failure, safe_line};
use crate::output::Lines;
use crate::sandbox;

const DEFAULT_PARTNER: &str = "paytheory";
const DEFAULT_STAGE: &str = "prod";

/// One demo call: service, endpoint, and the options (sandbox test inputs).
fn calls() -> Vec<(Service, &'static str, CallOptions)> {
    vec![
        (
            Service::K3,
            "v1/tokenize",
            CallOptions::new().json(&json!({
                "card_number": "4111111111111111",
                "exp_month": "12",
                "exp_year": "2030",
                "cvv": "123"
            })),
        ),
        (
            Service::PAZE,
            "decode-token",
            CallOptions::new().json(&json!({ "token": "sandbox-paze-token-7f3a9c" })),
        ),
        (
            Service::APPLE_WALLET,
            "decrypt",
            CallOptions::new().json(&json!({
                "paymentData": {
                    "version": "EC_v1",
                    "data": "c2FuZGJveC1lbmNyeXB0ZWQtcGF5bWVudC1kYXRh",
                    "signature": "c2FuZGJveC1wa2NzNy1zaWduYXR1cmU=",
                    "header": {
                        "ephemeralPublicKey": "c2FuZGJveC1lcGhlbWVyYWwta2V5",
                        "publicKeyHash": "c2FuZGJveC1wdWJsaWMta2V5LWhhc2g=",
                        "transactionId": "d3e1f2a4b5c6"
                    }
                },
                "paymentMethod": { "network": "Visa", "type": "debit" },
                "transactionIdentifier": "D3E1F2A4B5C6"
            })),
        ),
        (
            Service::GOOGLE_WALLET,
            "decrypt",
            CallOptions::new().json(&json!({
                "protocolVersion": "ECv2",
                "signature": "c2FuZGJveC1tZXNzYWdlLXNpZ25hdHVyZQ==",
                "intermediateSigningKey": {
                    "signedKey": "{\"keyValue\":\"c2FuZGJveC1rZXk=\",\"keyExpiration\":\"4102444800000\"}",
                    "signatures": ["c2FuZGJveC1rZXktc2lnbmF0dXJl"]
                },
                "signedMessage": "{\"encryptedMessage\":\"c2FuZGJveA==\",\"ephemeralPublicKey\":\"c2FuZGJveA==\",\"tag\":\"c2FuZGJveA==\"}"
            })),
        ),
        (Service::BIN_LOOKUP, "?card_bin=411111", CallOptions::new()),
        (
            Service::BANK_DATA,
            "?routing_number=021000021",
            CallOptions::new(),
        ),
    ]
}

/// One row of the table.
struct Row {
    mode: &'static str,
    subsystem: &'static str,
    method: String,
    url: String,
    real_url: String,
    status: String,
    ms: String,
    result: String,
    ok: bool,
}

/// Runs the demo; `Err` when a call failed or the STS count is not 2.
pub(crate) async fn run(global: &GlobalArgs) -> Result<(), Failure> {
    if global.dry_run {
        return Err(Failure::usage(
            "`kernel demo` has no dry run: it only talks to its own embedded sandbox",
        ));
    }
    let partner = global.partner.as_deref().unwrap_or(DEFAULT_PARTNER);
    let stage = global.stage.as_deref().unwrap_or(DEFAULT_STAGE);
    let builder = || Config::builder().partner(partner).stage(stage);
    let real_mode1 = builder().build().map_err(kernel_core::Error::from)?;
    let resolved = Resolved::new(&real_mode1);

    let sandbox = sandbox::start_for(&real_mode1).await?;
    let external_id = sandbox.config().external_id.clone();
    let real_mode2 = builder()
        .external_id(external_id.clone())
        .build()
        .map_err(kernel_core::Error::from)?;
    let sandboxed = |cfg: kernel_core::ConfigBuilder| {
        cfg.endpoint_url(sandbox.gateway_endpoint())
            .build()
            .map_err(kernel_core::Error::from)
    };
    let mode1 = sandbox::client(&sandbox, sandboxed(builder())?).await?;
    let mode2 = sandbox::client(&sandbox, sandboxed(builder().external_id(external_id))?).await?;

    let mut out = Lines::default();
    out.line(format!(
        "kernel demo: partner {partner}, stage {stage} -> kernel env {}, account {}",
        resolved.kernel_env(),
        resolved.account_id()
    ));
    out.line(format!(
        "embedded sandbox: STS {}, gateway {}",
        sandbox.sts_endpoint(),
        sandbox.gateway_endpoint()
    ));
    out.line(format!(
        "roles: mode 1 {}, mode 2 {} (ExternalId not shown)",
        Resolved::new(mode1.config()).role_arn(),
        Resolved::new(mode2.config()).role_arn()
    ));
    out.line("");
    out.flush()?;

    let mut rows = Vec::new();
    for (mode, client, real) in [
        ("mode 1", &mode1, &real_mode1),
        ("mode 2", &mode2, &real_mode2),
    ] {
        for (service, endpoint, opts) in calls() {
            rows.push(one_call(mode, client, real, &service, endpoint, opts).await);
        }
    }
    table(&mut out, &rows);

    let succeeded = rows.iter().filter(|r| r.ok).count();
    let client_sts = mode1.sts_calls() + mode2.sts_calls();
    drop((mode1, mode2));
    let counters = sandbox.counters();
    sandbox.shutdown().await;
    out.line("");
    out.line(format!(
        "{succeeded}/{} calls succeeded, STS AssumeRole calls: {client_sts} (client-side) / {} (sandbox)",
        rows.len(),
        counters.assume_role_calls
    ));
    out.line(format!(
        "gateway: {} requests verified, {} rejected",
        counters.verified_requests, counters.rejected_requests
    ));
    out.flush()?;

    let mut problems = Vec::new();
    if succeeded != rows.len() {
        problems.push(format!(
            "{} of {} calls failed",
            rows.len() - succeeded,
            rows.len()
        ));
    }
    if client_sts != 2 || counters.assume_role_calls != 2 {
        problems.push(format!(
            "expected exactly 2 STS AssumeRole calls (one per mode), saw {client_sts} client-side / {} at the sandbox",
            counters.assume_role_calls
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::status(problems.join("; ")))
    }
}

async fn one_call(
    mode: &'static str,
    client: &KernelClient,
    real: &Config,
    service: &Service,
    endpoint: &str,
    opts: CallOptions,
) -> Row {
    // Both URLs come from the same planner the client uses; no network.
    let (method, url) = match plan_service(client.config(), service, endpoint, opts.clone()) {
        Ok(p) => (p.method.to_string(), p.url.to_string()),
        Err(_) => ("?".to_owned(), "?".to_owned()),
    };
    let real_url = plan_service(real, service, endpoint, opts.clone())
        .map_or_else(|_| "?".to_owned(), |p| p.url.to_string());
    let started = Instant::now();
    let result = client.call_service(service, endpoint, opts).await;
    let elapsed = started.elapsed();
    let (status, duration, ok, result) = match result {
        Ok(resp) => {
            let (ok, note) = if !resp.status().is_success() {
                (false, "FAILED: not a 2xx answer".to_owned())
            } else if *service == Service::K3 {
                let token = resp
                    .json::<serde_json::Value>()
                    .ok()
                    .and_then(|v| v.get("token").and_then(|t| t.as_str()).map(str::len))
                    .is_some_and(|len| len > 0);
                if token {
                    (true, "token issued".to_owned())
                } else {
                    (false, "FAILED: no token in the response".to_owned())
                }
            } else {
                (true, "ok".to_owned())
            };
            (
                resp.status().as_u16().to_string(),
                resp.duration(),
                ok,
                note,
            )
        }
        Err(e) => {
            let (status, duration) = match e.as_status() {
                Some(s) => (s.status().as_u16().to_string(), s.duration()),
                None => ("-".to_owned(), elapsed),
            };
            (
                status,
                duration,
                false,
                format!("FAILED: {}", safe_line(&e.to_string())),
            )
        }
    };
    Row {
        mode,
        subsystem: service.subsystem,
        method,
        url,
        real_url,
        status,
        ms: format!("{:.1}", duration.as_secs_f64() * 1000.0),
        result,
        ok,
    }
}

fn table(out: &mut Lines, rows: &[Row]) {
    let header = [
        "MODE",
        "SERVICE",
        "METHOD",
        "SANDBOX URL",
        "STANDS FOR",
        "STATUS",
        "MS",
        "RESULT",
    ];
    let cells: Vec<[&str; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.mode,
                r.subsystem,
                &r.method,
                &r.url,
                &r.real_url,
                &r.status,
                &r.ms,
                &r.result,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let render = |row: &[&str; 8]| {
        let mut line = String::new();
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            if i == 6 {
                // Latency: right-aligned.
                line.push_str(&format!("{c:>w$}  "));
            } else if i == 7 {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}  "));
            }
        }
        line.trim_end().to_owned()
    };
    out.line(render(&header));
    for row in &cells {
        out.line(render(row));
    }
}
