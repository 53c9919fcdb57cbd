//! [`LogCapture`]: `tracing` output kept in memory, for tests that assert on log lines.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use tracing::subscriber::DefaultGuard;
use tracing_subscriber::fmt::MakeWriter;

/// Log output captured in memory: a [`MakeWriter`] whose writers all append to one
/// buffer, and the text written so far. Clones share the buffer, so a test keeps one
/// clone and hands another to the subscriber.
///
/// ```
/// use platform_core::test_util::LogCapture;
///
/// let (logs, _guard) = LogCapture::install(tracing::Level::INFO);
/// tracing::info!(target: "billing", "invoice sent");
/// tracing::debug!("below the level");
/// assert_eq!(logs.lines_containing("billing").len(), 1);
/// assert!(!logs.text().contains("below the level"));
/// ```
///
/// Any subscriber that takes a `MakeWriter` can write here instead, e.g.
/// `tracing_subscriber::fmt().with_writer(capture.clone())`.
#[derive(Debug, Clone, Default)]
pub struct LogCapture {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl LogCapture {
    /// An empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// A capture and, installed as this thread's default until the guard drops, a `fmt`
    /// subscriber writing to it every event at `level` or more severe, without colours.
    ///
    /// The default subscriber is per thread: in a current-thread tokio runtime it sees
    /// every task; in a multi-thread one, only what runs on this thread.
    pub fn install(level: tracing::Level) -> (Self, DefaultGuard) {
        let capture = Self::new();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(capture.clone())
            .with_max_level(level)
            .with_ansi(false)
            .finish();
        (capture, tracing::subscriber::set_default(subscriber))
    }

    /// Everything written so far (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// The lines written so far that contain `needle` (a target, a field, a message).
    pub fn lines_containing(&self, needle: &str) -> Vec<String> {
        self.text().lines().filter(|line| line.contains(needle)).map(str::to_owned).collect()
    }

    fn bytes(&self) -> MutexGuard<'_, Vec<u8>> {
        // A test that panicked while writing leaves complete bytes behind; keep them.
        self.buf.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::LogCapture;

    #[test]
    fn clones_share_one_buffer() {
        let capture = LogCapture::new();
        let mut writer = capture.clone();
        writer.write_all(b"first line\nsecond ").unwrap();
        writer.write_all(b"line\n").unwrap();
        assert_eq!(capture.text(), "first line\nsecond line\n");
        assert_eq!(capture.lines_containing("second"), ["second line"]);
    }

    #[test]
    fn install_captures_at_the_level_and_stops_with_the_guard() {
        let (logs, guard) = LogCapture::install(tracing::Level::INFO);
        tracing::info!(target: "capture_test", answer = 42, "kept");
        tracing::debug!(target: "capture_test", "dropped");
        drop(guard);
        tracing::warn!(target: "capture_test", "after the guard");
        let lines = logs.lines_containing("capture_test");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("kept") && lines[0].contains("answer=42"), "{lines:?}");
        assert!(!lines[0].contains('\u{1b}'), "no colour codes: {lines:?}");
    }
}
