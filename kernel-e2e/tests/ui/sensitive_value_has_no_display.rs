// A card number cannot be formatted for display (and its Debug is redacted).
fn main() {
    let card = kernel_k3::types::CardNumber::new("4111111111111111").unwrap();
    println!("{card}");
}
