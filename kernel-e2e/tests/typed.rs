//! Every operation of every service, through its typed client, against the sandbox.

use kernel_e2e::{client, sandbox};

#[tokio::test]
async fn bin_lookup_lookup() {
    let sandbox = sandbox().await;
    let kernel = client(&sandbox, false).await;
    let info = kernel_binlookup::BinLookup::new(&kernel)
        .lookup()
        .card_bin("411111")
        .send()
        .await
        .expect("lookup succeeds");
    assert_eq!(info.card_brand, "VISA");
    assert_eq!(info.status().as_u16(), 200);
    assert_eq!(sandbox.counters().verified_requests, 1);
}
