//! The gateway: an API Gateway REST API with `AWS_IAM` authorization, in front of the services.
//!
//! Checks, in API Gateway's order: an `AWS4-HMAC-SHA256` Authorization header; an access key that
//! this sandbox minted, with its session token; credentials not expired; `x-amz-date` within
//! 5 minutes; the credential scope; then the signature itself (scratchstack-aws-signature, on the
//! double-encoded wire path); then the route.
//!
//! Injected faults ([`Fault`]) slot into that order as documented on
//! [`Sandbox::inject`](crate::Sandbox::inject). Every response carries a `Date` header from the
//! gateway's clock (the real clock plus [`Sandbox::set_clock_skew`](crate::Sandbox::set_clock_skew)),
//! the clock the `x-amz-date` window is checked against.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderValue, StatusCode, Uri, header};
use scratchstack_aws_signature::{SignatureError, VecSignedHeaderRequirements};
use serde_json::{Value, json};

use crate::faults::{Fault, first_segment, injected_status};
use crate::services::{ServiceRequest, route};
use crate::state::{Rejection, Shared};
use crate::util::{
    amz_date, double_encode_path, http_date, loggable_target, parse_amz_date, request_id,
};
use crate::verify::{
    AuthHeader, MSG_INVALID_TOKEN, parse_authorization, safe_incomplete_signature_message,
    verify_sigv4,
};

/// Largest body the gateway reads (API Gateway's own limit is 10 MB).
const MAX_BODY: usize = 10 * 1024 * 1024;
/// API Gateway's allowed clock skew.
const ALLOWED_SKEW: TimeDelta = TimeDelta::minutes(5);
/// The SigV4 service name of API Gateway.
const SERVICE: &str = "execute-api";

const MSG_MISSING_TOKEN: &str = "Missing Authentication Token";
const MSG_EXPIRED_TOKEN: &str = "The security token included in the request is expired";
const MSG_SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// A refusal: status, API Gateway's error type header, message and counter reason.
struct Refusal {
    status: StatusCode,
    error_type: &'static str,
    message: String,
    rejection: Rejection,
}

impl Refusal {
    fn forbidden(
        rejection: Rejection,
        error_type: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            error_type,
            message: message.into(),
            rejection,
        }
    }

    fn missing_token(rejection: Rejection) -> Self {
        Self::forbidden(
            rejection,
            "MissingAuthenticationTokenException",
            MSG_MISSING_TOKEN,
        )
    }

    fn invalid_token() -> Self {
        Self::forbidden(
            Rejection::InvalidToken,
            "UnrecognizedClientException",
            MSG_INVALID_TOKEN,
        )
    }

    fn expired_token() -> Self {
        Self::forbidden(
            Rejection::ExpiredToken,
            "ExpiredTokenException",
            MSG_EXPIRED_TOKEN,
        )
    }

    fn invalid_signature(rejection: Rejection, message: impl Into<String>) -> Self {
        Self::forbidden(rejection, "InvalidSignatureException", message)
    }
}

