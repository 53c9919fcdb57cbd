//! `Reloader`: drives live sources and applies what they report to a `ConfigHandle`.

use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use super::error::Origin;
use super::handle::ConfigHandle;
use super::loader::ConfigLoader;
use super::source::{ConfigSource, RemoteDocument, SourceEvent};

/// How long after a failed file reload it is tried once more (a writer may still be
/// mid-write when the debounce ends).
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_millis(250);

/// The task applying live source events to a [`ConfigHandle`]; dropping it stops the task
/// (the handle keeps its current value).
#[derive(Debug)]
pub struct Reloader {
    task: JoinHandle<()>,
}

impl Drop for Reloader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<T> ConfigLoader<T>
where
    T: Default + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// Follows `sources` and applies every change to `handle`: on each event every layer is
    /// reloaded (files and environment re-read, the latest remote document on top), then
    /// [`ConfigHandle::update_from`] validates and swaps.
    ///
    /// * A file reload that fails is retried once after [`DEFAULT_RETRY_DELAY`] (partial
    ///   writes); if it still fails the last good value stays and the error is reported.
    /// * A remote document becomes the remote layer only once it has been applied; an
    ///   invalid one is reported and the previous document stays in force. Documents
    ///   whose version is not newer than the current one are ignored.
    ///
    /// Must be called inside a tokio runtime.
    pub fn spawn_reloader(
        self,
        handle: ConfigHandle<T>,
        sources: Vec<Box<dyn ConfigSource>>,
    ) -> Reloader {
        self.spawn_reloader_with(handle, sources, DEFAULT_RETRY_DELAY)
    }

    /// [`spawn_reloader`](Self::spawn_reloader) with a chosen retry delay.
    pub fn spawn_reloader_with(
        self,
        handle: ConfigHandle<T>,
        sources: Vec<Box<dyn ConfigSource>>,
        retry_delay: Duration,
    ) -> Reloader {
        let streams = sources.into_iter().map(|source| {
            let name = source.describe();
            source.into_stream().map(move |event| (name.clone(), event))
        });
        let mut events = futures_util::stream::select_all(streams);
        let task = tokio::spawn(async move {
            let mut remote: Option<RemoteDocument> = None;
            while let Some((name, event)) = events.next().await {
                match event {
                    SourceEvent::FilesChanged => {
                        let origin = self
                            .files()
                            .first()
                            .map_or(Origin::Defaults, |p| Origin::File(p.clone()));
                        let attempt = self.load_with(remote.as_ref());
                        let loaded = match attempt {
                            Ok(v) => Ok(v),
                            Err(_) => {
                                tokio::time::sleep(retry_delay).await;
                                self.load_with(remote.as_ref())
                            }
                        };
                        match loaded {
                            Ok(v) => {
                                let _ = handle.update_from(origin, v);
                            }
                            Err(e) => {
                                handle.load_failed(origin, e);
                            }
                        }
                    }
                    SourceEvent::Document(doc) => {
                        if remote
                            .as_ref()
                            .is_some_and(|r| r.origin == doc.origin && r.version >= doc.version)
                        {
                            continue;
                        }
                        let origin = Origin::Remote(doc.origin.clone());
                        match self.load_with(Some(&doc)) {
                            Ok(v) => {
                                if handle.update_from(origin, v).is_ok() {
                                    remote = Some(doc);
                                }
                            }
                            Err(e) => {
                                handle.load_failed(origin, e);
                            }
                        }
                    }
                    SourceEvent::Unavailable { reason } => handle.source_unavailable(name, reason),
                }
            }
        });
        Reloader { task }
    }
}
