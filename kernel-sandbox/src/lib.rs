//! A local stand-in for the kernel, on loopback only.
//!
//! [`Sandbox::start`] binds two listeners on `127.0.0.1`:
//!
//! * an **STS endpoint** speaking the AWS query protocol (`POST /`, `Action=AssumeRole`), which
//!   verifies the SigV4 signature of the partner's base credentials, enforces the trust rules of the
//!   roles `kernel-access` (no ExternalId) and `kernel-access-external` (ExternalId required) and
//!   mints temporary credentials;
//! * a **gateway** that behaves like an API Gateway REST API with `AWS_IAM` authorization: it
//!   accepts only requests signed (service `execute-api`) with credentials minted by the STS
//!   endpoint, answers with API Gateway's error messages otherwise, and routes by the first path
//!   segment to the six kernel services (`k3`, `paze-wallet-key-service`,
//!   `apple-wallet-key-service`, `google-wallet-key-service`, `bin-lookup-service`,
//!   `bank-data-service`) plus an `echo` route that reports exactly what arrived.
//!
//! Signatures are verified with `scratchstack-aws-signature`, an implementation that shares no
//! code with the client's signer (`aws-sigv4`). Like API Gateway, the gateway canonicalises the
//! path as it was on the wire, percent-encoded once more ("double encoding").
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use kernel_sandbox::{Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! println!("AWS_ENDPOINT_URL_STS={}", sandbox.sts_endpoint());
//! println!("KERNEL_ENDPOINT_URL={}", sandbox.gateway_endpoint());
//! // ... drive the SDK against it ...
//! assert_eq!(sandbox.counters().rejected_requests, 0);
//! sandbox.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # What a gateway request must look like
//!
//! * Signed with SigV4 (`AWS4-HMAC-SHA256` in the `Authorization` header), service `execute-api`,
//!   region [`SandboxConfig::region`], with credentials minted by this sandbox's STS, and carrying
//!   their `x-amz-security-token`.
//! * Signed headers: `host` (as sent, port included) always; `x-amz-date` and
//!   `x-amz-security-token` whenever they are sent. Other headers may be signed or not.
//! * The path is canonicalised double-encoded (aws-sigv4's default `PercentEncodingMode::Double`,
//!   as API Gateway does); the query is decoded (`+` is a space), re-encoded and sorted; the body
//!   is hashed exactly as received (no `UNSIGNED-PAYLOAD`).
//! * `x-amz-date` within 5 minutes of the sandbox's clock.
//!
//! Known difference from AWS: scratchstack sorts the canonical query as `name=value` strings, not
//! by name then value, so two parameter names where one is a prefix of the other followed by `-`,
//! `.`, a digit or a `%` escape (e.g. `a` and `a1`) are refused as a signature mismatch. No kernel
//! endpoint uses such names.
//!
//! # Fault injection
//!
//! For reliability tests (retries, clock skew, credential rejection) and incident rehearsals:
//!
//! * [`Sandbox::inject`] scripts the next requests of a route with [`Fault`]s (status codes,
//!   `Retry-After`, latency, connections dropped before or after the service processed the
//!   request, token rejections); the order in which they apply is documented there;
//! * [`Sandbox::set_clock_skew`] runs the gateway's clock ahead or behind (the `x-amz-date`
//!   window and the `Date` response header; credential expiry stays on the real clock);
//! * [`Sandbox::fail_sts_next`] makes the next `n` `AssumeRole` calls fail, then STS recovers
//!   ([`Sandbox::set_sts_failure`] is the persistent variant);
//! * [`CountersSnapshot`] tells what happened: `route_requests`, `faults_applied`,
//!   `dropped_before_read`, `dropped_after_read`, `injected_responses`, `tokens_issued`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use kernel_sandbox::{Fault, Sandbox, SandboxConfig, StsFailure};
//!
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! sandbox.inject("k3", [Fault::Status(503), Fault::DropAfterRead]);
//! sandbox.set_clock_skew(600);
//! sandbox.fail_sts_next(2, StsFailure::Throttling);
//! // ... a tokenize that is retried through the 503 and then loses its answer ...
//! assert_eq!(sandbox.counters().tokens_issued, 1);
//! # Ok(())
//! # }
//! ```
//!
//! The `kernel-sandbox` binary takes the same knobs as flags: `--fault ROUTE=SPEC[,SPEC...]`
//! (repeatable; see [`Fault`] for the specs), `--clock-skew SECS` and `--sts-fail N:KIND`.
//!
//! # Hygiene
//!
//! Nothing the sandbox logs, returns in an error or prints with `Debug` contains card numbers,
//! CVVs, wallet tokens, secret keys, session tokens or `Authorization` headers. Log lines carry the
//! method, the path with query *names* only, the status and the rejection reason. Note that
//! scratchstack-aws-signature traces canonical requests (session tokens included) through the `log`
//! crate at TRACE level: if you bridge `log` into your logger, keep the target
//! `scratchstack_aws_signature` off (the `kernel-sandbox` binary does).
#![deny(missing_docs)]

mod config;
mod faults;
mod gateway;
mod server;
mod services;
mod spec_routes;
mod state;
mod sts;
mod util;
mod verify;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{KERNEL_ACCOUNT, PARTNER_ACCOUNT, QAKERNEL_ACCOUNT, SandboxConfig};
pub use faults::Fault;
pub use spec_routes::{SpecHandler, SpecRequest, check_operation_input};

use state::{Shared, lock};

/// A failure the STS endpoint can be told to answer `AssumeRole` with
/// ([`Sandbox::set_sts_failure`], [`Sandbox::fail_sts_next`]).
///
/// Its textual form (`Display` / `FromStr`, the binary's `--sts-fail N:KIND`) is `throttling`,
/// `internal` or `unavailable`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StsFailure {
    /// HTTP 400, `<Code>Throttling</Code>`, message `Rate exceeded`.
    Throttling,
    /// HTTP 500, `<Code>InternalFailure</Code>`.
    InternalError,
    /// HTTP 503, `<Code>ServiceUnavailable</Code>`.
    Unavailable,
}

