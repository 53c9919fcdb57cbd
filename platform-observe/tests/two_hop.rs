//! A trace carried through client layer → server layer → client layer: one trace id,
//! and each hop's parent is the previous hop's span.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http::{HeaderMap, Request, Response};
use platform_observe::trace::{ClientTraceLayer, ServerTraceLayer, TraceContext, TraceParent};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

type Seen = Arc<Mutex<Vec<HeaderMap>>>;

fn recorder(
    seen: Seen,
) -> impl Service<Request<()>, Response = Response<()>, Error = Infallible, Future: Send> + Clone {
    service_fn(move |req: Request<()>| {
        seen.lock().unwrap().push(req.headers().clone());
        async { Ok::<_, Infallible>(Response::new(())) }
    })
}

fn parse(h: &HeaderMap) -> TraceParent {
    TraceParent::parse(h["traceparent"].to_str().unwrap()).unwrap()
}

#[tokio::test]
async fn traceparent_survives_two_hops_with_correct_parents() {
    let upstream_seen: Seen = Arc::default();
    let server_ctx: Arc<Mutex<Option<TraceContext>>> = Arc::default();

    // Hop 2: a service whose handler calls an upstream through the client layer.
    let upstream = ServiceBuilder::new()
        .layer(ClientTraceLayer::new())
        .service(recorder(upstream_seen.clone()));
    let ctx_slot = server_ctx.clone();
    let service = ServiceBuilder::new().layer(ServerTraceLayer::new()).service(service_fn(
        move |_req: Request<()>| {
            let upstream = upstream.clone();
            let ctx_slot = ctx_slot.clone();
            async move {
                *ctx_slot.lock().unwrap() = TraceContext::current();
                upstream.oneshot(Request::get("http://upstream/x").body(()).unwrap()).await
            }
        },
    ));

    // Hop 1: a client calling the service, with a tracestate and baggage to carry along.
    let mut first_hop_headers = None;
    let capture = service_fn(|req: Request<()>| {
        first_hop_headers = Some(req.headers().clone());
        let service = service.clone();
        async move { service.oneshot(req).await }
    });
    let client = ServiceBuilder::new().layer(ClientTraceLayer::new()).service(capture);
    let req = Request::get("http://service/")
        .header("tracestate", "vendor=1")
        .header("baggage", "tenant=acme")
        .body(())
        .unwrap();
    client.oneshot(req).await.unwrap();

    let hop1 = parse(first_hop_headers.as_ref().unwrap());
    let server = server_ctx.lock().unwrap().clone().expect("handler saw a context");
    let upstream_headers = upstream_seen.lock().unwrap()[0].clone();
    let hop2 = parse(&upstream_headers);

    assert_eq!(server.trace_id, hop1.trace_id, "the server continues the client's trace");
    assert_eq!(
        server.parent_id,
        Some(hop1.parent_id),
        "the server span's parent is hop 1's client span"
    );
    assert_eq!(hop2.trace_id, hop1.trace_id, "the upstream call stays in the same trace");
    assert_ne!(hop2.parent_id, server.span_id, "the outbound call gets its own client span");
    assert_ne!(hop2.parent_id, hop1.parent_id);
    assert_eq!(upstream_headers["tracestate"], "vendor=1");
    assert_eq!(upstream_headers["baggage"], "tenant=acme");
}

#[tokio::test]
async fn client_span_is_a_child_of_the_server_span() {
    // The client layer's span id is fresh, and its parent (server span) is what it injects
    // relative to: read it back from an explicit context extension.
    let parent = TraceContext::new_root();
    let seen: Seen = Arc::default();
    let client =
        ServiceBuilder::new().layer(ClientTraceLayer::new()).service(recorder(seen.clone()));
    let mut req = Request::get("/").body(()).unwrap();
    req.extensions_mut().insert(parent.clone());
    client.oneshot(req).await.unwrap();
    let tp = parse(&seen.lock().unwrap()[0]);
    assert_eq!(tp.trace_id, parent.trace_id);
    assert_ne!(tp.parent_id, parent.span_id);
}
