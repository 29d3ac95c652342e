//! State shared by both servers and the [`Sandbox`](crate::Sandbox) handle: counters, knobs and
//! the minted credentials.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::faults::{Fault, Scripts};
use crate::{AssumeRoleRecord, CountersSnapshot, SandboxConfig, StsFailure};

/// The largest clock skew honoured (about a century, either way): beyond it dates overflow.
pub(crate) const MAX_CLOCK_SKEW_SECS: i64 = 100 * 366 * 24 * 3600;

/// Locks a mutex, ignoring poisoning (every critical section here leaves the data consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One pair of temporary credentials minted by STS.
pub(crate) struct Minted {
    pub(crate) secret_access_key: String,
    pub(crate) session_token: String,
    pub(crate) expires_at: DateTime<Utc>,
}

/// Why the gateway refused a request (the keys of [`CountersSnapshot::rejections`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    MissingAuthenticationToken,
    InvalidToken,
    ExpiredToken,
    SignatureMismatch,
    SignatureExpired,
    SignatureNotYetCurrent,
    BadCredentialScope,
    IncompleteSignature,
    MalformedRequest,
    PayloadTooLarge,
    InternalError,
    UnknownRoute,
}

impl Rejection {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "missing-authentication-token",
            Self::InvalidToken => "invalid-token",
            Self::ExpiredToken => "expired-token",
            Self::SignatureMismatch => "signature-mismatch",
            Self::SignatureExpired => "signature-expired",
            Self::SignatureNotYetCurrent => "signature-not-yet-current",
            Self::BadCredentialScope => "bad-credential-scope",
            Self::IncompleteSignature => "incomplete-signature",
            Self::MalformedRequest => "malformed-request",
            Self::PayloadTooLarge => "payload-too-large",
            Self::InternalError => "internal-error",
            Self::UnknownRoute => "unknown-route",
        }
    }
}

/// Everything the handlers share.
pub(crate) struct Shared {
    pub(crate) config: SandboxConfig,
    counters: Mutex<CountersSnapshot>,
    sts_failure: Mutex<Option<StsFailure>>,
    /// `fail_sts_next`: how many more `AssumeRole` calls fail, and how.
    sts_fail_next: Mutex<Option<(u32, StsFailure)>>,
    /// The gateway's fault scripts, by route.
    faults: Mutex<Scripts>,
    /// Offset of the gateway's clock from the real one, in seconds.
    clock_skew_secs: AtomicI64,
    sts_latency: Mutex<Duration>,
    credential_lifetime: Mutex<Option<Duration>>,
    minted: Mutex<HashMap<String, Minted>>,
    /// Handlers tests registered, by (prefix, operationId).
    handlers: Mutex<HashMap<(String, String), crate::spec_routes::SpecHandler>>,
}

/// How long expired credentials are remembered (so they are reported as expired, not invalid).
const KEEP_EXPIRED_FOR: chrono::TimeDelta = chrono::TimeDelta::hours(1);

