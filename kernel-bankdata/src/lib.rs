//! Typed client for Bank data service.
//!
//! Generated at build time from `openapi/bankdata.yaml` by kernel-codegen (never checked in). This file
//! was scaffolded by `cargo xtask regen`; it is the crate's hand-written face.
//!
//! - [`BankData`]: Bank data service (`kernel_bankdata::bank_data`)
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let kernel = kernel_core::KernelClient::from_env().await?;
//! let reply = kernel_bankdata::bank_data::BankData::new(&kernel)
//!     .lookup_routing_number()
//!     .routing_number("021000021")
//!     .send()
//!     .await?;
//! # let _ = reply;
//! # Ok(()) }
//! ```

include!(concat!(env!("OUT_DIR"), "/kernel_services.rs"));