/// What the sandbox has seen so far ([`Sandbox::counters`]).
///
/// Every gateway request ends exactly one way: verified and served by a route, rejected, answered
/// by an injected status, or dropped before its body was read. So, once no request is in flight,
/// `gateway_requests == verified_requests + rejected_requests + injected_responses +
/// dropped_before_read` (without faults: `verified_requests + rejected_requests`). A request
/// dropped after it was read is also counted as verified (or rejected, when its route is unknown).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    /// Every `AssumeRole` request that reached STS, whatever its outcome.
    pub assume_role_calls: u64,
    /// `AssumeRole` requests that minted credentials.
    pub assume_role_granted: u64,
    /// `AssumeRole` requests refused by the roles' trust rules (`AccessDenied`).
    pub assume_role_denied: u64,
    /// Every HTTP request that reached the gateway.
    pub gateway_requests: u64,
    /// Gateway requests whose token and signature verified and that a route served (whatever
    /// status the service answered).
    pub verified_requests: u64,
    /// Gateway requests refused (authentication, or an unknown route).
    pub rejected_requests: u64,
    /// Rejections by reason: `missing-authentication-token`, `invalid-token`, `expired-token`,
    /// `signature-mismatch`, `signature-expired`, `signature-not-yet-current`,
    /// `bad-credential-scope`, `unknown-route`, and the rarer `incomplete-signature` (malformed
    /// Authorization header), `malformed-request` (bad path/query escapes), `payload-too-large`,
    /// `internal-error`.
    pub rejections: BTreeMap<String, u64>,
    /// The last `AssumeRole` request that reached STS.
    pub last_assume_role: Option<AssumeRoleRecord>,
    /// Every request that reached the gateway, by the first segment of its path as sent on the
    /// wire (`k3`, `bin-lookup-service`, `echo`, `` for `/` …), including dropped and rejected
    /// ones. (Segments longer than 64 characters are cut, and runs of 12 or more digits are
    /// masked with `#`.)
    pub route_requests: BTreeMap<String, u64>,
    /// Requests closed by a [`Fault::DropBeforeRead`]: never processed.
    pub dropped_before_read: u64,
    /// Requests closed by a [`Fault::DropAfterRead`]: processed, never answered.
    pub dropped_after_read: u64,
    /// Scripted faults that took effect (a fault consumed by a request it does not apply to, e.g.
    /// a `Status` fault taken by a request that failed authentication, is not counted).
    pub faults_applied: u64,
    /// Requests answered by a [`Fault::Status`] or [`Fault::StatusRetryAfter`].
    pub injected_responses: u64,
    /// K3 tokens minted (`POST /k3/v1/tokenize` answered 200 by the service, whether or not the
    /// answer reached the client).
    pub tokens_issued: u64,
    /// Verified requests a spec operation refused with 400 (parameter or body invalid).
    pub invalid_requests: u64,
    /// Verified requests served by spec operation, keyed `prefix operationId`.
    pub operation_requests: BTreeMap<String, u64>,
}

