// The body of tokenize is a TokenizeRequest, not free-form JSON.
async fn tokenize(kernel: &kernel_core::KernelClient) {
    let _ = kernel_k3::K3::new(kernel)
        .tokenize()
        .body(serde_json::json!({ "card_number": "4111111111111111" }))
        .send()
        .await;
}

fn main() {}
