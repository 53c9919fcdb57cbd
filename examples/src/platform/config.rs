//! [`PlatformConfig`]: everything the `platform` binary can be told, with defaults that
//! need nothing installed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use platform_auth::identity::PasswordConfig;
use platform_core::config::ConfigLoader;
use platform_core::store::StoreConfig;
use platform_observe::TelemetryConfig;
use platform_observe::telemetry::LogFormat;
use serde::{Deserialize, Serialize};

use super::error::PlatformError;
use super::secret::Secret;

/// The variable holding the bootstrap administrator's password (read at the first start
/// only, when no password is configured).
pub const ADMIN_PASSWORD_ENV: &str = "PLATFORM_ADMIN_PASSWORD";

/// The whole configuration: one TOML file (`--config`), overridden by environment
/// variables `PLATFORM__SECTION__KEY` (platform-core's [`ConfigLoader`] conventions;
/// `PLATFORM_PROFILE=prod` also reads `platform.prod.toml` beside the file).
///
/// ```
/// use platform_examples::platform::PlatformConfig;
///
/// let config = PlatformConfig::load(None, [("PLATFORM__GATEWAY__LISTEN", "127.0.0.1:18080")]).unwrap();
/// assert_eq!(config.gateway.listen.port(), 18080);
/// assert_eq!(config.admin.listen.port(), 9901);
/// assert_eq!(config.database().url, "sqlite://data/platform.db");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PlatformConfig {
    /// Where state lives: the SQLite database and the token signing key (default `data`,
    /// relative to the working directory; created if missing).
    pub data_dir: PathBuf,
    /// The gateway: the entry point for every client request.
    pub gateway: GatewaySection,
    /// The admin listener: metrics, health, the gateway's and the auth admin APIs.
    pub admin: AdminSection,
    /// The in-process services the gateway routes to.
    pub services: ServicesSection,
    /// The SQL database (platform-core `StoreConfig`); default a SQLite file
    /// `<data_dir>/platform.db`. `postgres://…` URLs work as well.
    pub database: Option<StoreConfig>,
    /// The token server and the bootstrap administrator.
    pub auth: AuthSection,
    /// The registry and config service.
    pub control: ControlSection,
    /// Logs, traces and metrics (platform-observe `TelemetryConfig`).
    pub telemetry: TelemetryConfig,
    /// The audit trail.
    pub audit: AuditSection,
    /// How long open connections may take to finish at shutdown (default 30 s).
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
}

impl Default for PlatformConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            gateway: GatewaySection::default(),
            admin: AdminSection::default(),
            services: ServicesSection::default(),
            database: None,
            auth: AuthSection::default(),
            control: ControlSection::default(),
            telemetry: TelemetryConfig {
                service_name: "platform".to_owned(),
                format: LogFormat::Compact,
                ..TelemetryConfig::default()
            },
            audit: AuditSection::default(),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// `[gateway]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct GatewaySection {
    /// Where clients connect (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// A gateway configuration file (the format of `docs/gateway.md`) whose `[proxy]`
    /// and `[server]` settings apply and whose `[upstreams]` and `[[routes]]` are added
    /// after the built-in ones. Relative paths are relative to the working directory.
    pub routes_file: Option<PathBuf>,
}

impl Default for GatewaySection {
    fn default() -> Self {
        Self { listen: SocketAddr::from(([127, 0, 0, 1], 8080)), routes_file: None }
    }
}

/// `[admin]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AdminSection {
    /// Where operators connect (default `127.0.0.1:9901`). Keep it off public networks:
    /// `/metrics`, `/health/*` and `/admin/routes…` answer without credentials.
    pub listen: SocketAddr,
}

impl Default for AdminSection {
    fn default() -> Self {
        Self { listen: SocketAddr::from(([127, 0, 0, 1], 9901)) }
    }
}

/// `[services]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ServicesSection {
    /// The address the in-process services (token server, control plane, echo) listen
    /// on, each on a port the system picks (default `127.0.0.1`). The gateway reaches
    /// them there like any other upstream.
    pub host: std::net::IpAddr,
}

impl Default for ServicesSection {
    fn default() -> Self {
        Self { host: std::net::IpAddr::from([127, 0, 0, 1]) }
    }
}

/// `[auth]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthSection {
    /// The `iss` of issued tokens and the base of the discovery document's URLs
    /// (default `http://<gateway.listen>`). Set it to the URL clients use.
    pub issuer: Option<String>,
    /// The `aud` of issued tokens (default `platform`).
    pub audience: String,
    /// Access-token lifetime (default 15 min).
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    /// The bootstrap administrator's username (default `admin`).
    pub admin_username: String,
    /// Its password, used at the first start only; else `PLATFORM_ADMIN_PASSWORD`, else
    /// a generated one is printed once.
    pub admin_password: Option<Secret>,
    /// The OAuth client created at the first start for logins from the command line
    /// (default `platform-cli`; grants `password` and `refresh_token`). Its secret is
    /// generated and printed once.
    pub cli_client_id: String,
    /// The Ed25519 signing key, PKCS#8 PEM (default `<data_dir>/jwt-signing-key.pem`,
    /// created with mode 0600 when missing).
    pub signing_key_file: Option<PathBuf>,
    /// argon2id costs and the password length policy (platform-auth `PasswordConfig`).
    pub passwords: PasswordConfig,
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: "platform".to_owned(),
            access_token_ttl: Duration::from_secs(15 * 60),
            admin_username: "admin".to_owned(),
            admin_password: None,
            cli_client_id: "platform-cli".to_owned(),
            signing_key_file: None,
            passwords: PasswordConfig::default(),
        }
    }
}

