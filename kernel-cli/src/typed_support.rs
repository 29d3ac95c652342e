//! What the generated typed subcommands (`typed.rs`) call: opening a session (real, sandbox
//! or dry run), taking parameters and bodies, printing the result, and the raw form.

use std::sync::{Arc, Mutex};

use clap::Parser;
use kernel_core::credentials::LoadFuture;
use kernel_core::typed::ServiceContext;
use kernel_core::{Config, CredentialSource, KernelClient, Plan, Service};
use kernel_sandbox::Sandbox;
use progenitor_client::ResponseValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::args::{GlobalArgs, RawServiceArgs};
use crate::call::{Target, print_plan};
use crate::failure::Failure;
use crate::output::write_stdout;
use crate::{request, sandbox, settings};

/// One typed call's environment.
pub(crate) struct Session {
    context: ServiceContext,
    config: Config,
    plans: Option<Arc<Mutex<Vec<Plan>>>>,
    sandbox: Option<Sandbox>,
    show_error_body: bool,
}

/// Dry runs never load credentials: every call is planned, not sent.
struct NoCredentials;

impl CredentialSource for NoCredentials {
    fn load(&self) -> LoadFuture<'_> {
        Box::pin(async {
            Err(kernel_core::error::AssumeRoleError {
                role_arn: String::new(),
                mode: kernel_core::AuthMode::Internal,
                code: None,
                message: "dry run: no credentials are loaded".into(),
                retryable: false,
            })
        })
    }
}

/// A client that plans calls for `config` and never loads credentials (dry runs).
pub(crate) async fn planner(config: Config) -> Result<KernelClient, Failure> {
    KernelClient::builder()
        .config(config)
        .credential_source(NoCredentials)
        .build()
        .await
        .map_err(Failure::from)
}

impl Session {
    /// Configuration from the environment and flags; a client on the real kernel, on an
    /// embedded sandbox (`--sandbox`), or a planning-only one (`--dry-run`).
    pub(crate) async fn open(
        global: &GlobalArgs,
        service: Service,
        example: bool,
    ) -> Result<Session, Failure> {
        if example && !global.sandbox && !global.dry_run {
            // Spec examples hold public test card numbers: never send them to a real kernel.
            return Err(Failure::usage(
                "--example only goes with --sandbox or --dry-run (the examples are test data)",
            ));
        }
        let vars = settings::vars(global)?;
        let config = settings::config(&vars)?;
        if global.dry_run {
            let client = planner(config.clone()).await?;
            let plans = Arc::new(Mutex::new(Vec::new()));
            return Ok(Session {
                context: ServiceContext::new(&client, service).dry_run(plans.clone()),
                config,
                plans: Some(plans),
                sandbox: None,
                show_error_body: false,
            });
        }
        if global.sandbox {
            let sb = sandbox::start_for(&config).await?;
            let config = settings::config(&settings::with_gateway(vars, &sb.gateway_endpoint()))?;
            let client = sandbox::client(&sb, config.clone()).await?;
            return Ok(Session {
                context: ServiceContext::new(&client, service),
                config,
                plans: None,
                sandbox: Some(sb),
                show_error_body: global.show_error_body,
            });
        }
        let client = KernelClient::builder()
            .config(config.clone())
            .build()
            .await
            .map_err(Failure::from)?;
        Ok(Session {
            context: ServiceContext::new(&client, service),
            config,
            plans: None,
            sandbox: None,
            show_error_body: global.show_error_body,
        })
    }

    /// The context the typed client is built on.
    pub(crate) fn context(&self) -> ServiceContext {
        self.context.clone()
    }

    /// Prints the typed answer as JSON (or the plan of a dry run) and maps errors to exit
    /// codes.
    pub(crate) async fn finish<T: Serialize>(
        self,
        result: Result<ResponseValue<T>, kernel_core::Error>,
    ) -> Result<(), Failure> {
        drop(self.context);
        if let Some(sb) = self.sandbox {
            sb.shutdown().await;
        }
        if let Some(plans) = self.plans {
            let plans = plans.lock().unwrap_or_else(|p| p.into_inner());
            return match plans.first() {
                Some(p) => {
                    print_plan(&self.config, p);
                    Ok(())
                }
                None => Err(match result {
                    Err(e) => Failure::from(e),
                    Ok(_) => Failure::runtime("dry run: nothing was planned"),
                }),
            };
        }
        match result {
            Ok(reply) => {
                let mut text = serde_json::to_vec_pretty(&reply.into_inner())
                    .map_err(|_| Failure::runtime("could not print the answer as JSON"))?;
                text.push(b'\n');
                write_stdout(&text)
            }
            Err(e) => {
                if self.show_error_body
                    && let Some(status) = e.as_status()
                {
                    write_stdout(status.body())?;
                }
                Err(Failure::from_error(e, self.show_error_body))
            }
        }
    }
}

/// The value given on the command line, else the spec's example when `--example` is set.
pub(crate) fn param<T>(given: Option<T>, use_example: bool, example: Option<T>) -> Option<T> {
    match given {
        Some(v) => Some(v),
        None if use_example => example,
        None => None,
    }
}

