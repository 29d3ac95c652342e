// A tokenize request without its CVV: the struct has four required fields.
use kernel_k3::types::{CardNumber, ExpMonth, ExpYear, TokenizeRequest};

fn main() {
    let _request = TokenizeRequest {
        card_number: CardNumber::new("4111111111111111").unwrap(),
        exp_month: ExpMonth::try_from("12").unwrap(),
        exp_year: ExpYear::try_from("2030").unwrap(),
    };
}
