//! `FileWatcher`: a debounced [`ConfigSource`] for local configuration files.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::source::{ConfigSource, SourceEvent};

/// Default quiet time after the last file event before a reload.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(200);

/// Watches configuration files and reports [`SourceEvent::FilesChanged`] once writes have
/// been quiet for the debounce time.
///
/// It watches the files' directories (editors often replace a file by renaming a new one
/// over it) and reacts only to events on the watched file names, so editor temp files
/// (`.platform.toml.swp`, `platform.toml~`, `.#platform.toml`, vim's `4913`) never
/// trigger a reload. A file that is mid-write when the debounce ends fails to parse; the
/// [`Reloader`](super::Reloader) retries it once and otherwise keeps the last good value.
///
/// Uses the OS notification API through `notify` (inotify, FSEvents, ReadDirectoryChangesW).
///
/// ```
/// use platform_core::config::{ConfigLoader, FileWatcher};
///
/// let loader = ConfigLoader::<serde_json::Value>::new().optional_file("platform.toml");
/// let watcher = FileWatcher::new(loader.files());
/// # let _ = watcher;
/// ```
#[derive(Debug, Clone)]
pub struct FileWatcher {
    files: Vec<PathBuf>,
    debounce: Duration,
}

impl FileWatcher {
    /// Watches `files` (usually [`ConfigLoader::files`](super::ConfigLoader::files)).
    pub fn new(files: impl IntoIterator<Item = impl Into<PathBuf>>) -> Self {
        Self { files: files.into_iter().map(Into::into).collect(), debounce: DEFAULT_DEBOUNCE }
    }

    /// The quiet time after the last event before a reload (default 200 ms).
    pub fn debounce(mut self, debounce: Duration) -> Self {
        self.debounce = debounce;
        self
    }
}

/// `true` for names editors use for swap, backup and lock files.
pub fn is_editor_temp(name: &str) -> bool {
    name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with('~')
        || name.starts_with(".#")
        || name == "4913"
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `(directory, file name)` pairs to match events against.
fn targets(files: &[PathBuf]) -> HashSet<(PathBuf, OsString)> {
    files
        .iter()
        .filter_map(|f| {
            let f = absolute(f);
            Some((f.parent()?.to_path_buf(), f.file_name()?.to_owned()))
        })
        .collect()
}

fn relevant(event: &Event, targets: &HashSet<(PathBuf, OsString)>) -> bool {
    if let EventKind::Access(kind) = event.kind
        && kind != AccessKind::Close(AccessMode::Write)
    {
        return false;
    }
    event.paths.iter().any(|p| {
        let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else { return false };
        if name.to_str().is_some_and(is_editor_temp) {
            return false;
        }
        targets.contains(&(dir.to_path_buf(), name.to_owned()))
    })
}

impl ConfigSource for FileWatcher {
    fn describe(&self) -> String {
        let names: Vec<String> = self.files.iter().map(|f| f.display().to_string()).collect();
        format!("files {}", names.join(", "))
    }

    fn into_stream(self: Box<Self>) -> BoxStream<'static, SourceEvent> {
        let targets = targets(&self.files);
        let (tx, rx) = mpsc::unbounded_channel::<()>();
        let filter = targets.clone();
        let watcher = notify::recommended_watcher(move |res: notify::Result<Event>| {
            if let Ok(event) = res
                && relevant(&event, &filter)
            {
                let _ = tx.send(());
            }
        });
        let mut watcher = match watcher {
            Ok(w) => w,
            Err(e) => return unavailable(format!("cannot start the file watcher: {e}")),
        };
        let dirs: HashSet<&PathBuf> = targets.iter().map(|(d, _)| d).collect();
        for dir in dirs {
            if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
                return unavailable(format!("cannot watch {}: {e}", dir.display()));
            }
        }
        let debounce = self.debounce;
        futures_util::stream::unfold((watcher, rx), move |(watcher, mut rx)| async move {
            rx.recv().await?;
            // Wait until the writes have been quiet for `debounce`.
            loop {
                match tokio::time::timeout(debounce, rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return None,
                    Err(_elapsed) => break,
                }
            }
            Some((SourceEvent::FilesChanged, (watcher, rx)))
        })
        .boxed()
    }
}

fn unavailable(reason: String) -> BoxStream<'static, SourceEvent> {
    futures_util::stream::iter([SourceEvent::Unavailable { reason }]).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind};

    #[test]
    fn only_watched_names_are_relevant() {
        let dir = absolute(Path::new("/tmp/cfg"));
        let t = targets(&[dir.join("platform.toml")]);
        let ev = |name: &str, kind| Event::new(kind).add_path(dir.join(name));
        let modify = EventKind::Modify(ModifyKind::Any);
        assert!(relevant(&ev("platform.toml", modify), &t));
        assert!(relevant(&ev("platform.toml", EventKind::Create(CreateKind::File)), &t));
        for temp in
            [".platform.toml.swp", "platform.toml~", ".#platform.toml", "4913", "other.toml"]
        {
            assert!(!relevant(&ev(temp, modify), &t), "{temp}");
        }
        let read = EventKind::Access(AccessKind::Open(notify::event::AccessMode::Any));
        assert!(!relevant(&ev("platform.toml", read), &t));
    }

    #[test]
    fn editor_temp_names() {
        for n in ["a.toml.swp", "a.toml~", ".#a.toml", "4913", ".a.swx"] {
            assert!(is_editor_temp(n), "{n}");
        }
        assert!(!is_editor_temp("platform.toml"));
    }
}
