//! [`KernelClient`]: the one object a service holds. It ties the chain together —
//! config → resolve → credentials → signing → transport → response — and is a cheap
//! `Clone + Send + Sync` handle over shared state (one connection pool, one credential
//! cache), meant to be built once per process and shared across tasks.

use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_types::timeout::TimeoutConfig;
use http::Method;
use tracing::Instrument;
use url::Url;

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::call::{CallOptions, Prepared, Response, prepare};
use crate::config::{Config, is_loopback_host};
use crate::credentials::{
    AssumeRoleSource, CachedCredentials, CredentialCache, CredentialSource, LoadFuture,
    RefreshSettings,
};
use crate::error::{
    ConfigError, Error, RetriesExhausted, StatusError, TimeoutKind, TransportError,
};
use crate::observability::{call_span, record_failure, record_success};
use crate::resolve::{AuthMode, KernelEnv, Resolved, Service};
use crate::retry::{Failure, RetryPolicy, RetryQuota, is_idempotent, retry_after};
use crate::signing::sign_request;
use crate::transport::{Timeouts, Transport};

struct Inner {
    config: Config,
    resolved: Resolved,
    credentials: CredentialCache,
    transport: Transport,
    retry: RetryPolicy,
    quota: RetryQuota,
    /// Gateway clock minus local clock, learnt from clock-skew rejections.
    clock_offset_ms: AtomicI64,
}

/// The kernel client. Build it once (it holds the connection pool and the credential
/// cache) and clone it freely.
///
/// ```no_run
/// # async fn demo() -> Result<(), kernel_core::Error> {
/// use kernel_core::{CallOptions, KernelClient};
/// let kernel = KernelClient::from_env().await?; // PARTNER, STAGE, ... (see README)
/// let bin = kernel.bin_lookup("?card_bin=411111", CallOptions::new()).await?;
/// let info: serde_json::Value = bin.json()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct KernelClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for KernelClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KernelClient")
            .field("config", &self.inner.config)
            .field("resolved", &self.inner.resolved)
            .finish_non_exhaustive()
    }
}

impl KernelClient {
    /// Configuration from the environment, base credentials from the standard AWS chain.
    pub async fn from_env() -> Result<KernelClient, Error> {
        KernelClient::builder().build().await
    }

    /// A builder for everything that is not taken from the environment.
    pub fn builder() -> KernelClientBuilder {
        KernelClientBuilder::default()
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }
    /// Kernel environment, account, mode and role.
    pub fn resolved(&self) -> &Resolved {
        &self.inner.resolved
    }
    /// The credential cache (e.g. to invalidate credentials a service rejected).
    pub fn credentials(&self) -> &CredentialCache {
        &self.inner.credentials
    }
    /// How many AssumeRole calls this client has made.
    pub fn sts_calls(&self) -> u64 {
        self.inner.credentials.loads()
    }

    /// The generic call: any service prefix, any endpoint. Defaults: POST, region in the
    /// URL, subsystem = prefix, the client's timeouts.
    pub async fn call(
        &self,
        prefix: &str,
        endpoint: &str,
        options: CallOptions,
    ) -> Result<Response, Error> {
        self.execute(prefix, endpoint, options).await
    }

    /// A call with a service's defaults (method, region-in-URL, subsystem).
    pub async fn call_service(
        &self,
        service: &Service,
        endpoint: &str,
        options: CallOptions,
    ) -> Result<Response, Error> {
        self.execute(
            service.prefix,
            endpoint,
            options.with_service_defaults(service),
        )
        .await
    }

