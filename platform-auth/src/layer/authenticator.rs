//! [`Authenticator`]: which credentials a service accepts.

use http::HeaderName;
use http::request::Parts;

use crate::apikey::ApiKeys;
use crate::error::AuthError;
use crate::jwt::Verifier;
use crate::principal::{CredentialKind, Principal};

/// The default API-key header.
pub const DEFAULT_API_KEY_HEADER: &str = "x-api-key";

/// The credentials a service accepts, checked in order: bearer JWT in `Authorization`,
/// API key in its header, JWT in a session cookie. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Authenticator {
    pub(crate) verifier: Option<Verifier>,
    pub(crate) api_keys: Option<ApiKeys>,
    pub(crate) api_key_header: HeaderName,
    pub(crate) cookie: Option<String>,
    pub(crate) optional: bool,
    pub(crate) realm: String,
}

/// A credential found in a request (borrowed; never logged).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Credential<'a> {
    Bearer(&'a str),
    ApiKey(&'a str),
    Cookie(&'a str),
}

impl Default for Authenticator {
    fn default() -> Self {
        Self::new()
    }
}

impl Authenticator {
    /// Accepts nothing yet: add a [`jwt`](Self::jwt) verifier and/or [`api_keys`](Self::api_keys).
    pub fn new() -> Self {
        Self {
            verifier: None,
            api_keys: None,
            api_key_header: HeaderName::from_static(DEFAULT_API_KEY_HEADER),
            cookie: None,
            optional: false,
            realm: "api".to_owned(),
        }
    }

    /// Accepts bearer JWTs verified by `verifier`.
    pub fn jwt(mut self, verifier: Verifier) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Accepts API keys (header [`DEFAULT_API_KEY_HEADER`] unless changed).
    pub fn api_keys(mut self, keys: ApiKeys) -> Self {
        self.api_keys = Some(keys);
        self
    }

    /// Reads API keys from `header`.
    pub fn api_key_header(mut self, header: HeaderName) -> Self {
        self.api_key_header = header;
        self
    }

    /// Also accepts a JWT in the cookie `name` (verified like a bearer token).
    pub fn session_cookie(mut self, name: impl Into<String>) -> Self {
        self.cookie = Some(name.into());
        self
    }

    /// Optional authentication: requests without credentials pass without a
    /// [`Principal`]; requests with *bad* credentials are still refused.
    pub fn optional(mut self, yes: bool) -> Self {
        self.optional = yes;
        self
    }

    /// The `realm` of `WWW-Authenticate` challenges (default `api`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// Whether finding a request's credential reads the header `name`: `Authorization`,
    /// the API-key header when API keys are accepted, `Cookie` when a session cookie is.
    /// Nothing else of the request's headers is read. A proxy in front of the upstream
    /// uses this to know which headers must already be in place.
    ///
    /// ```
    /// use http::header::{AUTHORIZATION, COOKIE, HeaderName};
    /// use platform_auth::layer::Authenticator;
    ///
    /// let auth = Authenticator::new().session_cookie("sid");
    /// assert!(auth.reads_header(&AUTHORIZATION));
    /// assert!(auth.reads_header(&COOKIE));
    /// assert!(!auth.reads_header(&HeaderName::from_static("x-forwarded-for")));
    /// assert!(!auth.reads_header(&HeaderName::from_static("x-api-key")), "no API keys");
    /// ```
    pub fn reads_header(&self, name: &HeaderName) -> bool {
        *name == http::header::AUTHORIZATION
            || (self.api_keys.is_some() && *name == self.api_key_header)
            || (self.cookie.is_some() && *name == http::header::COOKIE)
    }

    pub(crate) fn find<'a>(&self, parts: &'a Parts) -> Option<Credential<'a>> {
        if let Some(v) = parts.headers.get(http::header::AUTHORIZATION) {
            let v = v.to_str().ok()?;
            let (scheme, token) = v.split_once(' ')?;
            if scheme.eq_ignore_ascii_case("bearer") && self.verifier.is_some() {
                return Some(Credential::Bearer(token.trim()));
            }
        }
        if self.api_keys.is_some()
            && let Some(v) = parts.headers.get(&self.api_key_header)
        {
            return v.to_str().ok().map(|s| Credential::ApiKey(s.trim()));
        }
        let name = self.cookie.as_deref()?;
        self.verifier.as_ref()?;
        parts
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| Credential::Cookie(v))
    }

    /// Verifies `cred`.
    pub(crate) async fn check(&self, cred: Credential<'_>) -> Result<Principal, AuthError> {
        match cred {
            Credential::Bearer(t) | Credential::Cookie(t) => {
                let verifier = self.verifier.as_ref().ok_or(AuthError::Missing)?;
                let claims = verifier.verify_shared(t).await?;
                let kind = match cred {
                    Credential::Cookie(_) => CredentialKind::SessionCookie,
                    _ => CredentialKind::Bearer,
                };
                Ok(Principal::from_claims(claims, kind))
            }
            Credential::ApiKey(k) => {
                let keys = self.api_keys.as_ref().ok_or(AuthError::Missing)?;
                keys.verify(k).await
            }
        }
    }

    /// Authenticates the request described by `parts`: `Ok(None)` when no credential was
    /// presented and authentication is optional.
    pub async fn authenticate(&self, parts: &Parts) -> Result<Option<Principal>, AuthError> {
        match self.find(parts) {
            Some(cred) => self.check(cred).await.map(Some),
            None if self.optional => Ok(None),
            None => Err(AuthError::Missing),
        }
    }
}
