use std::convert::Infallible;

use http::{Request, Response};
use tower::{ServiceBuilder, ServiceExt, service_fn};

use super::*;

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn traceparent_parses_valid_and_rejects_invalid() {
    let tp = TraceParent::parse(TP).unwrap();
    assert_eq!(tp.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(tp.parent_id.to_string(), "00f067aa0ba902b7");
    assert!(tp.sampled());
    assert_eq!(tp.to_header_value(), TP);
    for bad in [
        "",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ] {
        assert_eq!(TraceParent::parse(bad), None, "{bad}");
    }
    // A future version may append fields.
    assert!(
        TraceParent::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-future")
            .is_some()
    );
}

#[test]
fn ids_format_as_lower_hex_and_round_trip_through_the_header() {
    for _ in 0..200 {
        let tp = TraceParent {
            trace_id: TraceId::random(),
            parent_id: SpanId::random(),
            flags: fastrand::u8(..),
        };
        let value = tp.to_header_value();
        let text = value.to_str().unwrap();
        assert_eq!(text.len(), 55, "{text}");
        assert_eq!(TraceParent::parse(text), Some(tp), "{text}");
        let expected: String = tp.trace_id.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(tp.trace_id.to_string(), expected);
        assert_eq!(&text[3..35], expected);
    }
    let id = SpanId([0x00, 0x0f, 0xf0, 0xff, 0x10, 0x01, 0xab, 0x9c]);
    assert_eq!(id.to_string(), "000ff0ff1001ab9c");
    assert_eq!(format!("{id:>18}|{id:<17}|"), "  000ff0ff1001ab9c|000ff0ff1001ab9c |");
    assert_eq!(format!("{id:?}"), "SpanId(000ff0ff1001ab9c)");
}

fn echo_ctx()
-> impl tower::Service<Request<()>, Response = Response<Option<TraceContext>>, Error = Infallible>
+ Clone {
    service_fn(|req: Request<()>| async move {
        let current = TraceContext::current();
        assert_eq!(current.as_ref(), req.extensions().get::<TraceContext>());
        Ok::<_, Infallible>(Response::new(current))
    })
}

#[tokio::test]
async fn server_continues_a_remote_trace_and_echoes_the_header() {
    let cfg = TraceConfig { response_header: Some("x-trace-id".into()), ..Default::default() };
    let svc = ServiceBuilder::new()
        .layer(ServerTraceLayer::from_config(&cfg).unwrap())
        .service(echo_ctx());
    let req = Request::get("/")
        .header("traceparent", TP)
        .header("tracestate", "k=v")
        .header("baggage", "user=1")
        .body(())
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.headers()["x-trace-id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    let ctx = res.into_body().unwrap();
    assert_eq!(ctx.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(ctx.parent_id.unwrap().to_string(), "00f067aa0ba902b7");
    assert_ne!(ctx.span_id.to_string(), "00f067aa0ba902b7");
    assert_eq!(ctx.tracestate.unwrap(), "k=v");
    assert_eq!(ctx.baggage.unwrap(), "user=1");
    assert!(TraceContext::current().is_none(), "the context does not leak out of the request");
}

#[tokio::test]
async fn server_starts_a_trace_when_absent_invalid_or_untrusted() {
    let untrusted =
        ServerTraceLayer::from_config(&TraceConfig { trust_remote: false, ..Default::default() })
            .unwrap();
    for (layer, header) in [
        (ServerTraceLayer::new(), None),
        (ServerTraceLayer::new(), Some("junk")),
        (untrusted, Some(TP)),
    ] {
        let svc = ServiceBuilder::new().layer(layer).service(echo_ctx());
        let mut req = Request::get("/");
        if let Some(h) = header {
            req = req.header("traceparent", h);
        }
        let ctx = svc.oneshot(req.body(()).unwrap()).await.unwrap().into_body().unwrap();
        assert_eq!(ctx.parent_id, None);
        assert_ne!(ctx.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(!res_has_header(&ctx));
    }
}

fn res_has_header(ctx: &TraceContext) -> bool {
    ctx.tracestate.is_some() || ctx.baggage.is_some()
}

#[tokio::test]
async fn client_without_context_starts_a_trace() {
    let svc = ServiceBuilder::new().layer(ClientTraceLayer::new()).service(service_fn(
        |req: Request<()>| async move {
            Ok::<_, Infallible>(Response::new(req.headers().get("traceparent").cloned()))
        },
    ));
    let tp = svc.oneshot(Request::get("/").body(()).unwrap()).await.unwrap().into_body().unwrap();
    assert!(TraceParent::parse(tp.to_str().unwrap()).is_some());
}

#[tokio::test]
async fn scope_makes_a_context_current_for_spawned_work() {
    let ctx = TraceContext::new_root();
    let id = ctx.trace_id;
    let seen = tokio::spawn(ctx.scope(async { TraceContext::current_trace_id() })).await.unwrap();
    assert_eq!(seen, Some(id));
}

#[test]
fn config_rejects_a_bad_header_name() {
    let cfg = TraceConfig { response_header: Some("bad header".into()), ..Default::default() };
    assert!(cfg.validate().unwrap_err().to_string().contains("response_header"));
}