    /// K3 (card tokenization): POST, no region in the URL.
    pub async fn k3(&self, endpoint: &str, options: CallOptions) -> Result<Response, Error> {
        self.call_service(&Service::K3, endpoint, options).await
    }
    /// Paze wallet key service: POST.
    pub async fn paze(&self, endpoint: &str, options: CallOptions) -> Result<Response, Error> {
        self.call_service(&Service::PAZE, endpoint, options).await
    }
    /// Apple Pay wallet key service: POST.
    pub async fn apple_wallet(
        &self,
        endpoint: &str,
        options: CallOptions,
    ) -> Result<Response, Error> {
        self.call_service(&Service::APPLE_WALLET, endpoint, options)
            .await
    }
    /// Google Pay wallet key service: POST.
    pub async fn google_wallet(
        &self,
        endpoint: &str,
        options: CallOptions,
    ) -> Result<Response, Error> {
        self.call_service(&Service::GOOGLE_WALLET, endpoint, options)
            .await
    }
    /// BIN lookup: GET.
    pub async fn bin_lookup(
        &self,
        endpoint: &str,
        options: CallOptions,
    ) -> Result<Response, Error> {
        self.call_service(&Service::BIN_LOOKUP, endpoint, options)
            .await
    }
    /// Bank data: GET.
    pub async fn bank_data(&self, endpoint: &str, options: CallOptions) -> Result<Response, Error> {
        self.call_service(&Service::BANK_DATA, endpoint, options)
            .await
    }

    async fn execute(
        &self,
        prefix: &str,
        endpoint: &str,
        options: CallOptions,
    ) -> Result<Response, Error> {
        let started = Instant::now();
        let inner = &*self.inner;
        // Validation happens before any credential lookup or network traffic.
        let prepared = prepare(&inner.config, &inner.resolved, prefix, endpoint, options)?;
        self.run(prefix, prepared, started).await
    }

    /// Runs a request that is already assembled (a generated client's): the same checks
    /// on where it goes, then the same attempts, signing, retries, tracing and errors as
    /// every other call. Used by [`crate::typed`].
    pub(crate) async fn execute_request(
        &self,
        service: &Service,
        base: &Url,
        request: reqwest::Request,
        options: &CallOptions,
    ) -> Result<Response, Error> {
        let started = Instant::now();
        let prepared = crate::call::adopt(base, service, request, options)?;
        self.run(service.prefix, prepared, started).await
    }

    async fn run(
        &self,
        prefix: &str,
        prepared: Prepared,
        started: Instant,
    ) -> Result<Response, Error> {
        let inner = &*self.inner;
        let span = call_span(
            prefix,
            &prepared.subsystem,
            prepared.request.method(),
            prepared.request.url(),
        );
        let deadline = prepared.deadline.unwrap_or(inner.config.deadline);
        let attempts = self
            .attempts(prefix, &prepared, started)
            .instrument(span.clone());
        let result = match tokio::time::timeout(deadline, attempts).await {
            Ok(r) => r,
            Err(_) => Err(Error::from(TransportError::Timeout {
                service: prefix.to_owned(),
                // Computed only here, off the success path.
                host: crate::transport::host_of(prepared.request.url()),
                kind: TimeoutKind::Deadline,
                after: deadline,
            })),
        };
        match &result {
            Ok(r) => record_success(&span, r.status.as_u16(), r.duration),
            Err(e) => record_failure(&span, e, started.elapsed()),
        }
        result
    }

    /// The pooled reqwest client with the client's default timeouts (generated clients are
    /// built on it, so nothing replaces the connect/read timeouts configured here).
    pub(crate) fn reqwest_client(&self) -> reqwest::Client {
        self.inner.transport.default_client()
    }

