//! A request carrying both `Content-Length` and `Transfer-Encoding` is refused, in
//! whichever order the two appear, also when it follows other requests on the same
//! connection (the gateway follows the raw framing; hyper alone would hide the conflict).

mod common;

use common::raw::{nth_response, raw, raw_body, raw_status};
use common::{catch_all, echo_gateway, serve, serve_echo_gateway};
use platform_gateway::proxy::ProxyConfig;

#[tokio::test]
async fn content_length_then_transfer_encoding_is_400() {
    let gw = serve_echo_gateway().await;
    let res = raw(
        gw,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(raw_status(&res), 400, "{res}");
    assert!(raw_body(&res).contains("conflicting_framing"), "{res}");
}

#[tokio::test]
async fn transfer_encoding_then_content_length_is_400() {
    let gw = serve_echo_gateway().await;
    let res = raw(
        gw,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(raw_status(&res), 400, "{res}");
}

#[tokio::test]
async fn smuggling_attempt_after_a_good_request_is_caught() {
    let gw = serve_echo_gateway().await;
    let res = raw(
        gw,
        b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
POST /second HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    assert_eq!(raw_status(nth_response(&res, 1)), 400, "{res}");
}

#[tokio::test]
async fn chunked_alone_is_streamed() {
    let gw = serve_echo_gateway().await;
    let res = raw(gw, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n").await;
    assert_eq!(raw_status(&res), 200, "{res}");
    assert!(res.contains("\"body_len\":5"), "{res}");
}

#[tokio::test]
async fn a_refused_request_does_not_shift_the_records_of_the_next() {
    let proxy = ProxyConfig { max_header_bytes: 8192, ..ProxyConfig::default() };
    let gw = serve(echo_gateway(catch_all(), proxy).await).await;
    let big = "v".repeat(9000);
    let first = format!("GET /a HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let second = "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n";
    let res = raw(gw, format!("{first}{second}").as_bytes()).await;
    assert_eq!(raw_status(&res), 431, "{res}");
    assert_eq!(raw_status(nth_response(&res, 1)), 400, "{res}");
}
