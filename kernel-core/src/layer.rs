//! The Lift middleware's successor: a tower [`Layer`] that puts a [`KernelClient`] into
//! every request's extensions, and a getter that takes it out again. Works with anything
//! built on `http::Request` (axum, hyper, lambda_http).
//!
//! ```
//! use kernel_core::{KernelClient, KernelLayer, kernel_client};
//! use tower::{ServiceBuilder, service_fn};
//!
//! async fn handler(req: http::Request<()>) -> Result<&'static str, std::convert::Infallible> {
//!     let _kernel: &KernelClient = kernel_client(&req).expect("KernelLayer is installed");
//!     Ok("ok")
//! }
//! # async fn wire(client: KernelClient) {
//! let svc = ServiceBuilder::new().layer(KernelLayer::new(client)).service(service_fn(handler));
//! # }
//! ```
//! With axum, `axum::Extension<KernelClient>` extracts it as well.

use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use crate::client::KernelClient;

/// Adds a [`KernelClient`] to request extensions.
#[derive(Clone, Debug)]
pub struct KernelLayer {
    client: KernelClient,
}

impl KernelLayer {
    /// A layer sharing `client` (a cheap clone per request).
    pub fn new(client: KernelClient) -> Self {
        KernelLayer { client }
    }
}

impl<S> Layer<S> for KernelLayer {
    type Service = KernelService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        KernelService {
            inner,
            client: self.client.clone(),
        }
    }
}

/// The service produced by [`KernelLayer`].
#[derive(Clone, Debug)]
pub struct KernelService<S> {
    inner: S,
    client: KernelClient,
}

impl<S, B> Service<http::Request<B>> for KernelService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        req.extensions_mut().insert(self.client.clone());
        self.inner.call(req)
    }
}

/// The [`KernelClient`] that [`KernelLayer`] attached to this request.
pub fn kernel_client<B>(req: &http::Request<B>) -> Option<&KernelClient> {
    req.extensions().get::<KernelClient>()
}