/// `[control]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ControlSection {
    /// Keep the registry and config documents in Redis (`redis://…`) instead of this
    /// process's memory.
    pub redis_url: Option<String>,
    /// Key prefix in Redis (default `platform:`).
    pub redis_prefix: Option<String>,
    /// Require a token from the platform's token server for the registry and config
    /// APIs (default `false`: anyone who reaches the gateway may register instances and
    /// edit documents, which is only acceptable while it listens on loopback). Reads
    /// then need any valid token or API key; writes need `write_role`.
    pub require_token: bool,
    /// The role writes need when `require_token` is on (default `auth-admin`).
    pub write_role: String,
}

impl Default for ControlSection {
    fn default() -> Self {
        Self {
            redis_url: None,
            redis_prefix: None,
            require_token: false,
            write_role: platform_auth::server::ADMIN_ROLE.to_owned(),
        }
    }
}

/// `[audit]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuditSection {
    /// Record `target: "audit"` events (logins, token grants, admin changes) in the
    /// hash-chained audit log in the database (default `true`).
    pub enabled: bool,
}

impl Default for AuditSection {
    fn default() -> Self {
        Self { enabled: true }
    }
}

impl PlatformConfig {
    /// Loads defaults, then `file` (when given), then `PLATFORM__…` variables from
    /// `env`; [`ADMIN_PASSWORD_ENV`] in `env` fills `auth.admin_password` when unset.
    ///
    /// # Errors
    /// [`PlatformError::Config`] naming the file, line and key, or the variable.
    pub fn load<K, V>(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, PlatformError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let env: Vec<(String, String)> =
            env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let mut loader = ConfigLoader::<Self>::new().with_env(env.clone());
        if let Some(path) = file {
            loader = loader.file(path);
        }
        let mut config = loader.load().map_err(|e| PlatformError::Config(e.to_string()))?;
        if config.auth.admin_password.is_none()
            && let Some((_, pw)) = env.into_iter().find(|(k, _)| k == ADMIN_PASSWORD_ENV)
            && !pw.is_empty()
        {
            config.auth.admin_password = Some(Secret::new(pw));
        }
        config.validate()?;
        Ok(config)
    }

    /// The database settings in force: `[database]`, or SQLite under `data_dir`.
    pub fn database(&self) -> StoreConfig {
        self.database.clone().unwrap_or_else(|| {
            StoreConfig::new(format!("sqlite://{}", self.data_dir.join("platform.db").display()))
        })
    }

    /// The signing key file in force.
    pub fn signing_key_file(&self) -> PathBuf {
        self.auth
            .signing_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("jwt-signing-key.pem"))
    }

    /// Checks what can be checked before anything starts.
    ///
    /// # Errors
    /// [`PlatformError::Config`] naming the key.
    pub fn validate(&self) -> Result<(), PlatformError> {
        let bad =
            |key: &str, problem: String| Err(PlatformError::Config(format!("`{key}`: {problem}")));
        if self.data_dir.as_os_str().is_empty() {
            return bad("data_dir", "is empty; name a directory such as `data`".into());
        }
        if self.gateway.listen == self.admin.listen && self.gateway.listen.port() != 0 {
            return bad(
                "admin.listen",
                format!("is the gateway's address too ({})", self.gateway.listen),
            );
        }
        self.database()
            .validate()
            .map_err(|e| PlatformError::Config(format!("`database`: {e}")))?;
        self.telemetry
            .validate()
            .map_err(|e| PlatformError::Config(format!("`telemetry`: {e}")))?;
        self.auth
            .passwords
            .validate()
            .map_err(|e| PlatformError::Config(format!("`auth.passwords`: {e}")))?;
        if let Some(issuer) = &self.auth.issuer
            && !(issuer.starts_with("http://") || issuer.starts_with("https://"))
        {
            return bad("auth.issuer", format!("{issuer:?} must be an http:// or https:// URL"));
        }
        if self.auth.audience.trim().is_empty() {
            return bad("auth.audience", "is empty".into());
        }
        if self.auth.access_token_ttl < Duration::from_secs(10) {
            return bad("auth.access_token_ttl", "must be at least 10s".into());
        }
        if self.drain_timeout.is_zero() {
            return bad("drain_timeout", "must be greater than zero".into());
        }
        Ok(())
    }

    /// The issuer in force, given the gateway's scheme and bound address.
    pub(crate) fn issuer(&self, scheme: &str, bound: SocketAddr) -> String {
        match &self.auth.issuer {
            Some(i) => i.trim_end_matches('/').to_owned(),
            None if self.gateway.listen.port() == 0 => format!("{scheme}://{bound}"),
            None => format!("{scheme}://{}", self.gateway.listen),
        }
    }
}