    /// The attempt loop: sign afresh, send, classify, maybe correct (clock, credentials)
    /// or back off and retry. See [`crate::retry`] for the rules.
    async fn attempts(
        &self,
        prefix: &str,
        prepared: &Prepared,
        started: Instant,
    ) -> Result<Response, Error> {
        let inner = &*self.inner;
        let defaults = inner.transport.default_timeouts();
        let timeouts = Timeouts {
            connect: prepared.connect_timeout.unwrap_or(defaults.connect),
            read: prepared.read_timeout.unwrap_or(defaults.read),
        };
        let policy = prepared.retry.unwrap_or(inner.retry);
        let method = prepared.request.method().clone();
        let repeat_safe = prepared.idempotent || is_idempotent(&method);
        let mut history: Vec<String> = Vec::new();
        let mut quota_taken = 0u32;
        let mut retries = 0u32;
        let mut clock_corrected = false;
        let mut credentials_replaced = false;
        loop {
            let Some(mut request) = prepared.request.try_clone() else {
                // Bodies are always buffered bytes, so this cannot happen; refuse rather
                // than send something unsigned.
                return Err(Error::Signing {
                    reason: "the request body cannot be replayed".into(),
                });
            };
            let creds = match inner.credentials.get().await {
                Ok(c) => c,
                Err(e) => return Err(exhausted(history, None, e.into())),
            };
            sign_request(
                &mut request,
                &inner.config.region,
                creds.identity(),
                self.now(),
            )?;
            let (failure, error, retry_after) =
                match inner.transport.send(request, timeouts, prefix).await {
                    Ok(raw) if raw.status.as_u16() < 400 => {
                        inner.quota.release(quota_taken);
                        return Ok(Response {
                            status: raw.status,
                            headers: raw.headers,
                            body: raw.body,
                            duration: started.elapsed(),
                        });
                    }
                    Ok(raw) => {
                        let err = StatusError {
                            service: prefix.to_owned(),
                            method: method.clone(),
                            // The log-safe path is only needed for an error.
                            path: crate::call::loggable_path_str(prepared.request.url().path()),
                            status: raw.status,
                            headers: raw.headers,
                            body: raw.body,
                            duration: started.elapsed(),
                        };
                        match gateway_rejection(&err) {
                            Some(Rejection::ClockSkew) if !clock_corrected => {
                                clock_corrected = true;
                                self.correct_clock(&err);
                                history.push(describe_status(&err));
                                continue;
                            }
                            Some(Rejection::Credentials) if !credentials_replaced => {
                                credentials_replaced = true;
                                self.drop_rejected(&creds);
                                history.push(describe_status(&err));
                                continue;
                            }
                            _ => {}
                        }
                        let failure = if matches!(err.status.as_u16(), 429 | 502 | 503 | 504) {
                            Failure::TransientStatus
                        } else {
                            Failure::Final
                        };
                        let after = retry_after(&err.headers);
                        (failure, Error::from(err), after)
                    }
                    Err(te) => {
                        let failure = match &te {
                            TransportError::Connect { .. } => Failure::NotSent,
                            TransportError::Timeout {
                                kind: TimeoutKind::Connect,
                                ..
                            } => Failure::NotSent,
                            TransportError::BodyTooLarge { .. } => Failure::Final,
                            _ => Failure::MaybeSent,
                        };
                        (failure, Error::from(te), None)
                    }
                };
            history.push(describe(&error));
            let retryable = match failure {
                Failure::NotSent => true,
                Failure::MaybeSent | Failure::TransientStatus => repeat_safe,
                Failure::Final => false,
            };
            if !retryable || retries + 1 >= policy.max_attempts {
                if !retryable && failure != Failure::Final {
                    tracing::debug!(
                        method = %method,
                        "not retried: the request may have reached the service and is not idempotent"
                    );
                }
                return Err(exhausted(history, None, error));
            }
            if retry_after.is_some_and(|d| d > policy.max_retry_after) {
                let why = "the server's Retry-After is longer than max_retry_after";
                return Err(exhausted(history, Some(why), error));
            }
            let is_timeout = matches!(error, Error::Transport(TransportError::Timeout { .. }));
            let Some(cost) = inner.quota.acquire(is_timeout) else {
                let why = "retry quota exhausted (the kernel has been failing; not adding load)";
                return Err(exhausted(history, Some(why), error));
            };
            quota_taken += cost;
            retries += 1;
            let delay = policy
                .backoff(retries + 1)
                .max(retry_after.unwrap_or_default());
            tracing::info!(
                target: crate::observability::TARGET,
                attempt = retries + 1,
                delay_ms = delay.as_millis() as u64,
                reason = %history.last().map(String::as_str).unwrap_or_default(),
                "retrying kernel call"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// Tokens left in the client's retry quota (500 when nothing failed lately; each retry
    /// takes 5, or 10 after a timeout; successes give them back).
    pub fn retry_tokens(&self) -> u32 {
        self.inner.quota.available()
    }

    /// Signing time: the local clock corrected by the skew learnt from the gateway.
    fn now(&self) -> SystemTime {
        let offset = self.inner.clock_offset_ms.load(Ordering::Relaxed);
        let now = SystemTime::now();
        if offset >= 0 {
            now + Duration::from_millis(offset as u64)
        } else {
            now - Duration::from_millis(offset.unsigned_abs())
        }
    }

    /// The clock offset learnt from the gateway (positive: the gateway is ahead).
    pub fn clock_offset(&self) -> Duration {
        Duration::from_millis(
            self.inner
                .clock_offset_ms
                .load(Ordering::Relaxed)
                .unsigned_abs(),
        )
    }

    /// The signed clock offset in milliseconds (positive: the gateway is ahead).
    pub fn clock_offset_ms(&self) -> i64 {
        self.inner.clock_offset_ms.load(Ordering::Relaxed)
    }

    /// The gateway said our signature time is off: learn the offset from its `Date` header
    /// and keep it for every later call.
    fn correct_clock(&self, err: &StatusError) {
        let server = err
            .headers
            .get(http::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        let Some(server) = server else {
            tracing::warn!(target: crate::observability::TARGET, "clock skew reported but the response has no usable Date header");
            return;
        };
        let local = SystemTime::now();
        let offset_ms: i64 = match server.duration_since(local) {
            Ok(ahead) => i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX),
            Err(behind) => -i64::try_from(behind.duration().as_millis()).unwrap_or(i64::MAX),
        };
        self.inner
            .clock_offset_ms
            .store(offset_ms, Ordering::Relaxed);
        tracing::warn!(
            target: crate::observability::TARGET,
            clock_skew_ms = offset_ms,
            "the kernel reports clock skew; signing with the corrected time from now on (fix NTP on this host)"
        );
    }

    /// A 403 saying the security token is expired or invalid means these credentials are
    /// dead for the kernel: drop them so the next attempt assumes the role again.
    fn drop_rejected(&self, creds: &CachedCredentials) {
        if self.inner.credentials.invalidate(creds.access_key_id()) {
            tracing::warn!(
                target: crate::observability::TARGET,
                "the kernel rejected the cached credentials; assuming the role again"
            );
        }
    }
}

enum Rejection {
    ClockSkew,
    Credentials,
}

/// API Gateway's authorizer answers before the service sees the request.
fn gateway_rejection(err: &StatusError) -> Option<Rejection> {
    if err.status.as_u16() != 403 {
        return None;
    }
    let (msg, _) = err.gateway_message()?;
    if msg.starts_with("Signature expired") || msg.starts_with("Signature not yet current") {
        Some(Rejection::ClockSkew)
    } else if msg.starts_with("The security token included in the request is") {
        Some(Rejection::Credentials)
    } else {
        None
    }
}

fn describe_status(err: &StatusError) -> String {
    match err.gateway_message() {
        Some((msg, _)) => format!("HTTP {} ({msg})", err.status.as_u16()),
        None => format!("HTTP {}", err.status.as_u16()),
    }
}

/// A short, data-free description of one failed attempt.
fn describe(error: &Error) -> String {
    match error {
        Error::Status(e) => describe_status(e),
        Error::Transport(TransportError::Timeout { kind, after, .. }) => {
            format!("{kind} timeout after {after:?}")
        }
        Error::Transport(TransportError::Connect { .. }) => "connection failed".into(),
        Error::Transport(TransportError::BodyTooLarge { .. }) => "response too large".into(),
        Error::Transport(TransportError::Other { .. }) => "connection lost or HTTP error".into(),
        other => other.to_string(),
    }
}

fn exhausted(history: Vec<String>, stopped: Option<&str>, last: Error) -> Error {
    if history.len() <= 1 && stopped.is_none() {
        last
    } else {
        Error::Exhausted(Box::new(RetriesExhausted {
            attempts: history,
            stopped: stopped.map(str::to_owned),
            last,
        }))
    }
}

/// Builder for [`KernelClient`].
#[derive(Default)]
pub struct KernelClientBuilder {
    config: Option<Config>,
    sdk_config: Option<SdkConfig>,
    base_credentials: Option<SharedCredentialsProvider>,
    sts_endpoint_url: Option<String>,
    refresh: RefreshSettings,
    retry: RetryPolicy,
    source: Option<Box<dyn CredentialSource>>,
}

impl fmt::Debug for KernelClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KernelClientBuilder")
            .field("config", &self.config)
            .field("sts_endpoint_url", &self.sts_endpoint_url)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl KernelClientBuilder {
    /// Use this configuration instead of reading the environment.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }
    /// Base AWS configuration (region, HTTP client, credentials) for the STS client,
    /// instead of `aws_config::defaults(..)` with `TARGET_REGION`.
    pub fn sdk_config(mut self, sdk_config: SdkConfig) -> Self {
        self.sdk_config = Some(sdk_config);
        self
    }
    /// The partner's base credentials (any provider, e.g. a fixed [`Credentials`]) instead
    /// of the standard AWS chain.
    pub fn base_credentials(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.base_credentials = Some(SharedCredentialsProvider::new(provider));
        self
    }
    /// STS endpoint (like `AWS_ENDPOINT_URL_STS`, which is also honoured): https, or http
    /// on loopback.
    pub fn sts_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.sts_endpoint_url = Some(url.into());
        self
    }
    /// Credential refresh timing.
    pub fn refresh_settings(mut self, settings: RefreshSettings) -> Self {
        self.refresh = settings;
        self
    }
    /// Retry policy for every call (default: 3 attempts, see [`crate::retry`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }
    /// Replace STS AssumeRole with another credential source (tests, custom brokers).
    pub fn credential_source(mut self, source: impl CredentialSource) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Validates the configuration and builds the client. No network traffic happens here:
    /// the role is assumed on the first call.
    pub async fn build(self) -> Result<KernelClient, Error> {
        let config = match self.config {
            Some(c) => c,
            None => Config::from_env()?,
        };
        let resolved = Resolved::new(&config);
        let source: Box<dyn CredentialSource> = match self.source {
            Some(s) => s,
            None => Box::new(
                sts_source(
                    &config,
                    &resolved,
                    self.sdk_config,
                    self.base_credentials,
                    self.sts_endpoint_url,
                )
                .await?,
            ),
        };
        let credentials = CredentialCache::new(source, self.refresh);
        let transport = Transport::new(
            Timeouts {
                connect: config.connect_timeout,
                read: config.read_timeout,
            },
            config.max_response_bytes,
        )?;
        Ok(KernelClient {
            inner: Arc::new(Inner {
                config,
                resolved,
                credentials,
                transport,
                retry: self.retry,
                quota: RetryQuota::new(),
                clock_offset_ms: AtomicI64::new(0),
            }),
        })
    }
}

impl CredentialSource for Box<dyn CredentialSource> {
    fn load(&self) -> LoadFuture<'_> {
        (**self).load()
    }
}

async fn sts_source(
    config: &Config,
    resolved: &Resolved,
    sdk_config: Option<SdkConfig>,
    base_credentials: Option<SharedCredentialsProvider>,
    sts_endpoint_url: Option<String>,
) -> Result<AssumeRoleSource, Error> {
    let sdk = match sdk_config {
        Some(s) => match base_credentials {
            Some(p) => s.into_builder().credentials_provider(p).build(),
            None => s,
        },
        None => {
            // The region is set explicitly so that loading never probes instance metadata
            // for one; STS is regional and the kernel's region is as good as any.
            let mut loader = aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new(config.region.clone()));
            if let Some(p) = base_credentials {
                loader = loader.credentials_provider(p);
            }
            loader.load().await
        }
    };
    let mut sts = aws_sdk_sts::config::Builder::from(&sdk);
    if let Some(url) = sts_endpoint_url {
        let parsed = Url::parse(&url).map_err(|e| ConfigError::BadEndpointOverride {
            name: "sts_endpoint_url".into(),
            why: e.to_string(),
        })?;
        if parsed.scheme() != "https" && !(parsed.scheme() == "http" && is_loopback_host(&parsed)) {
            return Err(ConfigError::BadEndpointOverride {
                name: "sts_endpoint_url".into(),
                why: "use https, or http on a loopback address".into(),
            }
            .into());
        }
        sts = sts.endpoint_url(url);
    }
    if sdk.timeout_config().is_none() {
        sts = sts.timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_millis(3100))
                .operation_attempt_timeout(std::time::Duration::from_secs(10))
                .operation_timeout(std::time::Duration::from_secs(30))
                .build(),
        );
    }
    Ok(AssumeRoleSource::new(
        aws_sdk_sts::Client::from_conf(sts.build()),
        resolved.role_arn(),
        resolved.mode(),
        config.external_id.clone(),
        config.session_name.clone(),
        config.session_length,
    ))
}

