//! One error type for everything a kernel call can run into.
//!
//! Every message says what went wrong *and what to do about it*, and none of them carries
//! request or response bodies, query values, secrets or tokens: bodies may hold card data,
//! so they stay reachable through accessors ([`StatusError::body`]) but never through
//! `Display` or `Debug`.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};

use crate::resolve::AuthMode;

/// Result alias for kernel-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong on the way from configuration to a decoded response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration (environment or builder) is missing a value or holds an unsafe one.
    /// Raised before any network call.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The request could not be built (bad endpoint, header, or body). Nothing was sent.
    #[error(transparent)]
    InvalidRequest(#[from] RequestError),

    /// STS refused or failed to hand out credentials for the kernel role.
    #[error(transparent)]
    AssumeRole(#[from] AssumeRoleError),

    /// The request could not be signed. Nothing was sent.
    #[error(
        "could not sign the request: {reason}; this is a bug or an unsupported request shape, please report it"
    )]
    Signing {
        /// Why signing failed (never contains secrets or header values).
        reason: String,
    },

    /// The request did not reach the kernel or the response did not come back.
    #[error(transparent)]
    Transport(#[from] TransportError),

    /// The kernel answered with HTTP status 400 or above.
    #[error(transparent)]
    Status(Box<StatusError>),

    /// The response body is not the JSON the caller asked for.
    #[error(transparent)]
    Decode(#[from] DecodeError),

    /// A typed client got a success or redirect status its spec does not document for the
    /// operation (e.g. 201 where the spec says 200); the answer was not decoded.
    #[error(
        "the service answered HTTP {status}, which its spec does not document for this operation (the answer was not decoded)"
    )]
    Undocumented {
        /// The status.
        status: u16,
    },

    /// More than one attempt was made and the last one failed: every attempt's reason and
    /// the last error.
    #[error(transparent)]
    Exhausted(Box<RetriesExhausted>),
}

/// The call was attempted several times (or a retry was refused); none succeeded.
#[derive(Debug, thiserror::Error)]
#[error("gave up after {} attempt{} ({}){}; last error: {last}",
    .attempts.len(),
    if .attempts.len() == 1 { "" } else { "s" },
    self.numbered(),
    .stopped.as_deref().map(|s| format!(", then stopped: {s}")).unwrap_or_default())]
pub struct RetriesExhausted {
    /// Why each attempt failed, in order (short, data-free descriptions).
    pub attempts: Vec<String>,
    /// Why no further attempt was made, when it was not the attempt limit (e.g. the retry
    /// quota is exhausted, or `Retry-After` asked for too long a wait).
    pub stopped: Option<String>,
    /// The last attempt's error.
    pub last: Error,
}

impl RetriesExhausted {
    fn numbered(&self) -> String {
        self.attempts
            .iter()
            .enumerate()
            .map(|(i, a)| format!("{}: {a}", i + 1))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Error {
    /// The HTTP status, when the kernel (finally) answered with an error status.
    pub fn status(&self) -> Option<StatusCode> {
        self.as_status().map(StatusError::status)
    }

    /// The status error, when the kernel (finally) answered with an error status.
    pub fn as_status(&self) -> Option<&StatusError> {
        match self.last() {
            Error::Status(e) => Some(e),
            _ => None,
        }
    }

    /// The error of the last attempt (this error itself unless retries were made).
    pub fn last(&self) -> &Error {
        match self {
            Error::Exhausted(e) => e.last.last(),
            other => other,
        }
    }

    /// The kernel's error body decoded as `T` (a generated crate's `types::Error`), when
    /// the kernel (finally) answered with an error status and a body of that shape. The
    /// body may echo input: do not log it.
    pub fn error_body<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        self.as_status().and_then(|s| s.json::<T>().ok())
    }

    /// How many attempts were made (1 unless retried).
    pub fn attempts(&self) -> usize {
        match self {
            Error::Exhausted(e) => e.attempts.len(),
            _ => 1,
        }
    }
}

impl From<StatusError> for Error {
    fn from(value: StatusError) -> Self {
        Error::Status(Box::new(value))
    }
}

/// A configuration value is missing or unsafe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required value is absent (or empty).
    #[error(
        "{name} is not set: set the {name} environment variable (or call `.{builder}(..)` on the builder)"
    )]
    Missing {
        /// Environment variable name.
        name: &'static str,
        /// Builder method name.
        builder: &'static str,
    },
    /// A value that ends up in a host name is not a safe DNS label.
    #[error(
        "{name}={value:?} is not a safe DNS label: use 1-63 lower-case letters, digits and inner hyphens ({why})"
    )]
    NotDnsLabel {
        /// Which setting.
        name: &'static str,
        /// The offending value (these settings are identifiers, never secrets).
        value: String,
        /// What exactly is wrong.
        why: &'static str,
    },
    /// `KERNEL_ENV_OVERRIDE` is neither `qakernel` nor `kernel`.
    #[error(
        "KERNEL_ENV_OVERRIDE={value:?} is not a kernel environment: use `qakernel` or `kernel`, or unset it"
    )]
    UnknownKernelEnv {
        /// The offending value.
        value: String,
    },
    /// An endpoint override URL is unusable.
    #[error("{name} is not a usable endpoint URL: {why}")]
    BadEndpointOverride {
        /// Which setting (e.g. `KERNEL_ENDPOINT_URL_K3`).
        name: String,
        /// What exactly is wrong.
        why: String,
    },
    /// A value is not valid UTF-8 or otherwise malformed.
    #[error("{name} is invalid: {why}")]
    Invalid {
        /// Which setting.
        name: &'static str,
        /// What exactly is wrong.
        why: String,
    },
}

