//! The gateway's configuration: the built-in routes to the in-process services, then
//! the upstreams and routes of the user's `gateway.routes_file`.

use std::net::SocketAddr;

use futures_util::StreamExt;
use platform_core::config::{ConfigSource, FileWatcher, SourceEvent};
use platform_gateway::UpstreamConfig;
use platform_gateway::config::{
    EndpointSpec, GatewayConfig, ListenConfig, RouteSpec, UpstreamSpec,
};
use platform_gateway::reload::LiveConfig;
use tokio::task::JoinHandle;

use super::config::GatewaySection;
use super::error::PlatformError;

/// The upstream of the token server.
pub const AUTH_UPSTREAM: &str = "platform-auth";
/// The upstream of the registry and config service.
pub const CONTROL_UPSTREAM: &str = "platform-control";
/// The upstream of the echo service.
pub const ECHO_UPSTREAM: &str = "platform-echo";

/// Where the in-process services listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceAddrs {
    /// The token server.
    pub auth: SocketAddr,
    /// The registry and config service.
    pub control: SocketAddr,
    /// The echo service.
    pub echo: SocketAddr,
}

impl ServiceAddrs {
    /// The three addresses.
    pub fn new(auth: SocketAddr, control: SocketAddr, echo: SocketAddr) -> Self {
        Self { auth, control, echo }
    }
}

/// The built-in routes, in match order: `(id, what it serves)`.
pub const BUILT_IN_ROUTES: [(&str, &str); 6] = [
    ("oauth", "/oauth/… → token server (token, revoke, introspect)"),
    ("well-known", "/.well-known/… → token server (JWKS, discovery)"),
    ("registry", "/registry/… → registry API (/v1/registry/…)"),
    ("config", "/config/… → config API (/v1/config/…)"),
    ("control", "/control/… → the control plane for SDK clients (base URL …/control)"),
    ("echo", "/echo/… → echo service (answers with the request it got)"),
];

fn route(id: &str, upstream: &str) -> RouteSpec {
    RouteSpec { id: id.to_owned(), upstream: Some(upstream.to_owned()), ..RouteSpec::default() }
}

fn built_in_routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec { path_prefix: Some("/oauth".into()), ..route("oauth", AUTH_UPSTREAM) },
        RouteSpec {
            path_prefix: Some("/.well-known".into()),
            ..route("well-known", AUTH_UPSTREAM)
        },
        RouteSpec {
            path_template: Some("/registry/{*rest}".into()),
            rewrite_path: Some("/v1/registry/{rest}".into()),
            ..route("registry", CONTROL_UPSTREAM)
        },
        RouteSpec {
            path_template: Some("/config/{*rest}".into()),
            rewrite_path: Some("/v1/config/{rest}".into()),
            ..route("config", CONTROL_UPSTREAM)
        },
        RouteSpec {
            path_prefix: Some("/control".into()),
            strip_prefix: Some("/control".into()),
            ..route("control", CONTROL_UPSTREAM)
        },
        RouteSpec { path_prefix: Some("/echo".into()), ..route("echo", ECHO_UPSTREAM) },
    ]
}

fn upstream(addr: SocketAddr) -> UpstreamSpec {
    UpstreamSpec {
        endpoints: vec![EndpointSpec::Address(addr.to_string())],
        registry_service: None,
        config: UpstreamConfig::default(),
    }
}

