//! `kernel`: the command-line face of the kernel SDK.
//!
//! ```text
//! kernel [--dry-run | --sandbox] [--partner P] [--stage S] [-v] <COMMAND>
//!   call <PREFIX> <ENDPOINT> [--region-in-url | --no-region] [CALL FLAGS]
//!   k3 | paze | apple-wallet | google-wallet | bin-lookup | bank-data
//!       <OPERATION> [--PARAM VALUE]... [--body JSON|@FILE] [--example]   (typed, src/typed.rs)
//!       <ENDPOINT> [CALL FLAGS]                                          (raw)
//!   demo
//! CALL FLAGS: -X METHOD, -d JSON | -d @file | -d @-, -H 'Name: value'..., --subsystem S,
//!             --timeout SECS, --connect-timeout SECS, --show-error-body
//! ```
//!
//! Exit codes: 0 the kernel answered 2xx; 1 it answered something else; 2 usage, configuration
//! or input error (nothing was sent); 3 transport or credential failure.
//!
//! Nothing this command prints contains a request body, a secret key, a session token, an
//! `Authorization` header or the ExternalId; error lines additionally have long digit runs
//! (possible card numbers) redacted. The one exception is the response body of a successful
//! call, which goes to stdout byte for byte because that is what the caller asked for.

mod args;
mod call;
mod demo;
mod failure;
mod logging;
mod output;
mod request;
mod sandbox;
mod settings;
mod typed;
mod typed_support;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::call::Target;
use crate::failure::{Failure, redact_pans};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    logging::init(cli.global.verbose);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report();
            ExitCode::from(failure.code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let global = &cli.global;
    match cli.command {
        Command::Call(c) => {
            let region = c.region.region_in_url();
            call::run(
                global,
                Target::Generic(c.prefix),
                &c.endpoint,
                &c.call,
                region,
            )
            .await
        }
        Command::Service(c) => typed::run(global, c).await,
        Command::Demo => demo::run(global).await,
    }
}

/// Prints a clap error (or help/version) and returns its exit code. Usage errors quote the
/// offending argument, which could be a mistyped card number: long digit runs are redacted.
fn clap_exit(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // Help text is ours; print it as clap would.
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(failure::USAGE)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            eprint!("{}", redact_pans(&e.render().to_string()));
            ExitCode::from(failure::USAGE)
        }
    }
}
