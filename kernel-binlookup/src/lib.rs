//! Typed client for BIN lookup service.
//!
//! Generated at build time from `openapi/binlookup.yaml` by kernel-codegen (never checked in). This file
//! was scaffolded by `cargo xtask regen`; it is the crate's hand-written face.
//!
//! - [`BinLookup`]: BIN lookup service (`kernel_binlookup::bin_lookup`)
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let kernel = kernel_core::KernelClient::from_env().await?;
//! let reply = kernel_binlookup::bin_lookup::BinLookup::new(&kernel)
//!     .lookup()
//!     .card_bin("411111")
//!     .send()
//!     .await?;
//! # let _ = reply;
//! # Ok(()) }
//! ```

include!(concat!(env!("OUT_DIR"), "/kernel_services.rs"));