/// The gateway configuration: the routes file's settings, the built-in upstreams and
/// routes, then the file's upstreams and routes.
///
/// # Errors
/// [`PlatformError::Gateway`] naming the file, line, route and field, or a name the
/// file takes from the built-in ones.
pub fn gateway_config(
    section: &GatewaySection,
    services: ServiceAddrs,
) -> Result<GatewayConfig, PlatformError> {
    let mut config = match &section.routes_file {
        Some(path) => {
            GatewayConfig::load(path).map_err(|e| PlatformError::Gateway(e.to_string()))?
        }
        None => GatewayConfig::default(),
    };
    let file =
        || section.routes_file.as_ref().map_or(String::new(), |p| format!("{}: ", p.display()));
    if config.listen != ListenConfig::default() {
        return Err(PlatformError::Gateway(format!(
            "{}[listen] does not apply here; set `gateway.listen` and `admin.listen` in the platform configuration",
            file()
        )));
    }
    for name in [AUTH_UPSTREAM, CONTROL_UPSTREAM, ECHO_UPSTREAM] {
        if config.upstreams.contains_key(name) {
            return Err(PlatformError::Gateway(format!(
                "{}upstream `{name}` is built in; give yours another name",
                file()
            )));
        }
    }
    if let Some(r) =
        config.routes.iter().find(|r| BUILT_IN_ROUTES.iter().any(|(id, _)| *id == r.id))
    {
        return Err(PlatformError::Gateway(format!(
            "{}route `{}` is built in; give yours another id (a higher `priority` makes it win over a built-in route's paths)",
            file(),
            r.id
        )));
    }
    config.upstreams.insert(AUTH_UPSTREAM.to_owned(), upstream(services.auth));
    config.upstreams.insert(CONTROL_UPSTREAM.to_owned(), upstream(services.control));
    config.upstreams.insert(ECHO_UPSTREAM.to_owned(), upstream(services.echo));
    let mut routes = built_in_routes();
    routes.append(&mut config.routes);
    config.routes = routes;
    Ok(config)
}

/// Follows `section.routes_file` (when set): after each change the file is read again,
/// merged with the built-in routes and applied — checked completely first, swapped in
/// atomically, the last good configuration kept (and the error logged and shown on
/// `/admin/config`) when it is refused. `[proxy]` and `[server]` changes apply after a
/// restart.
pub(crate) fn follow_routes_file(
    section: &GatewaySection,
    services: ServiceAddrs,
    live: &LiveConfig,
) -> Option<JoinHandle<()>> {
    let path = section.routes_file.clone()?;
    let section = section.clone();
    let live = live.clone();
    let mut events = Box::new(FileWatcher::new([path.clone()])).into_stream();
    Some(tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if !matches!(event, SourceEvent::FilesChanged) {
                continue;
            }
            match gateway_config(&section, services) {
                // `apply` logs the diff, or the refusal and keeps the configuration in force.
                Ok(config) => {
                    let _ = live.apply(config).await;
                }
                Err(e) => {
                    tracing::warn!(target: "platform", file = %path.display(), error = %e, "routes file refused; the configuration in force stays");
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> ServiceAddrs {
        let a = |p| SocketAddr::from(([127, 0, 0, 1], p));
        ServiceAddrs { auth: a(1), control: a(2), echo: a(3) }
    }

    #[test]
    fn built_in_routes_come_first_then_the_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("gateway.toml");
        std::fs::write(
            &file,
            "[upstreams.orders]\nregistry_service = \"orders\"\n[[routes]]\nid = \"orders\"\npath_prefix = \"/orders\"\nupstream = \"orders\"\n",
        )
        .expect("write");
        let section = GatewaySection { routes_file: Some(file), ..GatewaySection::default() };
        let config = gateway_config(&section, addrs()).expect("config");
        let ids: Vec<&str> = config.routes.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["oauth", "well-known", "registry", "config", "control", "echo", "orders"]);
        assert_eq!(config.upstreams.len(), 4);
    }

    #[test]
    fn a_file_taking_a_built_in_name_is_refused_naming_file_and_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("gateway.toml");
        std::fs::write(&file, "[upstreams.x]\nendpoints = [\"127.0.0.1:1\"]\n[[routes]]\nid = \"echo\"\nupstream = \"x\"\n")
            .expect("write");
        let section = GatewaySection { routes_file: Some(file), ..GatewaySection::default() };
        let err = gateway_config(&section, addrs()).expect_err("refused").to_string();
        assert!(err.contains("gateway.toml") && err.contains("route `echo` is built in"), "{err}");
    }

    #[test]
    fn an_invalid_file_is_reported_with_its_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("gateway.toml");
        std::fs::write(&file, "[[routes]]\nid = \"x\"\ntimeout = \"soon\"\n").expect("write");
        let section = GatewaySection { routes_file: Some(file), ..GatewaySection::default() };
        let err = gateway_config(&section, addrs()).expect_err("refused").to_string();
        assert!(err.contains("gateway.toml:3") && err.contains("timeout"), "{err}");
    }
}
