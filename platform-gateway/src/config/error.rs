//! Errors of the declarative configuration: file, line, route or upstream, field.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::GatewayError;

/// A configuration was refused. The message names the file and line (when known),
/// the route or upstream, and the field, then says what is wrong:
///
/// ```text
/// gateway.toml:14: route `users`: `timeout`: invalid value: string "5 parsecs", expected a duration
/// ```
#[derive(Debug)]
pub struct ConfigError {
    inner: Box<Details>,
}

#[derive(Debug)]
struct Details {
    file: Option<PathBuf>,
    line: Option<usize>,
    route: Option<String>,
    upstream: Option<String>,
    field: Option<String>,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        let details = Details {
            file: None,
            line: None,
            route: None,
            upstream: None,
            field: None,
            message: message.into(),
        };
        Self { inner: Box::new(details) }
    }

    pub(crate) fn in_file(mut self, file: Option<&Path>) -> Self {
        if self.inner.file.is_none() {
            self.inner.file = file.map(Path::to_path_buf);
        }
        self
    }

    pub(crate) fn at_line(mut self, line: Option<usize>) -> Self {
        self.inner.line = line;
        self
    }

    pub(crate) fn route(mut self, id: impl Into<String>) -> Self {
        self.inner.route = Some(id.into());
        self
    }

    pub(crate) fn upstream(mut self, name: impl Into<String>) -> Self {
        self.inner.upstream = Some(name.into());
        self
    }

    pub(crate) fn field(mut self, field: impl Into<String>) -> Self {
        let field = field.into();
        if !field.is_empty() && field != "." {
            self.inner.field = Some(field);
        }
        self
    }

    /// The file read, if the configuration came from one.
    pub fn file(&self) -> Option<&Path> {
        self.inner.file.as_deref()
    }

    /// 1-based line of the problem, when the parser knows it.
    pub fn line(&self) -> Option<usize> {
        self.inner.line
    }

    /// The route concerned.
    pub fn route_id(&self) -> Option<&str> {
        self.inner.route.as_deref()
    }

    /// The upstream concerned.
    pub fn upstream_name(&self) -> Option<&str> {
        self.inner.upstream.as_deref()
    }

    /// The field (a path such as `retry.max_attempts`).
    pub fn field_path(&self) -> Option<&str> {
        self.inner.field.as_deref()
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.inner.message
    }
}

impl From<GatewayError> for ConfigError {
    fn from(e: GatewayError) -> Self {
        match e {
            GatewayError::Route { route, field, reason } => {
                Self::new(reason).route(route).field(field)
            }
            GatewayError::Upstream { upstream, field, reason } => {
                Self::new(reason).upstream(upstream).field(field)
            }
            GatewayError::UnknownUpstream { route, upstream } => Self::new(format!(
                "names upstream `{upstream}`, which is not defined under [upstreams]"
            ))
            .route(route)
            .field("upstream"),
            GatewayError::Setting { field, reason } => Self::new(reason).field(field),
            other => Self::new(other.to_string()),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.inner;
        match (&d.file, d.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        if let Some(r) = &d.route {
            write!(f, "route `{r}`: ")?;
        }
        if let Some(u) = &d.upstream {
            write!(f, "upstream `{u}`: ")?;
        }
        if let Some(field) = &d.field {
            write!(f, "`{field}`: ")?;
        }
        f.write_str(&d.message)
    }
}

impl std::error::Error for ConfigError {}
