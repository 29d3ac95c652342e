//! kernel-core's side of the generated, typed service clients (`kernel-k3`,
//! `kernel-wallets`, `kernel-binlookup`, `kernel-bankdata`, and any crate `cargo xtask regen`
//! creates).
//!
//! A generated client (progenitor, builder style, `HooksMode::Expected`) holds a
//! [`ServiceContext`] as its inner value, and its `ClientHooks::exec` hands every finished
//! `reqwest::Request` to [`ServiceContext::execute`]. From there the request takes exactly
//! the path of [`KernelClient::call`]: the URL is checked against the service's base, then
//! each attempt takes credentials from the cache, is signed last, sent through the pooled
//! client with the configured timeouts, retried or corrected by the same rules, and traced
//! with the service's subsystem.
//!
//! progenitor's `exec` can only return `reqwest::Result<reqwest::Response>`, and a
//! `reqwest::Error` cannot be constructed, so kernel-core's outcome crosses the generated
//! code inside the response: a success is handed over as the real response; any
//! [`Error`] — including a final HTTP error status, with its attempt history — travels in a
//! response with the reserved status [`CARRIER_STATUS`] (599) whose extensions hold the
//! error. The generated `send()` (see kernel-codegen) turns progenitor's result back into
//! [`Error`] with [`into_error`]; users never see progenitor's error type, whose `Debug`
//! prints response bodies.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::StatusCode;

use crate::call::CallOptions;
use crate::client::{KernelClient, Plan};
use crate::error::{DecodeError, Error, RequestError, TransportError};
use crate::resolve::Service;

/// The status that carries a kernel-core [`Error`] through generated code. Specs may not
/// declare it (kernel-spec refuses 599 and `5XX`).
pub const CARRIER_STATUS: u16 = 599;

/// What a generated client holds: the shared [`KernelClient`], its service's metadata and
/// the per-client call options. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ServiceContext {
    kernel: KernelClient,
    service: Service,
    options: CallOptions,
    /// The service's base URL, resolved once, and its text without the trailing `/`.
    base: Result<(url::Url, String), RequestError>,
    plans: Option<Arc<Mutex<Vec<Plan>>>>,
}

impl ServiceContext {
    /// The context for `service` on `kernel`.
    pub fn new(kernel: &KernelClient, service: Service) -> ServiceContext {
        let base = kernel
            .resolved()
            .base_url(kernel.config(), service.prefix, service.region_in_url)
            .map(|u| {
                let text = u.as_str().trim_end_matches('/').to_owned();
                (u, text)
            });
        ServiceContext {
            kernel: kernel.clone(),
            service,
            options: CallOptions::new(),
            base,
            plans: None,
        }
    }

    /// Options applied to every call of this client: timeouts, deadline, retry policy,
    /// idempotency, extra headers. The method, body and URL come from the operation.
    pub fn with_options(mut self, options: CallOptions) -> ServiceContext {
        self.options = options;
        self
    }

    /// Dry-run mode: nothing is sent; every call signs with placeholder credentials, its
    /// [`Plan`] is appended to `sink`, and the call fails with a "dry run" error.
    pub fn dry_run(mut self, sink: Arc<Mutex<Vec<Plan>>>) -> ServiceContext {
        self.plans = Some(sink);
        self
    }

    /// The service.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// The kernel client.
    pub fn kernel(&self) -> &KernelClient {
        &self.kernel
    }

    /// The service's base URL without the trailing `/` (generated paths start with `/`).
    /// When it cannot be resolved, a placeholder that is never contacted: every call then
    /// fails with the resolution error before anything is sent.
    pub fn base_url(&self) -> &str {
        match &self.base {
            Ok((_, text)) => text,
            Err(_) => "http://unresolved.invalid",
        }
    }

    /// The kernel client's pooled reqwest client (default timeouts), handed to the
    /// generated client so that progenitor's own 15 s client is never built.
    pub fn reqwest_client(&self) -> reqwest::Client {
        self.kernel.reqwest_client()
    }

    /// Runs a generated request through kernel-core. Never fails at the reqwest level: a
    /// kernel-core error comes back as a [`CARRIER_STATUS`] response (see the module docs).
    pub async fn execute(
        &self,
        request: reqwest::Request,
        operation_id: &'static str,
    ) -> reqwest::Response {
        let outcome = match &self.base {
            Err(e) => Err(Error::from(e.clone())),
            Ok((base, _)) => match &self.plans {
                Some(sink) => self.plan(base, request, sink),
                None => {
                    tracing::trace!(target: crate::observability::TARGET, operation = operation_id, "typed call");
                    self.kernel
                        .execute_request(&self.service, base, request, &self.options)
                        .await
                }
            },
        };
        match outcome {
            Ok(r) => {
                let mut builder = http::Response::builder().status(r.status);
                if let Some(h) = builder.headers_mut() {
                    *h = r.headers;
                }
                match builder.body(r.body) {
                    Ok(resp) => reqwest::Response::from(resp),
                    Err(_) => carrier(Error::Signing {
                        reason: "could not rebuild the response".into(),
                    }),
                }
            }
            Err(e) => carrier(e),
        }
    }