impl Shared {
    pub(crate) fn new(config: SandboxConfig) -> Self {
        let lifetime = config.credential_lifetime;
        Self {
            config,
            counters: Mutex::new(CountersSnapshot::default()),
            sts_failure: Mutex::new(None),
            sts_fail_next: Mutex::new(None),
            faults: Mutex::new(Scripts::default()),
            clock_skew_secs: AtomicI64::new(0),
            sts_latency: Mutex::new(Duration::ZERO),
            credential_lifetime: Mutex::new(lifetime),
            minted: Mutex::new(HashMap::new()),
            handlers: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn counters(&self) -> CountersSnapshot {
        lock(&self.counters).clone()
    }

    pub(crate) fn register_handler(
        &self,
        prefix: &str,
        operation_id: &str,
        handler: crate::spec_routes::SpecHandler,
    ) {
        lock(&self.handlers).insert((prefix.to_owned(), operation_id.to_owned()), handler);
    }

    pub(crate) fn handler(
        &self,
        prefix: &str,
        operation_id: &str,
    ) -> Option<crate::spec_routes::SpecHandler> {
        self.count_operation(prefix, operation_id);
        lock(&self.handlers)
            .get(&(prefix.to_owned(), operation_id.to_owned()))
            .cloned()
    }

    fn count_operation(&self, prefix: &str, operation_id: &str) {
        self.update_counters(|c| {
            *c.operation_requests
                .entry(format!("{prefix} {operation_id}"))
                .or_default() += 1;
        });
    }

    pub(crate) fn count_invalid_request(&self) {
        self.update_counters(|c| c.invalid_requests += 1);
    }

    pub(crate) fn update_counters(&self, f: impl FnOnce(&mut CountersSnapshot)) {
        f(&mut lock(&self.counters));
    }

    pub(crate) fn record_assume_role(&self, record: AssumeRoleRecord) {
        self.update_counters(|c| {
            c.assume_role_calls += 1;
            c.last_assume_role = Some(record);
        });
    }

    pub(crate) fn count_rejection(&self, rejection: Rejection) {
        self.update_counters(|c| {
            c.rejected_requests += 1;
            *c.rejections
                .entry(rejection.reason().to_owned())
                .or_insert(0) += 1;
        });
    }

    /// The failure the next `AssumeRole` answers with, if any: first the `fail_sts_next`
    /// countdown (consumed here), then the persistent `set_sts_failure`.
    pub(crate) fn next_sts_failure(&self) -> Option<StsFailure> {
        {
            let mut next = lock(&self.sts_fail_next);
            if let Some((n, failure)) = *next {
                *next = (n > 1).then(|| (n - 1, failure));
                return Some(failure);
            }
        }
        *lock(&self.sts_failure)
    }

    pub(crate) fn fail_sts_next(&self, n: u32, failure: StsFailure) {
        *lock(&self.sts_fail_next) = (n > 0).then_some((n, failure));
    }

    pub(crate) fn sts_fail_next(&self) -> Option<(u32, StsFailure)> {
        *lock(&self.sts_fail_next)
    }

    pub(crate) fn inject(&self, route: &str, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.faults).append(route, faults);
    }

    /// Empties every route's script and the `fail_sts_next` countdown.
    pub(crate) fn clear_faults(&self) {
        lock(&self.faults).clear();
        *lock(&self.sts_fail_next) = None;
    }

    /// Consumes the next fault scripted for `route` (a raw first path segment) if it acts at
    /// this stage (before or after authentication).
    pub(crate) fn take_fault_at(&self, route: &str, before_auth: bool) -> Option<Fault> {
        lock(&self.faults).take_if(route, |f| f.acts_before_authentication() == before_auth)
    }

    pub(crate) fn scripted_faults(&self) -> BTreeMap<String, Vec<Fault>> {
        lock(&self.faults).snapshot()
    }

    pub(crate) fn set_clock_skew(&self, offset_secs: i64) {
        self.clock_skew_secs.store(
            offset_secs.clamp(-MAX_CLOCK_SKEW_SECS, MAX_CLOCK_SKEW_SECS),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn clock_skew(&self) -> i64 {
        self.clock_skew_secs.load(Ordering::Relaxed)
    }

    /// The gateway's clock: the real clock plus the skew.
    pub(crate) fn gateway_now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        TimeDelta::try_seconds(self.clock_skew())
            .and_then(|skew| now.checked_add_signed(skew))
            .unwrap_or(now)
    }

    pub(crate) fn set_sts_failure(&self, failure: Option<StsFailure>) {
        *lock(&self.sts_failure) = failure;
    }

    pub(crate) fn sts_latency(&self) -> Duration {
        *lock(&self.sts_latency)
    }

    pub(crate) fn set_sts_latency(&self, latency: Duration) {
        *lock(&self.sts_latency) = latency;
    }

    pub(crate) fn credential_lifetime(&self) -> Option<Duration> {
        *lock(&self.credential_lifetime)
    }

    pub(crate) fn set_credential_lifetime(&self, lifetime: Option<Duration>) {
        *lock(&self.credential_lifetime) = lifetime;
    }

    /// Remembers freshly minted credentials and forgets long-expired ones.
    pub(crate) fn store_minted(&self, access_key_id: String, minted: Minted) {
        let now = Utc::now();
        let mut map = lock(&self.minted);
        map.retain(|_, m| m.expires_at + KEEP_EXPIRED_FOR > now);
        map.insert(access_key_id, minted);
    }

    /// Secret, session token and expiry of a minted access key.
    pub(crate) fn lookup_minted(
        &self,
        access_key_id: &str,
    ) -> Option<(String, String, DateTime<Utc>)> {
        lock(&self.minted).get(access_key_id).map(|m| {
            (
                m.secret_access_key.clone(),
                m.session_token.clone(),
                m.expires_at,
            )
        })
    }

    /// Number of minted credentials that have not expired yet.
    pub(crate) fn live_minted(&self) -> usize {
        let now = Utc::now();
        lock(&self.minted)
            .values()
            .filter(|m| m.expires_at > now)
            .count()
    }
}
