//! `ConfigLoader`: the layered load (defaults → file → profile overlay → environment →
//! remote document).

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use figment::providers::Serialized;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{LoadError, Origin};
use super::format::Format;
use super::source::RemoteDocument;

/// The default environment prefix: variables look like `PLATFORM__SERVER__PORT`.
pub const DEFAULT_ENV_PREFIX: &str = "PLATFORM";

/// Separator between the prefix and the key segments of an environment variable.
const ENV_SEPARATOR: &str = "__";

/// Builds a typed configuration from layers, each overriding the ones before it:
///
/// 1. built-in defaults, `T::default()`;
/// 2. the base file (TOML, YAML or JSON by extension), e.g. `platform.toml`;
/// 3. the profile overlay next to it, e.g. `platform.prod.toml`, when a profile is
///    active (explicit [`profile`](Self::profile), else the `PLATFORM_PROFILE` variable);
/// 4. environment variables `PLATFORM__SECTION__KEY` (`__` separates nesting levels);
/// 5. a remote document (Redis, the config service) when one is given to
///    [`load_with`](Self::load_with).
///
/// ```
/// use platform_core::config::ConfigLoader;
///
/// #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
/// #[serde(default)]
/// struct App { server: Server }
/// #[derive(Debug, serde::Serialize, serde::Deserialize)]
/// #[serde(default)]
/// struct Server { port: u16, host: String }
/// impl Default for Server {
///     fn default() -> Self { Self { port: 8080, host: "0.0.0.0".into() } }
/// }
///
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("platform.toml"), "[server]\nport = 9000\n").unwrap();
/// std::fs::write(dir.path().join("platform.prod.toml"), "[server]\nhost = \"10.0.0.1\"\n").unwrap();
///
/// let app: App = ConfigLoader::new()
///     .file(dir.path().join("platform.toml"))
///     .profile("prod")
///     .with_env([("PLATFORM__SERVER__PORT", "9100")])
///     .load()
///     .unwrap();
/// assert_eq!(app.server.port, 9100);          // env beats file
/// assert_eq!(app.server.host, "10.0.0.1");    // profile overlay beats defaults
/// ```
pub struct ConfigLoader<T> {
    file: Option<PathBuf>,
    file_required: bool,
    profile: Option<String>,
    env_prefix: Option<String>,
    env: Option<Vec<(String, String)>>,
    _config: PhantomData<fn() -> T>,
}

impl<T> Clone for ConfigLoader<T> {
    fn clone(&self) -> Self {
        Self {
            file: self.file.clone(),
            file_required: self.file_required,
            profile: self.profile.clone(),
            env_prefix: self.env_prefix.clone(),
            env: self.env.clone(),
            _config: PhantomData,
        }
    }
}

impl<T> fmt::Debug for ConfigLoader<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigLoader")
            .field("file", &self.file)
            .field("profile", &self.active_profile())
            .field("env_prefix", &self.env_prefix)
            .finish_non_exhaustive()
    }
}

impl<T> Default for ConfigLoader<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> ConfigLoader<T> {
    /// Defaults plus `PLATFORM__*` environment variables; add a file with [`file`](Self::file).
    pub fn new() -> Self {
        Self {
            file: None,
            file_required: true,
            profile: None,
            env_prefix: Some(DEFAULT_ENV_PREFIX.to_owned()),
            env: None,
            _config: PhantomData,
        }
    }

    /// The base file; it must exist. Its extension selects the format.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self.file_required = true;
        self
    }

    /// The base file, skipped when it does not exist.
    pub fn optional_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self.file_required = false;
        self
    }

    /// Selects the profile explicitly (e.g. the app's `--profile` value); it wins over the
    /// `PLATFORM_PROFILE` variable. Names are letters, digits, `-` and `_`.
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }

    /// The environment prefix (default `PLATFORM`): variables are `{PREFIX}__A__B` and the
    /// profile variable is `{PREFIX}_PROFILE`.
    pub fn env_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.env_prefix = Some(prefix.into().to_ascii_uppercase());
        self
    }

    /// Ignores environment variables entirely (no overrides, no profile variable).
    pub fn without_env(mut self) -> Self {
        self.env_prefix = None;
        self
    }

    /// Reads variables from `vars` instead of the process environment (tests, embedding).
    pub fn with_env<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.env = Some(vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
        self
    }

    fn env_vars(&self) -> Vec<(String, String)> {
        match &self.env {
            Some(vars) => vars.clone(),
            None => std::env::vars().collect(),
        }
    }

    /// The active profile: the explicit one, else `{PREFIX}_PROFILE`, else none.
    pub fn active_profile(&self) -> Option<String> {
        if let Some(p) = &self.profile {
            return Some(p.clone());
        }
        let var = format!("{}_PROFILE", self.env_prefix.as_deref()?);
        self.env_vars().into_iter().find(|(k, _)| *k == var).map(|(_, v)| v.trim().to_owned())
    }

    /// The profile overlay path for the active profile: `platform.toml` → `platform.prod.toml`.
    pub fn profile_file(&self) -> Option<PathBuf> {
        let base = self.file.as_ref()?;
        let profile = self.active_profile().filter(|p| !p.is_empty())?;
        let stem = base.file_stem()?.to_string_lossy();
        let name = match base.extension() {
            Some(ext) => format!("{stem}.{profile}.{}", ext.to_string_lossy()),
            None => format!("{stem}.{profile}"),
        };
        Some(base.with_file_name(name))
    }

    /// The files this loader reads (base and profile overlay), for a file watcher.
    pub fn files(&self) -> Vec<PathBuf> {
        self.file.iter().cloned().chain(self.profile_file()).collect()
    }
}