/// What an `AssumeRole` request asked for. The ExternalId value itself is never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumeRoleRecord {
    /// `RoleArn` as sent (empty when absent).
    pub role_arn: String,
    /// `RoleSessionName` as sent (empty when absent).
    pub role_session_name: String,
    /// Whether an `ExternalId` parameter was sent.
    pub external_id_sent: bool,
    /// `DurationSeconds`, when sent and numeric.
    pub duration_seconds: Option<u32>,
}

/// The running servers; dropping the last reference stops them.
struct Servers {
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        // Stop accepting and ask open connections to close, then make sure the accept loops end.
        self.stop.send_replace(true);
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// A running sandbox: an STS endpoint and a gateway on `127.0.0.1`.
///
/// Cloning gives another handle to the same servers. The servers stop on [`shutdown`](Self::shutdown)
/// or when the last handle is dropped.
#[derive(Clone)]
pub struct Sandbox {
    shared: Arc<Shared>,
    servers: Arc<Servers>,
    sts_addr: SocketAddr,
    gateway_addr: SocketAddr,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("sts_endpoint", &self.sts_endpoint())
            .field("gateway_endpoint", &self.gateway_endpoint())
            .field("config", &self.shared.config)
            .finish()
    }
}

/// Resolves once `stop` turns true or its sender is gone.
pub(crate) async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

