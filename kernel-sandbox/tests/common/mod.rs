//! Helpers shared by the integration tests: an STS client exactly as the SDK builds it, and a
//! SigV4 signer (aws-sigv4, the client's signer) for reqwest requests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::time::{Duration, SystemTime};

use aws_sdk_sts::config::{
    BehaviorVersion, Credentials as StsCredentials, Region, retry::RetryConfig,
};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use kernel_sandbox::{Sandbox, SandboxConfig};
use reqwest::header::{HeaderName, HeaderValue};

/// Every test step is bounded by this.
pub const STEP: Duration = Duration::from_secs(20);

/// Runs `f` with a time limit, panicking with `what` when it is exceeded.
pub async fn bounded<F: Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(STEP, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

pub async fn start() -> Sandbox {
    start_with(SandboxConfig::default()).await
}

pub async fn start_with(config: SandboxConfig) -> Sandbox {
    bounded("sandbox start", Sandbox::start(config))
        .await
        .expect("sandbox starts")
}

/// An STS client pointed at the sandbox, with the given base credentials and no retries.
pub fn sts_client_with(
    sandbox: &Sandbox,
    access_key_id: &str,
    secret: &str,
) -> aws_sdk_sts::Client {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(sandbox.config().region.clone()))
        .endpoint_url(sandbox.sts_endpoint())
        .credentials_provider(StsCredentials::new(
            access_key_id,
            secret,
            None,
            None,
            "sandbox-base",
        ))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

/// An STS client with the sandbox's base credentials.
pub fn sts_client(sandbox: &Sandbox) -> aws_sdk_sts::Client {
    let c = sandbox.config();
    sts_client_with(sandbox, &c.base_access_key_id, &c.base_secret_access_key)
}

/// Temporary (or any) credentials for signing.
#[derive(Clone)]
pub struct Creds {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// Mode 1: AssumeRole kernel-access without ExternalId.
pub async fn assume_mode1(sandbox: &Sandbox) -> Creds {
    let out = bounded(
        "assume role",
        sts_client(sandbox)
            .assume_role()
            .role_arn(sandbox.config().role_arn())
            .role_session_name("kernel-service-call")
            .send(),
    )
    .await
    .expect("mode 1 AssumeRole succeeds");
    let c = out.credentials().expect("credentials");
    Creds {
        access_key_id: c.access_key_id().to_owned(),
        secret_access_key: c.secret_access_key().to_owned(),
        session_token: Some(c.session_token().to_owned()),
    }
}

thread_local! {
    // One client per test (libtest runs each test on its own thread, with its own runtime):
    // building a client loads the TLS roots, which is slow.
    static CLIENT: reqwest::Client = reqwest::Client::builder()
        .no_proxy()
        .timeout(STEP)
        .build()
        .expect("reqwest client");
}

/// A reqwest client that never uses a proxy.
pub fn http() -> reqwest::Client {
    CLIENT.with(Clone::clone)
}

/// Signs `req` in place with aws-sigv4 (default settings: double path encoding, session token
/// signed), as the SDK does.
pub fn sign_request(
    req: &mut reqwest::Request,
    creds: &Creds,
    region: &str,
    service: &str,
    time: SystemTime,
) {
    let body = req
        .body()
        .and_then(|b| b.as_bytes())
        .unwrap_or(&[])
        .to_vec();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let signable = SignableRequest::new(
        req.method().as_str(),
        req.url().as_str(),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&body),
    )
    .expect("signable request");
    let identity = aws_credential_types::Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.clone(),
        creds.session_token.clone(),
        None,
        "test",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .expect("signing params")
        .into();
    let (instructions, _signature) = sign(signable, &params).expect("sign").into_parts();
    for (name, value) in instructions.headers() {
        req.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
}

/// Builds a request to the gateway (`path_and_query` is appended to the endpoint verbatim).
pub fn request(
    sandbox: &Sandbox,
    method: reqwest::Method,
    path_and_query: &str,
    body: Option<&str>,
) -> reqwest::Request {
    let url = format!("{}{}", sandbox.gateway_endpoint(), path_and_query);
    let mut builder = http()
        .request(method, url)
        .header("accept", "application/json");
    if let Some(body) = body {
        builder = builder
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    builder.build().expect("request builds")
}

/// Builds, signs (now, execute-api, sandbox region) and sends; returns status and JSON body.
pub async fn call(
    sandbox: &Sandbox,
    creds: &Creds,
    method: reqwest::Method,
    path_and_query: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut req = request(sandbox, method, path_and_query, body);
    sign_request(
        &mut req,
        creds,
        &sandbox.config().region,
        "execute-api",
        SystemTime::now(),
    );
    send(req).await
}

/// Sends and returns status and JSON body.
pub async fn send(req: reqwest::Request) -> (u16, serde_json::Value) {
    let response = bounded("gateway request", http().execute(req))
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = bounded("gateway body", response.bytes())
        .await
        .expect("body");
    assert_eq!(
        headers.get("content-type").map(|v| v.to_str().unwrap()),
        Some("application/json"),
        "gateway answers JSON"
    );
    assert!(
        headers.contains_key("date"),
        "gateway answers with a Date header"
    );
    assert!(
        headers.contains_key("x-amzn-requestid"),
        "gateway answers with x-amzn-RequestId"
    );
    let json = serde_json::from_slice(&body).expect("JSON body");
    (status, json)
}