/// What a call would do, computed without any network traffic (the CLI's `--dry-run`).
///
/// `url` is the exact URL, query values included (the caller's own data). `Debug` prints
/// it as the log-safe form — origin, masked path and the query's parameter names — and the
/// header names only, so a plan can be logged without leaking a card number sent as a
/// query value or in a header.
#[derive(Clone)]
pub struct Plan {
    /// HTTP method.
    pub method: Method,
    /// Final URL.
    pub url: Url,
    /// Kernel environment.
    pub kernel_env: KernelEnv,
    /// Kernel account.
    pub account_id: &'static str,
    /// Authentication mode.
    pub mode: AuthMode,
    /// Role that would be assumed.
    pub role_arn: String,
    /// SigV4 region.
    pub region: String,
    /// The headers that would be sent and signed, secrets redacted.
    pub headers: Vec<(String, String)>,
    /// Body size in bytes.
    pub body_len: usize,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Plan")
            .field("method", &self.method)
            .field("origin", &self.url.origin().ascii_serialization())
            .field("path", &crate::call::loggable_path(&self.url))
            .field("query_keys", &crate::call::loggable_query_keys(&self.url))
            .field("kernel_env", &self.kernel_env)
            .field("account_id", &self.account_id)
            .field("mode", &self.mode)
            .field("role_arn", &self.role_arn)
            .field("region", &self.region)
            .field("header_names", &header_names)
            .field("body_len", &self.body_len)
            .finish()
    }
}

