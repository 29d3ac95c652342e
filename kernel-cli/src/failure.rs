//! Exit codes and the one-line error report.

use kernel_core::{Error, KernelEnv};

/// The kernel answered with a non-2xx status.
pub(crate) const STATUS: u8 = 1;
/// Usage, configuration or input error: nothing was sent.
pub(crate) const USAGE: u8 = 2;
/// Transport or credential failure (or anything else that is not the caller's input).
pub(crate) const FAILURE: u8 = 3;

/// Why the command failed: the exit code and a message for `error: ...` on stderr.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl Failure {
    /// Exit 1: the kernel answered non-2xx.
    pub(crate) fn status(message: impl Into<String>) -> Self {
        Self {
            code: STATUS,
            message: message.into(),
        }
    }
    /// Exit 2: usage, configuration or input error.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: USAGE,
            message: message.into(),
        }
    }
    /// Exit 3: transport, credential or environment failure.
    pub(crate) fn runtime(message: impl Into<String>) -> Self {
        Self {
            code: FAILURE,
            message: message.into(),
        }
    }

    /// `error: <message>` on one line of stderr.
    pub(crate) fn report(&self) {
        eprintln!("error: {}", safe_line(&self.message));
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::from_error(e, false)
    }
}

impl Failure {
    /// The failure for `e`; `body_shown` drops the hint to add `--show-error-body` (the
    /// body was already written to stdout).
    pub(crate) fn from_error(e: Error, body_shown: bool) -> Self {
        // After retries the error wraps every attempt: classify by the last one.
        let (code, hint) = match e.last() {
            Error::Config(_) | Error::InvalidRequest(_) => (USAGE, ""),
            Error::Status(_) if body_shown => (STATUS, " (response body written to stdout)"),
            Error::Status(_) => (
                STATUS,
                " (add --show-error-body to print the response body)",
            ),
            Error::Undocumented { .. } => (STATUS, ""),
            _ => (FAILURE, ""),
        };
        Self {
            code,
            message: format!("{e}{hint}"),
        }
    }
}

/// One line, long digit runs redacted.
pub(crate) fn safe_line(text: &str) -> String {
    let one: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    redact_pans(&one)
}

/// Replaces runs of 12 or more ASCII digits (the length of the shortest card numbers) with
/// `[redacted]`, except the kernel account ids, which are 12 digits and not secret.
pub(crate) fn redact_pans(text: &str) -> String {
    // Kernel account ids are 12 digits and not secret: they stay readable.
    let accounts = [
        KernelEnv::Kernel.account_id(),
        KernelEnv::QaKernel.account_id(),
    ];
    kernel_core::redact::card_numbers_keeping(text, &accounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_card_numbers_keeps_accounts() {
        assert_eq!(
            redact_pans("x 4111111111111111 y"),
            "x [redacted] y".to_owned()
        );
        assert_eq!(redact_pans("4111111111111111"), "[redacted]");
        assert_eq!(
            redact_pans("arn:aws:iam::075149869707:role/kernel-access"),
            "arn:aws:iam::075149869707:role/kernel-access"
        );
        assert_eq!(redact_pans("card_bin=411111"), "card_bin=411111");
        assert_eq!(redact_pans("123456789012"), "[redacted]");
    }

    #[test]
    fn one_line() {
        assert_eq!(safe_line("a\nb\r\nc"), "a b  c");
    }
}
