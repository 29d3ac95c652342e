//! Checks for values whose validity is a checksum rather than a pattern. The generated
//! clients call these when a value is built (a spec's `format: aba-routing-number`), so a
//! mistyped routing number is refused before credentials are loaded or a byte is sent.
//!
//! Written independently of the sandbox's check (kernel-spec), which is the second opinion.

/// Whether `value` is a US bank routing transit number: 9 ASCII digits whose weighted sum,
/// with the weights 3, 7, 1 repeated, is a multiple of 10.
///
/// ```
/// assert!(kernel_core::formats::is_aba_routing_number("021000021"));
/// assert!(!kernel_core::formats::is_aba_routing_number("021000022")); // checksum
/// assert!(!kernel_core::formats::is_aba_routing_number("21000021")); // 8 digits
/// ```
pub fn is_aba_routing_number(value: &str) -> bool {
    const WEIGHTS: [u32; 3] = [3, 7, 1];
    if value.len() != 9 {
        return false;
    }
    let mut sum = 0u32;
    for (i, b) in value.bytes().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        sum += WEIGHTS[i % 3] * u32::from(b - b'0');
    }
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::is_aba_routing_number;

    #[test]
    fn published_numbers_pass_and_transpositions_fail() {
        for n in [
            "021000021",
            "026009593",
            "121000248",
            "011000015",
            "322271627",
        ] {
            assert!(is_aba_routing_number(n), "{n}");
        }
        // Adjacent transpositions with different weights are caught (unless the digits'
        // difference times the weights' difference is a multiple of 10).
        assert!(!is_aba_routing_number("201000021"));
        assert!(!is_aba_routing_number("021000012"));
        for bad in ["", "0210000210", "02100002x", "+21000021", "０21000021"] {
            assert!(!is_aba_routing_number(bad), "{bad:?}");
        }
    }
}