/// Plans a call: resolves and validates everything, signs with placeholder credentials to
/// show the exact signed headers, and redacts the signature and token.
pub fn plan(
    config: &Config,
    prefix: &str,
    endpoint: &str,
    options: CallOptions,
) -> Result<Plan, Error> {
    let resolved = Resolved::new(config);
    let prepared = prepare(config, &resolved, prefix, endpoint, options)?;
    plan_prepared(config, prepared.request)
}

/// Signs an assembled request with placeholder credentials and describes it.
pub(crate) fn plan_prepared(config: &Config, mut request: reqwest::Request) -> Result<Plan, Error> {
    let resolved = Resolved::new(config);
    let placeholder = Credentials::new(
        "ASIADRYRUNPLACEHOLDR",
        "dry-run-placeholder-secret",
        Some("dry-run-placeholder-token".into()),
        None,
        "dry-run",
    );
    sign_request(
        &mut request,
        &config.region,
        &Identity::from(placeholder),
        SystemTime::now(),
    )?;
    let mut headers = vec![("host".to_owned(), crate::transport::host_of(request.url()))];
    for (name, value) in request.headers() {
        let shown = match name.as_str() {
            "authorization" => redact_signature(value.to_str().unwrap_or_default()),
            "x-amz-security-token" => "<session token, redacted>".to_owned(),
            _ => crate::redact::card_numbers(value.to_str().unwrap_or("<non-ascii>")),
        };
        headers.push((name.as_str().to_owned(), shown));
    }
    Ok(Plan {
        method: request.method().clone(),
        body_len: request
            .body()
            .and_then(|b| b.as_bytes())
            .map_or(0, <[u8]>::len),
        url: request.url().clone(),
        kernel_env: resolved.kernel_env(),
        account_id: resolved.account_id(),
        mode: resolved.mode(),
        role_arn: resolved.role_arn().to_owned(),
        region: config.region.clone(),
        headers,
    })
}

/// Like [`plan`] with a service's defaults.
pub fn plan_service(
    config: &Config,
    service: &Service,
    endpoint: &str,
    options: CallOptions,
) -> Result<Plan, Error> {
    plan(
        config,
        service.prefix,
        endpoint,
        options.with_service_defaults(service),
    )
}

fn redact_signature(auth: &str) -> String {
    let (head, _) = auth.split_once("Signature=").unwrap_or((auth, ""));
    let head = head.replace("ASIADRYRUNPLACEHOLDR", "<access-key-id>");
    format!("{head}Signature=<redacted>")
}