fn json_response(
    status: StatusCode,
    body: &Value,
    request_id: &str,
    error_type: Option<&'static str>,
    date: DateTime<Utc>,
) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&http_date(date)) {
        headers.insert(header::DATE, v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    if let Some(error_type) = error_type {
        headers.insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    }
    response
}

/// How a request that was read ends.
enum Answer {
    /// Authenticated and served by a route (whatever status the service answered).
    Served {
        status: StatusCode,
        body: Value,
        minted_token: bool,
    },
    /// Refused (authentication, unknown route, body too large, or an injected `Reject*`).
    Refused(Refusal),
    /// Answered by an injected `Status` / `StatusRetryAfter` fault.
    Injected { code: u16, retry_after: Option<u32> },
}

/// Handles one gateway request. `None` means: close the connection without answering.
///
/// The order of the checks (documented on [`Sandbox::inject`](crate::Sandbox::inject)):
/// count, take the route's next fault, `Latency`, `DropBeforeRead`, read the body, `Reject*`
/// (in place of authentication), authentication, `Status*`, route and service,
/// `DropAfterRead`.
pub(crate) async fn handle(shared: Arc<Shared>, request: Request) -> Option<Response> {
    let request_id = request_id();
    let (parts, body) = request.into_parts();
    let segment = first_segment(parts.uri.path()).to_owned();
    shared.update_counters(|c| {
        c.gateway_requests += 1;
        *c.route_requests
            .entry(loggable_segment(&segment))
            .or_insert(0) += 1;
    });
    let target = loggable_target(parts.uri.path(), parts.uri.query());
    let method = parts.method.clone();
    let fault = shared.take_fault_at(&segment, true);
    let log = |status: u16, rejection: Option<&'static str>, applied: Option<&Fault>| {
        tracing::info!(
            target: "kernel_sandbox::gateway",
            %method,
            %target,
            // 0: the connection was closed without an answer.
            status,
            rejection = rejection.unwrap_or("-"),
            fault = %applied.map_or_else(|| "-".to_owned(), Fault::to_string),
            request_id = %request_id,
            "gateway request"
        );
    };

    // 1. Latency, before anything else (even reading the body).
    if let Some(Fault::Latency(latency)) = &fault {
        shared.update_counters(|c| c.faults_applied += 1);
        tokio::time::sleep(*latency).await;
    }
    // 2. Drop before reading the body: the service never sees the request.
    if fault == Some(Fault::DropBeforeRead) {
        shared.update_counters(|c| {
            c.faults_applied += 1;
            c.dropped_before_read += 1;
        });
        log(0, None, fault.as_ref());
        return None;
    }

    let (answer, applied) = match to_bytes(body, MAX_BODY).await {
        Err(_) => (
            Answer::Refused(Refusal {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                error_type: "RequestTooLarge",
                message: "Request Too Long".to_owned(),
                rejection: Rejection::PayloadTooLarge,
            }),
            None,
        ),
        Ok(body) => serve(&shared, &segment, parts, body, fault.clone()).await,
    };
    let applied = match &fault {
        Some(Fault::Latency(_)) => fault.clone(),
        _ => applied,
    };
    let applied = applied.as_ref();
    let drop_after_read = applied == Some(&Fault::DropAfterRead);
    let now = shared.gateway_now();

    let (response, reason) = match answer {
        Answer::Served {
            status,
            body,
            minted_token,
        } => {
            shared.update_counters(|c| {
                c.verified_requests += 1;
                if minted_token {
                    c.tokens_issued += 1;
                }
            });
            let error_type = match status {
                StatusCode::BAD_REQUEST => Some("BadRequestException"),
                StatusCode::NOT_FOUND => Some("NotFoundException"),
                _ => None,
            };
            (
                json_response(status, &body, &request_id, error_type, now),
                None,
            )
        }
        Answer::Refused(refusal) => {
            shared.count_rejection(refusal.rejection);
            let body = json!({ "message": refusal.message });
            (
                json_response(
                    refusal.status,
                    &body,
                    &request_id,
                    Some(refusal.error_type),
                    now,
                ),
                Some(refusal.rejection.reason()),
            )
        }
        Answer::Injected { code, retry_after } => {
            shared.update_counters(|c| c.injected_responses += 1);
            let (status, message, error_type) = injected_status(code);
            let mut response = json_response(
                status,
                &json!({ "message": message }),
                &request_id,
                error_type,
                now,
            );
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            (response, None)
        }
    };
    if drop_after_read {
        shared.update_counters(|c| c.dropped_after_read += 1);
        log(0, reason, applied);
        return None;
    }
    log(response.status().as_u16(), reason, applied);
    Some(response)
}

/// Route keys of [`CountersSnapshot::route_requests`](crate::CountersSnapshot): the raw first
/// segment, shortened, with card-number-like digit runs masked.
fn loggable_segment(segment: &str) -> String {
    loggable_target(&segment.chars().take(64).collect::<String>(), None)
}

