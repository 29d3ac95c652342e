//! Configuration: the environment (DESIGN.md part A) or a builder → a validated [`Config`].
//!
//! Validation happens here, once, before anything touches the network: every value that
//! ends up in a host name must be a safe DNS label, endpoint overrides must be absolute
//! `https://` URLs (or `http://` on loopback) without user-info, query or fragment.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use url::Url;

use crate::error::ConfigError;
use crate::resolve::KernelEnv;

/// Default SigV4 / kernel region.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Role session name used by the reference implementation.
pub const DEFAULT_SESSION_NAME: &str = "kernel-service-call";
/// Default connect and read timeouts.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default overall deadline of one call (all attempts and backoff).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);
/// Default cap on a response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

/// Environment variable names.
pub mod env {
    /// Partner identifier (required).
    pub const PARTNER: &str = "PARTNER";
    /// Deployment stage (required).
    pub const STAGE: &str = "STAGE";
    /// Kernel region and SigV4 signing region.
    pub const TARGET_REGION: &str = "TARGET_REGION";
    /// ExternalId; non-empty selects authentication mode 2.
    pub const K3_EXTERNAL_ID: &str = "K3_EXTERNAL_ID";
    /// Forces the kernel environment (`qakernel` or `kernel`).
    pub const KERNEL_ENV_OVERRIDE: &str = "KERNEL_ENV_OVERRIDE";
    /// Kernel-wide endpoint override.
    pub const KERNEL_ENDPOINT_URL: &str = "KERNEL_ENDPOINT_URL";
    /// Prefix of per-service endpoint overrides (`KERNEL_ENDPOINT_URL_<PREFIX_IN_UPPER_SNAKE>`).
    pub const KERNEL_ENDPOINT_URL_PREFIX: &str = "KERNEL_ENDPOINT_URL_";
}

/// An ExternalId. It is a shared secret between the partner and the kernel team, so it is
/// never printed: `Debug` shows `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct ExternalId(String);

impl ExternalId {
    /// The value, for the STS call only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExternalId(<redacted>)")
    }
}

/// Validated configuration. Build it with [`Config::from_env`] or [`Config::builder`].
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) partner: String,
    pub(crate) stage: String,
    pub(crate) region: String,
    pub(crate) external_id: Option<ExternalId>,
    pub(crate) kernel_env_override: Option<KernelEnv>,
    pub(crate) endpoint_url: Option<Url>,
    /// Keyed by the service prefix in UPPER_SNAKE (as in the variable name).
    pub(crate) service_endpoint_urls: BTreeMap<String, Url>,
    pub(crate) session_name: String,
    pub(crate) session_length: Option<Duration>,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) deadline: Duration,
    pub(crate) max_response_bytes: usize,
}

