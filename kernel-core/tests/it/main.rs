//! kernel-core integration tests: one binary (faster to link), one module per concern.
#![allow(missing_docs, clippy::unwrap_used)]

mod bad_input;
mod canary;
mod credentials;
mod e2e;
mod faults;
mod layer;
mod support;
mod vectors;
