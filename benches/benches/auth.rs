//! The authenticate layer's cost beside jsonwebtoken's own `decode` for HS256, RS256 and
//! EdDSA (target: the layer at most 1.1× the bare decode), and argon2id password hashing
//! at the OWASP parameters (m=19 MiB, t=2, p=1) through `PasswordHasher` beside the bare
//! `argon2` crate, in one run.
//!
//! Run: `cargo bench -p platform-benches --bench auth`.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::hint::black_box;
use std::task::{Context, Poll};

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{Request, Response, header};
use http_body_util::Full;
use jsonwebtoken::{DecodingKey, Validation};
use platform_auth::jwt::{Claims, Issuer, Key, KeySet, Verifier, VerifierConfig};
use platform_auth::{AuthenticateLayer, Authenticator};
use platform_benches::call_now;
use tower::Layer;

const ISS: &str = "https://auth.bench";
const AUD: &str = "bench";

/// An inner HTTP service that answers 200 at once.
#[derive(Debug, Clone, Copy)]
struct Ok200;

impl tower::Service<Request<()>> for Ok200 {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<()>) -> Self::Future {
        ready(Ok(Response::new(Full::new(Bytes::new()))))
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../platform-auth/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// (name, signing key, the same public key for bare jsonwebtoken)
fn keys() -> Vec<(&'static str, Key, DecodingKey)> {
    let secret = b"a-benchmark-hmac-secret-of-32-bytes-or-more";
    vec![
        ("HS256", Key::hs256("hs", secret).expect("hs"), DecodingKey::from_secret(secret)),
        (
            "RS256",
            Key::rs256_private_pem("rs", &fixture("rsa_private.pem")).expect("rs"),
            DecodingKey::from_rsa_pem(&fixture("rsa_public.pem")).expect("rsa pub"),
        ),
        (
            "EdDSA",
            Key::ed25519_private_pem("ed", &fixture("ed_a_private.pem")).expect("ed"),
            DecodingKey::from_ed_pem(&fixture("ed_a_public.pem")).expect("ed pub"),
        ),
    ]
}

fn authenticate(c: &mut Criterion) {
    for (name, key, decoding) in keys() {
        let alg = key.algorithm();
        let set = KeySet::new(key);
        let token = Issuer::new(set.clone(), ISS, AUD).issue("alice", &["read"]).expect("issue");
        let bearer = format!("Bearer {token}");

        let mut g = c.benchmark_group(format!("authenticate/{name}"));
        let mut validation = Validation::new(alg);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[ISS]);
        validation.set_audience(&[AUD]);
        g.bench_function("jsonwebtoken_decode", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<Claims>(black_box(&token), &decoding, &validation)
                    .expect("valid")
            });
        });

        let verifier = Verifier::new(set, VerifierConfig::new(ISS, AUD));
        let mut svc = AuthenticateLayer::new(Authenticator::new().jwt(verifier)).layer(Ok200);
        let request = || {
            Request::get("/")
                .header(header::AUTHORIZATION, bearer.as_str())
                .body(())
                .expect("request")
        };
        g.bench_function("authenticate_layer", |b| {
            b.iter_batched(
                request,
                |req| {
                    let res = call_now(&mut svc, req).expect("infallible");
                    assert_eq!(res.status(), 200);
                },
                BatchSize::SmallInput,
            );
        });
        g.finish();
    }
}

/// argon2id at the OWASP parameters: the bare `argon2` crate on this thread, and
/// `PasswordHasher` (blocking pool hop + concurrency permit + PHC encoding) from a tokio
/// runtime, for hashing and verifying.
fn argon2id(c: &mut Criterion) {
    use argon2::{Algorithm, Argon2, Params, Version};
    use platform_auth::identity::{OWASP_ITERATIONS, OWASP_MEMORY_KIB, OWASP_PARALLELISM};

    let mut g = c.benchmark_group("argon2id/m=19456,t=2,p=1");
    g.sample_size(10);
    let params = Params::new(OWASP_MEMORY_KIB, OWASP_ITERATIONS, OWASP_PARALLELISM, Some(32))
        .expect("params");
    let bare = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut out = [0u8; 32];
    g.bench_function("argon2_crate_hash", |b| {
        b.iter(|| {
            bare.hash_password_into(black_box(b"correct horse battery staple"), &[7; 16], &mut out)
                .expect("hash");
        });
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let hasher = platform_auth::identity::PasswordHasher::default();
    g.bench_function("password_hasher_hash", |b| {
        b.iter(|| {
            rt.block_on(hasher.hash(black_box("correct horse battery staple"))).expect("hash")
        });
    });
    let stored = rt.block_on(hasher.hash("correct horse battery staple")).expect("hash");
    g.bench_function("password_hasher_verify", |b| {
        b.iter(|| {
            let v = rt
                .block_on(hasher.verify(black_box("correct horse battery staple"), Some(&stored)));
            assert!(v.expect("verify").matches);
        });
    });
    g.finish();
}

criterion_group!(benches, authenticate, argon2id);
criterion_main!(benches);
