//! SigV4 verification through scratchstack-aws-signature (an implementation independent of the
//! client's signer, aws-sigv4), plus a light parser of the `Authorization` header used for the
//! checks API Gateway makes before it looks at the signature itself.

use std::str::FromStr;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use scratchstack_aws_signature::{
    GetSigningKeyRequest, GetSigningKeyResponse, KSecretKey, SignatureError, SignatureOptions,
    SignedHeaderRequirements, sigv4_validate_request,
};
use tower::BoxError;

/// The AWS message for an unknown access key or a session token that does not belong to it.
pub(crate) const MSG_INVALID_TOKEN: &str = "The security token included in the request is invalid.";

/// The parts of `Credential=AKID/date/region/service/aws4_request` that matter before verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CredentialScope {
    pub(crate) access_key_id: String,
    pub(crate) date: String,
    pub(crate) region: String,
    pub(crate) service: String,
    pub(crate) terminator: String,
}

/// What the `Authorization` header looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthHeader {
    /// Absent, or not an `AWS4-HMAC-SHA256` header at all.
    Missing,
    /// `AWS4-HMAC-SHA256` but without a well-formed `Credential` (scratchstack reports the details).
    Malformed,
    /// `AWS4-HMAC-SHA256` with a 5-part credential.
    SigV4(CredentialScope),
}

/// Classifies the first `Authorization` header of a request.
pub(crate) fn parse_authorization(headers: &HeaderMap) -> AuthHeader {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return AuthHeader::Missing;
    };
    let Ok(value) = value.to_str() else {
        return AuthHeader::Malformed;
    };
    let value = value.trim();
    let (algorithm, params) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if algorithm != "AWS4-HMAC-SHA256" {
        return AuthHeader::Missing;
    }
    let credential = params
        .split(',')
        .filter_map(|p| p.trim().split_once('='))
        .filter(|(k, _)| *k == "Credential")
        .map(|(_, v)| v)
        .next_back();
    let Some(credential) = credential else {
        return AuthHeader::Malformed;
    };
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [ak, date, region, service, term] if !ak.is_empty() => AuthHeader::SigV4(CredentialScope {
            access_key_id: (*ak).to_owned(),
            date: (*date).to_owned(),
            region: (*region).to_owned(),
            service: (*service).to_owned(),
            terminator: (*term).to_owned(),
        }),
        _ => AuthHeader::Malformed,
    }
}

/// Builds the signing key for `expected_key` if the request names it; otherwise the request's key is unknown.
fn signing_key_for(
    req: &GetSigningKeyRequest,
    expected_key: Option<&(String, String)>,
) -> Result<GetSigningKeyResponse, BoxError> {
    let Some((_, secret)) = expected_key.filter(|(key_id, _)| key_id == req.access_key()) else {
        return Err(Box::new(SignatureError::InvalidClientTokenId(
            MSG_INVALID_TOKEN.to_owned(),
        )));
    };
    let secret = KSecretKey::from_str(secret)?;
    let signing_key = secret.to_ksigning(req.request_date(), req.region(), req.service());
    Ok(GetSigningKeyResponse::builder()
        .signing_key(signing_key)
        .build()?)
}

/// Verifies a SigV4-signed request with scratchstack-aws-signature.
///
/// `key` is the only access key (and its secret) the caller accepts for this request; any other
/// key yields [`SignatureError::InvalidClientTokenId`]. The body is hashed exactly as given.
/// `now` is the verifier's clock (scratchstack allows 15 minutes of skew around it).
pub(crate) async fn verify_sigv4<S>(
    request: http::Request<Bytes>,
    region: &str,
    service: &str,
    key: Option<(String, String)>,
    required_headers: &S,
    now: DateTime<Utc>,
) -> Result<(), SignatureError>
where
    S: SignedHeaderRequirements + Sync,
{
    let mut get_signing_key = tower::service_fn(move |req: GetSigningKeyRequest| {
        std::future::ready(signing_key_for(&req, key.as_ref()))
    });
    let result = sigv4_validate_request(
        request,
        region,
        service,
        &mut get_signing_key,
        now,
        required_headers,
        SignatureOptions::default(),
    )
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) => match e.downcast::<SignatureError>() {
            Ok(e) => Err(*e),
            Err(other) => Err(SignatureError::InternalServiceError(other)),
        },
    }
}

/// scratchstack's `IncompleteSignature` messages can quote the whole `Authorization` header; that
/// header must never leave the sandbox, so such messages are replaced by a generic one.
pub(crate) fn safe_incomplete_signature_message(message: &str) -> String {
    if message.contains("Authorization header:") {
        "The Authorization header is not a comma-separated list of key=value pairs.".to_owned()
    } else {
        message.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers_with(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(auth).expect("valid header"),
        );
        h
    }

    #[test]
    fn parses_sigv4_credential() {
        let h = headers_with(
            "AWS4-HMAC-SHA256 Credential=ASIAXYZ/20261203/us-east-1/execute-api/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc",
        );
        assert_eq!(
            parse_authorization(&h),
            AuthHeader::SigV4(CredentialScope {
                access_key_id: "ASIAXYZ".into(),
                date: "20261203".into(),
                region: "us-east-1".into(),
                service: "execute-api".into(),
                terminator: "aws4_request".into(),
            })
        );
    }

    #[test]
    fn classifies_other_headers() {
        assert_eq!(parse_authorization(&HeaderMap::new()), AuthHeader::Missing);
        assert_eq!(
            parse_authorization(&headers_with("Bearer abc")),
            AuthHeader::Missing
        );
        assert_eq!(
            parse_authorization(&headers_with("AWS4-HMAC-SHA256")),
            AuthHeader::Malformed
        );
        assert_eq!(
            parse_authorization(&headers_with(
                "AWS4-HMAC-SHA256 Credential=AK/2026/us-east-1"
            )),
            AuthHeader::Malformed
        );
    }

    #[test]
    fn incomplete_signature_messages_never_quote_the_header() {
        let m = "'X' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 X'";
        assert!(!safe_incomplete_signature_message(m).contains("AWS4-HMAC-SHA256"));
    }
}
