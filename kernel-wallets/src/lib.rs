//! Typed client for Apple Pay wallet key service, Google Pay wallet key service, Paze wallet key service.
//!
//! Generated at build time from `openapi/apple-wallet.yaml`, `openapi/google-wallet.yaml`, `openapi/paze.yaml` by kernel-codegen (never checked in). This file
//! was scaffolded by `cargo xtask regen`; it is the crate's hand-written face.
//!
//! - [`AppleWallet`]: Apple Pay wallet key service (`kernel_wallets::apple`)
//! - [`GoogleWallet`]: Google Pay wallet key service (`kernel_wallets::google`)
//! - [`Paze`]: Paze wallet key service (`kernel_wallets::paze`)
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let kernel = kernel_core::KernelClient::from_env().await?;
//! let reply = kernel_wallets::apple::AppleWallet::new(&kernel)
//!     .decrypt_payment_token()
//!     .body(serde_json::from_value::<kernel_wallets::apple::types::ApplePayPaymentToken>(serde_json::json!({"paymentData":{"version":"EC_v1","data":"c2FuZGJveCBhcHBsZSBwYXkgZGF0YQ==","signature":"c2FuZGJveCBzaWduYXR1cmU=","header":{"ephemeralPublicKey":"c2FuZGJveCBlcGhlbWVyYWwga2V5","publicKeyHash":"c2FuZGJveCBrZXkgaGFzaA==","transactionId":"0f1e2d3c4b5a69788796a5b4c3d2e1f0"}},"paymentMethod":{"displayName":"Visa 1111","network":"Visa","type":"debit"},"transactionIdentifier":"0F1E2D3C4B5A69788796A5B4C3D2E1F0"}))?)
//!     .send()
//!     .await?;
//! # let _ = reply;
//! # Ok(()) }
//! ```

include!(concat!(env!("OUT_DIR"), "/kernel_services.rs"));
