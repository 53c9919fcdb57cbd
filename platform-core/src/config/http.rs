//! The config service's HTTP client: a [`ConfigSource`] following one document.

use std::time::Duration;

use futures_util::stream::BoxStream;
use http::Method;
use tokio::sync::mpsc;

use super::source::{ConfigSource, RemoteDocument, SourceEvent};
use crate::control::client::{EventReader, HttpClient};
use crate::control::{ConfigDocument, InvalidClientSetting};
use crate::task_stream::task_stream;

/// Default bound on each call to the service.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default idle time after which a silent watch stream is reconnected.
const DEFAULT_IDLE: Duration = Duration::from_secs(45);
/// Default interval of version reconciliation (the same as the Redis source's).
const DEFAULT_RECONCILE: Duration = Duration::from_secs(10);
/// Default wait before reconnecting (the same as the Redis source's).
const DEFAULT_RECONNECT: Duration = Duration::from_secs(1);

/// Follows one document of the config service (`platform_core::control`) for
/// [`ConfigLoader::spawn_reloader`](super::ConfigLoader::spawn_reloader), as the remote
/// layer.
///
/// * On start, and after every reconnect, it opens the service's watch stream, whose
///   first event is the current document.
/// * Every new version pushed on the stream is emitted as [`SourceEvent::Document`].
/// * Every reconciliation interval (default 10 s) it also fetches the document and emits
///   it when its version is newer than the last one seen, so a change the stream missed
///   is applied within that interval.
/// * When the service cannot be reached it emits [`SourceEvent::Unavailable`] once per
///   outage (the handle keeps its last good value) and retries every reconnect delay
///   (default 1 s).
///
/// Versions only move forward: a service that restarts on an in-memory store starts its
/// versions again at 1, and documents not newer than the last one applied are ignored
/// until the version passes it. Back the service with Redis to keep versions across
/// restarts.
///
/// ```
/// use std::time::Duration;
/// use platform_core::config::HttpConfigSource;
///
/// let source = HttpConfigSource::new("http://127.0.0.1:7070", "billing", "prod")
///     .unwrap()
///     .reconcile_interval(Duration::from_secs(5));
/// # let _ = source;
/// assert!(HttpConfigSource::new("http://127.0.0.1:7070", "bill ing", "prod").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct HttpConfigSource {
    client: HttpClient,
    namespace: String,
    environment: String,
    reconcile_interval: Duration,
    reconnect_delay: Duration,
    idle_timeout: Duration,
}

impl HttpConfigSource {
    /// Follows the document of `namespace` in `environment` on the service at `base_url`
    /// (`http://host:port`, optionally with the path prefix the router is mounted under).
    ///
    /// # Errors
    /// [`InvalidClientSetting`] for a URL that is not `http://…` or an invalid name.
    pub fn new(
        base_url: &str,
        namespace: &str,
        environment: &str,
    ) -> Result<Self, InvalidClientSetting> {
        for (field, name) in [("namespace", namespace), ("environment", environment)] {
            crate::names::check(name).map_err(|reason| InvalidClientSetting { field, reason })?;
        }
        Ok(Self {
            client: HttpClient::new(base_url, DEFAULT_TIMEOUT)?,
            namespace: namespace.to_owned(),
            environment: environment.to_owned(),
            reconcile_interval: DEFAULT_RECONCILE,
            reconnect_delay: DEFAULT_RECONNECT,
            idle_timeout: DEFAULT_IDLE,
        })
    }

    /// How often the version is fetched to catch a missed push (default 10 s).
    pub fn reconcile_interval(mut self, interval: Duration) -> Self {
        self.reconcile_interval = interval;
        self
    }

    /// How long to wait before reconnecting (default 1 s).
    pub fn reconnect_delay(mut self, delay: Duration) -> Self {
        self.reconnect_delay = delay;
        self
    }

    /// How long the watch stream may stay silent before it is reconnected (default 45 s;
    /// keep it above the service's keep-alive interval).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// Bound on each call (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.client = HttpClient::new(self.client.base(), timeout).unwrap_or(self.client);
        self
    }

    fn path(&self) -> String {
        format!("/v1/config/{}/{}", self.namespace, self.environment)
    }

    fn to_remote(&self, doc: ConfigDocument) -> RemoteDocument {
        RemoteDocument {
            origin: format!("config service {}{}", self.client.base(), self.path()),
            format: doc.format,
            text: doc.text,
            version: doc.version,
        }
    }
}

impl ConfigSource for HttpConfigSource {
    fn describe(&self) -> String {
        format!("config service {}{}", self.client.base(), self.path())
    }

    fn into_stream(self: Box<Self>) -> BoxStream<'static, SourceEvent> {
        task_stream(move |tx| super::sessions::run_sessions(*self, tx))
    }
}

impl super::sessions::Sessions for HttpConfigSource {
    /// One connected session; returns why it ended.
    async fn follow(
        &self,
        tx: &mpsc::Sender<SourceEvent>,
        seen: &mut Option<u64>,
        down: &mut bool,
    ) -> String {
        let watch_path = format!("{}/watch", self.path());
        let mut stream: EventReader = match self.client.events(&watch_path, self.idle_timeout).await
        {
            Ok(s) => s,
            Err(e) => return format!("cannot watch {}{watch_path}: {e}", self.client.base()),
        };
        *down = false;
        let mut tick = tokio::time::interval(self.reconcile_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.reset(); // the stream's first event is the current document
        loop {
            let doc = tokio::select! {
                event = stream.next() => match event {
                    Ok(Some(raw)) => match serde_json::from_str::<ConfigDocument>(&raw.data) {
                        Ok(doc) => Some(doc),
                        Err(e) => return format!("unreadable `{}` event: {e}", raw.event),
                    },
                    Ok(None) => return "the service ended the watch stream".to_owned(),
                    Err(e) => return format!("watch stream broken: {e}"),
                },
                _ = tick.tick() => match self.client.call_json::<ConfigDocument>(Method::GET, &self.path(), &[], None).await {
                    Ok(doc) => Some(doc),
                    Err(e) if e.code() == Some("document_not_found") => None,
                    Err(e) => return format!("cannot read {}{}: {e}", self.client.base(), self.path()),
                },
            };
            let Some(doc) = doc.filter(|d| seen.is_none_or(|s| d.version > s)) else { continue };
            *seen = Some(doc.version);
            if tx.send(SourceEvent::Document(self.to_remote(doc))).await.is_err() {
                return "stopped".to_owned();
            }
        }
    }

    fn retry_delay(&self) -> Duration {
        self.reconnect_delay
    }
}
