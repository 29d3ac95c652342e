//! Resolution: kernel environment, account, role ARN, base URLs and call URLs (DESIGN.md
//! part A), plus the endpoint overrides of part B.
//!
//! The endpoint a caller passes is untrusted text that is glued onto a base URL. It must
//! never be able to change the scheme, host or port the signed request goes to, so it is
//! checked twice: lexically up front (no `//`, `\`, schemes, dot segments, user-info,
//! control characters, fragments) and again on the parsed result (scheme, host, port and
//! base path must be exactly the base's).

use std::fmt;

use url::Url;

use crate::config::{Config, check_dns_label, is_loopback_host};
use crate::error::RequestError;

/// Kernel environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KernelEnv {
    /// `qakernel`, account 058264189048.
    QaKernel,
    /// `kernel`, account 075149869707.
    Kernel,
}

impl KernelEnv {
    /// Parses `qakernel` / `kernel`.
    pub fn parse(s: &str) -> Option<KernelEnv> {
        match s {
            "qakernel" => Some(KernelEnv::QaKernel),
            "kernel" => Some(KernelEnv::Kernel),
            _ => None,
        }
    }
    /// The name used in host names.
    pub fn as_str(self) -> &'static str {
        match self {
            KernelEnv::QaKernel => "qakernel",
            KernelEnv::Kernel => "kernel",
        }
    }
    /// The AWS account the kernel environment lives in.
    pub fn account_id(self) -> &'static str {
        match self {
            KernelEnv::QaKernel => "058264189048",
            KernelEnv::Kernel => "075149869707",
        }
    }
    /// Selection rule: override, else `innovate`/`austin` → qakernel, else kernel.
    pub fn select(partner: &str, override_env: Option<KernelEnv>) -> KernelEnv {
        match override_env {
            Some(e) => e,
            None if partner == "innovate" || partner == "austin" => KernelEnv::QaKernel,
            None => KernelEnv::Kernel,
        }
    }
}

impl fmt::Display for KernelEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Authentication mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMode {
    /// Mode 1: role `kernel-access`, no ExternalId (partners inside the AWS Organization).
    Internal,
    /// Mode 2: role `kernel-access-external` with `ExternalId = K3_EXTERNAL_ID`.
    External,
}

impl AuthMode {
    /// Role name for the mode.
    pub fn role_name(self) -> &'static str {
        match self {
            AuthMode::Internal => "kernel-access",
            AuthMode::External => "kernel-access-external",
        }
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthMode::Internal => "mode 1 (kernel-access)",
            AuthMode::External => "mode 2 (kernel-access-external + ExternalId)",
        })
    }
}

/// A kernel service: the defaults of DESIGN.md's service table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Service {
    /// URL prefix, e.g. `bin-lookup-service`.
    pub prefix: &'static str,
    /// Whether the region is part of the URL.
    pub region_in_url: bool,
    /// Default HTTP method.
    pub default_method: DefaultMethod,
    /// Log subsystem name.
    pub subsystem: &'static str,
}

/// A service's default method (a `Copy` stand-in for [`http::Method`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefaultMethod {
    /// GET
    Get,
    /// POST
    Post,
}

impl DefaultMethod {
    /// As an [`http::Method`].
    pub fn method(self) -> http::Method {
        match self {
            DefaultMethod::Get => http::Method::GET,
            DefaultMethod::Post => http::Method::POST,
        }
    }
}