impl<T: Default + Serialize + DeserializeOwned> ConfigLoader<T> {
    /// Loads defaults, files and environment.
    pub fn load(&self) -> Result<T, LoadError> {
        self.load_with(None)
    }

    /// Loads every layer, with `remote` on top when given.
    pub fn load_with(&self, remote: Option<&RemoteDocument>) -> Result<T, LoadError> {
        let mut texts: HashMap<Origin, (Format, String)> = HashMap::new();
        let mut figment = Figment::from(Serialized::defaults(T::default()));
        for (i, path) in self.files().into_iter().enumerate() {
            let required = i == 0 && self.file_required;
            let Some((format, text)) = read_file(&path, required)? else { continue };
            let origin = Origin::File(path.clone());
            let dict = format.parse(&text, &origin)?;
            texts.insert(origin.clone(), (format, text));
            figment = figment.merge(Layer { origin, dict });
        }
        if let Some(profile) = &self.profile {
            check_profile_name(profile)?;
        }
        for (var, dict) in self.env_layers() {
            figment = figment.merge(Layer { origin: Origin::Env(var), dict });
        }
        if let Some(doc) = remote {
            let origin = Origin::Remote(doc.origin.clone());
            let dict = doc.format.parse(&doc.text, &origin)?;
            texts.insert(origin.clone(), (doc.format, doc.text.clone()));
            figment = figment.merge(Layer { origin, dict });
        }
        figment.extract::<T>().map_err(|e| value_error(e, &texts))
    }

    /// One single-key dictionary per `{PREFIX}__...` variable, so an error names its variable.
    fn env_layers(&self) -> Vec<(String, Dict)> {
        let Some(prefix) = &self.env_prefix else { return Vec::new() };
        let start = format!("{prefix}{ENV_SEPARATOR}");
        let mut vars: Vec<(String, Dict)> = self
            .env_vars()
            .into_iter()
            .filter_map(|(var, raw)| {
                let rest = var.strip_prefix(&start)?;
                let keys: Vec<String> =
                    rest.split(ENV_SEPARATOR).map(str::to_ascii_lowercase).collect();
                if keys.iter().any(String::is_empty) {
                    return None;
                }
                let value: Value = raw.parse().unwrap_or_else(|never| match never {});
                let leaf = keys.iter().rev().fold(value, |v, k| {
                    let mut d = Dict::new();
                    d.insert(k.clone(), v);
                    Value::from(d)
                });
                Some((var, leaf.into_dict()?))
            })
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars
    }
}

fn check_profile_name(profile: &str) -> Result<(), LoadError> {
    if profile.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Ok(());
    }
    Err(LoadError::Value {
        origin: Origin::Defaults,
        key: "profile".to_owned(),
        location: None,
        message: format!("profile `{profile}` may only hold letters, digits, `-` and `_`"),
    })
}

fn read_file(path: &Path, required: bool) -> Result<Option<(Format, String)>, LoadError> {
    let format =
        Format::from_path(path).ok_or_else(|| LoadError::UnknownFormat { path: path.into() })?;
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some((format, text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(None),
        Err(source) => Err(LoadError::Read { path: path.into(), source }),
    }
}

/// Turns figment's first error into a [`LoadError::Value`] naming the layer it came from
/// and, for documents, the line and column of the offending key.
fn value_error(err: figment::Error, texts: &HashMap<Origin, (Format, String)>) -> LoadError {
    let first = err.into_iter().next().expect("a figment error holds at least one error");
    let origin = first.metadata.as_ref().map_or(Origin::Defaults, origin_of);
    let location = texts.get(&origin).and_then(|(format, text)| format.locate(text, &first.path));
    LoadError::Value {
        origin,
        key: first.path.join("."),
        location,
        message: first.kind.to_string(),
    }
}

const ORIGIN_TAG: &str = "platform-config:";

fn origin_of(md: &Metadata) -> Origin {
    match &md.source {
        Some(figment::Source::File(p)) => Origin::File(p.clone()),
        Some(figment::Source::Custom(c)) => match c.strip_prefix(ORIGIN_TAG) {
            Some(rest) => match rest.split_once(':') {
                Some(("env", var)) => Origin::Env(var.to_owned()),
                Some(("remote", name)) => Origin::Remote(name.to_owned()),
                _ => Origin::Remote(c.clone()),
            },
            None => Origin::Remote(c.clone()),
        },
        _ => Origin::Defaults,
    }
}

/// One parsed layer with metadata naming where it came from.
struct Layer {
    origin: Origin,
    dict: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        let source = match &self.origin {
            Origin::File(p) => figment::Source::File(p.clone()),
            Origin::Env(var) => figment::Source::Custom(format!("{ORIGIN_TAG}env:{var}")),
            Origin::Remote(name) => figment::Source::Custom(format!("{ORIGIN_TAG}remote:{name}")),
            other => figment::Source::Custom(format!("{ORIGIN_TAG}remote:{other}")),
        };
        Metadata::from(self.origin.to_string(), source)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}
