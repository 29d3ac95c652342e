//! Fault injection: the [`Fault`] scripts of the gateway routes, their textual form (the
//! binary's `--fault` specs) and the answers API Gateway gives for injected statuses.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use http::StatusCode;

use crate::StsFailure;

/// One scripted reaction of the gateway to one request on a route ([`Sandbox::inject`]).
///
/// Each request to a route consumes the next fault of that route's script (FIFO), whatever
/// happens to the request afterwards. Where a fault takes effect depends on its kind; see
/// [`Sandbox::inject`] for the complete order of the gateway's checks.
///
/// The textual form (`Display` / `FromStr`, used by the binary's `--fault ROUTE=SPEC` flag) is
/// `503`, `429:retry-after=2`, `latency=1500ms` (or `latency=2s`), `drop-before-read`,
/// `drop-after-read`, `token-expired`, `token-invalid`.
///
/// [`Sandbox::inject`]: crate::Sandbox::inject
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer this HTTP status (after authentication passed) with body `{"message": <msg>}` —
    /// e.g. 503, 502, 504, 429, 500. The service is not reached.
    ///
    /// Messages and `x-amzn-ErrorType` are API Gateway's: 429 `Too Many Requests`
    /// (`TooManyRequestsException`), 500 and 502 `Internal server error`
    /// (`InternalServerErrorException`), 503 `Service Unavailable`
    /// (`ServiceUnavailableException`), 504 `Endpoint request timed out`
    /// (`InternalServerErrorException`); any other status answers its reason phrase without an
    /// error type. A code outside `200..=599` is answered as 500.
    Status(u16),
    /// Like [`Status`](Self::Status) (meant for 429/503), plus a `Retry-After: <secs>` header.
    StatusRetryAfter(u16, u32),
    /// Wait this long, then behave normally (authentication, routing, the service). Applied
    /// before anything else, even before the request body is read.
    Latency(Duration),
    /// Close the TCP connection without reading the request body and without answering: the
    /// request was NOT processed by the service (counted as `dropped_before_read`). Applied before
    /// authentication, so even unsigned requests are dropped.
    DropBeforeRead,
    /// Read the whole request, authenticate it and let the service PROCESS it (e.g. K3 mints a
    /// token: counted in `verified_requests` and `tokens_issued`), then close the connection
    /// without answering (counted as `dropped_after_read`).
    DropAfterRead,
    /// Answer 403 `{"message":"The security token included in the request is expired"}`
    /// (`ExpiredTokenException`) regardless of the credentials, in place of authentication.
    RejectTokenExpired,
    /// Answer 403 `{"message":"The security token included in the request is invalid."}`
    /// (`UnrecognizedClientException`) regardless of the credentials, in place of
    /// authentication.
    RejectTokenInvalid,
}

impl Fault {
    /// Whether the fault acts before authentication (and so is taken by the next request to
    /// arrive) rather than after it (taken by the next request that authenticates).
    pub fn acts_before_authentication(&self) -> bool {
        matches!(
            self,
            Fault::Latency(_)
                | Fault::DropBeforeRead
                | Fault::RejectTokenExpired
                | Fault::RejectTokenInvalid
        )
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(code) => write!(f, "{code}"),
            Self::StatusRetryAfter(code, secs) => write!(f, "{code}:retry-after={secs}"),
            Self::Latency(d) => {
                if d.subsec_nanos() == 0 {
                    write!(f, "latency={}s", d.as_secs())
                } else {
                    write!(f, "latency={}ms", d.as_millis())
                }
            }
            Self::DropBeforeRead => f.write_str("drop-before-read"),
            Self::DropAfterRead => f.write_str("drop-after-read"),
            Self::RejectTokenExpired => f.write_str("token-expired"),
            Self::RejectTokenInvalid => f.write_str("token-invalid"),
        }
    }
}

/// The textual forms accepted, for error messages.
const FAULT_SPECS: &str = "503 | 429:retry-after=2 | latency=1500ms | latency=2s | \
                           drop-before-read | drop-after-read | token-expired | token-invalid";

fn parse_status(s: &str) -> Result<u16, String> {
    let code: u16 = s
        .parse()
        .ok()
        .filter(|_| s.len() == 3)
        .ok_or_else(|| format!("'{s}' is not an HTTP status (expected {FAULT_SPECS})"))?;
    if !(200..=599).contains(&code) {
        return Err(format!("status {code} is outside 200..=599"));
    }
    Ok(code)
}

