//! Typed client for the kernel's BIN lookup service.
//!
//! Generated at build time from `openapi/binlookup.yaml`; see the workspace README.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kernel_core::Error> {
//! let kernel = kernel_core::KernelClient::from_env().await?;
//! let info = kernel_binlookup::BinLookup::new(&kernel).lookup().card_bin("411111").send().await?;
//! println!("{} {}", info.card_brand, info.bank_name);
//! # Ok(()) }
//! ```

include!(concat!(env!("OUT_DIR"), "/kernel_services.rs"));
