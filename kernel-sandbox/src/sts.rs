//! The STS endpoint: `AssumeRole` over the AWS query protocol, with SigV4 verification of the
//! partner's base credentials, the kernel roles' trust rules and credential minting.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use chrono::{TimeDelta, Utc};
use http::{HeaderValue, StatusCode, header};
use scratchstack_aws_signature::{NO_ADDITIONAL_SIGNED_HEADERS, SignatureError};

use crate::config::{
    DEFAULT_DURATION_SECONDS, MAX_DURATION_SECONDS, MIN_DURATION_SECONDS, PARTNER_ACCOUNT,
};
use crate::state::{Minted, Shared};
use crate::util::{
    http_date, iso8601, loggable_target, random_secret, random_upper_alnum, request_id, xml_escape,
};
use crate::verify::{MSG_INVALID_TOKEN, safe_incomplete_signature_message, verify_sigv4};
use crate::{AssumeRoleRecord, StsFailure};

const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
const MAX_BODY: usize = 1024 * 1024;

/// An STS answer: status, and either the success XML or an error.
struct StsError {
    status: StatusCode,
    kind: &'static str,
    code: &'static str,
    message: String,
}

impl StsError {
    fn sender(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind: "Sender",
            code,
            message: message.into(),
        }
    }

    fn receiver(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind: "Receiver",
            code,
            message: message.into(),
        }
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::sender(StatusCode::BAD_REQUEST, "ValidationError", message)
    }

    fn into_response(self, request_id: &str) -> Response {
        let body = format!(
            "<ErrorResponse xmlns=\"{STS_NS}\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error>\
             <RequestId>{}</RequestId></ErrorResponse>",
            self.kind,
            self.code,
            xml_escape(&self.message),
            request_id
        );
        xml_response(self.status, body, request_id)
    }
}

fn xml_response(status: StatusCode, body: String, request_id: &str) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(&http_date(Utc::now())) {
        headers.insert(header::DATE, v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    response
}

fn injected(failure: StsFailure) -> StsError {
    match failure {
        StsFailure::Throttling => {
            StsError::sender(StatusCode::BAD_REQUEST, "Throttling", "Rate exceeded")
        }
        StsFailure::InternalError => StsError::receiver(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "An internal error occurred. Please try again.",
        ),
        StsFailure::Unavailable => StsError::receiver(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "Service is unavailable. Please try again later.",
        ),
    }
}

fn signature_error(e: SignatureError) -> StsError {
    match e {
        SignatureError::InvalidClientTokenId(_) => StsError::sender(
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            MSG_INVALID_TOKEN,
        ),
        SignatureError::SignatureDoesNotMatch(msg) => StsError::sender(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            msg.unwrap_or_else(|| {
                "The request signature we calculated does not match the signature you provided."
                    .to_owned()
            }),
        ),
        SignatureError::MissingAuthenticationToken(_) => StsError::sender(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        ),
        SignatureError::ExpiredToken(msg) => {
            StsError::sender(StatusCode::FORBIDDEN, "ExpiredToken", msg)
        }
        SignatureError::IncompleteSignature(msg) => StsError::sender(
            StatusCode::BAD_REQUEST,
            "IncompleteSignature",
            safe_incomplete_signature_message(&msg),
        ),
        SignatureError::InvalidURIPath(msg) => {
            StsError::sender(StatusCode::BAD_REQUEST, "InvalidURIPath", msg)
        }
        SignatureError::MalformedQueryString(msg) => {
            StsError::sender(StatusCode::BAD_REQUEST, "MalformedQueryString", msg)
        }
        SignatureError::InvalidBodyEncoding(msg) => {
            StsError::sender(StatusCode::BAD_REQUEST, "InvalidBodyEncoding", msg)
        }
        SignatureError::InvalidContentType(msg) => {
            StsError::sender(StatusCode::BAD_REQUEST, "InvalidContentType", msg)
        }
        SignatureError::InvalidRequestMethod(msg) => {
            StsError::sender(StatusCode::BAD_REQUEST, "InvalidRequestMethod", msg)
        }
        _ => StsError::receiver(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "An internal error occurred.",
        ),
    }
}

/// The query-protocol parameters of a request: the URL query, then a form-encoded body.
fn parameters(parts: &http::request::Parts, body: &Bytes) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if is_form {
        params.extend(form_urlencoded::parse(body).into_owned());
    }
    params
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The axum handler of the STS listener.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let request_id = request_id();
    let method = request.method().clone();
    let target = loggable_target(request.uri().path(), request.uri().query());
    let (parts, body) = request.into_parts();
    let (response, outcome, action) = match to_bytes(body, MAX_BODY).await {
        Err(_) => (
            StsError::validation("Request body too large").into_response(&request_id),
            "body-too-large",
            None,
        ),
        Ok(body) => {
            let params = parameters(&parts, &body);
            let action = param(&params, "Action").map(str::to_owned);
            let (response, outcome) = answer(&shared, parts, body, &params, &request_id).await;
            (response, outcome, action)
        }
    };
    tracing::info!(
        target: "kernel_sandbox::sts",
        %method,
        %target,
        // Only known action names are logged: the value comes from the body.
        action = match action.as_deref() {
            None => "-",
            Some("AssumeRole") => "AssumeRole",
            Some(_) => "other",
        },
        status = response.status().as_u16(),
        outcome,
        "sts request"
    );
    response
}

