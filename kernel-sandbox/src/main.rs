//! `kernel-sandbox`: runs the local kernel (STS + verifying gateway) until Ctrl-C.

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use kernel_sandbox::{Fault, QAKERNEL_ACCOUNT, Sandbox, SandboxConfig, StsFailure};

/// A local kernel on 127.0.0.1: STS AssumeRole and a SigV4-verifying API Gateway stand-in.
#[derive(Debug, Parser)]
#[command(name = "kernel-sandbox", version, about)]
struct Args {
    /// Account that owns the roles kernel-access / kernel-access-external
    /// (075149869707 = kernel, 058264189048 = qakernel).
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// SigV4 region expected for sts and execute-api.
    #[arg(long, value_name = "R")]
    region: Option<String>,
    /// ExternalId required by kernel-access-external.
    #[arg(long, value_name = "X")]
    external_id: Option<String>,
    /// Port of the STS endpoint (0 = any free port).
    #[arg(long, value_name = "P", default_value_t = 0)]
    sts_port: u16,
    /// Port of the gateway (0 = any free port).
    #[arg(long, value_name = "P", default_value_t = 0)]
    gateway_port: u16,
    /// Lifetime of minted credentials in seconds, whatever DurationSeconds asks.
    #[arg(long, value_name = "SECS")]
    credential_lifetime: Option<u64>,
    /// Script the next requests to a route (first path segment, e.g. k3, bin-lookup-service,
    /// echo), one fault per request, in order; repeatable. SPEC: 503 (any status 200-599),
    /// 429:retry-after=2, latency=1500ms, latency=2s, drop-before-read, drop-after-read,
    /// token-expired, token-invalid.
    #[arg(long = "fault", value_name = "ROUTE=SPEC[,SPEC...]")]
    faults: Vec<String>,
    /// Run the gateway's clock SECS ahead (negative: behind) of the real clock: x-amz-date
    /// checks and Date headers use it.
    #[arg(long, value_name = "SECS", allow_hyphen_values = true)]
    clock_skew: Option<String>,
    /// The next N AssumeRole calls fail (throttling, internal or unavailable), then STS recovers.
    #[arg(long, value_name = "N:KIND")]
    sts_fail: Option<String>,
}

/// Route prefixes some service answers under.
const KNOWN_ROUTES: &[&str] = &[
    "k3",
    "paze-wallet-key-service",
    "apple-wallet-key-service",
    "google-wallet-key-service",
    "bin-lookup-service",
    "bank-data-service",
    "echo",
];

/// The fault flags, parsed.
#[derive(Debug, Default, PartialEq, Eq)]
struct FaultPlan {
    faults: Vec<(String, Vec<Fault>)>,
    clock_skew: Option<i64>,
    sts_fail: Option<(u32, StsFailure)>,
}

impl FaultPlan {
    /// Parses the fault flags; the error is a one-line message.
    fn parse(
        faults: &[String],
        clock_skew: Option<&str>,
        sts_fail: Option<&str>,
    ) -> Result<Self, String> {
        Ok(Self {
            faults: faults
                .iter()
                .map(|raw| parse_fault_flag(raw))
                .collect::<Result<_, _>>()?,
            clock_skew: clock_skew.map(parse_clock_skew).transpose()?,
            sts_fail: sts_fail.map(parse_sts_fail).transpose()?,
        })
    }

    fn apply(&self, sandbox: &Sandbox) {
        for (route, faults) in &self.faults {
            sandbox.inject(route, faults.iter().cloned());
        }
        if let Some(skew) = self.clock_skew {
            sandbox.set_clock_skew(skew);
        }
        if let Some((n, failure)) = self.sts_fail {
            sandbox.fail_sts_next(n, failure);
        }
    }
}

