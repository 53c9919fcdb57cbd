//! Hot reload from the config file: an upgraded tunnel on an unchanged route stays open
//! and working across reloads, unchanged upstreams keep their state, and an invalid file
//! is refused while the last good configuration keeps serving.

mod common;

use std::path::Path;
use std::time::Duration;

use common::raw::{echo_through, open_tunnel};
use common::{echo_upstream, get, serve};
use platform_gateway::config::Resources;
use platform_gateway::reload::LiveConfig;
use platform_observe::metrics::MetricsRegistry;

fn config(ws: &str, other: &str, extra_route: bool) -> String {
    let mut text = format!(
        "[upstreams.ws]\nendpoints = [\"{ws}\"]\n\n[upstreams.other]\nendpoints = [\"{other}\"]\n\n\
         [[routes]]\nid = \"ws\"\npath_prefix = \"/upgrade\"\nupstream = \"ws\"\n"
    );
    if extra_route {
        text.push_str(
            "\n[[routes]]\nid = \"other\"\npath_prefix = \"/other\"\nupstream = \"other\"\n",
        );
    }
    text
}

async fn wait_for(live: &LiveConfig, what: &str, done: impl Fn(&LiveConfig) -> bool) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while !done(live) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}: {:?}", live.status()));
}

fn write(path: &Path, text: &str) {
    // Write beside and rename over, as editors and deploy tools do.
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tunnel_survives_reloads_and_an_invalid_file_keeps_the_last_good_config() {
    let ws = echo_upstream("ws").await.to_string();
    let other = echo_upstream("other").await.to_string();
    let other2 = echo_upstream("other-2").await.to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gateway.toml");
    write(&file, &config(&ws, &other, false));

    let metrics = MetricsRegistry::new();
    let resources = Resources { metrics: Some(metrics.clone()), ..Resources::default() };
    let live = LiveConfig::load(&file, resources).await.unwrap();
    let _task = live.watch_file_with(Duration::from_millis(50));
    let gw = serve(live.gateway().clone()).await;
    let ws_endpoint = live.gateway().upstream("ws").unwrap().endpoints()[0].clone();

    let (mut tunnel, _) = open_tunnel(gw).await;
    echo_through(&mut tunnel, b"before").await;
    assert_eq!(get(gw, "/other/x").await.0, 404);

    // A new route, and the `other` upstream moved to another endpoint.
    write(&file, &config(&ws, &other2, true));
    wait_for(&live, "the second configuration", |l| l.status().version == 2).await;
    let status = live.status();
    assert_eq!(status.last_diff.routes_added, ["other"]);
    assert_eq!(status.last_diff.upstreams_changed, ["other"]);
    let (code, doc) = get(gw, "/other/x").await;
    assert_eq!((code.as_u16(), doc["upstream"].as_str()), (200, Some("other-2")));
    echo_through(&mut tunnel, b"after the reload").await;
    let kept = live.gateway().upstream("ws").unwrap().endpoints()[0].clone();
    assert!(std::sync::Arc::ptr_eq(&ws_endpoint, &kept), "the unchanged upstream was rebuilt");

    // An invalid file: refused, reported, the last good routes keep serving.
    write(&file, "[[routes]]\nid = \"broken\"\nupstream = \"nowhere\"\n");
    wait_for(&live, "the refusal", |l| l.status().last_error.is_some()).await;
    let status = live.status();
    assert_eq!(status.version, 2);
    assert!(!status.last_attempt_ok);
    let error = status.last_error.unwrap();
    assert!(error.contains("gateway.toml") && error.contains("route `broken`"), "{error}");
    assert!(error.contains("`nowhere`"), "{error}");
    assert_eq!(get(gw, "/other/x").await.0, 200);
    echo_through(&mut tunnel, b"after the refusal").await;
    let text = metrics.encode();
    assert!(text.contains("gateway_config_reloads_total{result=\"refused\"} 1"), "{text}");
    assert!(text.contains("gateway_config_reloads_total{result=\"applied\"} 1"), "{text}");
    assert!(text.contains("gateway_config_version 2"), "{text}");

    // Fixed again: applied, the error cleared.
    write(&file, &config(&ws, &other2, false));
    wait_for(&live, "the third configuration", |l| l.status().version == 3).await;
    assert!(live.status().last_error.is_none());
    assert_eq!(get(gw, "/other/x").await.0, 404);
    echo_through(&mut tunnel, b"still open").await;
}

#[tokio::test]
async fn a_remote_document_that_is_not_toml_is_refused() {
    use futures_util::stream::BoxStream;
    use platform_core::config::{ConfigSource, Format, RemoteDocument, SourceEvent};

    struct Fixed(Vec<SourceEvent>);
    impl ConfigSource for Fixed {
        fn describe(&self) -> String {
            "fixed".into()
        }
        fn into_stream(self: Box<Self>) -> BoxStream<'static, SourceEvent> {
            Box::pin(futures_util::stream::iter(self.0))
        }
    }
    let up = echo_upstream("a").await.to_string();
    let text = |route: &str| {
        format!(
            "upstreams.a.endpoints = [\"{up}\"]\n[[routes]]\nid = \"{route}\"\nupstream = \"a\"\n"
        )
    };
    let live = LiveConfig::new(
        platform_gateway::config::GatewayConfig::from_toml(&text("first"), None).unwrap(),
        Resources::default(),
    )
    .await
    .unwrap();
    let doc = |format, text: String, version| {
        SourceEvent::Document(RemoteDocument { origin: "svc".into(), format, text, version })
    };
    let events = vec![
        doc(Format::Toml, text("second"), 5),
        doc(Format::Toml, text("stale"), 4),
        doc(Format::Json, "{}".into(), 6),
    ];
    let _task = live.watch(vec![Box::new(Fixed(events))]);
    wait_for(&live, "the JSON refusal", |l| l.status().last_error.is_some()).await;
    let status = live.status();
    assert_eq!(status.version, 2, "the stale document is skipped");
    assert_eq!(status.source, "svc v5");
    assert!(status.last_error.unwrap().contains("TOML"));
    assert_eq!(live.gateway().routes().ids().collect::<Vec<_>>(), ["second"]);
}