/// The body from `--body` (inline, `@file`, `@-`), else the spec's example with
/// `--example`, as JSON. Errors give the position, never a value.
pub(crate) fn body_json(
    given: Option<&str>,
    use_example: bool,
    example: Option<&str>,
) -> Result<Option<serde_json::Value>, Failure> {
    let bytes = match (given, use_example, example) {
        (Some(b), _, _) => request::read_data_for("--body", b)?,
        (None, true, Some(e)) => e.as_bytes().to_vec(),
        _ => return Ok(None),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        Failure::usage(format!(
            "--body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// Checks the given parameters and body against the operation's spec (kernel-spec's
/// validator, through the sandbox's spec bundle): the error names the field and the rule,
/// never the value. Nothing has been built or sent yet.
pub(crate) fn check(
    prefix: &str,
    operation_id: &str,
    given: &[(&str, String)],
    body: Option<&serde_json::Value>,
) -> Result<(), Failure> {
    kernel_sandbox::check_operation_input(prefix, operation_id, given, body)
        .map_err(|why| Failure::usage(format!("invalid input: {why}")))
}

/// A parameter's text as the exact type the generated setter takes: first as a JSON
/// string (strings, constrained strings, enums), then as JSON (numbers, booleans, JSON
/// arrays), then as a comma-separated list (arrays).
pub(crate) fn convert<T: DeserializeOwned>(raw: &str, name: &str) -> Result<T, Failure> {
    use serde_json::Value;
    let as_list = || {
        Value::Array(
            raw.split(',')
                .map(|p| serde_json::from_str(p).unwrap_or_else(|_| Value::String(p.to_owned())))
                .collect(),
        )
    };
    let as_strings = || {
        Value::Array(
            raw.split(',')
                .map(|p| Value::String(p.to_owned()))
                .collect(),
        )
    };
    serde_json::from_value::<T>(Value::String(raw.to_owned()))
        .or_else(|_| serde_json::from_str::<T>(raw))
        .or_else(|_| serde_json::from_value::<T>(as_strings()))
        .or_else(|_| serde_json::from_value::<T>(as_list()))
        .map_err(|_| {
            Failure::usage(format!(
                "invalid input: {name}: not a value of the parameter's type (see --help)"
            ))
        })
}

/// The body as the operation's type (already checked against the spec).
pub(crate) fn convert_body<T: DeserializeOwned>(body: &serde_json::Value) -> Result<T, Failure> {
    serde_json::from_value::<T>(body.clone()).map_err(|e| {
        Failure::usage(format!(
            "invalid input: --body does not match the operation's schema ({:?} error; values are not shown)",
            e.classify()
        ))
    })
}

/// `kernel <service> '<ENDPOINT>' [CALL FLAGS]`: the raw call with the service's defaults.
pub(crate) async fn raw(
    global: &GlobalArgs,
    service: Service,
    args: Vec<String>,
) -> Result<(), Failure> {
    let parsed = RawServiceArgs::try_parse_from(&args)
        .map_err(|e| Failure::usage(crate::failure::redact_pans(e.render().to_string().trim())))?;
    let mut merged = global.clone();
    merged.dry_run |= parsed.global.dry_run;
    merged.sandbox |= parsed.global.sandbox;
    merged.show_error_body |= parsed.global.show_error_body;
    merged.verbose = merged.verbose.max(parsed.global.verbose);
    merged.partner = merged.partner.or(parsed.global.partner);
    merged.stage = merged.stage.or(parsed.global.stage);
    if merged.dry_run && merged.sandbox {
        return Err(Failure::usage(
            "--dry-run and --sandbox cannot be used together",
        ));
    }
    crate::call::run(
        &merged,
        Target::Service(service),
        &parsed.endpoint,
        &parsed.call,
        None,
    )
    .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::convert;

    #[test]
    fn parameters_convert_to_the_setters_types() {
        assert_eq!(convert::<String>("7", "p").unwrap(), "7");
        assert_eq!(convert::<u64>("7", "p").unwrap(), 7);
        assert_eq!(convert::<std::num::NonZeroU64>("3", "p").unwrap().get(), 3);
        assert!(convert::<std::num::NonZeroU64>("0", "p").is_err());
        assert_eq!(convert::<f64>("1.25", "p").unwrap(), 1.25);
        assert!(convert::<bool>("true", "p").unwrap());
        assert_eq!(convert::<Vec<String>>("a,b", "p").unwrap(), ["a", "b"]);
        assert_eq!(convert::<Vec<String>>("1,2", "p").unwrap(), ["1", "2"]);
        assert_eq!(convert::<Vec<String>>("true", "p").unwrap(), ["true"]);
        assert_eq!(convert::<Vec<i64>>("1,2", "p").unwrap(), [1, 2]);
        assert_eq!(convert::<Vec<i64>>("[1,2]", "p").unwrap(), [1, 2]);
        let e = convert::<u64>("4111111111111111x", "limit").unwrap_err();
        assert!(
            e.message.contains("limit") && !e.message.contains("4111"),
            "{}",
            e.message
        );
    }
}
