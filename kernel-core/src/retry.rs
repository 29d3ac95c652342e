//! Retries, modelled on the AWS SDKs' *standard* retry mode: a bounded number of attempts,
//! exponential backoff with full jitter, `Retry-After` honoured, and a client-wide retry
//! quota (token bucket) so that a failing kernel is not hammered.
//!
//! What is retried (each attempt is signed afresh):
//!
//! | failure | methods |
//! |---|---|
//! | connection not established (refused, DNS, TLS handshake, connect timeout) — the request was never sent | every method |
//! | HTTP 429, 502, 503, 504; read timeout; connection dropped after sending | idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS) or calls marked [`CallOptions::idempotent`](crate::CallOptions::idempotent) |
//! | API Gateway 403 `Signature expired` / `Signature not yet current` (clock skew) | every method, once, after correcting the clock from the response `Date` |
//! | API Gateway 403 `The security token included in the request is expired` / `invalid` | every method, once, after dropping exactly those credentials |
//!
//! The 403s are answered by API Gateway's authorizer before the request reaches the
//! service, so repeating them cannot duplicate a tokenization. A POST that may have reached
//! the service (timeout, dropped connection, 5xx) is never repeated unless the caller says
//! it is safe (e.g. it carries an idempotency key).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use http::Method;

/// Retry settings for a client or one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = no retries). Default 3.
    pub max_attempts: u32,
    /// Backoff base: attempt *n* waits `U[0, min(max_backoff, base × 2^(n-1))]`. Default 100 ms
    /// (the SDKs use 1 s; kernel calls sit on a customer's payment path, so faster).
    pub base_delay: Duration,
    /// Backoff ceiling. Default 5 s.
    pub max_backoff: Duration,
    /// Longest `Retry-After` honoured; a longer one ends the retries. Default 20 s.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// No retries at all (the clock-skew and credential corrections still happen once:
    /// they fix the request rather than repeat it).
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Full-jitter delay before attempt `attempt` (2 = first retry).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(2).min(30);
        let cap = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        cap.mul_f64(fastrand::f64())
    }
}

/// Is this method idempotent by HTTP semantics?
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    )
}

/// Why one attempt failed, for the final error and the decision to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Connection never established: safe for any method.
    NotSent,
    /// Timeout or connection lost after the request may have been sent.
    MaybeSent,
    /// A throttling or transient status (429, 502, 503, 504).
    TransientStatus,
    /// Anything else: not retried.
    Final,
}

/// Costs and capacity of the standard retry quota.
const QUOTA_CAPACITY: u32 = 500;
const RETRY_COST: u32 = 5;
const TIMEOUT_RETRY_COST: u32 = 10;
const NO_RETRY_INCREMENT: u32 = 1;

/// The client-wide retry quota (token bucket). Lock-free.
#[derive(Debug)]
pub(crate) struct RetryQuota {
    tokens: AtomicU32,
}

impl RetryQuota {
    pub(crate) fn new() -> Self {
        RetryQuota {
            tokens: AtomicU32::new(QUOTA_CAPACITY),
        }
    }

    /// Takes the cost of one retry; `None` when the quota is exhausted.
    pub(crate) fn acquire(&self, timeout: bool) -> Option<u32> {
        let cost = if timeout {
            TIMEOUT_RETRY_COST
        } else {
            RETRY_COST
        };
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| t.checked_sub(cost))
            .ok()
            .map(|_| cost)
    }

    /// A call succeeded: give back what its retries took, or one token if it needed none.
    pub(crate) fn release(&self, acquired: u32) {
        let add = if acquired == 0 {
            NO_RETRY_INCREMENT
        } else {
            acquired
        };
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some((t + add).min(QUOTA_CAPACITY))
            });
    }

    /// Tokens left (for tests and metrics).
    pub(crate) fn available(&self) -> u32 {
        self.tokens.load(Ordering::Acquire)
    }
}

/// Parses `Retry-After` (delta-seconds or an HTTP date).
pub(crate) fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_and_capped() {
        let p = RetryPolicy::default();
        for _ in 0..200 {
            assert!(p.backoff(2) <= Duration::from_millis(100));
            assert!(p.backoff(3) <= Duration::from_millis(200));
            assert!(p.backoff(40) <= Duration::from_secs(5));
        }
    }

    #[test]
    fn quota_drains_and_refills() {
        let q = RetryQuota::new();
        let mut taken = 0;
        while q.acquire(false).is_some() {
            taken += 1;
        }
        assert_eq!(taken, QUOTA_CAPACITY / RETRY_COST);
        assert!(q.acquire(true).is_none());
        q.release(5);
        assert_eq!(q.available(), 5);
        q.release(0);
        assert_eq!(q.available(), 6);
    }

    #[test]
    fn retry_after_forms() {
        let mut h = http::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(http::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            http::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn idempotent_methods() {
        assert!(is_idempotent(&Method::GET));
        assert!(is_idempotent(&Method::PUT));
        assert!(!is_idempotent(&Method::POST));
        assert!(!is_idempotent(&Method::PATCH));
    }
}
