//! What a call is made of ([`CallOptions`]), what comes back ([`Response`]), and how the
//! unsigned `reqwest::Request` is assembled from them.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderName};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::{DecodeError, Error, RequestError};
use crate::resolve::{Resolved, Service};
use crate::retry::RetryPolicy;
use crate::signing::RESERVED_HEADERS;

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Per-call options. Everything is optional: unset values take the service's defaults
/// (DESIGN.md) or the client's.
///
/// ```
/// use kernel_core::CallOptions;
/// use std::time::Duration;
/// let opts = CallOptions::new()
///     .json(&serde_json::json!({"token": "..."}))
///     .header("x-idempotency-key", "3f1c")
///     .read_timeout(Duration::from_secs(5));
/// // The body never shows up in Debug output.
/// assert!(!format!("{opts:?}").contains("token"));
/// ```
#[derive(Default, Clone)]
pub struct CallOptions {
    pub(crate) method: Option<Method>,
    pub(crate) body: Option<Bytes>,
    pub(crate) headers: HeaderMap,
    pub(crate) region_in_url: Option<bool>,
    pub(crate) subsystem: Option<Cow<'static, str>>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) idempotent: bool,
    /// Builder errors are kept until the call so that the builder stays chainable; the call
    /// then fails before anything is sent.
    pub(crate) error: Option<RequestError>,
}

impl fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallOptions")
            .field("method", &self.method)
            .field(
                "body",
                &self
                    .body
                    .as_ref()
                    .map(|b| format!("<{} bytes redacted>", b.len())),
            )
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("region_in_url", &self.region_in_url)
            .field("subsystem", &self.subsystem)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("deadline", &self.deadline)
            .field("retry", &self.retry)
            .field("idempotent", &self.idempotent)
            .finish()
    }
}

impl CallOptions {
    /// Empty options: all defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// HTTP method (default: the service's, POST for the generic call).
    pub fn method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }
    /// A JSON body, serialized now. Sets `Content-Type: application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(v) => self.body = Some(Bytes::from(v)),
            Err(e) => {
                self.error.get_or_insert(RequestError::Body {
                    why: format!("{:?}", e.classify()).to_lowercase(),
                });
            }
        }
        self
    }
    /// A raw body, sent byte for byte (`Content-Type: application/json` unless a
    /// `content-type` header is given).
    pub fn body(mut self, bytes: impl Into<Bytes>) -> Self {
        self.body = Some(bytes.into());
        self
    }
    /// An extra header. `authorization`, `host` and `x-amz-*` signing headers are refused.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        let refuse = |why| RequestError::Header {
            name: name.chars().take(64).collect(),
            why,
        };
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            self.error
                .get_or_insert(refuse("set by the signer; it cannot be supplied"));
            return self;
        }
        match (
            HeaderName::from_bytes(lower.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) => {
                self.headers.append(n, v);
            }
            (Err(_), _) => {
                self.error.get_or_insert(refuse("not a valid header name"));
            }
            (_, Err(_)) => {
                self.error.get_or_insert(refuse(
                    "the value holds characters not allowed in a header (e.g. CR/LF)",
                ));
            }
        }
        self
    }
    /// Whether the region is part of the URL (generic call default: true).
    pub fn region_in_url(mut self, yes: bool) -> Self {
        self.region_in_url = Some(yes);
        self
    }
    /// Log subsystem (default: the service's, or the prefix for the generic call).
    pub fn subsystem(mut self, s: impl Into<Cow<'static, str>>) -> Self {
        self.subsystem = Some(s.into());
        self
    }
    /// Connect timeout for this call.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = Some(t);
        self
    }
    /// Read timeout for this call.
    pub fn read_timeout(mut self, t: Duration) -> Self {
        self.read_timeout = Some(t);
        self
    }
    /// Overall deadline for this call: every attempt and every backoff included.
    pub fn deadline(mut self, t: Duration) -> Self {
        self.deadline = Some(t);
        self
    }
    /// Retry policy for this call (default: the client's).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }
    /// No retries for this call.
    pub fn no_retries(self) -> Self {
        self.retry(RetryPolicy::none())
    }
    /// Declares the call safe to repeat even if it may have reached the service (e.g. a
    /// POST carrying an idempotency key the kernel honours). Without it, a POST is only
    /// repeated when it provably never left (connection not established) or was refused
    /// by API Gateway's authorizer.
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }
    /// Applies a service's defaults where nothing was set.
    pub(crate) fn with_service_defaults(mut self, service: &Service) -> Self {
        self.method
            .get_or_insert_with(|| service.default_method.method());
        self.region_in_url.get_or_insert(service.region_in_url);
        self.subsystem
            .get_or_insert(Cow::Borrowed(service.subsystem));
        self
    }
}

/// A successful (status < 400) kernel response.
#[derive(Clone)]
pub struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) duration: Duration,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field(
                "body",
                &format_args!("<{} bytes redacted>", self.body.len()),
            )
            .field("duration", &self.duration)
            .finish()
    }
}

impl Response {
    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// All headers, every value of repeated ones.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
    /// Every value of one header, in order.
    pub fn header_values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .get_all(name.to_ascii_lowercase())
            .into_iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .into_iter()
    }
    /// The body bytes. They may contain card data: do not log them.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
    /// Wall time from the start of the call to the end of the body.
    pub fn duration(&self) -> Duration {
        self.duration
    }
    /// Decodes the body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        decode_json(&self.body)
    }
}

