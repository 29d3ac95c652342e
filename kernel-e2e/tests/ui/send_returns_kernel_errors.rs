// send() returns kernel_core::Error, not progenitor's error type (whose Debug prints bodies).
async fn lookup(kernel: &kernel_core::KernelClient) {
    let _: Result<_, progenitor_client::Error<kernel_binlookup::types::Error>> =
        kernel_binlookup::BinLookup::new(kernel).lookup().card_bin("411111").send().await;
}

fn main() {}
