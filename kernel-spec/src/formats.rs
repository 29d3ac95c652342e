//! String formats the kernel's specs may name beyond what JSON Schema checks: values whose
//! validity is a checksum, not a pattern.
//!
//! `format: aba-routing-number` on a component string schema makes the generated client
//! type check the ABA checksum when it is built (kernel-core's implementation), and makes
//! [`crate::schema::validate`] — examples, the sandbox's request validation — check it too
//! (this module's implementation). The two are written separately on purpose: the sandbox
//! is a second opinion on the client, not a mirror of it.
//!
//! Unknown formats (`email`, `int32`, …) are annotations, as in JSON Schema, and are not
//! checked.

/// The formats the pipeline checks, by name.
pub const KERNEL_FORMATS: &[&str] = &[ABA_ROUTING_NUMBER];

/// A US bank routing transit number: 9 digits whose weighted sum
/// 3·(d1+d4+d7) + 7·(d2+d5+d8) + 1·(d3+d6+d9) is a multiple of 10.
pub const ABA_ROUTING_NUMBER: &str = "aba-routing-number";

/// Checks `value` against a kernel format. `None` when `format` is not one of
/// [`KERNEL_FORMATS`] (nothing to check); otherwise whether it holds, and the rule's
/// wording for a message (never the value).
pub fn check(format: &str, value: &str) -> Option<Result<(), &'static str>> {
    match format {
        ABA_ROUTING_NUMBER => Some(if is_aba_routing_number(value) {
            Ok(())
        } else {
            Err("is not an ABA routing number (9 digits with a valid checksum)")
        }),
        _ => None,
    }
}

/// Whether `value` is 9 ASCII digits with a valid ABA checksum.
pub fn is_aba_routing_number(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() != 9 || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let digit = |i: usize| u32::from(bytes[i] - b'0');
    let sum: u32 = (0..3)
        .map(|group| 3 * digit(group * 3) + 7 * digit(group * 3 + 1) + digit(group * 3 + 2))
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Published routing numbers (Federal Reserve E-Payments directory).
    const PUBLISHED: &[&str] = &[
        "021000021", // JPMorgan Chase, New York
        "026009593", // Bank of America, New York
        "121000248", // Wells Fargo, San Francisco
        "011000015", // Federal Reserve Bank of Boston
        "011000028", // State Street
        "322271627", // JPMorgan Chase, California
    ];

    #[test]
    fn accepts_published_routing_numbers() {
        for n in PUBLISHED {
            assert!(is_aba_routing_number(n), "{n}");
            assert_eq!(check(ABA_ROUTING_NUMBER, n), Some(Ok(())));
        }
    }

    #[test]
    fn refuses_every_single_digit_change() {
        // The weights 3, 7 and 1 are coprime to 10, so any one wrong digit breaks the sum.
        for n in PUBLISHED {
            for i in 0..9 {
                for d in b'0'..=b'9' {
                    let mut b = n.as_bytes().to_vec();
                    if b[i] == d {
                        continue;
                    }
                    b[i] = d;
                    let changed = String::from_utf8(b).unwrap();
                    assert!(!is_aba_routing_number(&changed), "{changed}");
                }
            }
        }
    }

    #[test]
    fn refuses_wrong_shapes_and_names_the_rule_only() {
        for bad in [
            "",
            "02100002",
            "0210000210",
            "02100002a",
            "０21000021",
            " 021000021",
        ] {
            assert!(!is_aba_routing_number(bad), "{bad:?}");
        }
        let why = check(ABA_ROUTING_NUMBER, "021000022").unwrap().unwrap_err();
        assert!(!why.contains("021000022"));
        assert_eq!(check("email", "anything"), None);
    }
}
