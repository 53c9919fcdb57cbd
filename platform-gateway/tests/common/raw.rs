//! Raw-bytes clients: requests written as bytes (client libraries would normalize or
//! refuse them) and the answers read back as text.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Writes `bytes` on a fresh connection and reads until the peer closes it (or 10 s
/// pass), returning what came back.
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    raw_on(&mut stream, bytes).await
}

/// Writes `bytes` on `stream` (plain or TLS) and reads until the peer closes it (or
/// 10 s pass), returning what came back.
pub async fn raw_on<S>(stream: &mut S, bytes: &[u8]) -> String
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// The status code of the first response in raw response text.
pub fn raw_status(text: &str) -> u16 {
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}

/// The body of the first response in raw response text (after the empty line).
pub fn raw_body(text: &str) -> &str {
    text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// The JSON document in the body of raw response text, whole or chunked (the text
/// from the first `{` to the last `}`).
pub fn raw_json(text: &str) -> Value {
    let body = raw_body(text);
    let (start, end) = (body.find('{'), body.rfind('}'));
    let (Some(start), Some(end)) = (start, end) else { panic!("no JSON body in {text:?}") };
    serde_json::from_str(&body[start..=end]).unwrap_or_else(|e| panic!("{e}: {text:?}"))
}

/// Response `n` (0 is the first) of raw text holding several, from its status line on.
pub fn nth_response(text: &str, n: usize) -> &str {
    text.match_indices("HTTP/1.1 ")
        .nth(n)
        .map(|(i, _)| &text[i..])
        .unwrap_or_else(|| panic!("no response {n} in {text:?}"))
}

/// Writes the request head `head` on a fresh connection and reads the response head;
/// returns the stream (positioned after the head) and the head, lower-cased.
pub async fn send_head(addr: SocketAddr, head: &[u8]) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head).await.unwrap();
    let head = read_head(&mut stream).await;
    (stream, head)
}

/// Opens an upgraded connection through the gateway to the echo upstream's `/upgrade`;
/// returns the stream after the `101` head and the head, lower-cased.
pub async fn open_tunnel(addr: SocketAddr) -> (TcpStream, String) {
    let (stream, head) = send_head(
        addr,
        b"GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
    (stream, head)
}

/// Reads a response head byte by byte (nothing after it), lower-cased.
pub async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap().to_ascii_lowercase()
}

/// Sends `msg` over an upgraded echo connection and checks it comes back.
pub async fn echo_through(stream: &mut TcpStream, msg: &[u8]) {
    stream.write_all(msg).await.unwrap();
    let mut back = vec![0u8; msg.len()];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut back))
        .await
        .expect("the tunnel answers")
        .unwrap();
    assert_eq!(back, msg);
}