impl Config {
    /// Reads the process environment (see the README's table).
    ///
    /// ```
    /// # // SAFETY of the example: doc tests run in their own process.
    /// let err = kernel_core::Config::from_vars([("STAGE", "dev")]).unwrap_err();
    /// assert!(err.to_string().contains("PARTNER is not set"));
    /// ```
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_vars(env_vars()?)
    }

    /// Like [`Config::from_env`], from explicit `(name, value)` pairs (tests, other sources).
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Result<Config, ConfigError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut b = ConfigBuilder::default();
        for (k, v) in vars {
            let (k, v) = (k.as_ref(), v.as_ref());
            if v.is_empty() {
                // DESIGN.md: an empty variable counts as unset (K3_EXTERNAL_ID in particular).
                continue;
            }
            match k {
                env::PARTNER => b.partner = Some(v.to_owned()),
                env::STAGE => b.stage = Some(v.to_owned()),
                env::TARGET_REGION => b.region = Some(v.to_owned()),
                env::K3_EXTERNAL_ID => b.external_id = Some(v.to_owned()),
                env::KERNEL_ENV_OVERRIDE => b.kernel_env_override = Some(v.to_owned()),
                env::KERNEL_ENDPOINT_URL => b.endpoint_url = Some(v.to_owned()),
                _ => {
                    if let Some(suffix) = k.strip_prefix(env::KERNEL_ENDPOINT_URL_PREFIX) {
                        b.service_endpoint_urls
                            .push((suffix.to_owned(), v.to_owned()));
                    }
                }
            }
        }
        b.build()
    }

    /// A builder for code that does not configure through the environment.
    ///
    /// ```
    /// let cfg = kernel_core::Config::builder()
    ///     .partner("innovate")
    ///     .stage("dev")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(cfg.partner(), "innovate");
    /// assert_eq!(cfg.region(), "us-east-1");
    /// ```
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Partner identifier.
    pub fn partner(&self) -> &str {
        &self.partner
    }
    /// Deployment stage.
    pub fn stage(&self) -> &str {
        &self.stage
    }
    /// Kernel and SigV4 region.
    pub fn region(&self) -> &str {
        &self.region
    }
    /// The ExternalId (mode 2), if any.
    pub fn external_id(&self) -> Option<&ExternalId> {
        self.external_id.as_ref()
    }
    /// The forced kernel environment, if any.
    pub fn kernel_env_override(&self) -> Option<KernelEnv> {
        self.kernel_env_override
    }
    /// Role session name for AssumeRole.
    pub fn session_name(&self) -> &str {
        &self.session_name
    }
    /// Requested AssumeRole session length (None: STS default, 1 h).
    pub fn session_length(&self) -> Option<Duration> {
        self.session_length
    }
    /// Default connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
    /// Default read timeout.
    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }
    /// Default overall deadline of a call.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }
    /// Maximum response body size.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }
    /// Kernel-wide endpoint override.
    pub fn endpoint_url(&self) -> Option<&Url> {
        self.endpoint_url.as_ref()
    }
    /// Per-service endpoint override for a service prefix (e.g. `bin-lookup-service`).
    pub fn service_endpoint_url(&self, prefix: &str) -> Option<&Url> {
        self.service_endpoint_urls.get(&upper_snake(prefix))
    }
}

/// The kernel variables of the process environment (those [`Config::from_vars`] reads), as
/// a map: for callers that want to adjust them (e.g. command-line flags) before validating.
/// A relevant variable that is not valid UTF-8 is an error.
pub fn env_vars() -> Result<BTreeMap<String, String>, ConfigError> {
    let mut vars = BTreeMap::new();
    for (k, v) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if !is_config_var(k) {
            continue;
        }
        let v = v.into_string().map_err(|_| ConfigError::Invalid {
            name: leak_known_name(k),
            why: "not valid UTF-8".into(),
        })?;
        vars.insert(k.to_owned(), v);
    }
    Ok(vars)
}

/// Is `name` one of the variables the configuration reads?
pub fn is_config_var(name: &str) -> bool {
    matches!(
        name,
        env::PARTNER
            | env::STAGE
            | env::TARGET_REGION
            | env::K3_EXTERNAL_ID
            | env::KERNEL_ENV_OVERRIDE
            | env::KERNEL_ENDPOINT_URL
    ) || name.starts_with(env::KERNEL_ENDPOINT_URL_PREFIX)
}

fn leak_known_name(k: &str) -> &'static str {
    match k {
        env::PARTNER => env::PARTNER,
        env::STAGE => env::STAGE,
        env::TARGET_REGION => env::TARGET_REGION,
        env::K3_EXTERNAL_ID => env::K3_EXTERNAL_ID,
        env::KERNEL_ENV_OVERRIDE => env::KERNEL_ENV_OVERRIDE,
        _ => "KERNEL_ENDPOINT_URL*",
    }
}