async fn answer(
    shared: &Shared,
    parts: http::request::Parts,
    body: Bytes,
    params: &[(String, String)],
    request_id: &str,
) -> (Response, &'static str) {
    let action = param(params, "Action");
    let is_assume_role = action == Some("AssumeRole");
    if is_assume_role {
        shared.record_assume_role(AssumeRoleRecord {
            role_arn: param(params, "RoleArn").unwrap_or_default().to_owned(),
            role_session_name: param(params, "RoleSessionName")
                .unwrap_or_default()
                .to_owned(),
            external_id_sent: param(params, "ExternalId").is_some(),
            duration_seconds: param(params, "DurationSeconds").and_then(|d| d.parse().ok()),
        });
        let latency = shared.sts_latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if let Some(failure) = shared.next_sts_failure() {
            return (
                injected(failure).into_response(request_id),
                "injected-failure",
            );
        }
    }

    let request = http::Request::from_parts(parts, body);
    let key = Some((
        shared.config.base_access_key_id.clone(),
        shared.config.base_secret_access_key.clone(),
    ));
    // STS keeps the real clock: the clock skew knob is the gateway's.
    if let Err(e) = verify_sigv4(
        request,
        &shared.config.region,
        "sts",
        key,
        &NO_ADDITIONAL_SIGNED_HEADERS,
        Utc::now(),
    )
    .await
    {
        return (
            signature_error(e).into_response(request_id),
            "signature-rejected",
        );
    }

    match action {
        None => (
            StsError::sender(StatusCode::BAD_REQUEST, "MissingAction", "Missing Action")
                .into_response(request_id),
            "missing-action",
        ),
        Some("AssumeRole") => match assume_role(shared, params, request_id) {
            Ok(response) => (response, "granted"),
            Err(e) => {
                let outcome = if e.code == "AccessDenied" {
                    "denied"
                } else {
                    "invalid"
                };
                (e.into_response(request_id), outcome)
            }
        },
        Some(other) => (
            StsError::sender(
                StatusCode::BAD_REQUEST,
                "InvalidAction",
                format!(
                    "Could not find operation {} for version 2011-06-15",
                    truncated(other)
                ),
            )
            .into_response(request_id),
            "invalid-action",
        ),
    }
}

fn truncated(s: &str) -> String {
    s.chars().take(64).collect()
}

fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

