//! Cohorts: the stable key a request is assigned by, and the overrides testers use.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use http::{HeaderName, Request};

use super::split::BUCKETS;
use crate::balance::{hash_key, hash_salted};
use crate::body::Body;
use crate::proxy::ClientInfo;
use crate::route::predicate::cookie_values;

/// A function reading a cohort key from a request (see [`CohortKey::custom`]).
pub type KeyFn = Arc<dyn Fn(&Request<Body>) -> Option<String> + Send + Sync>;

/// Where a request's cohort key comes from. A canary tries its keys in order and uses
/// the first one present; a request with none is split at random by weight.
///
/// The key is hashed (salted with the canary's name) into one of
/// [`BUCKETS`](super::BUCKETS) buckets, so the same user lands on the same version for
/// as long as the weights leave that bucket where it is.
#[derive(Clone)]
#[non_exhaustive]
pub enum CohortKey {
    /// The value of this request header (e.g. `x-user-id`).
    Header(HeaderName),
    /// The value of this cookie.
    Cookie(String),
    /// The client address (derived through the trusted proxies).
    ClientAddress,
    /// The subject of the platform-auth [`Principal`](platform_auth::Principal) the
    /// authentication layer put in the request's extensions (feature `auth`; the auth
    /// layer must run before the route's target, e.g. as a route layer).
    #[cfg(feature = "auth")]
    Principal,
    /// Your own function, e.g. reading an extension your authentication inserted.
    Custom(KeyFn),
}

impl CohortKey {
    /// A key read by `f`.
    ///
    /// ```
    /// use platform_gateway::canary::CohortKey;
    ///
    /// #[derive(Clone)]
    /// struct Tenant(String);
    /// let key = CohortKey::custom(|req| req.extensions().get::<Tenant>().map(|t| t.0.clone()));
    /// # let _ = key;
    /// ```
    pub fn custom(f: impl Fn(&Request<Body>) -> Option<String> + Send + Sync + 'static) -> Self {
        Self::Custom(Arc::new(f))
    }

    /// The key's bytes in `req`, if present and not empty.
    pub(crate) fn read<'r>(&'r self, req: &'r Request<Body>) -> Option<Cow<'r, [u8]>> {
        let key: Cow<'r, [u8]> = match self {
            Self::Header(name) => Cow::Borrowed(req.headers().get(name)?.as_bytes()),
            Self::Cookie(name) => {
                Cow::Borrowed(cookie_values(req.headers(), name).next()?.as_bytes())
            }
            Self::ClientAddress => match req.extensions().get::<ClientInfo>()?.addr {
                IpAddr::V4(a) => Cow::Owned(a.octets().to_vec()),
                IpAddr::V6(a) => Cow::Owned(a.octets().to_vec()),
            },
            #[cfg(feature = "auth")]
            Self::Principal => Cow::Borrowed(
                req.extensions().get::<platform_auth::Principal>()?.subject.as_bytes(),
            ),
            Self::Custom(f) => Cow::Owned(f(req)?.into_bytes()),
        };
        (!key.is_empty()).then_some(key)
    }
}

impl fmt::Debug for CohortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Header(h) => f.debug_tuple("Header").field(h).finish(),
            Self::Cookie(c) => f.debug_tuple("Cookie").field(c).finish(),
            Self::ClientAddress => f.write_str("ClientAddress"),
            #[cfg(feature = "auth")]
            Self::Principal => f.write_str("Principal"),
            Self::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// The bucket of cohort `key` for the canary salted with `salt` (the canary's name
/// unless configured otherwise): stable across runs, builds and machines, so every
/// gateway instance puts a user in the same bucket.
pub fn cohort_bucket(salt: &str, key: &[u8]) -> u32 {
    bucket_in(hash_key(salt.as_bytes()), key)
}

/// The bucket of `key` under a salt already hashed.
pub(crate) fn bucket_in(salt: u64, key: &[u8]) -> u32 {
    // BUCKETS is far below 2^32, so the remainder fits.
    (hash_salted(salt, key) % u64::from(BUCKETS)) as u32
}

/// Where testers force a version: a header or cookie whose value is a version name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub(crate) header: Option<HeaderName>,
    pub(crate) cookie: Option<String>,
}

impl Overrides {
    /// The version name the request asks for, if any.
    pub(crate) fn requested<'r>(&'r self, req: &'r Request<Body>) -> Option<&'r str> {
        let from_header =
            self.header.as_ref().and_then(|h| req.headers().get(h)).and_then(|v| v.to_str().ok());
        from_header
            .or_else(|| self.cookie.as_deref().and_then(|c| cookie_values(req.headers(), c).next()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body;

    fn req(headers: &[(&str, &str)]) -> Request<Body> {
        let mut b = Request::get("/");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(body::empty()).unwrap()
    }

    #[test]
    fn keys_are_read_from_headers_cookies_and_functions() {
        let r = req(&[("x-user", "u1"), ("cookie", "a=1; uid=\"u2\"")]);
        let header = CohortKey::Header(HeaderName::from_static("x-user"));
        assert_eq!(header.read(&r).as_deref(), Some(&b"u1"[..]));
        assert_eq!(CohortKey::Cookie("uid".into()).read(&r).as_deref(), Some(&b"u2"[..]));
        assert!(CohortKey::Cookie("none".into()).read(&r).is_none());
        assert!(CohortKey::ClientAddress.read(&r).is_none());
        let f = CohortKey::custom(|r| r.headers().get("x-user").map(|_| "fixed".to_owned()));
        assert_eq!(f.read(&r).as_deref(), Some(&b"fixed"[..]));
        let empty = req(&[("x-user", "")]);
        assert!(header.read(&empty).is_none(), "an empty key is no key");
    }

    #[test]
    fn client_address_key_reads_the_derived_address() {
        let mut r = req(&[]);
        let peer: std::net::SocketAddr = "10.0.0.1:5000".parse().unwrap();
        r.extensions_mut().insert(ClientInfo { addr: "192.0.2.7".parse().unwrap(), peer });
        assert_eq!(CohortKey::ClientAddress.read(&r).as_deref(), Some(&[192, 0, 2, 7][..]));
    }

    #[cfg(feature = "auth")]
    #[test]
    fn principal_key_reads_the_subject() {
        use platform_auth::{CredentialKind, Principal};
        let mut r = req(&[]);
        assert!(CohortKey::Principal.read(&r).is_none());
        r.extensions_mut().insert(Principal::new("alice", CredentialKind::Bearer, vec![]));
        assert_eq!(CohortKey::Principal.read(&r).as_deref(), Some(&b"alice"[..]));
    }

    #[test]
    fn buckets_are_stable_and_salted() {
        let a = cohort_bucket("users", b"alice");
        assert_eq!(a, cohort_bucket("users", b"alice"));
        assert!(a < BUCKETS);
        let moved = (0..200)
            .filter(|i| {
                let k = format!("user-{i}");
                cohort_bucket("users", k.as_bytes()) != cohort_bucket("orders", k.as_bytes())
            })
            .count();
        assert!(moved > 190, "another salt places keys independently ({moved} of 200 moved)");
    }

    #[test]
    fn overrides_prefer_the_header() {
        let o = Overrides {
            header: Some(HeaderName::from_static("x-canary")),
            cookie: Some("canary".into()),
        };
        assert_eq!(o.requested(&req(&[("x-canary", "v2"), ("cookie", "canary=v1")])), Some("v2"));
        assert_eq!(o.requested(&req(&[("cookie", "canary=v1")])), Some("v1"));
        assert_eq!(o.requested(&req(&[])), None);
    }
}