pub(crate) fn decode_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::Decode(DecodeError::from_serde::<T>(&e)))
}

/// The fully resolved, still unsigned request.
pub(crate) struct Prepared {
    pub request: reqwest::Request,
    pub subsystem: Cow<'static, str>,
    pub connect_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
    pub deadline: Option<Duration>,
    pub retry: Option<RetryPolicy>,
    pub idempotent: bool,
}

/// Validates options and endpoint and assembles the request. No network.
pub(crate) fn prepare(
    config: &Config,
    resolved: &Resolved,
    prefix: &str,
    endpoint: &str,
    mut opts: CallOptions,
) -> Result<Prepared, Error> {
    if let Some(e) = opts.error.take() {
        return Err(e.into());
    }
    let region_in_url = opts.region_in_url.unwrap_or(true);
    let url = resolved.call_url(config, prefix, region_in_url, endpoint)?;
    let method = opts.method.take().unwrap_or(Method::POST);
    let mut request = reqwest::Request::new(method, url);
    let headers = request.headers_mut();
    headers.insert(ACCEPT, APPLICATION_JSON);
    let has_content_type = opts.headers.contains_key(CONTENT_TYPE);
    for (name, value) in opts.headers.iter() {
        if name == ACCEPT {
            headers.insert(ACCEPT, value.clone()); // a caller may narrow Accept
        } else {
            headers.append(name.clone(), value.clone());
        }
    }
    if let Some(body) = opts.body.take() {
        if !has_content_type {
            headers.insert(CONTENT_TYPE, APPLICATION_JSON);
        }
        *request.body_mut() = Some(reqwest::Body::from(body));
    }
    Ok(Prepared {
        request,
        subsystem: opts
            .subsystem
            .unwrap_or_else(|| Cow::Owned(prefix.to_owned())),
        connect_timeout: opts.connect_timeout,
        read_timeout: opts.read_timeout,
        deadline: opts.deadline,
        retry: opts.retry,
        idempotent: opts.idempotent,
    })
}

/// Takes over a request a generated client assembled: it must go to the service's base
/// (scheme, host, port and base path, https or loopback http) and carry no signing
/// headers; the options contribute timeouts, deadline, retry policy, idempotency and extra
/// headers. No network. `base` is the service's base URL, resolved once per typed client.
pub(crate) fn adopt(
    base: &url::Url,
    service: &Service,
    mut request: reqwest::Request,
    opts: &CallOptions,
) -> Result<Prepared, Error> {
    if let Some(e) = &opts.error {
        return Err(e.clone().into());
    }
    let url = request.url();
    // Path parameters are percent-encoded by the generator, but `.` and `..` are not
    // encoded and the URL parser resolves them: this is where such a value would escape.
    if url.scheme() != base.scheme()
        || url.host() != base.host()
        || url.port_or_known_default() != base.port_or_known_default()
        || !url.username().is_empty()
        || url.password().is_some()
        || !(url.path().starts_with(base.path()) || url.path() == base.path().trim_end_matches('/'))
        || url.fragment().is_some()
    {
        return Err(RequestError::Endpoint {
            why: "a parameter would change the scheme, host, port or base path",
        }
        .into());
    }
    if url.path().contains(crate::typed::REFUSED_SEGMENT) {
        return Err(RequestError::Endpoint {
            why: "a path parameter is empty, `.` or `..`",
        }
        .into());
    }
    crate::resolve::check_transport_security(url)?;
    for name in request.headers().keys() {
        if RESERVED_HEADERS.contains(&name.as_str()) {
            return Err(RequestError::Header {
                name: name.as_str().to_owned(),
                why: "set by the signer; it cannot be supplied",
            }
            .into());
        }
    }
    for (name, value) in opts.headers.iter() {
        request.headers_mut().append(name.clone(), value.clone());
    }
    if request.body().is_some_and(|b| b.as_bytes().is_none()) {
        return Err(RequestError::StreamingBody.into());
    }
    Ok(Prepared {
        request,
        subsystem: opts
            .subsystem
            .clone()
            .unwrap_or(Cow::Borrowed(service.subsystem)),
        connect_timeout: opts.connect_timeout,
        read_timeout: opts.read_timeout,
        deadline: opts.deadline,
        retry: opts.retry,
        idempotent: opts.idempotent,
    })
}

/// The path for logs: no query, and anything that looks like a card number replaced (see
/// [`crate::redact::card_numbers`]), in case a caller put one in a path segment.
pub fn loggable_path(url: &url::Url) -> String {
    loggable_path_str(url.path())
}

/// [`loggable_path`] for a bare path.
pub fn loggable_path_str(path: &str) -> String {
    crate::redact::card_numbers(path)
}

/// The query parameter names (never values), for logs; long digit runs are redacted too.
pub fn loggable_query_keys(url: &url::Url) -> String {
    let mut keys: Vec<String> = url
        .query_pairs()
        .map(|(k, _)| crate::redact::card_numbers(&k))
        .collect();
    keys.dedup();
    keys.join(",")
}
