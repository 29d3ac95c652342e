//! `kernel-sandbox`: runs the local kernel (STS + verifying gateway) until Ctrl-C.

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use kernel_sandbox::{QAKERNEL_ACCOUNT, Sandbox, SandboxConfig};

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
}
