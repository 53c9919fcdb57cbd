//! The in-memory config store: the embedded default and the test fake.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::watch;

use super::{ConfigStore, ConfigStoreError, DEFAULT_HISTORY_LEN, Named, check_put, now_ms};
use crate::config::Format;
use crate::control::wire::ConfigDocument;

/// Configuration documents held in this process's memory; clones share one store.
///
/// Keeps the last [`DEFAULT_HISTORY_LEN`] versions of each document (see
/// [`with_history_len`](Self::with_history_len)). The [module docs](super) have an
/// example.
#[derive(Clone)]
pub struct MemoryConfigStore {
    inner: Arc<Inner>,
}

struct Inner {
    documents: Mutex<HashMap<(String, String), Document>>,
    history_len: usize,
}

struct Document {
    /// Newest first; the front is the current version.
    history: VecDeque<ConfigDocument>,
    current: watch::Sender<Option<ConfigDocument>>,
}

impl Default for MemoryConfigStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryConfigStore {
    /// An empty store keeping [`DEFAULT_HISTORY_LEN`] versions per document.
    pub fn new() -> Self {
        Self::with_history_len(DEFAULT_HISTORY_LEN)
    }

    /// An empty store keeping `len` versions per document (at least 1).
    pub fn with_history_len(len: usize) -> Self {
        Self { inner: Arc::new(Inner { documents: Mutex::default(), history_len: len.max(1) }) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(String, String), Document>> {
        // Every change is one push plus one send: a panic cannot leave it half done.
        self.inner.documents.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with_document<T>(&self, ns: &str, env: &str, f: impl FnOnce(&mut Document) -> T) -> T {
        let mut documents = self.lock();
        let doc = documents.entry((ns.to_owned(), env.to_owned())).or_insert_with(|| Document {
            history: VecDeque::new(),
            current: watch::channel(None).0,
        });
        f(doc)
    }
}

#[async_trait]
impl ConfigStore for MemoryConfigStore {
    async fn get(
        &self,
        namespace: &str,
        environment: &str,
    ) -> Result<Option<ConfigDocument>, ConfigStoreError> {
        Named::checked(namespace, environment)?;
        Ok(self.with_document(namespace, environment, |d| d.history.front().cloned()))
    }

    async fn put(
        &self,
        namespace: &str,
        environment: &str,
        format: Format,
        text: &str,
        expected: Option<u64>,
    ) -> Result<ConfigDocument, ConfigStoreError> {
        check_put(namespace, environment, format, text)?;
        let history_len = self.inner.history_len;
        self.with_document(namespace, environment, |d| {
            let current = d.history.front().map_or(0, |c| c.version);
            if let Some(expected) = expected.filter(|e| *e != current) {
                return Err(ConfigStoreError::Conflict { expected, current });
            }
            let here = Named { namespace, environment };
            let doc = here.document(current + 1, format, text.to_owned(), now_ms());
            d.history.push_front(doc.clone());
            d.history.truncate(history_len);
            d.current.send_replace(Some(doc.clone()));
            Ok(doc)
        })
    }

    async fn history(
        &self,
        namespace: &str,
        environment: &str,
        limit: usize,
    ) -> Result<Vec<ConfigDocument>, ConfigStoreError> {
        Named::checked(namespace, environment)?;
        Ok(self.with_document(namespace, environment, |d| {
            d.history.iter().take(limit).cloned().collect()
        }))
    }

    async fn watch(
        &self,
        namespace: &str,
        environment: &str,
    ) -> Result<BoxStream<'static, ConfigDocument>, ConfigStoreError> {
        Named::checked(namespace, environment)?;
        let mut rx = self.with_document(namespace, environment, |d| d.current.subscribe());
        rx.mark_changed();
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            loop {
                rx.changed().await.ok()?;
                let doc = rx.borrow_and_update().clone();
                if let Some(doc) = doc {
                    return Some((doc, rx));
                }
            }
        });
        Ok(stream.boxed())
    }
}

impl fmt::Debug for MemoryConfigStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryConfigStore")
            .field("documents", &self.lock().len())
            .field("history_len", &self.inner.history_len)
            .finish()
    }
}
