//! Serving on several threads, each a single-threaded runtime: [`Server::serve_workers`].

use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::oneshot;

use super::{AcceptSpread, Drained, Server, Shutdown};
use crate::worker;

/// The listening sockets of [`Server::serve_workers`]: one per worker on the same port
/// (`SO_REUSEPORT`, on Linux and Android, where the kernel spreads connections over
/// them), or one socket all workers share, taking turns by load ([`AcceptSpread`]).
///
/// ```
/// use platform_gateway::WorkerListeners;
///
/// let listeners = WorkerListeners::bind("127.0.0.1:0".parse()?, 2)?;
/// assert_eq!(listeners.workers(), 2);
/// assert_ne!(listeners.local_addr().port(), 0, "port 0 picks one port for every worker");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct WorkerListeners {
    accept: Accept,
    addr: SocketAddr,
}

#[derive(Debug)]
enum Accept {
    /// One socket per worker; the kernel spreads connections by a hash of addresses.
    ReusePort(Vec<std::net::TcpListener>),
    /// One socket; each worker accepts while no other has fewer connections open.
    Spread(std::net::TcpListener, usize),
}

/// Pending connections each socket queues (as tokio's `TcpListener::bind`).
const BACKLOG: i32 = 1024;

impl WorkerListeners {
    /// Binds `workers` sockets to `addr` with `SO_REUSEPORT` on Linux and Android (a
    /// port of 0 picks one free port for all of them), or else one socket the workers
    /// share ([`shared`](Self::shared)): elsewhere `SO_REUSEPORT` does not spread
    /// connections over the sockets. `workers` of 0 counts as 1.
    ///
    /// With `SO_REUSEPORT` the kernel assigns each new connection to a socket by a hash
    /// of its addresses: with many connections the workers get nearly equal shares, with
    /// a few long-lived ones the split can be uneven — `shared` balances by load
    /// instead (`docs/gateway.md`, "Workers").
    ///
    /// # Errors
    /// The address cannot be bound (in use, not local, no permission).
    pub fn bind(addr: SocketAddr, workers: usize) -> io::Result<Self> {
        let workers = workers.max(1);
        // Elsewhere the BSDs and macOS accept `SO_REUSEPORT` but do not spread
        // connections over the sockets (FreeBSD's `SO_REUSEPORT_LB` would).
        #[cfg(any(target_os = "linux", target_os = "android"))]
        return Self::reuse_port(addr, workers);
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        return Self::shared(std::net::TcpListener::bind(addr)?, workers);
    }

