//! The `cors` table of a route.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use serde::{Deserialize, Serialize};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// CORS for one route: `cors = { allow_origins = ["https://app.example"] }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsSpec {
    /// Allowed origins; `["*"]` allows any (not with credentials).
    pub allow_origins: Vec<String>,
    /// Allowed methods (default: the request's, for preflights: `GET`, `POST`, `HEAD`).
    pub allow_methods: Vec<String>,
    /// Allowed request headers.
    pub allow_headers: Vec<String>,
    /// Response headers exposed to scripts.
    pub expose_headers: Vec<String>,
    /// Allow credentials (cookies, `Authorization`).
    pub allow_credentials: bool,
    /// How long a preflight may be cached.
    #[serde(with = "humantime_serde")]
    pub max_age: Option<Duration>,
}

impl CorsSpec {
    pub(crate) fn compile(&self) -> Result<CorsLayer, String> {
        let header = |n: &String| {
            HeaderName::from_bytes(n.as_bytes()).map_err(|_| format!("{n:?} is not a header name"))
        };
        let mut layer = CorsLayer::new();
        if self.allow_origins.iter().any(|o| o == "*") {
            if self.allow_credentials {
                return Err(
                    "`allow_origins = [\"*\"]` cannot be combined with `allow_credentials`".into(),
                );
            }
            layer = layer.allow_origin(AllowOrigin::any());
        } else if !self.allow_origins.is_empty() {
            let origins = self
                .allow_origins
                .iter()
                .map(|o| HeaderValue::from_str(o).map_err(|_| format!("{o:?} is not an origin")))
                .collect::<Result<Vec<_>, _>>()?;
            layer = layer.allow_origin(origins);
        }
        let methods = self
            .allow_methods
            .iter()
            .map(|m| {
                Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                    .map_err(|_| format!("{m:?} is not a method"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if methods.is_empty() {
            layer = layer.allow_methods([Method::GET, Method::POST, Method::HEAD]);
        } else {
            layer = layer.allow_methods(methods);
        }
        let allow = self.allow_headers.iter().map(header).collect::<Result<Vec<_>, _>>()?;
        let expose = self.expose_headers.iter().map(header).collect::<Result<Vec<_>, _>>()?;
        layer = layer
            .allow_headers(allow)
            .expose_headers(expose)
            .allow_credentials(self.allow_credentials);
        if let Some(age) = self.max_age {
            layer = layer.max_age(age);
        }
        Ok(layer)
    }
}
