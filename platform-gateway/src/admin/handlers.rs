//! The admin API's handlers.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, Method, Request};
use serde_json::json;

use super::AdminState;
use crate::route::predicate::query_values;
use crate::server::ConnectionInfo;

pub(super) async fn routes(State(s): State<AdminState>) -> Response {
    Json(s.gateway.route_views()).into_response()
}

pub(super) async fn upstreams(State(s): State<AdminState>) -> Response {
    Json(s.gateway.upstream_views()).into_response()
}

pub(super) async fn config(State(s): State<AdminState>) -> Response {
    #[cfg(feature = "reload")]
    if let Some(live) = &s.live {
        return Json(live.status()).into_response();
    }
    let _ = s;
    Json(json!({ "version": null, "hot_reload": false })).into_response()
}

fn bad(message: String) -> Response {
    let body = json!({ "error": "bad_request", "message": message });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// `?method=GET&path=/a?b=1&host=h&header=name:value&client=10.0.0.1`; every parameter
/// optional (GET, `/`, host `localhost`, no headers, a loopback client).
pub(super) async fn explain(State(s): State<AdminState>, RawQuery(q): RawQuery) -> Response {
    let q = q.unwrap_or_default();
    let one = |name: &str| query_values(&q, name).into_iter().next_back();
    let method = one("method").unwrap_or_else(|| "GET".to_owned());
    let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
        return bad(format!("method: {method:?} is not an HTTP method"));
    };
    let path = one("path").unwrap_or_else(|| "/".to_owned());
    let mut req = Request::builder().method(method);
    match path.parse::<http::Uri>() {
        Ok(uri) if uri.scheme().is_none() && path.starts_with('/') => req = req.uri(uri),
        _ => return bad(format!("path: {path:?} is not an origin-form path (`/a/b?c=d`)")),
    }
    let host = one("host").unwrap_or_else(|| "localhost".to_owned());
    match HeaderValue::from_str(&host) {
        Ok(v) => req = req.header(http::header::HOST, v),
        Err(_) => return bad(format!("host: {host:?} is not a header value")),
    }
    for h in query_values(&q, "header") {
        let parsed = h.split_once(':').and_then(|(n, v)| {
            Some((
                HeaderName::from_bytes(n.trim().as_bytes()).ok()?,
                HeaderValue::from_str(v.trim()).ok()?,
            ))
        });
        match parsed {
            Some((n, v)) => req = req.header(n, v),
            None => return bad(format!("header: {h:?} is not `name: value`")),
        }
    }
    let client = match one("client") {
        Some(c) => match c.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => return bad(format!("client: {c:?} is not an IP address")),
        },
        None => IpAddr::from([127, 0, 0, 1]),
    };
    let Ok(mut req) = req.body(()) else {
        return bad("the request could not be built from these parameters".into());
    };
    req.extensions_mut().insert(ConnectionInfo::new(SocketAddr::new(client, 0)));
    Json(s.gateway.explain(&req)).into_response()
}
