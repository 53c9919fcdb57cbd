//! The API gateway alone, from a TOML config file, for putting in front of existing
//! services: the gateway listener, the admin listener, hot reload of the file, and a
//! graceful shutdown on SIGTERM / Ctrl-C.
//!
//! The file is platform-gateway's `GatewayConfig` (reference: `docs/gateway.md`);
//! `[listen]` gives both addresses, `[tls]` (optional) the certificate and key for HTTPS.
//! `examples/config/gateway.toml` is a starting point.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use platform_gateway::admin::Admin;
use platform_gateway::config::Resources;
use platform_gateway::reload::{LiveConfig, ReloadTask};
use platform_gateway::{Drained, Server, ServerTls, Shutdown, WorkerListeners};
use platform_observe::metrics::{MetricsRegistry, ProcessCollector};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Command-line options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// `--config FILE`: the gateway configuration (TOML).
    pub config: PathBuf,
    /// `--listen ADDR`: overrides `[listen] address`.
    pub listen: Option<SocketAddr>,
    /// `--admin ADDR`: overrides `[listen] admin`.
    pub admin: Option<SocketAddr>,
    /// `--workers N`: overrides `[server] workers` (default: one per CPU core).
    pub workers: Option<NonZeroUsize>,
}

const USAGE: &str =
    "usage: gateway --config FILE [--listen HOST:PORT] [--admin HOST:PORT] [--workers N]";

impl Args {
    /// Parses the arguments after the program name.
    ///
    /// ```
    /// use platform_examples::gateway::Args;
    ///
    /// let args = Args::parse(["--config", "gw.toml", "--listen", "0.0.0.0:80"].map(String::from)).unwrap();
    /// assert_eq!(args.config.to_str(), Some("gw.toml"));
    /// assert_eq!(args.listen.unwrap().port(), 80);
    /// assert_eq!(Args::parse(["--config", "g", "--workers", "3"].map(String::from)).unwrap().workers.unwrap().get(), 3);
    /// assert!(Args::parse(["--config", "g", "--workers", "0"].map(String::from)).unwrap_err().contains("--workers"));
    /// assert!(Args::parse(["--listen".to_owned(), "x".to_owned()]).is_err());
    /// assert!(Args::parse(Vec::<String>::new()).unwrap_err().contains("--config"));
    /// ```
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut config = None;
        let (mut listen, mut admin, mut workers) = (None, None, None);
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value =
                |name: &str| args.next().ok_or_else(|| format!("{name} needs a value; {USAGE}"));
            let addr = |name: &str, v: String| {
                v.parse::<SocketAddr>()
                    .map_err(|_| format!("{name} {v:?} is not HOST:PORT (e.g. 127.0.0.1:8080)"))
            };
            match arg.as_str() {
                "--config" => config = Some(PathBuf::from(value("--config")?)),
                "--listen" => listen = Some(addr("--listen", value("--listen")?)?),
                "--admin" => admin = Some(addr("--admin", value("--admin")?)?),
                "--workers" => {
                    let v = value("--workers")?;
                    let n = v.parse::<NonZeroUsize>().map_err(|_| {
                        format!("--workers {v:?} is not a whole number of at least 1")
                    })?;
                    workers = Some(n);
                }
                other => return Err(format!("unknown argument {other:?}; {USAGE}")),
            }
        }
        let config = config.ok_or_else(|| format!("--config FILE is required; {USAGE}"))?;
        Ok(Self { config, listen, admin, workers })
    }
}

/// A running gateway process: its addresses, its configuration and how to stop it.
#[derive(Debug)]
pub struct Running {
    /// The gateway's address.
    pub addr: SocketAddr,
    /// The admin listener's address.
    pub admin_addr: SocketAddr,
    /// The configuration in force, following the file.
    pub live: LiveConfig,
    /// Pull it to shut down (the binary pulls it on SIGTERM / Ctrl-C).
    pub shutdown: Shutdown,
    server: JoinHandle<std::io::Result<Drained>>,
    admin: JoinHandle<std::io::Result<()>>,
    stop_admin: oneshot::Sender<()>,
    _reload: ReloadTask,
}

/// Loads the configuration, binds both listeners and starts serving.
///
/// # Errors
/// The configuration error (file, line, route, field), or an address that cannot be
/// bound.
pub async fn start(args: &Args) -> Result<Running, Box<dyn std::error::Error>> {
    let metrics = MetricsRegistry::new();
    metrics.register(ProcessCollector);
    let resources = Resources { metrics: Some(metrics.clone()), ..Resources::default() };
    let live = LiveConfig::load(&args.config, resources).await?;
    let config = live.config().await;
    let listen = args.listen.unwrap_or(config.listen.address);
    let admin_listen = args.admin.unwrap_or(config.listen.admin);
    let cannot = |addr: SocketAddr, what: &str, e: std::io::Error| {
        format!("cannot listen on {addr} for the {what}: {e} (change [listen] or pass --{what})")
    };
    let workers = args.workers.map_or_else(|| config.server.worker_count(), NonZeroUsize::get);
    let listeners =
        WorkerListeners::bind(listen, workers).map_err(|e| cannot(listen, "listen", e))?;
    let admin_listener =
        TcpListener::bind(admin_listen).await.map_err(|e| cannot(admin_listen, "admin", e))?;
    let (addr, admin_addr) = (listeners.local_addr(), admin_listener.local_addr()?);

    let shutdown = Shutdown::new();
    let reload = live.watch_file();
    let (stop_admin, admin_stopped) = oneshot::channel::<()>();
    let admin = Admin::new(live.gateway()).metrics(&metrics).live_config(&live).shutdown(&shutdown);
    let admin = tokio::spawn(admin.serve(admin_listener, async move {
        let _ = admin_stopped.await;
    }));
    let mut server = Server::new(live.gateway().clone(), config.server.clone());
    if let Some(tls) = &config.tls {
        server = server.tls(ServerTls::load(tls)?);
    }
    // The gateway's workers: threads with a runtime each, sharing the gateway (so a
    // reload reaches all of them); the admin listener and the reload watcher stay here.
    let server = tokio::spawn(server.serve_workers(listeners, shutdown.clone()));
    tracing::info!(
        %addr,
        admin = %admin_addr,
        workers,
        config = %args.config.display(),
        routes = live.gateway().routes().len(),
        "gateway listening; the admin API is on /admin/routes, /admin/explain, /metrics"
    );
    Ok(Running { addr, admin_addr, live, shutdown, server, admin, stop_admin, _reload: reload })
}

impl Running {
    /// Waits for the shutdown to be triggered and the connections to drain, then
    /// stops the admin listener.
    ///
    /// # Errors
    /// A server or admin task that failed.
    pub async fn wait(self) -> Result<Drained, Box<dyn std::error::Error>> {
        let drained = self.server.await??;
        let _ = self.stop_admin.send(());
        self.admin.await??;
        Ok(drained)
    }
}
