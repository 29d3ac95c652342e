//! `kernel call` and the six service subcommands: plan (always, no network), then dry-run
//! output or the real call.

use std::time::Duration;

use http::{HeaderMap, StatusCode};
use kernel_core::call::{loggable_path, loggable_query_keys};
use kernel_core::{CallOptions, Config, KernelClient, Plan, Service, plan, plan_service};

use crate::args::{CallArgs, GlobalArgs};
use crate::failure::{Failure, redact_pans};
use crate::output::write_stdout;
use crate::{request, sandbox, settings};

/// What is called.
pub(crate) enum Target {
    /// `kernel call <prefix>`: generic defaults.
    Generic(String),
    /// A convenience subcommand: the service's defaults.
    Service(Service),
}

impl Target {
    fn plan(&self, config: &Config, endpoint: &str, opts: CallOptions) -> Result<Plan, Failure> {
        match self {
            Target::Generic(prefix) => plan(config, prefix, endpoint, opts),
            Target::Service(s) => plan_service(config, s, endpoint, opts),
        }
        .map_err(Failure::from)
    }

    async fn call(
        &self,
        client: &KernelClient,
        endpoint: &str,
        opts: CallOptions,
    ) -> Result<kernel_core::Response, kernel_core::Error> {
        match self {
            Target::Generic(prefix) => client.call(prefix, endpoint, opts).await,
            Target::Service(s) => client.call_service(s, endpoint, opts).await,
        }
    }
}

/// Response headers worth showing with `-v` (none of them carries data or secrets).
const SHOWN_RESPONSE_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "date",
    "x-amzn-requestid",
    "x-amz-apigw-id",
    "x-amzn-errortype",
    "x-amzn-trace-id",
    "retry-after",
    "location",
];

/// Runs one call (or its dry run).
pub(crate) async fn run(
    global: &GlobalArgs,
    target: Target,
    endpoint: &str,
    args: &CallArgs,
    region_in_url: Option<bool>,
) -> Result<(), Failure> {
    let opts = request::options(args, region_in_url)?;
    let vars = settings::vars(global)?;
    let config = settings::config(&vars)?;
    // Validates configuration, endpoint, headers and body before anything else happens.
    let planned = target.plan(&config, endpoint, opts.clone())?;
    if global.dry_run {
        print_plan(&config, &planned);
        return Ok(());
    }

    let (client, sandbox) = if global.sandbox {
        let sandbox = sandbox::start_for(&config).await?;
        let config = settings::config(&settings::with_gateway(vars, &sandbox.gateway_endpoint()))?;
        (sandbox::client(&sandbox, config).await?, Some(sandbox))
    } else {
        (
            KernelClient::builder()
                .config(config)
                .build()
                .await
                .map_err(Failure::from)?,
            None,
        )
    };
    if global.verbose > 0 {
        let sent = target.plan(client.config(), endpoint, opts.clone())?;
        describe_request(&sent, sandbox.is_some());
    }
    let result = target.call(&client, endpoint, opts).await;
    drop(client);
    if let Some(s) = sandbox {
        s.shutdown().await;
    }

    match result {
        Ok(resp) => {
            if global.verbose > 0 {
                describe_response(resp.status(), resp.duration(), resp.headers());
            }
            if resp.status().is_success() {
                write_stdout(resp.body())
            } else {
                // 1xx/3xx: kernel-core does not follow redirects, and only >= 400 is an error.
                if global.show_error_body {
                    write_stdout(resp.body())?;
                }
                Err(Failure::status(format!(
                    "the kernel answered HTTP {} (not a 2xx; body of {} bytes {})",
                    resp.status(),
                    resp.body().len(),
                    withheld(global.show_error_body),
                )))
            }
        }
        Err(e) => {
            if let Some(status) = e.as_status() {
                if global.verbose > 0 {
                    describe_response(status.status(), status.duration(), status.headers());
                }
                if global.show_error_body {
                    write_stdout(status.body())?;
                }
            }
            Err(Failure::from_error(e, global.show_error_body))
        }
    }
}

fn withheld(shown: bool) -> &'static str {
    if shown {
        "written to stdout"
    } else {
        "withheld; pass --show-error-body to see it"
    }
}

/// `--dry-run` output, on stdout. Header values come from `plan`, which redacts the
/// signature and the session token; the ExternalId is never shown.
pub(crate) fn print_plan(config: &Config, p: &Plan) {
    let mut out = String::new();
    let mut line = |k: &str, v: &str| {
        out.push_str(&format!("{k:<12} {v}\n"));
    };
    line("method", p.method.as_str());
    line("url", &redact_pans(p.url.as_str()));
    line("kernel env", p.kernel_env.as_str());
    line("account", p.account_id);
    line("mode", &p.mode.to_string());
    line("role", &p.role_arn);
    if config.external_id().is_some() {
        line("external id", "set from K3_EXTERNAL_ID (not shown)");
    }
    line("session", config.session_name());
    line("region", &p.region);
    line("body", &format!("{} bytes (not shown)", p.body_len));
    out.push_str("signed headers (placeholder credentials; signature and token redacted):\n");
    for (name, value) in &p.headers {
        out.push_str(&format!("  {name}: {value}\n"));
    }
    out.push_str("dry run: nothing was sent, no credentials were loaded\n");
    // Nothing useful can be done when stdout is gone.
    let _ = write_stdout(out.as_bytes());
}

/// `-v`: what is about to be sent (no query values, no header values).
fn describe_request(p: &Plan, sandbox: bool) {
    let host = match (p.url.host_str(), p.url.port()) {
        (Some(h), Some(port)) => format!("{h}:{port}"),
        (Some(h), None) => h.to_owned(),
        _ => String::new(),
    };
    let keys = loggable_query_keys(&p.url);
    let query = if keys.is_empty() {
        String::new()
    } else {
        format!(" (query parameters: {keys})")
    };
    eprintln!(
        "> {} {}://{host}{}{query}",
        p.method,
        p.url.scheme(),
        loggable_path(&p.url)
    );
    eprintln!(
        "> kernel env {}, account {}, {}, role {}, region {}{}",
        p.kernel_env,
        p.account_id,
        p.mode,
        p.role_arn,
        p.region,
        if sandbox { " (embedded sandbox)" } else { "" }
    );
}

/// `-v`: status, duration and a few safe headers.
fn describe_response(status: StatusCode, duration: Duration, headers: &HeaderMap) {
    eprintln!(
        "< HTTP {status} in {:.1} ms",
        duration.as_secs_f64() * 1000.0
    );
    for name in SHOWN_RESPONSE_HEADERS {
        for v in headers.get_all(*name) {
            let v = v.to_str().unwrap_or("<non-ascii>");
            eprintln!("< {name}: {}", redact_pans(v));
        }
    }
}
