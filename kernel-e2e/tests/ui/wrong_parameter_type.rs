// card_bin is a string of digits, not a number.
async fn lookup(kernel: &kernel_core::KernelClient) {
    let _ = kernel_binlookup::BinLookup::new(kernel)
        .lookup()
        .card_bin(411111_u64)
        .send()
        .await;
}

fn main() {}
