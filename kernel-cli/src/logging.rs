//! Logs: `tracing-subscriber` fmt on stderr.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Third-party crates whose trace/debug events describe wire traffic (request and response
/// heads and bodies, including the STS response that carries the temporary secret key and
/// session token). They are capped whatever `RUST_LOG` asks for, so that a `RUST_LOG=trace`
/// session cannot leak card data or credentials. kernel-core's own spans record what is safe.
const WIRE_LEVEL_CAPS: &[&str] = &[
    "aws_smithy_runtime=info",
    "aws_smithy_runtime_api=info",
    "aws_smithy_http=info",
    "aws_smithy_http_client=info",
    "aws_smithy_xml=info",
    "aws_smithy_query=info",
    "aws_sdk_sts=info",
    "aws_sigv4=info",
    "aws_config=info",
    "aws_credential_types=info",
    "hyper=info",
    "hyper_util=info",
    "reqwest=info",
    "h2=info",
    "rustls=info",
    "axum=info",
    "tower_http=info",
];

/// Installs the subscriber: filter from `RUST_LOG` (default `warn`, minus kernel-core's
/// per-call outcome events; `-v` → `info` for kernel_core, `-vv` → `debug`), wire-level caps
/// always applied.
pub(crate) fn init(verbose: u8) {
    let base = match std::env::var("RUST_LOG") {
        Ok(s) if !s.trim().is_empty() => s,
        _ => match verbose {
            // The outcome of each call is reported by the command itself (`error: ...`, the demo
            // table): kernel-core's per-call outcome events would only repeat it.
            0 => "warn,kernel_core::call=off".to_owned(),
            1 => "warn,kernel_core=info,kernel_cli=info".to_owned(),
            _ => "warn,kernel_core=debug,kernel_cli=debug,kernel_sandbox=debug".to_owned(),
        },
    };
    let directives = std::iter::once(base.as_str())
        .chain(WIRE_LEVEL_CAPS.iter().copied())
        .collect::<Vec<_>>()
        .join(",");
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|e| {
        eprintln!("warning: RUST_LOG is not a valid filter ({e}); using `warn`");
        EnvFilter::new(
            std::iter::once("warn")
                .chain(WIRE_LEVEL_CAPS.iter().copied())
                .collect::<Vec<_>>()
                .join(","),
        )
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