/// `ROUTE=SPEC[,SPEC...]`.
fn parse_fault_flag(raw: &str) -> Result<(String, Vec<Fault>), String> {
    let (route, specs) = raw
        .split_once('=')
        .ok_or_else(|| format!("--fault '{raw}': expected ROUTE=SPEC[,SPEC...]"))?;
    let route = route.trim().trim_matches('/');
    if route.is_empty() || route.contains(['/', ' ', '?', '#']) {
        return Err(format!(
            "--fault '{raw}': ROUTE must be one path segment, e.g. k3 or bin-lookup-service"
        ));
    }
    let faults = specs
        .split(',')
        .map(|spec| spec.parse::<Fault>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--fault '{raw}': {e}"))?;
    Ok((route.to_owned(), faults))
}

fn parse_clock_skew(raw: &str) -> Result<i64, String> {
    raw.trim().parse().map_err(|_| {
        format!("--clock-skew '{raw}': expected a whole number of seconds, e.g. 600 or -600")
    })
}

/// `N:KIND`.
fn parse_sts_fail(raw: &str) -> Result<(u32, StsFailure), String> {
    let (n, kind) = raw
        .split_once(':')
        .ok_or_else(|| format!("--sts-fail '{raw}': expected N:throttling|internal|unavailable"))?;
    let n: u32 = n
        .trim()
        .parse()
        .map_err(|_| format!("--sts-fail '{raw}': N must be a non-negative whole number"))?;
    let failure = kind
        .parse::<StsFailure>()
        .map_err(|e| format!("--sts-fail '{raw}': {e}"))?;
    Ok((n, failure))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
                // scratchstack traces canonical requests (session tokens included) through the
                // `log` crate; never let them through, whatever RUST_LOG says.
                .add_directive(
                    "scratchstack_aws_signature=off"
                        .parse()
                        .context("static log directive")?,
                ),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let args = Args::parse();
    let plan = match FaultPlan::parse(
        &args.faults,
        args.clock_skew.as_deref(),
        args.sts_fail.as_deref(),
    ) {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    for (route, _) in &plan.faults {
        if !KNOWN_ROUTES.contains(&route.as_str()) {
            eprintln!(
                "warning: --fault {route}=…: no service is served under /{route}/ (known: {})",
                KNOWN_ROUTES.join(", ")
            );
        }
    }
    let defaults = SandboxConfig::default();
    let config = SandboxConfig {
        kernel_account: args.account.unwrap_or(defaults.kernel_account),
        region: args.region.unwrap_or(defaults.region),
        external_id: args.external_id.unwrap_or(defaults.external_id),
        credential_lifetime: args.credential_lifetime.map(Duration::from_secs),
        sts_port: args.sts_port,
        gateway_port: args.gateway_port,
        ..defaults
    };
    let sandbox = Sandbox::start(config)
        .await
        .context("starting the sandbox")?;
    plan.apply(&sandbox);
    print_banner(&sandbox);

    wait_for_stop_signal().await?;
    eprintln!("stopping…");
    sandbox.shutdown().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix.
async fn wait_for_stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}

fn print_banner(sandbox: &Sandbox) {
    let c = sandbox.config();
    let qa = c.kernel_account == QAKERNEL_ACCOUNT;
    println!(
        "# kernel-sandbox is running (Ctrl-C to stop); one log line per request goes to stderr"
    );
    println!("#   STS      {}", sandbox.sts_endpoint());
    println!("#   gateway  {}", sandbox.gateway_endpoint());
    println!("#   roles    {}  (mode 1, no ExternalId)", c.role_arn());
    println!(
        "#            {}  (mode 2, ExternalId required)",
        c.external_role_arn()
    );
    println!("# sandbox-only base credentials; not a real AWS secret");
    println!("export AWS_ENDPOINT_URL_STS={}", sandbox.sts_endpoint());
    println!("export KERNEL_ENDPOINT_URL={}", sandbox.gateway_endpoint());
    println!("export AWS_ACCESS_KEY_ID={}", c.base_access_key_id);
    println!(
        "export AWS_SECRET_ACCESS_KEY='{}'",
        c.base_secret_access_key
    );
    println!("unset AWS_SESSION_TOKEN AWS_PROFILE");
    println!("export AWS_REGION={} TARGET_REGION={}", c.region, c.region);
    if qa {
        println!("export PARTNER=sandbox STAGE=dev KERNEL_ENV_OVERRIDE=qakernel");
    } else {
        println!("export PARTNER=sandbox STAGE=dev KERNEL_ENV_OVERRIDE=kernel");
    }
    println!("# mode 2 (external partner role):");
    println!("# export K3_EXTERNAL_ID='{}'", c.external_id);
    for line in fault_lines(sandbox) {
        println!("{line}");
    }
}

/// The active fault script, as banner lines.
fn fault_lines(sandbox: &Sandbox) -> Vec<String> {
    let mut lines = Vec::new();
    let scripts = sandbox.scripted_faults();
    if scripts.is_empty() {
        lines.push("# faults   none scripted".to_owned());
    }
    for (i, (route, faults)) in scripts.iter().enumerate() {
        let specs: Vec<String> = faults.iter().map(Fault::to_string).collect();
        lines.push(format!(
            "# {}/{route}: next {} request(s): {}",
            if i == 0 { "faults   " } else { "         " },
            faults.len(),
            specs.join(", ")
        ));
    }
    match sandbox.clock_skew() {
        0 => {}
        skew if skew > 0 => lines.push(format!(
            "# clock    gateway clock {skew} s AHEAD of real time (x-amz-date window, Date headers)"
        )),
        skew => lines.push(format!(
            "# clock    gateway clock {} s BEHIND real time (x-amz-date window, Date headers)",
            skew.unsigned_abs()
        )),
    }
    if let Some((n, failure)) = sandbox.sts_failures_pending() {
        lines.push(format!(
            "# sts      the next {n} AssumeRole call(s) fail with {failure}, then STS recovers"
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(faults: &[&str]) -> Vec<String> {
        faults.iter().map(|f| (*f).to_owned()).collect()
    }

    #[test]
    fn fault_flags_parse() {
        let plan = FaultPlan::parse(
            &flags(&[
                "k3=503,503",
                "bin-lookup-service=latency=2s",
                "/echo/=429:retry-after=2,drop-before-read,drop-after-read,token-expired,token-invalid,latency=1500ms",
            ]),
            Some("-600"),
            Some("2:throttling"),
        )
        .expect("valid flags");
        assert_eq!(
            plan,
            FaultPlan {
                faults: vec![
                    ("k3".into(), vec![Fault::Status(503), Fault::Status(503)]),
                    (
                        "bin-lookup-service".into(),
                        vec![Fault::Latency(Duration::from_secs(2))]
                    ),
                    (
                        "echo".into(),
                        vec![
                            Fault::StatusRetryAfter(429, 2),
                            Fault::DropBeforeRead,
                            Fault::DropAfterRead,
                            Fault::RejectTokenExpired,
                            Fault::RejectTokenInvalid,
                            Fault::Latency(Duration::from_millis(1500)),
                        ]
                    ),
                ],
                clock_skew: Some(-600),
                sts_fail: Some((2, StsFailure::Throttling)),
            }
        );
        assert_eq!(
            FaultPlan::parse(&[], Some("600"), Some("1:unavailable")),
            Ok(FaultPlan {
                faults: vec![],
                clock_skew: Some(600),
                sts_fail: Some((1, StsFailure::Unavailable)),
            })
        );
        assert_eq!(
            parse_sts_fail("3:internal"),
            Ok((3, StsFailure::InternalError))
        );
    }

    #[test]
    fn bad_flags_are_one_line_errors() {
        let bad_faults = [
            "k3",
            "=503",
            "k3=",
            "k3=503,,503",
            "k3=5o3",
            "k3=latency=2",
            "a/b=503",
            "k3=429:retry-after=x",
        ];
        for bad in bad_faults {
            let err = FaultPlan::parse(&flags(&[bad]), None, None).expect_err(bad);
            assert!(err.starts_with("--fault '"), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
        for bad in ["", "ten", "1.5", "+-3"] {
            let err = FaultPlan::parse(&[], Some(bad), None).expect_err(bad);
            assert!(err.starts_with("--clock-skew '"), "{err}");
        }
        for bad in ["2", "x:throttling", "-1:throttling", "2:slow", "2:"] {
            let err = FaultPlan::parse(&[], None, Some(bad)).expect_err(bad);
            assert!(err.starts_with("--sts-fail '"), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn clap_accepts_the_documented_examples() {
        let args = Args::try_parse_from([
            "kernel-sandbox",
            "--fault",
            "k3=503,503",
            "--fault",
            "bin-lookup-service=latency=2s",
            "--clock-skew",
            "-600",
            "--sts-fail",
            "2:throttling",
        ])
        .expect("parses");
        assert_eq!(
            args.faults,
            flags(&["k3=503,503", "bin-lookup-service=latency=2s"])
        );
        assert_eq!(args.clock_skew.as_deref(), Some("-600"));
        assert_eq!(args.sts_fail.as_deref(), Some("2:throttling"));
    }

    #[tokio::test]
    async fn banner_lists_the_active_script() {
        let sandbox = Sandbox::start(SandboxConfig::default())
            .await
            .expect("starts");
        assert_eq!(fault_lines(&sandbox), vec!["# faults   none scripted"]);
        FaultPlan::parse(
            &flags(&["k3=503,drop-after-read", "echo=latency=2s"]),
            Some("600"),
            Some("2:throttling"),
        )
        .expect("valid")
        .apply(&sandbox);
        assert_eq!(
            fault_lines(&sandbox),
            vec![
                "# faults   /echo: next 1 request(s): latency=2s",
                "#          /k3: next 2 request(s): 503, drop-after-read",
                "# clock    gateway clock 600 s AHEAD of real time (x-amz-date window, Date headers)",
                "# sts      the next 2 AssumeRole call(s) fail with throttling, then STS recovers",
            ]
        );
        sandbox.shutdown().await;
    }
}
