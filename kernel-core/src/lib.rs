//! # kernel-core
//!
//! The shared core of the kernel SDK. A request reads top to bottom through the modules:
//!
//! | module | job |
//! |---|---|
//! | [`config`] | environment or builder → validated [`Config`] |
//! | [`resolve`] | kernel environment, account, role ARN, base and call URLs |
//! | [`credentials`] | STS AssumeRole behind a refresh-ahead, single-flight cache |
//! | [`signing`] | SigV4 (`execute-api`) over the finished `reqwest::Request` |
//! | [`retry`] | which failures are retried, backoff, quota |
//! | `transport` | the pooled reqwest client: timeouts, no redirects, size cap |
//! | [`call`] | per-call options, the response, request assembly |
//! | [`client`] | [`KernelClient`]: ties the chain together; dry-run [`plan`] |
//! | [`error`] | one error type; no bodies or secrets in messages |
//! | [`redact`] | masking card-number-like text in printed paths and values |
//! | `observability` | one tracing span per call |
//! | [`layer`] | tower layer putting the client into request extensions |
//! | [`formats`] | checksummed value formats the generated clients check (ABA routing numbers) |
//! | [`typed`] | what the generated service clients run on ([`typed::ServiceContext`]) |
//!
//! ```no_run
//! # async fn demo() -> Result<(), kernel_core::Error> {
//! use kernel_core::{CallOptions, KernelClient};
//! let kernel = KernelClient::from_env().await?;
//! let token = kernel
//!     .k3("v1/tokenize", CallOptions::new().json(&serde_json::json!({
//!         "card_number": "4111111111111111", "exp_month": "12", "exp_year": "2030", "cvv": "123"
//!     })))
//!     .await?;
//! println!("{}", token.status());
//! # Ok(()) }
//! ```

pub mod call;
pub mod client;
pub mod config;
pub mod credentials;
pub mod error;
pub mod formats;
pub mod layer;
mod observability;
pub mod redact;
pub mod resolve;
pub mod retry;
pub mod signing;
mod transport;
pub mod typed;

pub use call::{CallOptions, Response};
pub use client::{KernelClient, KernelClientBuilder, Plan, plan, plan_service};
pub use config::{Config, ConfigBuilder};
pub use credentials::{CredentialCache, CredentialSource, RefreshSettings};
pub use error::{
    ConfigError, Error, RequestError, RetriesExhausted, StatusError, TimeoutKind, TransportError,
};
pub use layer::{KernelLayer, KernelService, kernel_client};
pub use observability::TARGET as TRACING_TARGET;
pub use resolve::{AuthMode, KernelEnv, Resolved, Service};
pub use retry::RetryPolicy;
pub use transport::Timeouts;

/// Re-exported so callers can name credential types without depending on AWS crates.
pub use aws_credential_types::Credentials;
