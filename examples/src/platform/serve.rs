//! Listeners and the axum servers of the in-process services and the admin listener:
//! graceful shutdown bounded by the drain timeout, and the client address behind the
//! gateway.

use std::future::IntoFuture;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::error::PlatformError;
use super::routes::ServiceAddrs;
use platform_gateway::Shutdown;

/// Every listener of the platform, bound before anything else starts.
pub(crate) struct Listeners {
    pub(crate) gateway: TcpListener,
    pub(crate) admin: TcpListener,
    pub(crate) auth: TcpListener,
    pub(crate) control: TcpListener,
    pub(crate) echo: TcpListener,
}

impl Listeners {
    /// Binds the gateway and admin addresses and a system-chosen port on `services_host`
    /// for each in-process service.
    pub(crate) async fn bind(
        gateway: SocketAddr,
        admin: SocketAddr,
        services_host: IpAddr,
    ) -> Result<Self, PlatformError> {
        let host = SocketAddr::new(services_host, 0);
        Ok(Self {
            gateway: bind(gateway, "gateway", "gateway.listen").await?,
            admin: bind(admin, "admin listener", "admin.listen").await?,
            auth: bind(host, "token server", "services.host").await?,
            control: bind(host, "control plane", "services.host").await?,
            echo: bind(host, "echo service", "services.host").await?,
        })
    }

    /// The bound addresses: gateway, admin, services.
    pub(crate) fn addresses(
        &self,
    ) -> Result<(SocketAddr, SocketAddr, ServiceAddrs), PlatformError> {
        let services = ServiceAddrs::new(
            local_addr(&self.auth, "token server", "services.host")?,
            local_addr(&self.control, "control plane", "services.host")?,
            local_addr(&self.echo, "echo service", "services.host")?,
        );
        Ok((
            local_addr(&self.gateway, "gateway", "gateway.listen")?,
            local_addr(&self.admin, "admin listener", "admin.listen")?,
            services,
        ))
    }
}

/// Binds `addr`; the error names `what` listens there and the key that sets it.
async fn bind(
    addr: SocketAddr,
    what: &'static str,
    key: &'static str,
) -> Result<TcpListener, PlatformError> {
    TcpListener::bind(addr).await.map_err(|source| PlatformError::Listen {
        what,
        key,
        addr,
        source,
    })
}

/// The bound address of `listener`.
fn local_addr(
    listener: &TcpListener,
    what: &'static str,
    key: &'static str,
) -> Result<SocketAddr, PlatformError> {
    listener.local_addr().map_err(|source| PlatformError::Listen {
        what,
        key,
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })
}

/// Serves `router` on `listener` (with the peer address as `ConnectInfo`) until
/// `shutdown`; then open connections get up to `drain` to finish.
pub(crate) fn spawn(
    name: &'static str,
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
    drain: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let stop = shutdown.clone();
        let serve =
            axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async move { stop.wait().await })
                .into_future();
        let deadline = async {
            shutdown.wait().await;
            tokio::time::sleep(drain).await;
        };
        tokio::select! {
            result = serve => {
                if let Err(e) = result {
                    tracing::error!(target: "platform", service = name, error = %e, "server stopped");
                }
            }
            () = deadline => {
                tracing::warn!(target: "platform", service = name, ?drain, "connections still open at the drain deadline; closing them");
            }
        }
    })
}

/// Middleware for services behind the gateway: when the connection comes from the
/// gateway (`gateway_ip`, the services' own address), the client is the first
/// `X-Forwarded-For` entry — the address the gateway derived through its trusted
/// proxies, never one a client wrote — so per-address login throttling counts clients,
/// not the gateway.
pub(crate) fn client_behind_gateway(router: Router, gateway_ip: IpAddr) -> Router {
    router.layer(axum::middleware::from_fn(move |mut req: Request, next: Next| async move {
        let from_gateway = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_some_and(|c| c.0.ip() == gateway_ip || c.0.ip().is_loopback());
        if from_gateway {
            let client = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok());
            if let Some(ip) = client {
                req.extensions_mut().insert(ConnectInfo(SocketAddr::new(ip, 0)));
            }
        }
        let res: Response = next.run(req).await;
        res
    }))
}