    /// `workers` sockets on `addr` with `SO_REUSEPORT` (port 0: the first one's port).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn reuse_port(addr: SocketAddr, workers: usize) -> io::Result<Self> {
        let first = reuse_port_socket(addr)?;
        let addr = first.local_addr()?;
        let mut sockets = vec![first];
        for _ in 1..workers {
            sockets.push(reuse_port_socket(addr)?);
        }
        Ok(Self { accept: Accept::ReusePort(sockets), addr })
    }

    /// One listening socket (bound by you, or handed over by a service manager) that
    /// `workers` workers share: each accepts only while no other worker has fewer
    /// connections open ([`AcceptSpread`]). `workers` of 0 counts as 1.
    ///
    /// # Errors
    /// The socket's address cannot be read, or it cannot be made non-blocking.
    pub fn shared(listener: std::net::TcpListener, workers: usize) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        Ok(Self { accept: Accept::Spread(listener, workers.max(1)), addr })
    }

    /// The address the workers listen on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many workers will serve.
    pub fn workers(&self) -> usize {
        match &self.accept {
            Accept::ReusePort(sockets) => sockets.len(),
            Accept::Spread(_, workers) => *workers,
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn reuse_port_socket(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// The number of CPU cores this process may run on (1 if it cannot be read): the usual
/// number of workers.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

impl Server {
    /// Serves on [`listeners.workers()`](WorkerListeners::workers) threads, each with a
    /// single-threaded tokio runtime of its own, until `shutdown` is triggered; then
    /// every worker drains as [`serve_with_shutdown`](Self::serve_with_shutdown) does,
    /// and the result adds their connections up (and takes the longest drain).
    ///
    /// This is how nginx runs its worker processes: a connection, and every request on
    /// it, stays on one thread, and nothing waits on another thread's wake-up. The
    /// workers share one [`Gateway`](crate::Gateway): one route table (a hot reload
    /// reaches all of them at once), one set of upstreams with their balancers,
    /// breakers, rate limits and metrics. What they do not share is upstream
    /// connections: each worker keeps its own, as a connection belongs to the runtime
    /// that opened it. Tasks the gateway runs beside requests (registry watches, health
    /// checks, reload watchers) stay on the runtime they were started on — usually the
    /// one calling this.
    ///
    /// A worker that has run [`ServerConfig::yield_after`](crate::ServerConfig::yield_after)
    /// (1 ms by default) without sleeping gives its CPU away once (`sched_yield`), so
    /// threads sharing its core are not kept waiting for the kernel's scheduler tick.
    ///
    /// Dropping the returned future triggers `shutdown`, so the workers never outlive
    /// it unnoticed; they still drain before their threads end.
    ///
    /// ```no_run
    /// use platform_gateway::{Gateway, Server, ServerConfig, Shutdown, WorkerListeners, os_signal};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let gateway = Gateway::builder().build()?;
    /// let workers = platform_gateway::available_cores();
    /// let listeners = WorkerListeners::bind("0.0.0.0:8080".parse()?, workers)?;
    /// let shutdown = Shutdown::new();
    /// shutdown.trigger_on(os_signal());
    /// let drained = Server::new(gateway, ServerConfig::default())
    ///     .serve_workers(listeners, shutdown)
    ///     .await?;
    /// println!("stopped; {} connections cut at the deadline", drained.cut);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A worker's thread or runtime could not be started (the workers already started
    /// are shut down and drained first), or more than 1024 workers would run at once in
    /// this process.
    pub async fn serve_workers(
        mut self,
        listeners: WorkerListeners,
        shutdown: Shutdown,
    ) -> io::Result<Drained> {
        let mut guard = TriggerOnDrop(Some(shutdown.clone()));
        // A spread slot set on this server would be one slot for every worker: the
        // workers get their own below, when they share a socket.
        self.spread = None;
        let (sockets, spread) = match listeners.accept {
            Accept::ReusePort(sockets) => (sockets, None),
            Accept::Spread(listener, workers) => {
                let mut sockets = Vec::with_capacity(workers);
                for _ in 1..workers {
                    sockets.push(listener.try_clone()?);
                }
                sockets.push(listener);
                (sockets, Some(AcceptSpread::new(workers)))
            }
        };
        let mut results = Vec::with_capacity(sockets.len());
        let mut failed = None;
        for (index, socket) in sockets.into_iter().enumerate() {
            let mut server = self.clone();
            if let Some(spread) = &spread {
                server = server.spread(spread, index);
            }
            let (tx, rx) = oneshot::channel();
            let shutdown = shutdown.clone();
            let started = std::thread::Builder::new()
                .name(format!("gateway-worker-{index}"))
                .spawn(move || {
                    let _ = tx.send(run_worker(server, socket, shutdown));
                });
            match started {
                Ok(_) => results.push(rx),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if failed.is_some() {
            shutdown.trigger();
        }
        let mut total = Drained { open_at_shutdown: 0, cut: 0, took: std::time::Duration::ZERO };
        // As they end: a worker that fails at once stops the others.
        let mut results: FuturesUnordered<_> = results.into_iter().collect();
        while let Some(result) = results.next().await {
            match result {
                Ok(Ok(drained)) => {
                    total.open_at_shutdown += drained.open_at_shutdown;
                    total.cut += drained.cut;
                    total.took = total.took.max(drained.took);
                }
                Ok(Err(e)) => {
                    shutdown.trigger();
                    failed.get_or_insert(e);
                }
                Err(_) => {
                    shutdown.trigger();
                    failed.get_or_insert_with(|| io::Error::other("a gateway worker panicked"));
                }
            }
        }
        guard.0 = None;
        match failed {
            Some(e) => Err(e),
            None => Ok(total),
        }
    }
}

/// One worker's thread: its identity, its runtime, its server.
fn run_worker(
    server: Server,
    socket: std::net::TcpListener,
    shutdown: Shutdown,
) -> io::Result<Drained> {
    let _worker = worker::enter().map_err(io::Error::other)?;
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all();
    if !server.yield_after.is_zero() {
        worker::yield_after(server.yield_after);
        builder.on_thread_park(worker::parking).on_thread_unpark(worker::unparked);
    }
    let runtime = builder.build()?;
    let drained = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(socket)?;
        Ok::<_, io::Error>(server.serve_with_shutdown(listener, shutdown).await)
    });
    // The runtime's tasks (connections cut at the deadline, pool sweeps) end with it,
    // while the thread is still this worker.
    drop(runtime);
    drained
}

/// Triggers the shutdown unless disarmed: the workers stop when the future serving
/// them is dropped.
struct TriggerOnDrop(Option<Shutdown>);

impl Drop for TriggerOnDrop {
    fn drop(&mut self) {
        if let Some(shutdown) = self.0.take() {
            shutdown.trigger();
        }
    }
}
