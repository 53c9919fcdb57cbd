//! Following live sources: the config file, remote documents.

use std::time::Duration;

use futures_util::StreamExt;
use platform_core::config::{
    ConfigSource, DEFAULT_DEBOUNCE, DEFAULT_RETRY_DELAY, FileWatcher, Format, SourceEvent,
};
use tokio::task::JoinHandle;

use super::LiveConfig;
use crate::config::{ConfigError, GatewayConfig};

/// The task applying live configuration changes to a [`LiveConfig`]; dropping it stops
/// following them (the configuration in force stays).
#[derive(Debug)]
#[must_use = "dropping the task stops the reloads"]
pub struct ReloadTask {
    task: JoinHandle<()>,
}

impl Drop for ReloadTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LiveConfig {
    /// Follows the file the configuration was loaded from: every change (debounced
    /// 200 ms, editor temp files ignored) is re-read and applied. A file that does not
    /// parse is tried once more after a moment (a writer may be mid-write); if it still
    /// fails it is refused and the configuration in force stays.
    ///
    /// Without a file (built with [`new`](Self::new)) the task does nothing. Must be
    /// called inside a tokio runtime.
    pub fn watch_file(&self) -> ReloadTask {
        self.watch_file_with(DEFAULT_DEBOUNCE)
    }

    /// [`watch_file`](Self::watch_file) with a chosen debounce.
    pub fn watch_file_with(&self, debounce: Duration) -> ReloadTask {
        let sources: Vec<Box<dyn ConfigSource>> = match self.file() {
            Some(f) => vec![Box::new(FileWatcher::new([f]).debounce(debounce))],
            None => Vec::new(),
        };
        self.watch(sources)
    }

    /// Follows `sources` — platform-core's [`FileWatcher`] for this configuration's file,
    /// the config service's `HttpConfigSource`, a `RedisSource` — and applies what they
    /// report, each in turn:
    ///
    /// * files changed: the file is re-read ([`reload_file`](Self::reload_file));
    /// * a remote document: it must be TOML and newer than the last one applied from
    ///   that origin; it replaces the whole configuration
    ///   ([`apply_toml`](Self::apply_toml));
    /// * a source unavailable: recorded in the status; the configuration stays.
    ///
    /// Whichever change comes last is in force. Must be called inside a tokio runtime.
    pub fn watch(&self, sources: Vec<Box<dyn ConfigSource>>) -> ReloadTask {
        let streams = sources.into_iter().map(|source| {
            let name = source.describe();
            source.into_stream().map(move |event| (name.clone(), event))
        });
        let mut events = futures_util::stream::select_all(streams);
        let live = self.clone();
        let task = tokio::spawn(async move {
            let mut seen: Vec<(String, u64)> = Vec::new();
            while let Some((name, event)) = events.next().await {
                match event {
                    SourceEvent::FilesChanged => live.file_changed().await,
                    SourceEvent::Document(doc) => {
                        if seen.iter().any(|(o, v)| *o == doc.origin && *v >= doc.version) {
                            continue;
                        }
                        let source = format!("{} v{}", doc.origin, doc.version);
                        if doc.format != Format::Toml {
                            let e = ConfigError::new(format!(
                                "the gateway reads TOML documents; this one is {}",
                                doc.format.as_str()
                            ));
                            let _ = live.refused(&source, e);
                            continue;
                        }
                        if live.apply_toml(&doc.text, &source).await.is_ok() {
                            seen.retain(|(o, _)| *o != doc.origin);
                            seen.push((doc.origin.clone(), doc.version));
                        }
                    }
                    SourceEvent::Unavailable { reason } => live.source_unavailable(&name, &reason),
                    _ => {}
                }
            }
        });
        ReloadTask { task }
    }

    /// Re-reads the file after a change, giving a half-written file one more chance.
    async fn file_changed(&self) {
        let Some(path) = self.file() else { return };
        let parses = std::fs::read_to_string(path)
            .ok()
            .is_some_and(|text| GatewayConfig::from_toml(&text, None).is_ok());
        if !parses {
            tokio::time::sleep(DEFAULT_RETRY_DELAY).await;
        }
        // Errors are logged and recorded in the status by `reload_file`.
        let _ = self.reload_file().await;
    }
}
