//! A TCP proxy in front of Redis that a test can cut, making Redis unreachable.

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub(crate) struct Proxy {
    url: String,
    accept: JoinHandle<()>,
    links: std::sync::Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    /// Listens on a free local port and forwards every connection to `redis_url`'s host.
    pub(crate) async fn start(redis_url: &str) -> Self {
        let rest = redis_url.split_once("://").map_or(redis_url, |(_, r)| r);
        let upstream =
            rest.split(['/', '?']).next().unwrap().rsplit('@').next().unwrap().to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let links = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let tracked = links.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tracked.lock().unwrap().push(link);
            }
        });
        Self { url, accept, links }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Stops accepting and closes every forwarded connection.
    pub(crate) fn cut(&self) {
        self.accept.abort();
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}