/// `bin-lookup-service` → `BIN_LOOKUP_SERVICE` (the per-service override's suffix).
pub fn upper_snake(prefix: &str) -> String {
    prefix
        .chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

/// Builder for [`Config`]. Unset values take the defaults of DESIGN.md.
#[derive(Default, Clone)]
pub struct ConfigBuilder {
    partner: Option<String>,
    stage: Option<String>,
    region: Option<String>,
    external_id: Option<String>,
    kernel_env_override: Option<String>,
    endpoint_url: Option<String>,
    service_endpoint_urls: Vec<(String, String)>,
    session_name: Option<String>,
    session_length: Option<Duration>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    deadline: Option<Duration>,
    max_response_bytes: Option<usize>,
}

impl fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigBuilder")
            .field("partner", &self.partner)
            .field("stage", &self.stage)
            .field("region", &self.region)
            .field(
                "external_id",
                &self.external_id.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl ConfigBuilder {
    /// Partner identifier (`PARTNER`).
    pub fn partner(mut self, v: impl Into<String>) -> Self {
        self.partner = Some(v.into());
        self
    }
    /// Stage (`STAGE`).
    pub fn stage(mut self, v: impl Into<String>) -> Self {
        self.stage = Some(v.into());
        self
    }
    /// Region (`TARGET_REGION`), default `us-east-1`.
    pub fn region(mut self, v: impl Into<String>) -> Self {
        self.region = Some(v.into());
        self
    }
    /// ExternalId (`K3_EXTERNAL_ID`): selects mode 2. An empty string means mode 1.
    pub fn external_id(mut self, v: impl Into<String>) -> Self {
        let v = v.into();
        self.external_id = (!v.is_empty()).then_some(v);
        self
    }
    /// Forces the kernel environment (`KERNEL_ENV_OVERRIDE`).
    pub fn kernel_env_override(mut self, v: impl Into<String>) -> Self {
        self.kernel_env_override = Some(v.into());
        self
    }
    /// Kernel-wide endpoint override (`KERNEL_ENDPOINT_URL`).
    pub fn endpoint_url(mut self, v: impl Into<String>) -> Self {
        self.endpoint_url = Some(v.into());
        self
    }
    /// Endpoint override for one service (`KERNEL_ENDPOINT_URL_<PREFIX>`); `prefix` may be
    /// given as `bin-lookup-service` or `BIN_LOOKUP_SERVICE`.
    pub fn service_endpoint_url(mut self, prefix: &str, v: impl Into<String>) -> Self {
        self.service_endpoint_urls
            .push((upper_snake(prefix), v.into()));
        self
    }
    /// Role session name (default `kernel-service-call`).
    pub fn session_name(mut self, v: impl Into<String>) -> Self {
        self.session_name = Some(v.into());
        self
    }
    /// Requested session length for AssumeRole (STS accepts 900 s to the role's maximum).
    pub fn session_length(mut self, v: Duration) -> Self {
        self.session_length = Some(v);
        self
    }
    /// Default connect timeout (30 s).
    pub fn connect_timeout(mut self, v: Duration) -> Self {
        self.connect_timeout = Some(v);
        self
    }
    /// Default read timeout (30 s).
    pub fn read_timeout(mut self, v: Duration) -> Self {
        self.read_timeout = Some(v);
        self
    }
    /// Default overall deadline of a call, all attempts and backoff included (60 s).
    pub fn deadline(mut self, v: Duration) -> Self {
        self.deadline = Some(v);
        self
    }
    /// Maximum response body size (10 MiB).
    pub fn max_response_bytes(mut self, v: usize) -> Self {
        self.max_response_bytes = Some(v);
        self
    }

    /// Validates everything and builds the [`Config`].
    pub fn build(self) -> Result<Config, ConfigError> {
        let partner = required(self.partner, env::PARTNER, "partner")?;
        check_dns_label(env::PARTNER, &partner)?;
        let stage = required(self.stage, env::STAGE, "stage")?;
        check_dns_label(env::STAGE, &stage)?;
        let region = self
            .region
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        check_dns_label(env::TARGET_REGION, &region)?;
        let kernel_env_override = match self.kernel_env_override.filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => {
                check_dns_label(env::KERNEL_ENV_OVERRIDE, &v)?;
                Some(KernelEnv::parse(&v).ok_or(ConfigError::UnknownKernelEnv { value: v })?)
            }
        };
        let endpoint_url = self
            .endpoint_url
            .map(|u| parse_endpoint_override(env::KERNEL_ENDPOINT_URL, &u))
            .transpose()?;
        let mut service_endpoint_urls = BTreeMap::new();
        for (suffix, u) in self.service_endpoint_urls {
            let name = format!("{}{suffix}", env::KERNEL_ENDPOINT_URL_PREFIX);
            if suffix.is_empty()
                || !suffix
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(ConfigError::BadEndpointOverride {
                    name,
                    why: "the suffix must be the service prefix in UPPER_SNAKE_CASE".into(),
                });
            }
            let url = parse_endpoint_override(&name, &u)?;
            service_endpoint_urls.insert(suffix, url);
        }
        let session_name = self
            .session_name
            .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_owned());
        // STS: RoleSessionName is [\w+=,.@-]{2,64}.
        if !(2..=64).contains(&session_name.len())
            || !session_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
        {
            return Err(ConfigError::Invalid {
                name: "session_name",
                why: "STS needs 2-64 characters from letters, digits and _+=,.@-".into(),
            });
        }
        if let Some(len) = self.session_length
            && len.as_secs() == 0
        {
            return Err(ConfigError::Invalid {
                name: "session_length",
                why: "must be at least one second (STS accepts 900 s or more)".into(),
            });
        }
        for (name, t) in [
            ("connect_timeout", self.connect_timeout),
            ("read_timeout", self.read_timeout),
            ("deadline", self.deadline),
        ] {
            if t == Some(Duration::ZERO) {
                return Err(ConfigError::Invalid {
                    name,
                    why: "a zero timeout would fail every call".into(),
                });
            }
        }
        if self.max_response_bytes == Some(0) {
            return Err(ConfigError::Invalid {
                name: "max_response_bytes",
                why: "must be greater than zero".into(),
            });
        }
        Ok(Config {
            partner,
            stage,
            region,
            external_id: self.external_id.map(ExternalId),
            kernel_env_override,
            endpoint_url,
            service_endpoint_urls,
            session_name,
            session_length: self.session_length,
            connect_timeout: self.connect_timeout.unwrap_or(DEFAULT_TIMEOUT),
            read_timeout: self.read_timeout.unwrap_or(DEFAULT_TIMEOUT),
            deadline: self.deadline.unwrap_or(DEFAULT_DEADLINE),
            max_response_bytes: self
                .max_response_bytes
                .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
        })
    }
}

