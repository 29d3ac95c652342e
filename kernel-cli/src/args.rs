//! The command line (clap derive).

use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};

/// Call the kernel services (K3, wallet key services, BIN lookup, bank data) with SigV4 and
/// STS AssumeRole, dry-run a call, or run the whole flow against an embedded sandbox.
///
/// Configuration comes from the environment: PARTNER and STAGE (required), TARGET_REGION,
/// K3_EXTERNAL_ID (mode 2), KERNEL_ENV_OVERRIDE, KERNEL_ENDPOINT_URL[_{PREFIX}]; base AWS
/// credentials from the standard AWS chain.
///
/// Exit codes: 0 = 2xx, 1 = the kernel answered non-2xx, 2 = usage/config/input error,
/// 3 = transport or credential failure.
#[derive(Debug, Parser)]
#[command(name = "kernel", version, about, long_about)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags accepted before or after any subcommand.
#[derive(Debug, Clone, Args)]
pub(crate) struct GlobalArgs {
    /// Print the method, URL, kernel environment, account, mode, role and the headers that
    /// would be signed (signature and token redacted). No network, no AWS configuration.
    #[arg(long, global = true, conflicts_with = "sandbox")]
    pub(crate) dry_run: bool,
    /// Start an embedded sandbox (STS + verifying gateway on 127.0.0.1) playing the kernel
    /// account the configuration resolves to, and send the call there with its credentials.
    #[arg(long, global = true)]
    pub(crate) sandbox: bool,
    /// Overrides the PARTNER environment variable.
    #[arg(long, global = true, value_name = "PARTNER")]
    pub(crate) partner: Option<String>,
    /// Overrides the STAGE environment variable.
    #[arg(long, global = true, value_name = "STAGE")]
    pub(crate) stage: Option<String>,
    /// Status, duration and selected response headers on stderr; kernel_core logs at info
    /// (-vv: debug). RUST_LOG, when set, decides the log filter.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub(crate) verbose: u8,
    /// On a non-2xx answer, still write the response body to stdout (it may contain card
    /// data, so it is withheld by default).
    #[arg(long, global = true)]
    pub(crate) show_error_body: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generic call: any service prefix and endpoint (defaults: POST, region in the URL).
    Call(CallCommand),
    /// Typed subcommands, one per service and operation (generated from openapi/ into
    /// src/typed.rs), e.g. `kernel bin-lookup lookup --card-bin 411111`; each service also
    /// takes a raw endpoint, e.g. `kernel bin-lookup '?card_bin=411111'`.
    #[command(flatten)]
    Service(crate::typed::ServiceCommand),
    /// Start an embedded sandbox and call all six services in mode 1 and mode 2.
    Demo,
}

/// `kernel call`.
#[derive(Debug, Args)]
pub(crate) struct CallCommand {
    /// Service prefix, e.g. `bin-lookup-service` or `k3`.
    #[arg(value_name = "SERVICE_PREFIX")]
    pub(crate) prefix: String,
    /// Endpoint relative to the service, e.g. `v1/tokenize` or `?card_bin=411111`.
    #[arg(value_name = "ENDPOINT")]
    pub(crate) endpoint: String,
    #[command(flatten)]
    pub(crate) region: RegionArgs,
    #[command(flatten)]
    pub(crate) call: CallArgs,
}

/// Where the region goes (generic call only).
#[derive(Debug, Args)]
pub(crate) struct RegionArgs {
    /// `https://{region}.{env}.{stage}.com/{prefix}/{endpoint}` (the default).
    #[arg(long, conflicts_with = "no_region")]
    pub(crate) region_in_url: bool,
    /// `https://{prefix}.{env}.{stage}.com/{endpoint}` (like K3).
    #[arg(long)]
    pub(crate) no_region: bool,
}

impl RegionArgs {
    /// Always explicit for the generic call: region in the URL unless `--no-region`.
    pub(crate) fn region_in_url(&self) -> Option<bool> {
        Some(!self.no_region)
    }
}

/// A raw call on a service (`kernel bin-lookup '?card_bin=411111' ...`): what follows the
/// service name when it is not one of its operations. Global flags given after the
/// endpoint are accepted here too.
#[derive(Debug, Parser)]
#[command(no_binary_name = true)]
pub(crate) struct RawServiceArgs {
    /// Endpoint relative to the service, e.g. `v1/tokenize` or `?card_bin=411111`.
    #[arg(value_name = "ENDPOINT")]
    pub(crate) endpoint: String,
    #[command(flatten)]
    pub(crate) call: CallArgs,
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
}

/// Flags shared by every call.
#[derive(Debug, Args)]
pub(crate) struct CallArgs {
    /// HTTP method (default: the service's; POST for `call`).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub(crate) method: Option<String>,
    /// JSON body: inline, `@file`, or `@-` for stdin. Sent byte for byte; never printed.
    #[arg(short = 'd', long = "data", value_name = "JSON|@FILE")]
    pub(crate) data: Option<String>,
    /// Extra header, `Name: value` (repeatable). Signing headers are refused.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub(crate) headers: Vec<String>,
    /// Log subsystem (default: the service's, or the prefix).
    #[arg(long, value_name = "S")]
    pub(crate) subsystem: Option<String>,
    /// Read timeout in seconds (default 30).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub(crate) timeout: Option<Duration>,
    /// Connect timeout in seconds (default 30).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub(crate) connect_timeout: Option<Duration>,
}

/// Seconds, fractional allowed, strictly positive.
fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| "expected a number of seconds, e.g. 5 or 0.5".to_owned())?;
    if !v.is_finite() || v <= 0.0 {
        return Err("the timeout must be a positive number of seconds".to_owned());
    }
    Duration::try_from_secs_f64(v).map_err(|_| "the timeout is too large".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn secs() {
        assert_eq!(parse_secs("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_secs("0").is_err());
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("nan").is_err());
        assert!(parse_secs("x").is_err());
    }

    #[test]
    fn global_flags_anywhere() {
        // A raw endpoint: the flags after it are parsed by RawServiceArgs.
        let cli = Cli::try_parse_from(["kernel", "bin-lookup", "?card_bin=411111", "--dry-run"])
            .expect("parses");
        let Command::Service(crate::typed::ServiceCommand::BinLookup(
            crate::typed::BinLookupCommand::Raw(rest),
        )) = cli.command
        else {
            panic!("expected the raw form");
        };
        let raw = RawServiceArgs::try_parse_from(&rest).expect("parses");
        assert_eq!(raw.endpoint, "?card_bin=411111");
        assert!(raw.global.dry_run);
        // A typed operation: flags anywhere.
        let cli = Cli::try_parse_from([
            "kernel",
            "bin-lookup",
            "lookup",
            "--card-bin",
            "411111",
            "--dry-run",
        ])
        .expect("parses");
        assert!(cli.global.dry_run);
        let cli = Cli::try_parse_from(["kernel", "--sandbox", "call", "x", "y", "--no-region"])
            .expect("parses");
        assert!(cli.global.sandbox);
        assert!(Cli::try_parse_from(["kernel", "--sandbox", "--dry-run", "demo"]).is_err());
        assert!(
            Cli::try_parse_from(["kernel", "call", "x", "y", "--no-region", "--region-in-url"])
                .is_err()
        );
    }
}
