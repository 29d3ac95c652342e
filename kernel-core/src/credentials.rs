//! Temporary kernel credentials: STS AssumeRole behind a refresh-ahead, single-flight cache.
//!
//! Design (after aws-sdk-go-v2's `CredentialsCache` and botocore's advisory/mandatory
//! refresh, see `shared/notes/credentials-and-verification.md`):
//!
//! * **fast path** — credentials far from expiry: one lock-free [`ArcSwapOption`] load;
//! * **advisory window** — close to expiry: the first caller starts *one* background refresh
//!   (a `try_lock` on the single-flight gate) and everybody keeps using the still-valid
//!   credentials without waiting;
//! * **mandatory window** — close to expiry: same, but after a failure the background refresh
//!   is retried after `negative_cache` instead of `failure_backoff`;
//! * **no usable credentials** (none yet, or expired minus a safety margin): callers wait for
//!   the one load in flight (the gate), then re-check before loading themselves;
//! * **failure** — a failed refresh keeps serving the credentials while they are valid (no
//!   caller ever waits for STS while it can still sign); a failed load with nothing usable
//!   is remembered for `negative_cache` so that a queue of waiters does not call STS one
//!   after another;
//! * **rejection** — [`CredentialCache::invalidate`] drops exactly the credentials a service
//!   rejected (compare-and-swap on the access key id), never newer ones.
//!
//! Windows adapt to the credential lifetime: advisory = min(5/15/60 min by lifetime,
//! lifetime / 2), jittered ×U[0.5, 1] so a fleet does not refresh in lockstep; mandatory =
//! min(1 min, advisory / 2).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::config::ExternalId;
use crate::error::AssumeRoleError;
use crate::resolve::AuthMode;

/// A boxed future returned by [`CredentialSource::load`].
pub type LoadFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Credentials, AssumeRoleError>> + Send + 'a>>;

/// Where temporary credentials come from (STS AssumeRole in production).
pub trait CredentialSource: Send + Sync + 'static {
    /// Fetches fresh credentials. They must carry an expiry.
    fn load(&self) -> LoadFuture<'_>;
}

/// Cached credentials with the derived signing identity and refresh deadlines.
pub struct CachedCredentials {
    credentials: Credentials,
    identity: Identity,
    expiry: SystemTime,
    refresh_at: SystemTime,
    mandatory_at: SystemTime,
}

impl CachedCredentials {
    /// The credentials (Debug of [`Credentials`] redacts the secret and the token).
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }
    /// The signing identity, built once per credential set (not per request).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }
    /// Expiry time.
    pub fn expiry(&self) -> SystemTime {
        self.expiry
    }
    /// Access key id (not secret).
    pub fn access_key_id(&self) -> &str {
        self.credentials.access_key_id()
    }
}

impl fmt::Debug for CachedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedCredentials")
            .field("credentials", &self.credentials)
            .field("refresh_at", &self.refresh_at)
            .field("mandatory_at", &self.mandatory_at)
            .finish()
    }
}

/// Refresh timing. Defaults adapt to the credential lifetime (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshSettings {
    /// Fixed advisory window (None: adaptive).
    pub advisory: Option<Duration>,
    /// Fixed mandatory window (None: adaptive).
    pub mandatory: Option<Duration>,
    /// After a failed refresh while credentials are still valid, wait this long before
    /// asking STS again.
    pub failure_backoff: Duration,
    /// After a failed load with no usable credentials, return the same error for this long
    /// instead of calling STS again.
    pub negative_cache: Duration,
    /// Credentials this close to expiry are not used at all (the request could arrive after
    /// they expired).
    pub expiry_margin: Duration,
}

impl Default for RefreshSettings {
    fn default() -> Self {
        RefreshSettings {
            advisory: None,
            mandatory: None,
            failure_backoff: Duration::from_secs(10),
            negative_cache: Duration::from_secs(1),
            expiry_margin: Duration::from_secs(1),
        }
    }
}

impl RefreshSettings {
    /// (advisory, mandatory) windows for credentials that live `lifetime`.
    pub fn windows(&self, lifetime: Duration) -> (Duration, Duration) {
        const MIN: u64 = 60;
        let tier = if lifetime <= Duration::from_secs(20 * MIN) {
            Duration::from_secs(5 * MIN)
        } else if lifetime < Duration::from_secs(90 * MIN) {
            Duration::from_secs(15 * MIN)
        } else {
            Duration::from_secs(60 * MIN)
        };
        let advisory = self.advisory.unwrap_or_else(|| tier.min(lifetime / 2));
        let mandatory = self
            .mandatory
            .unwrap_or_else(|| Duration::from_secs(MIN).min(advisory / 2))
            .min(advisory);
        (advisory, mandatory)
    }
}