impl Sandbox {
    /// Binds both listeners on `127.0.0.1` (ports from the config, 0 = any free port) and starts
    /// serving on the current tokio runtime.
    ///
    /// # Errors
    /// `InvalidInput` when the configuration is unusable (e.g. a base secret key that is not
    /// 40 characters long), or the error of binding a listener.
    pub async fn start(config: SandboxConfig) -> std::io::Result<Sandbox> {
        config
            .validate()
            .map_err(|message| std::io::Error::new(std::io::ErrorKind::InvalidInput, message))?;
        let sts_listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.sts_port)).await?;
        let gateway_listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, config.gateway_port)).await?;
        let sts_addr = sts_listener.local_addr()?;
        let gateway_addr = gateway_listener.local_addr()?;

        let shared = Arc::new(Shared::new(config));
        let (stop, stop_rx) = watch::channel(false);

        let sts_app = Router::new()
            .fallback(sts::handle)
            .with_state(Arc::clone(&shared));
        let sts_stop = stopped(stop_rx.clone());
        let sts_task = tokio::spawn(async move {
            if let Err(e) = axum::serve(sts_listener, sts_app)
                .with_graceful_shutdown(sts_stop)
                .await
            {
                tracing::warn!(target: "kernel_sandbox", error = %e, "sts server stopped");
            }
        });
        // The gateway is served with hyper directly: the drop faults need to close a connection
        // without answering, which axum cannot do.
        let gateway_task = tokio::spawn(server::serve_gateway(
            gateway_listener,
            Arc::clone(&shared),
            stop_rx,
        ));
        tracing::debug!(target: "kernel_sandbox", %sts_addr, %gateway_addr, "sandbox started");

        Ok(Sandbox {
            shared,
            servers: Arc::new(Servers {
                stop,
                tasks: Mutex::new(vec![sts_task, gateway_task]),
            }),
            sts_addr,
            gateway_addr,
        })
    }

    /// `http://127.0.0.1:PORT` of the STS endpoint (for `AWS_ENDPOINT_URL_STS`), no trailing slash.
    pub fn sts_endpoint(&self) -> String {
        format!("http://{}", self.sts_addr)
    }

    /// `http://127.0.0.1:PORT` of the gateway (for `KERNEL_ENDPOINT_URL`), no trailing slash.
    pub fn gateway_endpoint(&self) -> String {
        format!("http://{}", self.gateway_addr)
    }

    /// The configuration the sandbox was started with (later changes made through the setters are
    /// not reflected here).
    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> CountersSnapshot {
        self.shared.counters()
    }

    /// While `Some`, every `AssumeRole` answers with that failure (after the configured latency).
    pub fn set_sts_failure(&self, failure: Option<StsFailure>) {
        self.shared.set_sts_failure(failure);
    }

    /// Delay added before each `AssumeRole` answer (default zero).
    pub fn set_sts_latency(&self, latency: Duration) {
        self.shared.set_sts_latency(latency);
    }

    /// Lifetime of credentials minted from now on: `Some(d)` overrides `DurationSeconds`, `None`
    /// honours it again (default 3600 s).
    pub fn set_credential_lifetime(&self, lifetime: Option<Duration>) {
        self.shared.set_credential_lifetime(lifetime);
    }

    /// Answers `operation_id` of the service `prefix` with `handler` (instead of the built-in
    /// behaviour or the spec's example) once the request has been verified and validated
    /// against the spec.
    ///
    /// ```no_run
    /// # async fn demo(sandbox: kernel_sandbox::Sandbox) {
    /// sandbox.register_handler("bin-lookup-service", "lookup", |req| {
    ///     (404, serde_json::json!({ "message": "BIN not found" }))
    /// });
    /// # }
    /// ```
    pub fn register_handler(
        &self,
        prefix: &str,
        operation_id: &str,
        handler: impl Fn(&SpecRequest) -> (u16, serde_json::Value) + Send + Sync + 'static,
    ) {
        self.shared
            .register_handler(prefix, operation_id, std::sync::Arc::new(handler));
    }

    /// The specs the sandbox serves: `(file, prefix, operationIds)`.
    pub fn served_operations() -> Vec<(String, String, Vec<String>)> {
        spec_routes::specs()
            .iter()
            .map(|s| {
                (
                    s.file.clone(),
                    s.meta.prefix.clone(),
                    s.operations.iter().map(|o| o.id.clone()).collect(),
                )
            })
            .collect()
    }

    /// Number of minted credentials that have not expired yet.
    pub fn minted_credentials(&self) -> usize {
        self.shared.live_minted()
    }

    /// Script the next requests to a route. `route` is a service prefix (`"k3"`,
    /// `"bin-lookup-service"`, `"echo"`, …) matched on the first path segment as sent on the wire
    /// (surrounding slashes in `route` are ignored; any segment can be scripted, even one no
    /// service serves). Faults are taken in order (FIFO), one per request; when the script is
    /// empty the route behaves normally. Calling again appends. Faults that act before
    /// authentication (`Latency`, `DropBeforeRead`, `Reject*`) are taken by the next request
    /// to arrive; faults that act after it (`Status*`, `DropAfterRead`) only by the next
    /// request that *authenticates*, so a request refused for its signature (say, during a
    /// clock-skew rehearsal) does not use them up.
    ///
    /// # Order of the gateway's steps
    ///
    /// 1. The request is counted (`gateway_requests`, `route_requests`); if the route's next
    ///    fault acts before authentication, the request takes it.
    /// 2. [`Fault::Latency`]: sleep, then carry on with the next steps as if there were no fault.
    /// 3. [`Fault::DropBeforeRead`]: close the connection; the body is not read, nothing is
    ///    answered, the request is neither authenticated nor served.
    /// 4. The body is read (over 10 MB: 413, rejected).
    /// 5. [`Fault::RejectTokenExpired`] / [`Fault::RejectTokenInvalid`]: answer the 403 *instead
    ///    of* authenticating, whatever the credentials (even none). Counted as rejected, reasons
    ///    `expired-token` / `invalid-token`, like the real refusals.
    /// 6. Authentication (unsigned: 403 `Missing Authentication Token`; unknown key or token,
    ///    expired credentials (real clock), `x-amz-date` outside 5 minutes of the gateway's
    ///    (skewed) clock, credential scope, signature). A request refused here is answered the
    ///    refusal and leaves the script alone. A request that passes, and took no fault in
    ///    step 1, now takes the route's next fault if it acts after authentication.
    /// 7. [`Fault::Status`] / [`Fault::StatusRetryAfter`]: answer the status; the service is not
    ///    reached (`injected_responses`).
    /// 8. The route and its service (unknown route: 403 `Missing Authentication Token`).
    /// 9. [`Fault::DropAfterRead`]: the service's answer (or the unknown-route refusal) is
    ///    discarded and the connection closed without a byte written (`dropped_after_read`).
    ///
    /// A dropped connection is closed without writing anything: the client sees end-of-stream
    /// (or a connection reset if request bytes were still unread), never an HTTP response.
    /// Other requests pipelined on the same connection are lost with it.
    pub fn inject(&self, route: &str, faults: impl IntoIterator<Item = Fault>) {
        self.shared.inject(route, faults);
    }

    /// Remove all scripted faults: every route's script, and the [`fail_sts_next`](Self::fail_sts_next)
    /// countdown. (The clock skew and [`set_sts_failure`](Self::set_sts_failure) are kept.)
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    /// The faults still scripted, by route (routes with an empty script are left out).
    pub fn scripted_faults(&self) -> BTreeMap<String, Vec<Fault>> {
        self.shared.scripted_faults()
    }

    /// The gateway's clock runs `offset_secs` ahead (positive) or behind (negative) the real
    /// clock (default 0; clamped to about ±100 years).
    ///
    /// The gateway uses now+offset for the ±5 min `x-amz-date` check (and for scratchstack's
    /// own window) and sends `Date:` = now+offset in every response, so a client can compute the
    /// skew from `Date`. Refusals are API Gateway's, with "now" the skewed clock:
    /// `Signature expired: {amz_date} is now earlier than {now-5min} ({now} - 5 min.)` and
    /// `Signature not yet current: {amz_date} is still later than {now+5min} ({now} + 5 min.)`,
    /// dates formatted `yyyyMMdd'T'HHmmss'Z'`.
    ///
    /// Credential expiry is still checked against the **real** clock (a deliberate choice, so
    /// skew tests isolate the signature-time check), and STS is not skewed at all.
    pub fn set_clock_skew(&self, offset_secs: i64) {
        self.shared.set_clock_skew(offset_secs);
    }

    /// The current gateway clock skew in seconds ([`set_clock_skew`](Self::set_clock_skew)).
    pub fn clock_skew(&self) -> i64 {
        self.shared.clock_skew()
    }

    /// The next `n` AssumeRole calls fail with `failure`, then STS recovers by itself ("STS
    /// throttles for a while").
    ///
    /// Calling again replaces the countdown (`n == 0` cancels it). The countdown goes first; once
    /// it is used up, a failure set with [`set_sts_failure`](Self::set_sts_failure) (if any)
    /// applies again. Failed calls still count in `assume_role_calls` and are answered after the
    /// configured STS latency, before their signature is checked.
    pub fn fail_sts_next(&self, n: u32, failure: StsFailure) {
        self.shared.fail_sts_next(n, failure);
    }

    /// What remains of the [`fail_sts_next`](Self::fail_sts_next) countdown: how many calls will
    /// still fail, and how.
    pub fn sts_failures_pending(&self) -> Option<(u32, StsFailure)> {
        self.shared.sts_fail_next()
    }

    /// Stops both servers: no new connections, open connections finish their current request
    /// (bounded by a 10 s grace period). Other handles to the same servers see them stopped.
    pub async fn shutdown(self) {
        self.servers.stop.send_replace(true);
        let tasks: Vec<JoinHandle<()>> = lock(&self.servers.tasks).drain(..).collect();
        for mut task in tasks {
            if tokio::time::timeout(Duration::from_secs(10), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_sync_and_clone() {
        fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}
        assert_send_sync_clone::<Sandbox>();
        assert_send_sync_clone::<SandboxConfig>();
        assert_send_sync_clone::<CountersSnapshot>();
    }

    #[tokio::test]
    async fn start_refuses_unusable_configs() {
        let bad_secret = SandboxConfig {
            base_secret_access_key: "sandbox/base/secret/key/not/a/real/secret".into(), // 41 chars
            ..SandboxConfig::default()
        };
        let err = Sandbox::start(bad_secret)
            .await
            .expect_err("41-char secret refused");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(!err.to_string().contains("sandbox/base/secret"), "{err}");
    }

    #[tokio::test]
    async fn endpoints_are_loopback_without_trailing_slash() {
        let sandbox = Sandbox::start(SandboxConfig::default())
            .await
            .expect("starts");
        for endpoint in [sandbox.sts_endpoint(), sandbox.gateway_endpoint()] {
            assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
            assert!(!endpoint.ends_with('/'), "{endpoint}");
        }
        assert_ne!(sandbox.sts_endpoint(), sandbox.gateway_endpoint());
        assert_eq!(sandbox.counters(), CountersSnapshot::default());
        sandbox.shutdown().await;
    }
}
