//! SigV4 over a finished `reqwest::Request`, with aws-sigv4's default settings (double-
//! encoded, normalised canonical path; session token signed), service `execute-api`.
//!
//! Signing is the *last* mutation before the request is sent: whatever is on the request
//! here (URL with query, every header, the exact body bytes) is what the kernel verifies.
//! Headers reqwest/hyper add later (`host`, `content-length`, `user-agent`, `accept-encoding`)
//! are either derived from the URL by the signer (`host`) or not signed.

use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::HeaderValue;
use http::header::{AUTHORIZATION, HeaderName};

use crate::error::Error;

/// SigV4 service name of API Gateway.
pub const SERVICE_NAME: &str = "execute-api";

/// Headers the signer owns. A caller may not set them: a stale or forged value would be
/// signed over or sent next to ours.
pub const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "host",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// Signs `request` in place for `region` with `identity` at `time`.
///
/// Fails (and leaves the request unsendable) for streaming bodies: the payload hash must
/// cover the exact bytes and `UNSIGNED-PAYLOAD` is an S3-only option.
///
/// aws-sigv4 emits TRACE events describing the request it signs (URL with query values,
/// header values, and the body when `LOG_SIGNABLE_BODY=true`). A kernel request carries card
/// data, so signing runs with tracing switched off for its duration: the SDK's own span
/// records what is safe to record.
pub fn sign_request(
    request: &mut reqwest::Request,
    region: &str,
    identity: &Identity,
    time: SystemTime,
) -> Result<(), Error> {
    for name in RESERVED_HEADERS {
        request.headers_mut().remove(*name);
    }
    let body: &[u8] = match request.body() {
        None => &[],
        Some(b) => b.as_bytes().ok_or_else(|| Error::Signing {
            reason: "streaming request bodies cannot be signed; pass the body as bytes".into(),
        })?,
    };
    let mut headers = Vec::with_capacity(request.headers().len());
    for (name, value) in request.headers() {
        let value = value.to_str().map_err(|_| Error::Signing {
            reason: format!("header {name} is not visible ASCII"),
        })?;
        headers.push((name.as_str(), value));
    }
    let settings = SigningSettings::default();
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name(SERVICE_NAME)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| Error::Signing {
            reason: e.to_string(),
        })?
        .into();
    let signable = SignableRequest::new(
        request.method().as_str(),
        request.url().as_str(),
        headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| Error::Signing {
        reason: format!("{e}"),
    })?;
    let output =
        tracing::dispatcher::with_default(&tracing::Dispatch::none(), || sign(signable, &params))
            .map_err(|e| Error::Signing {
            reason: format!("{e}"),
        })?;
    let (instructions, _signature) = output.into_parts();
    let (new_headers, _params) = instructions.into_parts();
    for h in new_headers {
        let name = HeaderName::from_static(h.name());
        let mut value = HeaderValue::from_str(h.value()).map_err(|_| Error::Signing {
            reason: format!("signer produced an invalid {} header", h.name()),
        })?;
        if h.sensitive() || name == AUTHORIZATION {
            // Keeps the value out of hyper's and reqwest's Debug output.
            value.set_sensitive(true);
        }
        request.headers_mut().insert(name, value);
    }
    Ok(())
}