impl Service {
    /// Card tokenization.
    pub const K3: Service = Service {
        prefix: "k3",
        region_in_url: false,
        default_method: DefaultMethod::Post,
        subsystem: "K3",
    };
    /// Paze wallet key service.
    pub const PAZE: Service = Service {
        prefix: "paze-wallet-key-service",
        region_in_url: true,
        default_method: DefaultMethod::Post,
        subsystem: "PAZE WALLET KEY SERVICE",
    };
    /// Apple Pay wallet key service.
    pub const APPLE_WALLET: Service = Service {
        prefix: "apple-wallet-key-service",
        region_in_url: true,
        default_method: DefaultMethod::Post,
        subsystem: "APPLE WALLET KEY SERVICE",
    };
    /// Google Pay wallet key service.
    pub const GOOGLE_WALLET: Service = Service {
        prefix: "google-wallet-key-service",
        region_in_url: true,
        default_method: DefaultMethod::Post,
        subsystem: "GOOGLE WALLET KEY SERVICE",
    };
    /// BIN lookup.
    pub const BIN_LOOKUP: Service = Service {
        prefix: "bin-lookup-service",
        region_in_url: true,
        default_method: DefaultMethod::Get,
        subsystem: "BIN LOOKUP SERVICE",
    };
    /// Bank data (routing numbers).
    pub const BANK_DATA: Service = Service {
        prefix: "bank-data-service",
        region_in_url: true,
        default_method: DefaultMethod::Get,
        subsystem: "BANK DATA SERVICE",
    };
    /// The six known services.
    pub const ALL: [Service; 6] = [
        Service::K3,
        Service::PAZE,
        Service::APPLE_WALLET,
        Service::GOOGLE_WALLET,
        Service::BIN_LOOKUP,
        Service::BANK_DATA,
    ];
}

/// Everything derived from a [`Config`] that does not depend on the call.
#[derive(Debug, Clone)]
pub struct Resolved {
    kernel_env: KernelEnv,
    mode: AuthMode,
    role_arn: String,
    url_stage: String,
}

impl Resolved {
    /// Resolves environment, mode, role and URL stage.
    ///
    /// ```
    /// use kernel_core::{Config, Resolved};
    /// let cfg = Config::from_vars([("PARTNER", "innovate"), ("STAGE", "dev")]).unwrap();
    /// let r = Resolved::new(&cfg);
    /// assert_eq!(r.role_arn(), "arn:aws:iam::058264189048:role/kernel-access");
    /// assert_eq!(r.base_url(&cfg, "k3", false).unwrap().as_str(), "https://k3.qakernel.dev.com/");
    /// ```
    pub fn new(config: &Config) -> Resolved {
        let kernel_env = KernelEnv::select(&config.partner, config.kernel_env_override);
        let mode = if config.external_id.is_some() {
            AuthMode::External
        } else {
            AuthMode::Internal
        };
        let role_arn = format!(
            "arn:aws:iam::{}:role/{}",
            kernel_env.account_id(),
            mode.role_name()
        );
        let url_stage = if config.partner == "start" && config.stage == "paytheory" {
            "paytheorystudy".to_owned()
        } else {
            config.stage.clone()
        };
        Resolved {
            kernel_env,
            mode,
            role_arn,
            url_stage,
        }
    }
    /// Kernel environment.
    pub fn kernel_env(&self) -> KernelEnv {
        self.kernel_env
    }
    /// Kernel account id.
    pub fn account_id(&self) -> &'static str {
        self.kernel_env.account_id()
    }
    /// Authentication mode.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }
    /// Role to assume.
    pub fn role_arn(&self) -> &str {
        &self.role_arn
    }
    /// Stage as used in host names.
    pub fn url_stage(&self) -> &str {
        &self.url_stage
    }

    /// Base URL for a service, always ending in `/` (the call URL is base + endpoint).
    /// DESIGN.md writes K3's base without the trailing slash
    /// (`https://k3.qakernel.dev.com`); [`Url`] always has a path, so it reads
    /// `https://k3.qakernel.dev.com/` here. The prefix must already be validated.
    pub fn base_url(
        &self,
        config: &Config,
        prefix: &str,
        region_in_url: bool,
    ) -> Result<Url, RequestError> {
        if let Some(u) = config.service_endpoint_url(prefix) {
            return Ok(u.clone());
        }
        if let Some(b) = &config.endpoint_url {
            let mut u = b.clone();
            let p = format!("{}{prefix}/", u.path());
            u.set_path(&p);
            return Ok(u);
        }
        let raw = if region_in_url {
            format!(
                "https://{}.{}.{}.com/{prefix}/",
                config.region, self.kernel_env, self.url_stage
            )
        } else {
            format!(
                "https://{prefix}.{}.{}.com/",
                self.kernel_env, self.url_stage
            )
        };
        // Every component is a validated DNS label, so this should not fail; if it does,
        // it is an error, never a panic.
        Url::parse(&raw).map_err(|_| RequestError::Endpoint {
            why: "the configured partner, stage, region or prefix does not form a valid host name",
        })
    }

    /// The final URL for a call: base + endpoint, after checking that the endpoint cannot
    /// change where the request goes.
    ///
    /// ```
    /// use kernel_core::{Config, Resolved};
    /// let cfg = Config::from_vars([("PARTNER", "paytheory"), ("STAGE", "prod")]).unwrap();
    /// let r = Resolved::new(&cfg);
    /// let url = r.call_url(&cfg, "bin-lookup-service", true, "?card_bin=411111").unwrap();
    /// assert_eq!(url.as_str(), "https://us-east-1.kernel.prod.com/bin-lookup-service/?card_bin=411111");
    /// assert!(r.call_url(&cfg, "k3", false, "//evil.example/x").is_err());
    /// ```
    pub fn call_url(
        &self,
        config: &Config,
        prefix: &str,
        region_in_url: bool,
        endpoint: &str,
    ) -> Result<Url, RequestError> {
        check_service_prefix(prefix)?;
        check_endpoint(endpoint)?;
        let base = self.base_url(config, prefix, region_in_url)?;
        // One leading slash is tolerated (`/v1/tokenize` == `v1/tokenize`).
        let endpoint = endpoint.strip_prefix('/').unwrap_or(endpoint);
        let joined = format!("{}{endpoint}", base.as_str());
        let url = Url::parse(&joined).map_err(|_| RequestError::Endpoint {
            why: "it does not form a valid URL",
        })?;
        // Defence in depth: whatever the lexical checks missed, the parsed URL must still
        // point at the base's scheme, host, port and path.
        if url.scheme() != base.scheme()
            || url.host() != base.host()
            || url.port_or_known_default() != base.port_or_known_default()
            || !url.username().is_empty()
            || url.password().is_some()
            || !url.path().starts_with(base.path())
            || url.fragment().is_some()
        {
            return Err(RequestError::Endpoint {
                why: "it would change the scheme, host, port or base path",
            });
        }
        check_transport_security(&url)?;
        Ok(url)
    }
}