/// The request could not be built; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The endpoint argument could change the scheme, host or port, or is malformed.
    #[error(
        "endpoint refused: {why}; pass a path relative to the service (e.g. `v1/tokenize` or `?card_bin=411111`)"
    )]
    Endpoint {
        /// What is wrong with it (the endpoint itself is not repeated: it may hold data).
        why: &'static str,
    },
    /// The service prefix is not a safe DNS label / path segment.
    #[error(
        "service prefix {prefix:?} is not a safe DNS label (lower-case letters, digits, inner hyphens)"
    )]
    ServicePrefix {
        /// The offending prefix.
        prefix: String,
    },
    /// A caller-supplied header is invalid or reserved for signing.
    #[error("header {name:?} refused: {why}")]
    Header {
        /// Header name (values are never echoed).
        name: String,
        /// Why.
        why: &'static str,
    },
    /// The JSON body could not be serialized.
    #[error("the request body could not be serialized to JSON: {why}")]
    Body {
        /// serde's category of the failure (no values).
        why: String,
    },
    /// A typed client's parameter or body was not accepted (the message names the
    /// parameter and the expected type, never the value).
    #[error("invalid request: {why}")]
    Parameter {
        /// progenitor's or typify's description.
        why: String,
    },
    /// A streaming body: it cannot be hashed for SigV4 or replayed for a retry.
    #[error(
        "streaming request bodies are not supported (SigV4 needs the payload hash); pass bytes"
    )]
    StreamingBody,
    /// Dry-run mode: the call was planned, not sent.
    #[error("dry run: the request was planned and not sent")]
    DryRun,
    /// The final URL does not use HTTPS and is not a loopback address.
    #[error(
        "refusing to send to {scheme}://{host}: only https, or http on a loopback address, is allowed"
    )]
    InsecureUrl {
        /// URL scheme.
        scheme: String,
        /// URL host.
        host: String,
    },
}

/// STS did not hand out credentials for the kernel role.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render())]
pub struct AssumeRoleError {
    /// The role that was to be assumed.
    pub role_arn: String,
    /// Authentication mode (which also tells whether an ExternalId was sent).
    pub mode: AuthMode,
    /// STS error code, e.g. `AccessDenied`, when STS answered.
    pub code: Option<String>,
    /// STS's message or the transport failure (never secrets).
    pub message: String,
    /// Whether the failure is worth retrying later (throttling, 5xx, network).
    pub retryable: bool,
}

impl AssumeRoleError {
    fn render(&self) -> String {
        let ext = match self.mode {
            AuthMode::Internal => "mode 1, no ExternalId sent",
            AuthMode::External => "mode 2, ExternalId sent (K3_EXTERNAL_ID)",
        };
        let hint = match self.code.as_deref() {
            Some("AccessDenied") => match self.mode {
                AuthMode::Internal => {
                    "check that your account is allowed to assume this role, or set K3_EXTERNAL_ID if you are an external partner"
                }
                AuthMode::External => {
                    "check K3_EXTERNAL_ID and that your account is trusted by this role"
                }
            },
            Some("ExpiredToken") | Some("InvalidClientTokenId") | Some("SignatureDoesNotMatch") => {
                "your base AWS credentials are invalid or expired: refresh them (aws sso login, profile, env vars)"
            }
            Some(_) if self.retryable => "STS is throttling or failing: retry later",
            Some(_) => "see the STS message",
            None => {
                "check network access to STS and that base AWS credentials are available (env vars, profile, SSO, role)"
            }
        };
        match &self.code {
            Some(code) => format!(
                "could not assume role {} ({ext}): STS {code}: {}; {hint}",
                self.role_arn, self.message
            ),
            None => format!(
                "could not assume role {} ({ext}): {}; {hint}",
                self.role_arn, self.message
            ),
        }
    }
}

/// Which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// Establishing the TCP/TLS connection took too long.
    Connect,
    /// Waiting for response bytes took too long (one attempt).
    Read,
    /// The call as a whole (all attempts and backoff) took too long.
    Deadline,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::Read => "read",
            TimeoutKind::Deadline => "overall deadline",
        })
    }
}

