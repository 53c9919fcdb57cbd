//! The file watcher: edits are applied, invalid edits keep the last good value, editor
//! temp files are ignored. Real files and OS notifications: every wait is bounded and
//! waits for the expected change, never for a fixed time followed by an assert.
#![cfg(feature = "config")]

mod config_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use config_support::{WAIT, next_event};
use futures_util::StreamExt;
use platform_core::config::{
    ConfigEvent, ConfigHandle, ConfigLoader, ConfigSource, FileWatcher, Reloader, SourceEvent,
};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

const DEBOUNCE: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct App {
    port: u16,
    greeting: String,
}

struct Setup {
    _dir: tempfile::TempDir,
    file: PathBuf,
    handle: ConfigHandle<App>,
    events: broadcast::Receiver<ConfigEvent>,
    _reloader: Reloader,
}

fn setup(initial: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("platform.toml");
    std::fs::write(&file, initial).unwrap();
    let loader = ConfigLoader::<App>::new().file(&file).without_env();
    let handle = ConfigHandle::builder()
        .validate(|c: &App| match c.greeting.is_empty() {
            true => Err("greeting must not be empty".into()),
            false => Ok(()),
        })
        .build(loader.load().unwrap())
        .unwrap();
    let events = handle.events();
    let watcher = FileWatcher::new(loader.files()).debounce(DEBOUNCE);
    let reloader = loader.spawn_reloader_with(
        handle.clone(),
        vec![Box::new(watcher)],
        Duration::from_millis(50),
    );
    Setup { _dir: dir, file, handle, events, _reloader: reloader }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn file_edit_is_applied() {
    let mut s = setup("port = 1\ngreeting = \"hi\"\n");
    let mut changes = s.handle.subscribe();
    write(&s.file, "port = 2\ngreeting = \"hello\"\n");
    tokio::time::timeout(WAIT, changes.changed()).await.expect("change within bound").unwrap();
    let change = changes.borrow_and_update().clone();
    assert_eq!(*change.old, App { port: 1, greeting: "hi".into() });
    assert_eq!(*change.new, App { port: 2, greeting: "hello".into() });
    assert_eq!(s.handle.version(), 2);
    next_event(&mut s.events, |e| matches!(e, ConfigEvent::Applied { version: 2, .. })).await;
}

#[tokio::test]
async fn invalid_edit_keeps_last_good_value_and_is_reported() {
    let mut s = setup("port = 1\ngreeting = \"hi\"\n");
    write(&s.file, "port = 1\ngreeting = = \"broken\"\n");
    let event = next_event(&mut s.events, |e| matches!(e, ConfigEvent::Rejected { .. })).await;
    let ConfigEvent::Rejected { reason, .. } = event else { unreachable!() };
    assert!(reason.contains("platform.toml:2:"), "{reason}");
    assert_eq!(s.handle.load().greeting, "hi");
    assert_eq!(s.handle.version(), 1);

    // Parses, but fails validation: also kept out.
    write(&s.file, "port = 1\ngreeting = \"\"\n");
    let event = next_event(&mut s.events, |e| matches!(e, ConfigEvent::Rejected { .. })).await;
    assert!(
        matches!(event, ConfigEvent::Rejected { reason, .. } if reason.contains("greeting must not be empty"))
    );
    assert_eq!(s.handle.load().greeting, "hi");

    // A good edit afterwards is applied.
    write(&s.file, "port = 3\ngreeting = \"back\"\n");
    next_event(&mut s.events, |e| matches!(e, ConfigEvent::Applied { .. })).await;
    assert_eq!(*s.handle.load_full(), App { port: 3, greeting: "back".into() });
    assert_eq!(s.handle.version(), 2);
}

#[tokio::test]
async fn partial_write_ends_with_the_complete_file() {
    let s = setup("port = 1\ngreeting = \"hi\"\n");
    let mut changes = s.handle.subscribe();
    let full = "port = 5\ngreeting = \"complete\"\n";
    write(&s.file, &full[..14]); // cut inside the string: not valid TOML
    write(&s.file, full);
    tokio::time::timeout(WAIT, async {
        loop {
            changes.changed().await.unwrap();
            if changes.borrow_and_update().new.greeting == "complete" {
                return;
            }
        }
    })
    .await
    .expect("the complete file is applied within the bound");
    assert_eq!(s.handle.load().port, 5);
}

#[tokio::test]
async fn editor_temp_files_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("platform.toml");
    write(&file, "port = 1\n");
    let mut stream = Box::new(FileWatcher::new([&file]).debounce(DEBOUNCE)).into_stream();
    for temp in [".platform.toml.swp", "platform.toml~", ".#platform.toml", "4913", "other.toml"] {
        write(&dir.path().join(temp), "port = 99\n");
    }
    // Absence can only be shown by waiting: several debounce periods pass without an event.
    let quiet = tokio::time::timeout(DEBOUNCE * 6, stream.next()).await;
    assert!(quiet.is_err(), "temp files triggered {quiet:?}");
    write(&file, "port = 2\n");
    let event = tokio::time::timeout(WAIT, stream.next()).await.expect("event within bound");
    assert!(matches!(event, Some(SourceEvent::FilesChanged)));
}

#[tokio::test]
async fn replacing_the_file_by_rename_is_seen() {
    let mut s = setup("port = 1\ngreeting = \"hi\"\n");
    let tmp = s.file.with_file_name(".platform.toml.tmp~");
    write(&tmp, "port = 7\ngreeting = \"renamed\"\n");
    std::fs::rename(&tmp, &s.file).unwrap();
    next_event(&mut s.events, |e| matches!(e, ConfigEvent::Applied { .. })).await;
    assert_eq!(s.handle.load().greeting, "renamed");
}
