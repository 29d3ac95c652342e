//! `kernel demo`: the whole flow against an embedded sandbox. Both authentication modes,
//! all six services, one table.

use std::time::Instant;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use kernel_core::typed::ServiceContext;
use kernel_core::{Config, KernelClient, Resolved, Service};

use crate::args::GlobalArgs;
use crate::failure::{Failure, safe_line};
use crate::output::Lines;
use crate::sandbox;

const DEFAULT_PARTNER: &str = "paytheory";
const DEFAULT_STAGE: &str = "prod";

/// A typed call on a context: the status and a note for the table.
type Outcome = Result<(u16, String), kernel_core::Error>;
type TypedCall = fn(ServiceContext) -> Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// The demo calls: each service's operation through its generated, typed client, with
/// sandbox test inputs. Field names and types are checked by the compiler; constrained
/// values (card number digits, month 01–12, ...) are checked before anything is sent.
fn calls() -> Vec<(Service, TypedCall)> {
    vec![
        (kernel_k3::k3::SERVICE, |ctx| {
            Box::pin(async move {
                let reply = kernel_k3::K3::from_context(ctx)
                    .tokenize()
                    .body_map(|b| {
                        b.card_number("4111111111111111")
                            .exp_month("12")
                            .exp_year("2030")
                            .cvv("123")
                    })
                    .send()
                    .await?;
                let note = if reply.token.is_empty() {
                    "FAILED: no token in the response"
                } else {
                    "token issued"
                };
                Ok((reply.status().as_u16(), note.to_owned()))
            })
        }),
        (kernel_wallets::paze::SERVICE, |ctx| {
            Box::pin(async move {
                let reply = kernel_wallets::Paze::from_context(ctx)
                    .decode_token()
                    .body_map(|b| b.token("sandbox-paze-token-7f3a9c"))
                    .send()
                    .await?;
                Ok((
                    reply.status().as_u16(),
                    format!("card ..{}", reply.decoded.card_last_four.as_str()),
                ))
            })
        }),
        (kernel_wallets::apple::SERVICE, |ctx| {
            Box::pin(async move {
                use kernel_wallets::apple::types::{ApplePayHeader, ApplePayPaymentData};
                let reply = kernel_wallets::AppleWallet::from_context(ctx)
                    .decrypt_payment_token()
                    .body_map(|b| {
                        b.payment_data(
                            ApplePayPaymentData::builder()
                                .version("EC_v1")
                                .data("c2FuZGJveC1lbmNyeXB0ZWQtcGF5bWVudC1kYXRh")
                                .signature("c2FuZGJveC1wa2NzNy1zaWduYXR1cmU=")
                                .header(
                                    ApplePayHeader::builder()
                                        .ephemeral_public_key("c2FuZGJveC1lcGhlbWVyYWwta2V5")
                                        .public_key_hash("c2FuZGJveC1wdWJsaWMta2V5LWhhc2g=")
                                        .transaction_id("d3e1f2a4b5c6"),
                                ),
                        )
                        .transaction_identifier(Some("D3E1F2A4B5C6".to_owned()))
                    })
                    .send()
                    .await?;
                Ok((
                    reply.status().as_u16(),
                    format!("card ..{}", reply.last_four.as_str()),
                ))
            })
        }),
        (kernel_wallets::google::SERVICE, |ctx| {
            Box::pin(async move {
                use kernel_wallets::google::types::{
                    IntermediateSigningKey, IntermediateSigningKeySignaturesItem,
                };
                let signature = "c2FuZGJveC1rZXktc2lnbmF0dXJl"
                    .parse::<IntermediateSigningKeySignaturesItem>()
                    .map_err(|e| kernel_core::RequestError::Parameter { why: e.to_string() })?;
                let reply = kernel_wallets::GoogleWallet::from_context(ctx)
                    .decrypt_payment_method_token()
                    .body_map(|b| {
                        b.protocol_version("ECv2")
                            .signature("c2FuZGJveC1tZXNzYWdlLXNpZ25hdHVyZQ==")
                            .intermediate_signing_key(
                                IntermediateSigningKey::builder()
                                    .signed_key(r#"{"keyValue":"c2FuZGJveC1rZXk=","keyExpiration":"4102444800000"}"#)
                                    .signatures(vec![signature]),
                            )
                            .signed_message(r#"{"encryptedMessage":"c2FuZGJveA==","ephemeralPublicKey":"c2FuZGJveA==","tag":"c2FuZGJveA=="}"#)
                    })
                    .send()
                    .await?;
                Ok((
                    reply.status().as_u16(),
                    format!("card ..{}", reply.payment_method_details.last_four.as_str()),
                ))
            })
        }),
        (kernel_binlookup::bin_lookup::SERVICE, |ctx| {
            Box::pin(async move {
                let reply = kernel_binlookup::BinLookup::from_context(ctx)
                    .lookup()
                    .card_bin("411111")
                    .send()
                    .await?;
                Ok((
                    reply.status().as_u16(),
                    format!("{} {}", reply.card_brand, reply.card_type),
                ))
            })
        }),
        (kernel_bankdata::bank_data::SERVICE, |ctx| {
            Box::pin(async move {
                let reply = kernel_bankdata::BankData::from_context(ctx)
                    .lookup_routing_number()
                    .routing_number("021000021")
                    .send()
                    .await?;
                Ok((
                    reply.status().as_u16(),
                    format!("ABA ok, {}", reply.state.as_str()),
                ))
            })
        }),
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
    // Planners: clients on the real configuration that never load credentials, so that the
    // table shows where each call would go in the real kernel.
    let planner1 = crate::typed_support::planner(real_mode1).await?;
    let planner2 = crate::typed_support::planner(real_mode2).await?;
    for (mode, client, planner) in [("mode 1", &mode1, &planner1), ("mode 2", &mode2, &planner2)] {
        for (service, call) in calls() {
            rows.push(one_call(mode, client, planner, service, call).await);
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

/// The URL a typed call goes to on `client`, from a dry run of the same call (no network).
async fn planned(client: &KernelClient, service: Service, call: TypedCall) -> (String, String) {
    let sink = Arc::new(Mutex::new(Vec::new()));
    let _ = call(ServiceContext::new(client, service).dry_run(sink.clone())).await;
    let plans = sink.lock().unwrap_or_else(|p| p.into_inner());
    match plans.first() {
        Some(p) => (p.method.to_string(), p.url.to_string()),
        None => ("?".to_owned(), "?".to_owned()),
    }
}

async fn one_call(
    mode: &'static str,
    client: &KernelClient,
    planner: &KernelClient,
    service: Service,
    call: TypedCall,
) -> Row {
    let (method, url) = planned(client, service, call).await;
    let (_, real_url) = planned(planner, service, call).await;
    let started = Instant::now();
    let result = call(ServiceContext::new(client, service)).await;
    let elapsed = started.elapsed();
    let (status, ok, result) = match result {
        Ok((status, note)) => (
            status.to_string(),
            (200..300).contains(&status) && !note.starts_with("FAILED"),
            note,
        ),
        Err(e) => (
            e.status()
                .map_or_else(|| "-".to_owned(), |s| s.as_u16().to_string()),
            false,
            format!("FAILED: {}", safe_line(&e.to_string())),
        ),
    };
    Row {
        mode,
        subsystem: service.subsystem,
        method,
        url,
        real_url,
        status,
        ms: format!("{:.1}", elapsed.as_secs_f64() * 1000.0),
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