/// Reject faults, authentication, status faults, then the route. `fault` is what the request
/// took on arrival; after authentication it may take a post-authentication fault. Returns the
/// answer and the fault applied (counted in `faults_applied` here, except `Latency`, counted
/// by the caller).
async fn serve(
    shared: &Shared,
    segment: &str,
    parts: http::request::Parts,
    body: Bytes,
    fault: Option<Fault>,
) -> (Answer, Option<Fault>) {
    let applied = || shared.update_counters(|c| c.faults_applied += 1);
    // 3. Reject faults replace authentication.
    match fault {
        Some(Fault::RejectTokenExpired) => {
            applied();
            return (Answer::Refused(Refusal::expired_token()), fault);
        }
        Some(Fault::RejectTokenInvalid) => {
            applied();
            return (Answer::Refused(Refusal::invalid_token()), fault);
        }
        _ => {}
    }

    // 4. Authentication.
    let raw_path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().map(str::to_owned);
    if let Err(refusal) = authenticate(shared, &parts, &raw_path, raw_query.as_deref(), &body).await
    {
        return (Answer::Refused(refusal), None);
    }
    // Authenticated: now the request may take a fault that acts after authentication.
    let fault = match fault {
        Some(f) => Some(f),
        None => shared.take_fault_at(segment, false),
    };

    // 5. Status faults: the service is not reached.
    match &fault {
        Some(Fault::Status(code)) => {
            applied();
            let answer = Answer::Injected {
                code: *code,
                retry_after: None,
            };
            return (answer, fault.clone());
        }
        Some(Fault::StatusRetryAfter(code, secs)) => {
            applied();
            let answer = Answer::Injected {
                code: *code,
                retry_after: Some(*secs),
            };
            return (answer, fault.clone());
        }
        _ => {}
    }
    let drop_after_read = fault == Some(Fault::DropAfterRead);
    let fault_applied = if drop_after_read {
        applied();
        fault
    } else {
        None
    };

    // 6. The route and its service: a spec operation (validated, then a registered handler,
    //    the built-in service or the spec's example), else a built-in route (echo), else
    //    API Gateway's answer for unknown routes.
    let builtin = route(&parts.method, &raw_path);
    let service_request = ServiceRequest {
        method: &parts.method,
        raw_path: &raw_path,
        raw_query: raw_query.as_deref(),
        headers: &parts.headers,
        body: &body,
    };
    if let Some((spec, op, path_params)) = crate::spec_routes::find(&parts.method, &raw_path) {
        let validated = crate::spec_routes::validate_request(
            spec,
            op,
            path_params,
            raw_query.as_deref(),
            &parts.headers,
            &body,
        );
        let (status, body, builtin_used) = match validated {
            Err(message) => {
                shared.count_invalid_request();
                (
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({ "message": message }),
                    false,
                )
            }
            Ok(req) => match shared.handler(&spec.meta.prefix, &op.id) {
                Some(h) => {
                    let (code, body) = h(&req);
                    (
                        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                        body,
                        false,
                    )
                }
                None => match builtin {
                    Some(r) => {
                        let (status, body) = (r.handler)(&service_request);
                        (status, body, true)
                    }
                    None => {
                        let (status, body) = crate::spec_routes::example_response(op);
                        (status, body, false)
                    }
                },
            },
        };
        let answer = Answer::Served {
            minted_token: builtin_used
                && builtin.is_some_and(|r| r.mints_token)
                && status == StatusCode::OK,
            status,
            body,
        };
        return (answer, fault_applied);
    }
    let Some(route) = builtin else {
        return (
            Answer::Refused(Refusal::missing_token(Rejection::UnknownRoute)),
            fault_applied,
        );
    };
    let (status, body) = (route.handler)(&service_request);
    let answer = Answer::Served {
        minted_token: route.mints_token && status == StatusCode::OK,
        status,
        body,
    };
    (answer, fault_applied)
}

/// Checks the token, the dates and scope, then the signature (scratchstack).
async fn authenticate(
    shared: &Shared,
    parts: &http::request::Parts,
    raw_path: &str,
    raw_query: Option<&str>,
    body: &Bytes,
) -> Result<(), Refusal> {
    let gateway_now = shared.gateway_now();
    let key = pre_checks(shared, parts, gateway_now)?;

    // The shim: hand scratchstack the wire path encoded once more (see `double_encode_path`).
    let mut shimmed = double_encode_path(raw_path);
    if let Some(q) = raw_query {
        shimmed.push('?');
        shimmed.push_str(q);
    }
    let uri: Uri = shimmed.parse().map_err(|_| {
        Refusal::invalid_signature(Rejection::SignatureMismatch, MSG_SIGNATURE_MISMATCH)
    })?;
    let mut verify_parts = parts.clone();
    verify_parts.uri = uri;
    let request = http::Request::from_parts(verify_parts, body.clone());

    let mut required = VecSignedHeaderRequirements::default();
    required.add_if_in_request("x-amz-date");
    required.add_if_in_request("x-amz-security-token");
    verify_sigv4(
        request,
        &shared.config.region,
        SERVICE,
        key,
        &required,
        gateway_now,
    )
    .await
    .map_err(refusal_for)
}