fn required(
    v: Option<String>,
    name: &'static str,
    builder: &'static str,
) -> Result<String, ConfigError> {
    v.filter(|v| !v.is_empty())
        .ok_or(ConfigError::Missing { name, builder })
}

/// A value that becomes (part of) a host name: 1–63 of `a-z 0-9 -`, not starting or ending
/// with `-`. Upper case is refused rather than folded so that the host we sign is exactly
/// the host the caller configured.
pub fn check_dns_label(name: &'static str, value: &str) -> Result<(), ConfigError> {
    let err = |why| ConfigError::NotDnsLabel {
        name,
        value: value.chars().take(80).collect(),
        why,
    };
    if value.is_empty() || value.len() > 63 {
        return Err(err("length must be 1 to 63"));
    }
    if value.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(err("upper-case letters are not allowed"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(err("only a-z, 0-9 and '-' are allowed"));
    }
    if value.starts_with('-') || value.ends_with('-') {
        return Err(err("must not start or end with '-'"));
    }
    // RFC 5891 §4.2.3.1: hyphens in the 3rd and 4th position are reserved (`xn--` punycode
    // and friends); URL parsers run IDNA on them and refuse malformed ones.
    if value.get(2..4) == Some("--") {
        return Err(err("'--' in the 3rd and 4th position is reserved for IDNA"));
    }
    Ok(())
}

/// Is this host a loopback address (`127.0.0.0/8`, `::1`, `localhost`)?
pub(crate) fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn parse_endpoint_override(name: &str, raw: &str) -> Result<Url, ConfigError> {
    let bad = |why: &str| ConfigError::BadEndpointOverride {
        name: name.to_owned(),
        why: why.to_owned(),
    };
    if raw.chars().any(|c| c.is_control() || c == '\\') {
        return Err(bad("control characters and backslashes are not allowed"));
    }
    if raw.trim() != raw {
        // URL parsers strip surrounding spaces; refuse rather than guess.
        return Err(bad("leading or trailing whitespace is not allowed"));
    }
    let mut url = Url::parse(raw).map_err(|e| bad(&format!("not an absolute URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&url) => {}
        "http" => {
            return Err(bad(
                "plain http is only allowed for loopback hosts (127.0.0.0/8, ::1, localhost); use https",
            ));
        }
        _ => return Err(bad("the scheme must be https (or http on loopback)")),
    }
    match url.host() {
        None => return Err(bad("it has no host")),
        Some(url::Host::Domain(d))
            if d.is_empty()
                || !d.split('.').all(|l| {
                    !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                }) =>
        {
            return Err(bad("the host is not a valid DNS name"));
        }
        Some(_) => {}
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("user-info (user@host) is not allowed"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a query or fragment is not allowed"));
    }
    // What reqwest/hyper will be handed must parse there too.
    if http::Uri::try_from(url.as_str()).is_err() {
        return Err(bad("it is not a valid HTTP URI"));
    }
    // Normalise to exactly one trailing slash: the call URL is base + endpoint.
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    Ok(url)
}