/// Only `https`, or `http` to loopback.
pub(crate) fn check_transport_security(url: &Url) -> Result<(), RequestError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(url) => Ok(()),
        s => Err(RequestError::InsecureUrl {
            scheme: s.to_owned(),
            host: url.host_str().unwrap_or_default().to_owned(),
        }),
    }
}

/// Service prefixes become host labels (K3) or path segments: both need a DNS label.
pub fn check_service_prefix(prefix: &str) -> Result<(), RequestError> {
    check_dns_label("service prefix", prefix).map_err(|_| RequestError::ServicePrefix {
        prefix: prefix.chars().take(80).collect(),
    })
}

/// Lexical checks on an endpoint. Each refusal names the construct, not the input (which
/// may hold data).
pub fn check_endpoint(endpoint: &str) -> Result<(), RequestError> {
    let refuse = |why| Err(RequestError::Endpoint { why });
    if endpoint.chars().any(|c| c.is_control()) {
        return refuse("it contains a control character");
    }
    if endpoint.starts_with(' ') || endpoint.ends_with(' ') {
        // URL parsers strip them, which would let ` https:evil` pass the scheme check.
        return refuse("it starts or ends with a space");
    }
    if endpoint.contains('\\') {
        return refuse("it contains a backslash");
    }
    if endpoint.contains('#') {
        return refuse("it contains a fragment ('#'), which would not be sent");
    }
    let (path, _query) = endpoint.split_once('?').unwrap_or((endpoint, ""));
    if path.starts_with("//") {
        return refuse("it starts with '//' (a network-path reference to another host)");
    }
    let rest = path.strip_prefix('/').unwrap_or(path);
    if rest.contains("//") {
        return refuse("it contains an empty path segment ('//')");
    }
    // A scheme (`https:`, `javascript:`...) in the first segment makes it an absolute URL.
    let first = rest.split('/').next().unwrap_or("");
    if let Some((scheme, _)) = first.split_once(':')
        && !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
    {
        return refuse("it looks like an absolute URL (scheme:...)");
    }
    if first.contains('@') {
        return refuse("its first segment contains '@' (reads as user-info: user@host)");
    }
    for seg in rest.split('/') {
        let lowered = seg.to_ascii_lowercase().replace("%2e", ".");
        if lowered == "." || lowered == ".." {
            return refuse("it contains a '.' or '..' path segment");
        }
    }
    Ok(())
}