/// Parses `1500ms` or `2s`.
fn parse_latency(s: &str) -> Result<Duration, String> {
    let bad = || format!("latency '{s}' is not a duration like 1500ms or 2s");
    let (digits, unit_ms) = if let Some(ms) = s.strip_suffix("ms") {
        (ms, 1)
    } else if let Some(secs) = s.strip_suffix('s') {
        (secs, 1000)
    } else {
        return Err(bad());
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let ms = n.checked_mul(unit_ms).ok_or_else(bad)?;
    Ok(Duration::from_millis(ms))
}

impl FromStr for Fault {
    type Err = String;

    /// Parses the textual form (see [`Fault`]); the error is a one-line message.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s {
            "drop-before-read" => return Ok(Self::DropBeforeRead),
            "drop-after-read" => return Ok(Self::DropAfterRead),
            "token-expired" => return Ok(Self::RejectTokenExpired),
            "token-invalid" => return Ok(Self::RejectTokenInvalid),
            _ => {}
        }
        if let Some(latency) = s.strip_prefix("latency=") {
            return parse_latency(latency).map(Self::Latency);
        }
        if let Some((status, rest)) = s.split_once(':') {
            let code = parse_status(status)?;
            let secs = rest
                .strip_prefix("retry-after=")
                .ok_or_else(|| format!("'{s}': expected STATUS:retry-after=SECS"))?;
            let secs: u32 = secs
                .parse()
                .ok()
                .filter(|_| secs.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("'{s}': retry-after must be a number of seconds"))?;
            return Ok(Self::StatusRetryAfter(code, secs));
        }
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return parse_status(s).map(Self::Status);
        }
        Err(format!("unknown fault '{s}' (expected {FAULT_SPECS})"))
    }
}

impl fmt::Display for StsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Throttling => "throttling",
            Self::InternalError => "internal",
            Self::Unavailable => "unavailable",
        })
    }
}

impl FromStr for StsFailure {
    type Err = String;

    /// `throttling`, `internal` or `unavailable` (the binary's `--sts-fail N:KIND`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "throttling" => Ok(Self::Throttling),
            "internal" => Ok(Self::InternalError),
            "unavailable" => Ok(Self::Unavailable),
            other => Err(format!(
                "unknown STS failure '{other}' (expected throttling, internal or unavailable)"
            )),
        }
    }
}

/// Normalises a route name given to [`Sandbox::inject`](crate::Sandbox::inject): surrounding
/// slashes are ignored (`"/k3/"` is `"k3"`).
pub(crate) fn normalise_route(route: &str) -> String {
    route.trim().trim_matches('/').to_owned()
}

/// The first segment of a wire path (`/k3/v1/tokenize` -> `k3`, `/` -> ``), as the scripts are
/// keyed.
pub(crate) fn first_segment(path: &str) -> &str {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    trimmed.split('/').next().unwrap_or("")
}

/// The scripts of all routes.
#[derive(Debug, Default)]
pub(crate) struct Scripts {
    by_route: BTreeMap<String, VecDeque<Fault>>,
}

impl Scripts {
    pub(crate) fn append(&mut self, route: &str, faults: impl IntoIterator<Item = Fault>) {
        let script = self.by_route.entry(normalise_route(route)).or_default();
        script.extend(faults);
        if script.is_empty() {
            self.by_route.remove(&normalise_route(route));
        }
    }

    pub(crate) fn clear(&mut self) {
        self.by_route.clear();
    }

    /// Consumes the next fault scripted for `route`.
    #[cfg(test)]
    pub(crate) fn take(&mut self, route: &str) -> Option<Fault> {
        self.take_if(route, |_| true)
    }

    /// Consumes the next fault scripted for `route` if `wanted` says so.
    pub(crate) fn take_if(
        &mut self,
        route: &str,
        wanted: impl Fn(&Fault) -> bool,
    ) -> Option<Fault> {
        let script = self.by_route.get_mut(route)?;
        if !script.front().is_some_and(&wanted) {
            return None;
        }
        let fault = script.pop_front();
        if script.is_empty() {
            self.by_route.remove(route);
        }
        fault
    }

    pub(crate) fn snapshot(&self) -> BTreeMap<String, Vec<Fault>> {
        self.by_route
            .iter()
            .map(|(route, script)| (route.clone(), script.iter().cloned().collect()))
            .collect()
    }
}

