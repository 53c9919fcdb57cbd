//! Reads server-sent events from a response body.

use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::BoxError;

/// One event: its `event:` name and its `data:` lines joined by newlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    pub(crate) event: String,
    pub(crate) data: String,
}

/// Reads events from a `text/event-stream` body; keep-alive comments only reset the
/// idle timer.
#[derive(Debug)]
pub(crate) struct EventReader {
    body: Incoming,
    buf: Vec<u8>,
    idle: Duration,
}

impl EventReader {
    pub(crate) fn new(body: Incoming, idle: Duration) -> Self {
        Self { body, buf: Vec::new(), idle }
    }

    /// The next event; `Ok(None)` when the server ended the stream.
    ///
    /// # Errors
    /// A broken connection, or nothing at all (not even a keep-alive) for the idle time.
    pub(crate) async fn next(&mut self) -> Result<Option<SseEvent>, BoxError> {
        loop {
            while let Some(block) = take_block(&mut self.buf) {
                if let Some(event) = parse_block(&block) {
                    return Ok(Some(event));
                }
            }
            let frame = tokio::time::timeout(self.idle, self.body.frame())
                .await
                .map_err(|_| format!("event stream silent for {:?}", self.idle))?;
            match frame {
                None => return Ok(None),
                Some(frame) => {
                    if let Ok(data) = frame?.into_data() {
                        self.buf.extend(data.iter().filter(|b| **b != b'\r'));
                    }
                }
            }
        }
    }
}

/// Removes and returns the text up to the first blank line.
fn take_block(buf: &mut Vec<u8>) -> Option<String> {
    let end = buf.windows(2).position(|w| w == b"\n\n")?;
    let block: Vec<u8> = buf.drain(..end + 2).collect();
    Some(String::from_utf8_lossy(&block[..end]).into_owned())
}

/// Parses one block; `None` for comments only.
fn parse_block(block: &str) -> Option<SseEvent> {
    let mut event = String::from("message");
    let mut data: Option<String> = None;
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => value.clone_into(&mut event),
            "data" => match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_owned()),
            },
            _ => {}
        }
    }
    data.map(|data| SseEvent { event, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_split_on_blank_lines_and_comments_are_skipped() {
        let mut buf =
            b": keep-alive\n\nevent: added\nid: 3\ndata: {\"a\":\ndata: 1}\n\nevent: x".to_vec();
        let first = take_block(&mut buf).unwrap();
        assert_eq!(parse_block(&first), None);
        let second = take_block(&mut buf).unwrap();
        let event = parse_block(&second).unwrap();
        assert_eq!(event.event, "added");
        assert_eq!(event.data, "{\"a\":\n1}");
        assert_eq!(take_block(&mut buf), None, "an unfinished block waits for more bytes");
        assert_eq!(buf, b"event: x");
    }
}
