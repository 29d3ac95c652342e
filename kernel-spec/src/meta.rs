//! The `x-kernel` extension: what DESIGN.md's service table says about a service, kept with
//! its spec so that adding a service is "add a spec, run `cargo xtask regen`".
//!
//! ```yaml
//! x-kernel:
//!   crate: kernel-binlookup        # the crate that holds the typed client
//!   module: bin_lookup             # its module in that crate (several specs may share a crate)
//!   client: BinLookup              # the client type
//!   cli: bin-lookup                # the `kernel` CLI subcommand
//!   prefix: bin-lookup-service     # service prefix in URLs
//!   region_in_url: true
//!   default_method: GET
//!   subsystem: BIN LOOKUP SERVICE  # log subsystem
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::SpecError;

/// The service metadata of one spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceMeta {
    /// Crate holding the client, `kernel-…`.
    #[serde(rename = "crate")]
    pub crate_name: String,
    /// Module inside the crate (snake_case).
    pub module: String,
    /// Client type name (UpperCamelCase).
    pub client: String,
    /// CLI subcommand (kebab-case).
    pub cli: String,
    /// Service prefix used in URLs.
    pub prefix: String,
    /// Whether the region is part of the URL.
    pub region_in_url: bool,
    /// Default method (informative for typed clients, whose operations name their method).
    pub default_method: String,
    /// Log subsystem.
    pub subsystem: String,
}

impl ServiceMeta {
    /// Reads and checks `x-kernel`; `Ok(None)` when the document has none.
    pub fn from_doc(spec: &str, doc: &Value) -> Result<Option<ServiceMeta>, SpecError> {
        let Some(raw) = doc.get("x-kernel") else {
            return Ok(None);
        };
        let meta: ServiceMeta = serde_json::from_value(raw.clone()).map_err(|e| {
            SpecError::new(
                spec,
                "x-kernel",
                format!("{e} (expected crate, module, client, cli, prefix, region_in_url, default_method, subsystem)"),
            )
        })?;
        meta.check(spec)?;
        Ok(Some(meta))
    }

    fn check(&self, spec: &str) -> Result<(), SpecError> {
        let bad = |field: &str, why: &str| {
            Err(SpecError::new(
                spec,
                format!("x-kernel.{field}"),
                why.to_owned(),
            ))
        };
        let kebab = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !s.starts_with('-')
                && !s.ends_with('-')
                && !s.contains("--")
        };
        if !(self.crate_name.starts_with("kernel-") && kebab(&self.crate_name)) {
            return bad("crate", "must be kebab-case and start with `kernel-`");
        }
        if matches!(
            self.crate_name.as_str(),
            "kernel-core" | "kernel-spec" | "kernel-codegen" | "kernel-sandbox" | "kernel-cli"
        ) {
            return bad("crate", "names one of the SDK's own crates");
        }
        let snake = |s: &str| {
            s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !snake(&self.module) || matches!(self.module.as_str(), "types" | "builder" | "prelude") {
            return bad(
                "module",
                "must be a snake_case identifier other than types, builder or prelude",
            );
        }
        let camel = self
            .client
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_uppercase())
            && self.client.bytes().all(|b| b.is_ascii_alphanumeric());
        if !camel || self.client == "Client" {
            return bad(
                "client",
                "must be an UpperCamelCase identifier other than Client",
            );
        }
        if !kebab(&self.cli) {
            return bad("cli", "must be kebab-case");
        }
        if !kebab(&self.prefix) || self.prefix.len() > 63 {
            return bad(
                "prefix",
                "must be a lower-case DNS label (letters, digits, single hyphens)",
            );
        }
        if !matches!(
            self.default_method.as_str(),
            "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
        ) {
            return bad("default_method", "must be GET, POST, PUT, PATCH or DELETE");
        }
        if self.subsystem.trim().is_empty() || self.subsystem.chars().any(char::is_control) {
            return bad("subsystem", "must be a non-empty line of text");
        }
        Ok(())
    }

    /// `KERNEL_ENDPOINT_URL_<PREFIX_IN_UPPER_SNAKE>`.
    pub fn endpoint_variable(&self) -> String {
        format!(
            "KERNEL_ENDPOINT_URL_{}",
            self.prefix.to_ascii_uppercase().replace('-', "_")
        )
    }

    /// The crate name as a Rust path segment (`kernel_binlookup`).
    pub fn crate_ident(&self) -> String {
        self.crate_name.replace('-', "_")
    }
}