struct Failure {
    at: Instant,
    error: AssumeRoleError,
}

struct Inner {
    source: Box<dyn CredentialSource>,
    current: ArcSwapOption<CachedCredentials>,
    gate: Arc<tokio::sync::Mutex<()>>,
    last_failure: Mutex<Option<Failure>>,
    settings: RefreshSettings,
    loads: AtomicU64,
}

/// Cheap-to-clone handle on the credential cache.
#[derive(Clone)]
pub struct CredentialCache {
    inner: Arc<Inner>,
}

impl fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialCache")
            .field("current", &self.inner.current.load())
            .field("loads", &self.loads())
            .finish()
    }
}

impl CredentialCache {
    /// A cache in front of `source`.
    pub fn new(source: impl CredentialSource, settings: RefreshSettings) -> CredentialCache {
        CredentialCache {
            inner: Arc::new(Inner {
                source: Box::new(source),
                current: ArcSwapOption::empty(),
                gate: Arc::new(tokio::sync::Mutex::new(())),
                last_failure: Mutex::new(None),
                settings,
                loads: AtomicU64::new(0),
            }),
        }
    }

    /// How many times the source (STS) was asked for credentials.
    pub fn loads(&self) -> u64 {
        self.inner.loads.load(Ordering::Relaxed)
    }

    /// Credentials usable for signing now.
    pub async fn get(&self) -> Result<Arc<CachedCredentials>, AssumeRoleError> {
        let now = SystemTime::now();
        if let Some(c) = self.inner.current.load_full() {
            if now < c.refresh_at {
                return Ok(c); // the fast path: one atomic load, no lock
            }
            if now + self.inner.settings.expiry_margin < c.expiry {
                // Still valid: never make a caller wait for STS while it can sign.
                self.spawn_refresh(now >= c.mandatory_at);
                return Ok(c);
            }
        }
        self.refresh_and_wait().await
    }

    /// Drops the cached credentials if they are the ones with `access_key_id` (a service
    /// rejected them), so that the next [`get`](Self::get) assumes the role again. Newer
    /// credentials are left alone. Returns whether anything was dropped.
    pub fn invalidate(&self, access_key_id: &str) -> bool {
        let current = self.inner.current.load_full();
        match current {
            Some(c) if c.access_key_id() == access_key_id => {
                let prev = self.inner.current.compare_and_swap(&Some(c.clone()), None);
                matches!(&*prev, Some(p) if Arc::ptr_eq(p, &c))
            }
            _ => false,
        }
    }

    fn spawn_refresh(&self, mandatory: bool) {
        if self.in_backoff(mandatory) {
            return;
        }
        let Ok(guard) = self.inner.gate.clone().try_lock_owned() else {
            return; // a refresh is already in flight
        };
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let _guard = guard;
            // Someone may have refreshed between our check and the lock.
            if let Some(c) = inner.current.load_full()
                && SystemTime::now() < c.refresh_at
            {
                return;
            }
            match load_and_store(&inner).await {
                Ok(_) => tracing::debug!("kernel credentials refreshed ahead of expiry"),
                Err(e) => tracing::warn!(
                    error = %e,
                    "background refresh of kernel credentials failed; still using the current ones"
                ),
            }
        });
    }

    /// After a failure, wait `failure_backoff` before the next background attempt; once the
    /// credentials are in the mandatory window, only `negative_cache` (expiry is near, so
    /// try harder).
    fn in_backoff(&self, mandatory: bool) -> bool {
        let hold = if mandatory {
            self.inner.settings.negative_cache
        } else {
            self.inner.settings.failure_backoff
        };
        let f = self
            .inner
            .last_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        f.as_ref().is_some_and(|f| f.at.elapsed() < hold)
    }

    /// No usable credentials: wait for the one load in flight (or do it), unless a load
    /// failed moments ago, in which case that error is returned at once.
    async fn refresh_and_wait(&self) -> Result<Arc<CachedCredentials>, AssumeRoleError> {
        let _guard = self.inner.gate.lock().await;
        let now = SystemTime::now();
        if let Some(c) = self.inner.current.load_full()
            && now + self.inner.settings.expiry_margin < c.expiry
        {
            return Ok(c); // refreshed while we waited
        }
        {
            let f = self
                .inner
                .last_failure
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(f) = f.as_ref()
                && f.at.elapsed() < self.inner.settings.negative_cache
            {
                return Err(f.error.clone());
            }
        }
        load_and_store(&self.inner).await
    }
}

