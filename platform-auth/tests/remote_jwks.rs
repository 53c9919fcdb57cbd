//! Remote JWKS: cache, rate-limited refetch on unknown `kid`, stale-while-error.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::*;
use platform_auth::AuthError;
use platform_auth::jwt::{
    FetchFuture, HttpJwksFetcher, Issuer, JwkSet, JwksFetcher, KeySet, RemoteJwks,
    RemoteJwksConfig, Verifier, VerifierConfig,
};

#[derive(Clone)]
struct Server {
    keys: KeySet,
    hits: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
}

async fn jwks(State(s): State<Server>) -> Response {
    s.hits.fetch_add(1, Ordering::SeqCst);
    if s.failing.load(Ordering::SeqCst) {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    axum::Json(s.keys.jwks()).into_response()
}

async fn serve(keys: KeySet) -> (Server, String) {
    let s = Server { keys, hits: Arc::default(), failing: Arc::default() };
    let app = Router::new().route("/jwks.json", get(jwks)).with_state(s.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (s, url)
}

fn remote_verifier(url: &str, cfg: RemoteJwksConfig) -> (RemoteJwks, Verifier) {
    let remote = RemoteJwks::new(HttpJwksFetcher::new(url).expect("loopback url"), cfg);
    let v = Verifier::new(remote.clone(), VerifierConfig::new(ISS, AUD));
    (remote, v)
}

#[tokio::test]
async fn tokens_verify_against_a_fetched_jwks_and_the_cache_is_reused() {
    let keys = KeySet::new(ed_key("a", "a"));
    let (server, url) = serve(keys.clone()).await;
    let (_, v) = remote_verifier(&url, RemoteJwksConfig::default());
    let issuer = Issuer::new(keys, ISS, AUD);
    for _ in 0..5 {
        v.verify(&issuer.issue("alice", &[]).expect("issue")).await.expect("verify");
    }
    assert_eq!(server.hits.load(Ordering::SeqCst), 1, "one fetch, then the cache");
}

#[tokio::test]
async fn unknown_kid_refetch_is_rate_limited() {
    let keys = KeySet::new(ed_key("a", "a"));
    let (server, url) = serve(keys.clone()).await;
    let cfg = RemoteJwksConfig::default().min_refetch_interval(Duration::from_secs(3600));
    let (_, v) = remote_verifier(&url, cfg);
    let issuer = Issuer::new(keys.clone(), ISS, AUD);
    v.verify(&issuer.issue("alice", &[]).expect("issue")).await.expect("verify");
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);

    // A flood of made-up kids triggers no fetch inside the interval.
    let pem = fixture("ed_a_private.pem");
    let enc = jsonwebtoken::EncodingKey::from_ed_pem(&pem).expect("pem");
    for i in 0..20 {
        let t =
            sign(&header(jsonwebtoken::Algorithm::EdDSA, &format!("made-up-{i}")), &claims(), &enc);
        assert!(matches!(v.verify(&t).await, Err(AuthError::UnknownKey)));
    }
    assert_eq!(server.hits.load(Ordering::SeqCst), 1, "rate-limited");
}

#[tokio::test]
async fn cached_keys_serve_while_the_endpoint_fails() {
    let keys = KeySet::new(ed_key("a", "a"));
    let (server, url) = serve(keys.clone()).await;
    // Every verification wants a refresh (max_age 0, no refetch limit).
    let cfg =
        RemoteJwksConfig::default().max_age(Duration::ZERO).min_refetch_interval(Duration::ZERO);
    let (_, v) = remote_verifier(&url, cfg);
    let token = Issuer::new(keys, ISS, AUD).issue("alice", &[]).expect("issue");
    v.verify(&token).await.expect("first fetch");

    server.failing.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        v.verify(&token).await.expect("stale-while-error");
    }
    assert!(server.hits.load(Ordering::SeqCst) >= 4, "the endpoint was tried");
}

#[tokio::test]
async fn nothing_cached_and_endpoint_down_is_unavailable() {
    let (server, url) = serve(KeySet::new(ed_key("a", "a"))).await;
    server.failing.store(true, Ordering::SeqCst);
    let (_, v) = remote_verifier(&url, RemoteJwksConfig::default());
    let token =
        Issuer::new(KeySet::new(ed_key("a", "a")), ISS, AUD).issue("alice", &[]).expect("issue");
    assert!(matches!(v.verify(&token).await, Err(AuthError::Unavailable(_))));
}

#[test]
fn plain_http_to_remote_hosts_is_refused_by_default() {
    assert!(HttpJwksFetcher::new("http://idp.example.com/jwks.json").is_err());
    assert!(HttpJwksFetcher::new("https://idp.example.com/jwks.json").is_err());
    assert!(HttpJwksFetcher::new("http://127.0.0.1:8080/jwks.json").is_ok());
    assert!(HttpJwksFetcher::allow_insecure_http("http://idp.internal/jwks.json").is_ok());
}

/// An in-process fetcher whose document the test swaps.
#[derive(Debug, Clone, Default)]
struct Fake {
    doc: Arc<Mutex<JwkSet>>,
    calls: Arc<AtomicUsize>,
}

impl JwksFetcher for Fake {
    fn fetch(&self) -> FetchFuture<'_> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let doc = self.doc.lock().expect("lock").clone();
        Box::pin(async move { Ok(doc) })
    }
}

#[tokio::test(start_paused = true)]
async fn a_new_kid_is_fetched_once_the_interval_has_passed() {
    let keys = KeySet::new(ed_key("a", "a"));
    let fake = Fake::default();
    *fake.doc.lock().expect("lock") = keys.jwks();
    let cfg = RemoteJwksConfig::default().min_refetch_interval(Duration::from_secs(30));
    let remote = RemoteJwks::new(fake.clone(), cfg);
    let v = Verifier::new(remote.clone(), VerifierConfig::new(ISS, AUD));
    let issuer = Issuer::new(keys.clone(), ISS, AUD);
    v.verify(&issuer.issue("alice", &[]).expect("issue")).await.expect("verify");

    // The issuer rotates; the JWKS now has `b`.
    keys.rotate(ed_key("b", "b"), Duration::from_secs(3600));
    *fake.doc.lock().expect("lock") = keys.jwks();
    let token_b = issuer.issue("alice", &[]).expect("issue");
    tokio::time::advance(Duration::from_secs(10)).await;
    assert!(matches!(v.verify(&token_b).await, Err(AuthError::UnknownKey)), "inside the interval");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);

    tokio::time::advance(Duration::from_secs(20)).await;
    v.verify(&token_b).await.expect("refetched after the interval");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    assert_eq!(remote.cached_kids(), ["a", "b"]);
}

#[tokio::test]
async fn symmetric_keys_in_a_remote_jwks_are_ignored() {
    let fake = Fake::default();
    let jwk =
        jsonwebtoken::jwk::Jwk::from_encoding_key(&hs_encoding(), jsonwebtoken::Algorithm::HS256)
            .expect("jwk");
    fake.doc.lock().expect("lock").keys.push(jwk);
    let remote = RemoteJwks::new(fake, RemoteJwksConfig::default());
    let v = Verifier::new(remote.clone(), VerifierConfig::new(ISS, AUD));
    let mut h = header(jsonwebtoken::Algorithm::HS256, "k1");
    h.kid = None;
    let t = sign(&h, &claims(), &hs_encoding());
    assert!(v.verify(&t).await.is_err());
    assert!(remote.cached_kids().is_empty());
}
