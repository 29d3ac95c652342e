//! The tower layer hands the same client to every request.

use std::convert::Infallible;

use kernel_core::{CallOptions, KernelClient, KernelLayer, kernel_client};
use tower::{ServiceBuilder, ServiceExt, service_fn};

use crate::support;

#[tokio::test]
async fn layer_puts_the_client_into_extensions() {
    let sandbox = support::sandbox().await;
    let client = support::client(&sandbox, false).await;
    let svc = ServiceBuilder::new()
        .layer(KernelLayer::new(client.clone()))
        .service(service_fn(|req: http::Request<()>| async move {
            let kernel: &KernelClient = kernel_client(&req).expect("layer installed");
            let r = kernel
                .bin_lookup("?card_bin=555555", CallOptions::new())
                .await
                .unwrap();
            Ok::<_, Infallible>(r.status().as_u16())
        }));
    for _ in 0..3 {
        let status = svc.clone().oneshot(http::Request::new(())).await.unwrap();
        assert_eq!(status, 200);
    }
    // Same shared client: one AssumeRole for the three handler calls.
    assert_eq!(client.sts_calls(), 1);
    assert!(kernel_client(&http::Request::new(())).is_none());
}