/// Steps 1–5: everything API Gateway checks before computing the signature. Returns the access key
/// and secret the signature must be made with (`None` when the header is malformed: scratchstack
/// then reports what is wrong with it).
///
/// Credential expiry is checked against the real clock; the `x-amz-date` window against
/// `gateway_now` (the real clock plus the configured skew).
fn pre_checks(
    shared: &Shared,
    parts: &http::request::Parts,
    gateway_now: DateTime<Utc>,
) -> Result<Option<(String, String)>, Refusal> {
    let scope = match parse_authorization(&parts.headers) {
        AuthHeader::Missing => {
            return Err(Refusal::missing_token(
                Rejection::MissingAuthenticationToken,
            ));
        }
        AuthHeader::Malformed => return Ok(None),
        AuthHeader::SigV4(scope) => scope,
    };

    // 2. A key minted here, presented with its own session token.
    let (secret, token, expires_at) = shared
        .lookup_minted(&scope.access_key_id)
        .ok_or_else(Refusal::invalid_token)?;
    let presented = parts
        .headers
        .get("x-amz-security-token")
        .map(HeaderValue::as_bytes);
    if presented != Some(token.as_bytes()) {
        return Err(Refusal::invalid_token());
    }

    // 3. Not expired (real clock, whatever the skew).
    if expires_at <= Utc::now() {
        return Err(Refusal::expired_token());
    }
    let now = gateway_now;

    // 4. x-amz-date within 5 minutes (scratchstack's own window is 15 minutes).
    let date = parts
        .headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_amz_date);
    if let Some(date) = date {
        if date < now - ALLOWED_SKEW {
            return Err(Refusal::invalid_signature(
                Rejection::SignatureExpired,
                format!(
                    "Signature expired: {} is now earlier than {} ({} - 5 min.)",
                    amz_date(date),
                    amz_date(now - ALLOWED_SKEW),
                    amz_date(now)
                ),
            ));
        }
        if date > now + ALLOWED_SKEW {
            return Err(Refusal::invalid_signature(
                Rejection::SignatureNotYetCurrent,
                format!(
                    "Signature not yet current: {} is still later than {} ({} + 5 min.)",
                    amz_date(date),
                    amz_date(now + ALLOWED_SKEW),
                    amz_date(now)
                ),
            ));
        }
    }

    // 5. Credential scope.
    let mut scope_errors = String::new();
    if scope.region != shared.config.region {
        scope_errors.push_str(&format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            scope.region
        ));
    }
    if scope.service != SERVICE {
        scope_errors.push_str("Credential should be scoped to correct service: 'execute-api'. ");
    }
    if scope.terminator != "aws4_request" {
        scope_errors.push_str(&format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
            scope.terminator
        ));
    }
    if let Some(date) = date {
        let expected = date.format("%Y%m%d").to_string();
        if scope.date != expected {
            scope_errors.push_str(&format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
                 '{}' != '{}', from '{}'. ",
                scope.date,
                expected,
                amz_date(date)
            ));
        }
    }
    if !scope_errors.is_empty() {
        return Err(Refusal::invalid_signature(
            Rejection::BadCredentialScope,
            scope_errors,
        ));
    }

    Ok(Some((scope.access_key_id, secret)))
}

/// Step 6: maps scratchstack's verdict to API Gateway's answer.
fn refusal_for(e: SignatureError) -> Refusal {
    match e {
        SignatureError::SignatureDoesNotMatch(Some(msg)) => {
            let rejection = if msg.starts_with("Credential should be scoped")
                || msg.starts_with("Date in Credential scope")
            {
                Rejection::BadCredentialScope
            } else if msg.starts_with("Signature expired") {
                Rejection::SignatureExpired
            } else if msg.starts_with("Signature not yet current") {
                Rejection::SignatureNotYetCurrent
            } else {
                Rejection::SignatureMismatch
            };
            Refusal::invalid_signature(rejection, msg)
        }
        SignatureError::SignatureDoesNotMatch(None) => {
            Refusal::invalid_signature(Rejection::SignatureMismatch, MSG_SIGNATURE_MISMATCH)
        }
        SignatureError::InvalidClientTokenId(_) => Refusal::invalid_token(),
        SignatureError::ExpiredToken(_) => Refusal::expired_token(),
        SignatureError::MissingAuthenticationToken(_) => {
            Refusal::missing_token(Rejection::MissingAuthenticationToken)
        }
        SignatureError::IncompleteSignature(msg) => Refusal::forbidden(
            Rejection::IncompleteSignature,
            "IncompleteSignatureException",
            safe_incomplete_signature_message(&msg),
        ),
        SignatureError::InvalidURIPath(msg)
        | SignatureError::MalformedQueryString(msg)
        | SignatureError::InvalidBodyEncoding(msg)
        | SignatureError::InvalidContentType(msg)
        | SignatureError::InvalidRequestMethod(msg) => Refusal {
            status: StatusCode::BAD_REQUEST,
            error_type: "BadRequestException",
            message: msg,
            rejection: Rejection::MalformedRequest,
        },
        _ => Refusal {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error_type: "InternalServerErrorException",
            message: "Internal server error".to_owned(),
            rejection: Rejection::InternalError,
        },
    }
}