fn assume_role(
    shared: &Shared,
    params: &[(String, String)],
    request_id: &str,
) -> Result<Response, StsError> {
    let config = &shared.config;
    let role_arn = param(params, "RoleArn").ok_or_else(|| {
        StsError::validation("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
    })?;
    let session_name = param(params, "RoleSessionName").ok_or_else(|| {
        StsError::validation(
            "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null",
        )
    })?;
    if !valid_session_name(session_name) {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{}' at 'roleSessionName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64",
            truncated(session_name)
        )));
    }
    let external_id = param(params, "ExternalId");
    if let Some(id) = external_id
        && !(2..=1224).contains(&id.len())
    {
        // Never quote the ExternalId itself.
        return Err(StsError::validation(
            "1 validation error detected: Value at 'externalId' failed to satisfy constraint: \
             Member must have length between 2 and 1224",
        ));
    }
    let duration_seconds = match param(params, "DurationSeconds") {
        None => None,
        Some(raw) => {
            let d: u32 = raw.parse().map_err(|_| {
                StsError::validation(format!(
                    "1 validation error detected: Value '{}' at 'durationSeconds' failed to satisfy constraint: \
                     Member must be an integer",
                    truncated(raw)
                ))
            })?;
            if d < MIN_DURATION_SECONDS {
                return Err(StsError::validation(format!(
                    "1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: \
                     Member must have value greater than or equal to {MIN_DURATION_SECONDS}"
                )));
            }
            if d > MAX_DURATION_SECONDS {
                return Err(StsError::validation(format!(
                    "1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: \
                     Member must have value less than or equal to {MAX_DURATION_SECONDS}"
                )));
            }
            Some(d)
        }
    };

    let trusted = if role_arn == config.role_arn() {
        external_id.is_none()
    } else if role_arn == config.external_role_arn() {
        external_id == Some(config.external_id.as_str())
    } else {
        false
    };
    if !trusted {
        shared.update_counters(|c| c.assume_role_denied += 1);
        return Err(StsError::sender(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            format!(
                "User: arn:aws:iam::{PARTNER_ACCOUNT}:user/partner is not authorized to perform: \
                 sts:AssumeRole on resource: {}",
                truncated_arn(role_arn)
            ),
        ));
    }

    let role_name = role_arn.rsplit('/').next().unwrap_or(role_arn);
    let now = Utc::now();
    let lifetime = match shared.credential_lifetime() {
        Some(d) => {
            TimeDelta::from_std(d).unwrap_or(TimeDelta::seconds(i64::from(MAX_DURATION_SECONDS)))
        }
        None => TimeDelta::seconds(i64::from(
            duration_seconds.unwrap_or(DEFAULT_DURATION_SECONDS),
        )),
    };
    let expires_at = now + lifetime;
    let access_key_id = format!("ASIA{}", random_upper_alnum(16));
    let secret_access_key = random_secret(40);
    let session_token = format!("IQoJb3JpZ2luX2VjE{}", random_secret(340));
    let role_id = format!("AROA{}", random_upper_alnum(17));

    let body = format!(
        "<AssumeRoleResponse xmlns=\"{STS_NS}\">\n\
         \x20 <AssumeRoleResult>\n\
         \x20   <AssumedRoleUser>\n\
         \x20     <AssumedRoleId>{role_id}:{session}</AssumedRoleId>\n\
         \x20     <Arn>arn:aws:sts::{account}:assumed-role/{role}/{session}</Arn>\n\
         \x20   </AssumedRoleUser>\n\
         \x20   <Credentials>\n\
         \x20     <AccessKeyId>{access_key_id}</AccessKeyId>\n\
         \x20     <SecretAccessKey>{secret}</SecretAccessKey>\n\
         \x20     <SessionToken>{token}</SessionToken>\n\
         \x20     <Expiration>{expiration}</Expiration>\n\
         \x20   </Credentials>\n\
         \x20 </AssumeRoleResult>\n\
         \x20 <ResponseMetadata>\n\
         \x20   <RequestId>{request_id}</RequestId>\n\
         \x20 </ResponseMetadata>\n\
         </AssumeRoleResponse>\n",
        session = xml_escape(session_name),
        account = xml_escape(&config.kernel_account),
        role = xml_escape(role_name),
        access_key_id = xml_escape(&access_key_id),
        secret = xml_escape(&secret_access_key),
        token = xml_escape(&session_token),
        expiration = iso8601(expires_at),
        request_id = xml_escape(request_id),
    );

    shared.store_minted(
        access_key_id,
        Minted {
            secret_access_key,
            session_token,
            expires_at,
        },
    );
    shared.update_counters(|c| c.assume_role_granted += 1);
    Ok(xml_response(StatusCode::OK, body, request_id))
}

fn truncated_arn(arn: &str) -> String {
    arn.chars().take(2048).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_name_rules() {
        assert!(valid_session_name("kernel-service-call"));
        assert!(valid_session_name("a.b@c=d,e+f_g-h"));
        assert!(!valid_session_name("x"));
        assert!(!valid_session_name("has space"));
        assert!(!valid_session_name(&"a".repeat(65)));
    }
}