/// How the gateway answers an injected status: the status, API Gateway's message and its
/// `x-amzn-ErrorType`.
pub(crate) fn injected_status(code: u16) -> (StatusCode, &'static str, Option<&'static str>) {
    let status = StatusCode::from_u16(code)
        .ok()
        .filter(|s| (200..=599).contains(&s.as_u16()))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (message, error_type) = match status.as_u16() {
        429 => ("Too Many Requests", Some("TooManyRequestsException")),
        500 | 502 => (
            "Internal server error",
            Some("InternalServerErrorException"),
        ),
        503 => ("Service Unavailable", Some("ServiceUnavailableException")),
        504 => (
            "Endpoint request timed out",
            Some("InternalServerErrorException"),
        ),
        _ => (status.canonical_reason().unwrap_or("Error"), None),
    };
    (status, message, error_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_round_trip() {
        let cases = [
            ("503", Fault::Status(503)),
            ("429:retry-after=2", Fault::StatusRetryAfter(429, 2)),
            (
                "latency=1500ms",
                Fault::Latency(Duration::from_millis(1500)),
            ),
            ("latency=2s", Fault::Latency(Duration::from_secs(2))),
            ("drop-before-read", Fault::DropBeforeRead),
            ("drop-after-read", Fault::DropAfterRead),
            ("token-expired", Fault::RejectTokenExpired),
            ("token-invalid", Fault::RejectTokenInvalid),
        ];
        for (text, fault) in cases {
            assert_eq!(text.parse::<Fault>(), Ok(fault.clone()), "{text}");
            assert_eq!(fault.to_string(), text);
        }
        assert_eq!(
            "latency=2000ms".parse::<Fault>(),
            Ok(Fault::Latency(Duration::from_secs(2)))
        );
        assert_eq!(" 502 ".parse::<Fault>(), Ok(Fault::Status(502)));
    }

    #[test]
    fn bad_specs_are_refused_with_one_line_messages() {
        for bad in [
            "",
            "5033",
            "50",
            "099",
            "600",
            "abc",
            "503:retry=2",
            "429:retry-after=",
            "429:retry-after=-1",
            "429:retry-after=2s",
            "latency=",
            "latency=1.5s",
            "latency=2m",
            "latency=ms",
            "latency=99999999999999999999ms",
            "drop",
        ] {
            let err = bad.parse::<Fault>().expect_err(bad);
            assert!(!err.contains('\n'), "{err}");
            assert!(!err.is_empty());
        }
    }

    #[test]
    fn sts_failures_parse() {
        for failure in [
            StsFailure::Throttling,
            StsFailure::InternalError,
            StsFailure::Unavailable,
        ] {
            assert_eq!(failure.to_string().parse::<StsFailure>(), Ok(failure));
        }
        assert!("throttle".parse::<StsFailure>().is_err());
    }

    #[test]
    fn scripts_are_fifo_per_route() {
        let mut scripts = Scripts::default();
        scripts.append("/k3/", [Fault::Status(503), Fault::Status(502)]);
        scripts.append("k3", [Fault::DropAfterRead]);
        scripts.append("echo", []);
        assert_eq!(scripts.snapshot().len(), 1);
        assert_eq!(scripts.take("echo"), None);
        assert_eq!(scripts.take("k3"), Some(Fault::Status(503)));
        assert_eq!(scripts.take("k3"), Some(Fault::Status(502)));
        assert_eq!(scripts.take("k3"), Some(Fault::DropAfterRead));
        assert_eq!(scripts.take("k3"), None);
        assert!(scripts.snapshot().is_empty());
        scripts.append("echo", [Fault::DropBeforeRead]);
        scripts.clear();
        assert_eq!(scripts.take("echo"), None);
    }

    #[test]
    fn first_segments() {
        assert_eq!(first_segment("/k3/v1/tokenize"), "k3");
        assert_eq!(first_segment("/bin-lookup-service"), "bin-lookup-service");
        assert_eq!(first_segment("/"), "");
        assert_eq!(first_segment("//x"), "");
    }

    #[test]
    fn injected_statuses_use_api_gateway_messages() {
        assert_eq!(
            injected_status(503),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
                Some("ServiceUnavailableException")
            )
        );
        assert_eq!(injected_status(429).1, "Too Many Requests");
        assert_eq!(injected_status(504).1, "Endpoint request timed out");
        assert_eq!(injected_status(418).1, "I'm a teapot");
        assert_eq!(injected_status(42).0, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(injected_status(100).0, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
