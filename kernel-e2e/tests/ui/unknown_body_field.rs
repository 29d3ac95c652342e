// A misspelt field name.
async fn tokenize(kernel: &kernel_core::KernelClient) {
    let _ = kernel_k3::K3::new(kernel)
        .tokenize()
        .body_map(|b| b.card_numbr("4111111111111111"))
        .send()
        .await;
}

fn main() {}
