//! The HTTP transport: one pooled `reqwest::Client` per kernel client, rustls, connect and
//! read timeouts applied by reqwest itself, redirects never followed, response bodies
//! read with a size cap.
//!
//! reqwest can only set connect/read timeouts per *client*, so a call that overrides them
//! gets a client built for that pair of timeouts, cached here (a handful at most) so that
//! it keeps its own connection pool; calls with the defaults take the default client
//! without any lock.

use std::error::Error as _;
use std::sync::Mutex;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};

use crate::error::{TimeoutKind, TransportError};

/// Connect and read timeouts of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP + TLS connect.
    pub connect: Duration,
    /// Time to the response head, then between body reads.
    pub read: Duration,
}

/// How many non-default timeout pairs keep their own pooled client.
const MAX_CACHED_OVERRIDES: usize = 8;

/// What came back, before status handling.
pub(crate) struct RawResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub(crate) struct Transport {
    default_client: reqwest::Client,
    default_timeouts: Timeouts,
    overrides: Mutex<Vec<(Timeouts, reqwest::Client)>>,
    max_response_bytes: usize,
}

fn build_client(t: Timeouts) -> Result<reqwest::Client, TransportError> {
    reqwest::Client::builder()
        .connect_timeout(t.connect)
        .read_timeout(t.read)
        // Never follow redirects: a signed request must not be replayed to another URL.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("kernel-sdk-rust/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(50))
        .build()
        .map_err(|e| TransportError::Other {
            service: String::new(),
            host: String::new(),
            reason: format!("could not build the HTTP client: {}", chain(&e)),
        })
}

impl Transport {
    pub(crate) fn new(
        default_timeouts: Timeouts,
        max_response_bytes: usize,
    ) -> Result<Transport, TransportError> {
        Ok(Transport {
            default_client: build_client(default_timeouts)?,
            default_timeouts,
            overrides: Mutex::new(Vec::new()),
            max_response_bytes,
        })
    }

    pub(crate) fn default_client(&self) -> reqwest::Client {
        self.default_client.clone()
    }

    pub(crate) fn default_timeouts(&self) -> Timeouts {
        self.default_timeouts
    }

    fn client_for(&self, t: Timeouts) -> Result<reqwest::Client, TransportError> {
        if t == self.default_timeouts {
            return Ok(self.default_client.clone());
        }
        let mut cache = self.overrides.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, c)) = cache.iter().find(|(k, _)| *k == t) {
            return Ok(c.clone());
        }
        let c = build_client(t)?;
        if cache.len() < MAX_CACHED_OVERRIDES {
            cache.push((t, c.clone()));
        }
        Ok(c)
    }

    /// Sends a signed request and reads the whole response (up to the size cap).
    pub(crate) async fn send(
        &self,
        request: reqwest::Request,
        t: Timeouts,
        service: &str,
    ) -> Result<RawResponse, TransportError> {
        let host = host_of(request.url());
        let client = self.client_for(t)?;
        let mut response = client
            .execute(request)
            .await
            .map_err(|e| classify(&e, service, &host, t))?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let limit = self.max_response_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(TransportError::BodyTooLarge {
                service: service.to_owned(),
                limit,
            });
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| classify(&e, service, &host, t))?
        {
            if body.len() + chunk.len() > limit {
                return Err(TransportError::BodyTooLarge {
                    service: service.to_owned(),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawResponse {
            status,
            headers,
            body: body.freeze(),
        })
    }
}

pub(crate) fn host_of(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => String::new(),
    }
}

/// reqwest's `Display` includes the URL, whose query may carry data: describe the error by
/// its source chain only.
fn chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        src = s.source();
    }
    if parts.is_empty() {
        if e.is_body() {
            "body error".into()
        } else if e.is_decode() {
            "decode error".into()
        } else if e.is_request() {
            "request error".into()
        } else {
            "unknown error".into()
        }
    } else {
        parts.join(": ")
    }
}

fn classify(e: &reqwest::Error, service: &str, host: &str, t: Timeouts) -> TransportError {
    let service = service.to_owned();
    let host = host.to_owned();
    if e.is_timeout() {
        let kind = if e.is_connect() {
            TimeoutKind::Connect
        } else {
            TimeoutKind::Read
        };
        let after = if kind == TimeoutKind::Connect {
            t.connect
        } else {
            t.read
        };
        TransportError::Timeout {
            service,
            host,
            kind,
            after,
        }
    } else if e.is_connect() {
        TransportError::Connect {
            service,
            host,
            reason: chain(e),
        }
    } else {
        TransportError::Other {
            service,
            host,
            reason: chain(e),
        }
    }
}
