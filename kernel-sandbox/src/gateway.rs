//! The gateway: an API Gateway REST API with `AWS_IAM` authorization, in front of the services.
//!
//! Checks, in API Gateway's order: an `AWS4-HMAC-SHA256` Authorization header; an access key that
//! this sandbox minted, with its session token; credentials not expired; `x-amz-date` within
//! 5 minutes; the credential scope; then the signature itself (scratchstack-aws-signature, on the
//! double-encoded wire path); then the route.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use chrono::{TimeDelta, Utc};
use http::{HeaderValue, StatusCode, Uri, header};
use scratchstack_aws_signature::{SignatureError, VecSignedHeaderRequirements};
use serde_json::{Value, json};

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

    fn invalid_signature(rejection: Rejection, message: impl Into<String>) -> Self {
        Self::forbidden(rejection, "InvalidSignatureException", message)
    }
}

fn json_response(
    status: StatusCode,
    body: &Value,
    request_id: &str,
    error_type: Option<&'static str>,
) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&http_date(Utc::now())) {
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

/// The axum handler of the gateway listener.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    shared.update_counters(|c| c.gateway_requests += 1);
    let request_id = request_id();
    let (parts, body) = request.into_parts();
    let target = loggable_target(parts.uri.path(), parts.uri.query());
    let method = parts.method.clone();

    let outcome = match to_bytes(body, MAX_BODY).await {
        Err(_) => Err(Refusal {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            error_type: "RequestTooLarge",
            message: "Request Too Long".to_owned(),
            rejection: Rejection::PayloadTooLarge,
        }),
        Ok(body) => serve(&shared, parts, body).await,
    };

    let (response, reason) = match outcome {
        Ok((status, value)) => {
            shared.update_counters(|c| c.verified_requests += 1);
            let error_type = match status {
                StatusCode::BAD_REQUEST => Some("BadRequestException"),
                StatusCode::NOT_FOUND => Some("NotFoundException"),
                _ => None,
            };
            (json_response(status, &value, &request_id, error_type), None)
        }
        Err(refusal) => {
            shared.count_rejection(refusal.rejection);
            let body = json!({ "message": refusal.message });
            (
                json_response(refusal.status, &body, &request_id, Some(refusal.error_type)),
                Some(refusal.rejection.reason()),
            )
        }
    };
    tracing::info!(
        target: "kernel_sandbox::gateway",
        %method,
        %target,
        status = response.status().as_u16(),
        rejection = reason.unwrap_or("-"),
        request_id = %request_id,
        "gateway request"
    );
    response
}

/// Authenticates, then routes. `Ok` carries the service's answer.
async fn serve(
    shared: &Shared,
    parts: http::request::Parts,
    body: Bytes,
) -> Result<(StatusCode, Value), Refusal> {
    let key = pre_checks(shared, &parts)?;

    // The shim: hand scratchstack the wire path encoded once more (see `double_encode_path`).
    let raw_path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().map(str::to_owned);
    let mut shimmed = double_encode_path(&raw_path);
    if let Some(q) = &raw_query {
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
    verify_sigv4(request, &shared.config.region, SERVICE, key, &required)
        .await
        .map_err(refusal_for)?;

    let handler = route(&parts.method, &raw_path)
        .ok_or_else(|| Refusal::missing_token(Rejection::UnknownRoute))?;
    let service_request = ServiceRequest {
        method: &parts.method,
        raw_path: &raw_path,
        raw_query: raw_query.as_deref(),
        headers: &parts.headers,
        body: &body,
    };
    Ok(handler(&service_request))
}

/// Steps 1–5: everything API Gateway checks before computing the signature. Returns the access key
/// and secret the signature must be made with (`None` when the header is malformed: scratchstack
/// then reports what is wrong with it).
fn pre_checks(
    shared: &Shared,
    parts: &http::request::Parts,
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

    // 3. Not expired.
    let now = Utc::now();
    if expires_at <= now {
        return Err(Refusal::forbidden(
            Rejection::ExpiredToken,
            "ExpiredTokenException",
            MSG_EXPIRED_TOKEN,
        ));
    }

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
        SignatureError::ExpiredToken(_) => Refusal::forbidden(
            Rejection::ExpiredToken,
            "ExpiredTokenException",
            MSG_EXPIRED_TOKEN,
        ),
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
