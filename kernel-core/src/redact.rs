//! Masking of card-number-like text in anything the SDK prints or logs (paths, query keys,
//! dry-run header values). Bodies, query values and secrets are never printed at all; this
//! is the second line of defence for text a caller put where it does not belong.

/// Replaces every group of 12 or more digits — contiguous, or separated by single spaces,
/// dashes or their percent-encodings (`%20`, `%2D`) as card numbers are often written — with
/// `[redacted]`.
///
/// ```
/// use kernel_core::redact::card_numbers;
/// assert_eq!(card_numbers("/v1/cards/4111111111111111/x"), "/v1/cards/[redacted]/x");
/// assert_eq!(card_numbers("4111-1111-1111-1111"), "[redacted]");
/// assert_eq!(card_numbers("4111%201111%201111%201111"), "[redacted]");
/// assert_eq!(card_numbers("bin 411111, 2030-12"), "bin 411111, 2030-12");
/// ```
pub fn card_numbers(text: &str) -> String {
    card_numbers_keeping(text, &[])
}

/// [`card_numbers`], leaving the exact groups in `keep` alone (e.g. AWS account ids, which
/// are 12 digits and not secret).
pub fn card_numbers_keeping(text: &str, keep: &[&str]) -> String {
    // Two passes: formatted groups first, then any contiguous run of 12+ digits that is left
    // (digits of a percent-escape such as `%20` can join a run the first pass split).
    let grouped = mask(text, keep, digit_group);
    mask(&grouped, keep, digit_run)
}

fn mask(text: &str, keep: &[&str], group: fn(&str, usize) -> (usize, usize)) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            let c = text[i..].chars().next().unwrap_or('?');
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let (end, digits) = group(text, i);
        let group = &text[i..end];
        if digits >= 12 && !keep.contains(&group) {
            out.push_str("[redacted]");
        } else {
            out.push_str(group);
        }
        i = end;
    }
    out
}

/// From a digit at `start`: the end of the contiguous run and its length.
fn digit_run(text: &str, start: usize) -> (usize, usize) {
    let n = text.as_bytes()[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    (start + n, n)
}

/// From a digit at `start`: the end of the group and how many digits it holds.
fn digit_group(text: &str, start: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let (mut j, mut end, mut digits) = (start, start, 0);
    loop {
        if j < bytes.len() && bytes[j].is_ascii_digit() {
            digits += 1;
            j += 1;
            end = j;
            continue;
        }
        let rest = &text[j..];
        let sep = if rest.starts_with(' ') || rest.starts_with('-') {
            1
        } else if ["%20", "%2D", "%2d"].iter().any(|s| rest.starts_with(s)) {
            3
        } else {
            0
        };
        if sep > 0 && bytes.get(j + sep).is_some_and(u8::is_ascii_digit) {
            j += sep;
            continue;
        }
        return (end, digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_separators() {
        assert_eq!(card_numbers("a 4111 1111 1111 1111 b"), "a [redacted] b");
        assert_eq!(card_numbers("5500-0000-0000-0004"), "[redacted]");
        assert_eq!(card_numbers("x/5500%2D0000%2D0000%2D0004"), "x/[redacted]");
        assert_eq!(card_numbers("123456789012"), "[redacted]");
        assert_eq!(card_numbers("12345678901"), "12345678901");
        assert_eq!(card_numbers("2026-12-03 10:00"), "2026-12-03 10:00");
        assert_eq!(card_numbers("é4111111111111111é"), "é[redacted]é");
        // A percent-escape's digits joining a run: still no 12-digit run left.
        assert_eq!(card_numbers("%A0%200000000000"), "%A0%[redacted]");
        assert_eq!(
            card_numbers("4111--1111-1111-1111"),
            "4111--1111-1111-1111".replace("1111-1111-1111", "[redacted]")
        );
        assert_eq!(
            card_numbers_keeping(
                "account 075149869707 card 4111111111111111",
                &["075149869707"]
            ),
            "account 075149869707 card [redacted]"
        );
    }
}