    fn plan(
        &self,
        base: &url::Url,
        request: reqwest::Request,
        sink: &Mutex<Vec<Plan>>,
    ) -> Result<crate::Response, Error> {
        let prepared = crate::call::adopt(base, &self.service, request, &self.options)?;
        let plan = crate::client::plan_prepared(self.kernel.config(), prepared.request)?;
        sink.lock().unwrap_or_else(|p| p.into_inner()).push(plan);
        Err(Error::from(RequestError::DryRun))
    }
}

/// Marks a path parameter that must not be sent (see [`encode_path`]); never valid in a
/// kernel URL, and refused before signing.
pub(crate) const REFUSED_SEGMENT: &str = "%00refused-path-parameter%00";

/// Percent-encodes one path parameter, as progenitor's `encode_path` does, except that a
/// value the URL parser would resolve as a dot segment (`.`, `..`, in any escaping) or an
/// empty one becomes a marker that kernel-core refuses before signing: such a value would
/// otherwise move the request to another path of the service. kernel-codegen makes the
/// generated code call this instead of progenitor's.
pub fn encode_path(segment: &str) -> String {
    if segment.is_empty() || is_dot_segment(segment) {
        return REFUSED_SEGMENT.to_owned();
    }
    progenitor_client::encode_path(segment)
}

/// `.` or `..`, each dot written as `.` or `%2e` (any case); no allocation, as this runs
/// for every path parameter of every call.
fn is_dot_segment(segment: &str) -> bool {
    let mut rest = segment.as_bytes();
    let mut dots = 0;
    while !rest.is_empty() && dots < 3 {
        match rest {
            [b'.', tail @ ..] => rest = tail,
            [b'%', b'2', e, tail @ ..] if e.eq_ignore_ascii_case(&b'e') => rest = tail,
            _ => return false,
        }
        dots += 1;
    }
    rest.is_empty() && (1..=2).contains(&dots)
}

/// The error riding in a carrier response's extensions.
#[derive(Clone)]
struct Carried(Arc<Mutex<Option<Error>>>);

fn carrier(error: Error) -> reqwest::Response {
    let mut resp = http::Response::new(Bytes::new());
    *resp.status_mut() =
        StatusCode::from_u16(CARRIER_STATUS).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.extensions_mut()
        .insert(Carried(Arc::new(Mutex::new(Some(error)))));
    reqwest::Response::from(resp)
}

/// progenitor's error → kernel-core's, without ever printing a body, a header value or a
/// URL. `T` is the operation's success type (named in decode errors).
pub fn into_error<T, E>(error: progenitor_client::Error<E>) -> Error {
    use progenitor_client::Error as P;
    match error {
        P::UnexpectedResponse(resp) => {
            if let Some(Carried(slot)) = resp.extensions().get::<Carried>()
                && let Some(e) = slot.lock().unwrap_or_else(|p| p.into_inner()).take()
            {
                return e;
            }
            // Not ours: a success status the spec does not list (e.g. 201 for a 200).
            Error::Undocumented {
                status: resp.status().as_u16(),
            }
        }
        // progenitor's messages name the parameter and the target type, never the value.
        P::InvalidRequest(msg) => Error::from(RequestError::Parameter { why: msg }),
        P::InvalidResponsePayload(_, e) => Error::Decode(DecodeError::from_serde::<T>(&e)),
        P::ResponseBodyError(e) | P::CommunicationError(e) | P::InvalidUpgrade(e) => {
            Error::Transport(TransportError::Other {
                service: String::new(),
                host: String::new(),
                reason: format!("request could not be built or read: {}", e.without_url()),
            })
        }
        // Never produced: kernel-core answers every error status through the carrier, and
        // the hooks return no custom errors. Mapped without the body all the same.
        P::ErrorResponse(rv) => Error::Undocumented {
            status: rv.status().as_u16(),
        },
        P::Custom(msg) => Error::from(RequestError::Parameter { why: msg }),
    }
}

/// Implements progenitor's `ClientHooks` for a generated `Client` so that its requests
/// run through kernel-core. kernel-codegen emits one invocation per generated client; with
/// `HooksMode::Expected`, a client without it does not compile.
#[macro_export]
macro_rules! impl_kernel_hooks {
    ($client:ty) => {
        impl ::progenitor_client::ClientHooks<$crate::typed::ServiceContext> for $client {
            async fn exec(
                &self,
                request: ::reqwest::Request,
                info: &::progenitor_client::OperationInfo,
            ) -> ::reqwest::Result<::reqwest::Response> {
                use ::progenitor_client::ClientInfo as _;
                Ok(self.inner().execute(request, info.operation_id).await)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_that_would_be_dot_segments_are_refused() {
        assert_eq!(encode_path("w-7"), "w-7");
        assert_eq!(encode_path("a b/c"), "a%20b%2Fc");
        for bad in ["", ".", "..", "%2e", "%2E%2e", ".%2E"] {
            assert_eq!(encode_path(bad), REFUSED_SEGMENT, "{bad:?}");
        }
        assert_eq!(encode_path("..."), "...", "three dots are an ordinary name");
        for ordinary in ["%2e%2e%2e", ".a", "%2", "%2f", "a.."] {
            assert_ne!(encode_path(ordinary), REFUSED_SEGMENT, "{ordinary:?}");
        }
    }
}