/// The request did not complete at the HTTP level.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// No connection could be made.
    #[error(
        "could not connect to {host} for {service}: {reason}; check the kernel URL, DNS and network access"
    )]
    Connect {
        /// Kernel service prefix.
        service: String,
        /// Host (and port) that was dialled.
        host: String,
        /// Underlying reason (no URL query, no body).
        reason: String,
    },
    /// A timeout fired.
    #[error(
        "{kind} timeout after {after:?} talking to {host} for {service}; the kernel may be slow or unreachable: retry, or raise the {kind} timeout"
    )]
    Timeout {
        /// Kernel service prefix.
        service: String,
        /// Host (and port).
        host: String,
        /// Which timeout.
        kind: TimeoutKind,
        /// The configured limit.
        after: Duration,
    },
    /// The response body exceeded the configured maximum.
    #[error(
        "the response from {service} exceeded {limit} bytes and was dropped; raise max_response_bytes if this is expected"
    )]
    BodyTooLarge {
        /// Kernel service prefix.
        service: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// Any other HTTP-level failure.
    #[error("HTTP failure talking to {host} for {service}: {reason}")]
    Other {
        /// Kernel service prefix.
        service: String,
        /// Host (and port).
        host: String,
        /// Underlying reason.
        reason: String,
    },
}

/// The kernel answered with a status >= 400. Status, headers and body stay available; the
/// body is never printed by `Display` or `Debug` because it may contain card data.
pub struct StatusError {
    pub(crate) service: String,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) duration: Duration,
}

/// API Gateway's own error messages: fixed texts, safe to show, and each tells the caller
/// something actionable.
const GATEWAY_MESSAGES: &[(&str, &str)] = &[
    (
        "Missing Authentication Token",
        "no such route, or the request was not signed: check the service prefix and endpoint",
    ),
    (
        "The security token included in the request is invalid",
        "the kernel does not accept these credentials: check the kernel environment/account",
    ),
    (
        "The security token included in the request is expired",
        "the temporary credentials expired: they will be refreshed",
    ),
    (
        "The request signature we calculated does not match",
        "signature mismatch: something changed the request after signing (proxy?), or a bug",
    ),
    (
        "Signature expired",
        "this machine's clock is off by more than 5 minutes: fix NTP",
    ),
    (
        "Signature not yet current",
        "this machine's clock is ahead by more than 5 minutes: fix NTP",
    ),
    (
        "is not authorized to perform: execute-api:Invoke",
        "the role may not invoke this API: ask the kernel team for access",
    ),
];

impl StatusError {
    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// All response headers (multi-valued).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
    /// The raw response body. It may contain card data: do not log it.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
    /// How long the call took.
    pub fn duration(&self) -> Duration {
        self.duration
    }
    /// Service prefix that answered.
    pub fn service(&self) -> &str {
        &self.service
    }
    /// Decode the error body as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        crate::call::decode_json(&self.body)
    }
    /// The `message` field of a JSON error body (`{"message": "..."}`), if any. It comes
    /// from the service and may, in theory, echo input: treat it like the body.
    pub fn message(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Msg {
            message: String,
        }
        serde_json::from_slice::<Msg>(&self.body)
            .ok()
            .map(|m| m.message)
    }
    /// When the body is one of API Gateway's own fixed error messages (authentication,
    /// routing, clock), that message and what it means. Safe to display.
    pub fn gateway_message(&self) -> Option<(&'static str, &'static str)> {
        let msg = self.message()?;
        GATEWAY_MESSAGES
            .iter()
            .find(|(prefix, _)| msg.contains(prefix))
            .copied()
    }
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} answered HTTP {}",
            self.service, self.method, self.path, self.status
        )?;
        match self.gateway_message() {
            Some((msg, hint)) => write!(f, ": API Gateway says {msg:?} ({hint})"),
            None => {
                let what = if self.status.is_server_error() {
                    "the kernel failed; retry later"
                } else if self.status == StatusCode::TOO_MANY_REQUESTS {
                    "throttled; slow down and retry"
                } else {
                    "the request was refused"
                };
                write!(
                    f,
                    " ({what}; the {}-byte response body is kept out of messages)",
                    self.body.len()
                )
            }
        }
    }
}

impl fmt::Debug for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusError")
            .field("service", &self.service)
            .field("method", &self.method)
            .field("path", &self.path)
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

impl std::error::Error for StatusError {}

/// The body is not the JSON the caller expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the response body is not valid {target}: {category} error at line {line}, column {column}; check that you decode into the right type"
)]
pub struct DecodeError {
    /// Target type name.
    pub target: &'static str,
    /// serde_json's category (`syntax`, `data`, `eof`, `io`): serde's own message is not
    /// kept because it quotes the offending value, which may be card data.
    pub category: &'static str,
    /// Line of the failure.
    pub line: usize,
    /// Column of the failure.
    pub column: usize,
}

impl DecodeError {
    pub(crate) fn from_serde<T>(e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        DecodeError {
            target: std::any::type_name::<T>(),
            category: match e.classify() {
                Category::Io => "io",
                Category::Syntax => "syntax",
                Category::Data => "data",
                Category::Eof => "eof",
            },
            line: e.line(),
            column: e.column(),
        }
    }
}
