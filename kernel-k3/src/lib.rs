//! Typed client for K3 card tokenization.
//!
//! Generated at build time from `openapi/k3.yaml` by kernel-codegen (never checked in). This file
//! was scaffolded by `cargo xtask regen`; it is the crate's hand-written face.
//!
//! - [`K3`]: K3 card tokenization (`kernel_k3::k3`)
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let kernel = kernel_core::KernelClient::from_env().await?;
//! let reply = kernel_k3::k3::K3::new(&kernel)
//!     .tokenize()
//!     .body(serde_json::from_value::<kernel_k3::k3::types::TokenizeRequest>(serde_json::json!({"card_number":"4111111111111111","exp_month":"12","exp_year":"2030","cvv":"123"}))?)
//!     .send()
//!     .await?;
//! # let _ = reply;
//! # Ok(()) }
//! ```

include!(concat!(env!("OUT_DIR"), "/kernel_services.rs"));
