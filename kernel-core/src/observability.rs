//! Tracing for kernel calls: one span per call, one event per outcome.
//!
//! What is recorded: service prefix, subsystem, method, path (no query values; long digit
//! runs redacted), query parameter *names*, status, duration, and for failures the error's
//! `Display` (which by construction carries no body, secret or token). What is never
//! recorded: bodies, query values, header values, credentials.
//!
//! Spans and events use the fixed target [`TARGET`] (`kernel_core::call`), so subscribers
//! can filter them without depending on module paths.

use std::time::Duration;

use http::Method;
use tracing::{Span, field};

use crate::call::{loggable_path, loggable_query_keys};
use crate::error::Error;

/// The tracing target of every call span and outcome event.
pub const TARGET: &str = "kernel_core::call";

/// Opens the span of one call.
pub(crate) fn call_span(prefix: &str, subsystem: &str, method: &Method, url: &url::Url) -> Span {
    tracing::info_span!(
        target: "kernel_core::call",
        "kernel_call",
        service = prefix,
        subsystem = subsystem,
        method = %method,
        path = %loggable_path(url),
        query_keys = %loggable_query_keys(url),
        status = field::Empty,
        duration_ms = field::Empty,
    )
}

/// Records a successful response.
pub(crate) fn record_success(span: &Span, status: u16, duration: Duration) {
    span.record("status", status);
    span.record("duration_ms", duration.as_millis() as u64);
    tracing::debug!(target: "kernel_core::call", parent: span, status, duration_ms = duration.as_millis() as u64, "kernel call succeeded");
}

/// Records a failed call at `warn` (the kernel answered) or `error` (it did not).
pub(crate) fn record_failure(span: &Span, error: &Error, duration: Duration) {
    let ms = duration.as_millis() as u64;
    span.record("duration_ms", ms);
    match error {
        Error::Status(e) => {
            span.record("status", e.status().as_u16());
            tracing::warn!(target: "kernel_core::call", parent: span, status = e.status().as_u16(), duration_ms = ms, error = %e, "kernel call failed");
        }
        other => {
            tracing::error!(target: "kernel_core::call", parent: span, duration_ms = ms, error = %other, "kernel call failed");
        }
    }
}
