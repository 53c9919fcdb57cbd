//! Live sources of configuration changes.

use std::fmt;

use futures_util::stream::BoxStream;

use super::format::Format;

/// A configuration document fetched from a remote store; it is the top layer of the load.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteDocument {
    /// Describes where it came from, for errors and events (`redis t:config:billing:prod`).
    pub origin: String,
    /// How `text` is written.
    pub format: Format,
    /// The document itself.
    pub text: String,
    /// The store's version of this document; increases with every write.
    pub version: u64,
}

impl fmt::Debug for RemoteDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteDocument")
            .field("origin", &self.origin)
            .field("format", &self.format)
            .field("version", &self.version)
            .field("len", &self.text.len())
            .finish()
    }
}

/// What a [`ConfigSource`] reports.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SourceEvent {
    /// Local files changed (already debounced): reload every layer.
    FilesChanged,
    /// A new remote document: it replaces the previous remote layer and every layer is
    /// reloaded.
    Document(RemoteDocument),
    /// The source cannot be reached; the handle keeps its last good value. The source
    /// keeps trying and reports again when it recovers (with a `Document` if anything
    /// changed meanwhile).
    Unavailable {
        /// Why.
        reason: String,
    },
}

/// A live source of configuration changes, driven by
/// [`ConfigLoader::spawn_reloader`](super::ConfigLoader::spawn_reloader).
///
/// Implementations in this module: [`FileWatcher`](super::FileWatcher) (local files) and,
/// with the `redis` feature, [`RedisSource`](super::RedisSource).
///
/// # Extension point: the config service's HTTP client
///
/// The client of the config service implements this trait the same way the Redis source
/// does: fetch the document for a namespace and environment once at start and emit it as
/// [`SourceEvent::Document`], then follow the service's watch endpoint (long-poll or
/// server-sent events) and emit every newer version; poll the current version on an
/// interval as a reconciliation fallback; emit [`SourceEvent::Unavailable`] when the
/// service cannot be reached and keep retrying. Versions must increase per document so
/// the reloader can tell new from stale.
pub trait ConfigSource: Send + 'static {
    /// A short description for events and logs (`file platform.toml`, `redis …`).
    fn describe(&self) -> String;

    /// Starts the source. The stream ends only when the source cannot continue at all.
    fn into_stream(self: Box<Self>) -> BoxStream<'static, SourceEvent>;
}