async fn load_and_store(inner: &Inner) -> Result<Arc<CachedCredentials>, AssumeRoleError> {
    inner.loads.fetch_add(1, Ordering::Relaxed);
    let result = inner.source.load().await;
    let mut failure = inner.last_failure.lock().unwrap_or_else(|p| p.into_inner());
    match result {
        Ok(creds) => {
            *failure = None;
            drop(failure);
            let cached = Arc::new(cache_entry(creds, &inner.settings));
            inner.current.store(Some(cached.clone()));
            Ok(cached)
        }
        Err(error) => {
            *failure = Some(Failure {
                at: Instant::now(),
                error: error.clone(),
            });
            Err(error)
        }
    }
}

fn cache_entry(credentials: Credentials, settings: &RefreshSettings) -> CachedCredentials {
    let now = SystemTime::now();
    // STS always sends an expiry; if a custom source does not, treat it as 15 minutes.
    let expiry = credentials
        .expiry()
        .unwrap_or(now + Duration::from_secs(15 * 60));
    let lifetime = expiry.duration_since(now).unwrap_or_default();
    let (advisory, mandatory) = settings.windows(lifetime);
    // Jitter ×U[0.5, 1] on the advisory window: refresh somewhere in its later half.
    let jittered = advisory.mul_f64(0.5 + fastrand::f64() * 0.5).max(mandatory);
    let identity = Identity::new(credentials.clone(), Some(expiry));
    CachedCredentials {
        credentials,
        identity,
        expiry,
        refresh_at: expiry.checked_sub(jittered).unwrap_or(now),
        mandatory_at: expiry.checked_sub(mandatory).unwrap_or(now),
    }
}

/// STS AssumeRole on the kernel role (the production [`CredentialSource`]).
pub struct AssumeRoleSource {
    client: aws_sdk_sts::Client,
    role_arn: String,
    mode: AuthMode,
    external_id: Option<ExternalId>,
    session_name: String,
    session_length: Option<Duration>,
}

impl fmt::Debug for AssumeRoleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleSource")
            .field("role_arn", &self.role_arn)
            .field("mode", &self.mode)
            .field("external_id", &self.external_id)
            .field("session_name", &self.session_name)
            .finish()
    }
}

impl AssumeRoleSource {
    /// A source assuming `role_arn` with the given STS client.
    pub fn new(
        client: aws_sdk_sts::Client,
        role_arn: impl Into<String>,
        mode: AuthMode,
        external_id: Option<ExternalId>,
        session_name: impl Into<String>,
        session_length: Option<Duration>,
    ) -> Self {
        AssumeRoleSource {
            client,
            role_arn: role_arn.into(),
            mode,
            external_id,
            session_name: session_name.into(),
            session_length,
        }
    }

    async fn assume(&self) -> Result<Credentials, AssumeRoleError> {
        use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
        let fail = |code: Option<String>, message: String, retryable: bool| AssumeRoleError {
            role_arn: self.role_arn.clone(),
            mode: self.mode,
            code,
            message,
            retryable,
        };
        let mut req = self
            .client
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name);
        if let Some(ext) = &self.external_id {
            req = req.external_id(ext.expose());
        }
        if let Some(len) = self.session_length {
            req = req.duration_seconds(i32::try_from(len.as_secs()).unwrap_or(i32::MAX));
        }
        let started = Instant::now();
        let out = match req.send().await {
            Ok(out) => out,
            Err(SdkError::ServiceError(se)) => {
                let status = se.raw().status().as_u16();
                let err = se.err();
                let code = err.code().unwrap_or("Unknown").to_owned();
                let retryable = status >= 500
                    || matches!(
                        code.as_str(),
                        "Throttling" | "ThrottlingException" | "RequestLimitExceeded"
                    );
                return Err(fail(
                    Some(code),
                    err.message().unwrap_or("no message").to_owned(),
                    retryable,
                ));
            }
            Err(e) => {
                return Err(fail(None, error_chain(&e), true));
            }
        };
        let Some(c) = out.credentials() else {
            return Err(fail(None, "STS answered without credentials".into(), true));
        };
        let expiry = SystemTime::try_from(*c.expiration())
            .map_err(|_| fail(None, "STS returned an unreadable expiration".into(), true))?;
        tracing::debug!(
            role_arn = %self.role_arn,
            mode = %self.mode,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "assumed kernel role"
        );
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            Some(expiry),
            "KernelAssumeRole",
        ))
    }
}

/// The `Display` of an error and its sources, de-duplicated, on one line. (The SDK's
/// `DisplayErrorContext` appends a multi-line `Debug` dump, too much for an error message.)
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string().replace('\n', " ");
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

impl CredentialSource for AssumeRoleSource {
    fn load(&self) -> LoadFuture<'_> {
        Box::pin(self.assume())
    }
}
