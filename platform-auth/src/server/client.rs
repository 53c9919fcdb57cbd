//! OAuth clients: [`OAuthClient`], [`ClientStore`] and [`Clients`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::clock::Clock;
use crate::error::StoreError;
use crate::random::{sha256_hex, token_string};

/// An OAuth 2.0 grant type the token endpoint supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GrantType {
    /// `client_credentials` (RFC 6749 §4.4): the client acts as itself.
    ClientCredentials,
    /// `password` (RFC 6749 §4.3): a user's username and password.
    Password,
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken,
}

impl GrantType {
    /// The grant type as written in requests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::Password => "password",
            Self::RefreshToken => "refresh_token",
        }
    }

    /// The grant type named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::ClientCredentials, Self::Password, Self::RefreshToken]
            .into_iter()
            .find(|g| g.as_str() == s)
    }
}

/// A registered (confidential) client. Its secret is never stored, only its SHA-256: a
/// generated 256-bit secret needs no slow hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OAuthClient {
    /// The `client_id`.
    pub id: String,
    /// A name for people.
    pub name: String,
    /// SHA-256 of the secret, lowercase hex.
    #[serde(skip_serializing)]
    pub secret_hash: String,
    /// Grant types it may use.
    pub grants: Vec<GrantType>,
    /// Scopes it may request (and gets when it requests none).
    pub scopes: Vec<String>,
    /// Roles of its own tokens (`client_credentials`), for authorization policies.
    pub roles: Vec<String>,
    /// Creation time (Unix seconds).
    pub created_at: u64,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("grants", &self.grants)
            .field("scopes", &self.scopes)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// What to register with [`Clients::create`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct NewClient {
    /// The `client_id` (letters, digits, `. _ - @ :`, up to 64).
    pub id: String,
    /// A name for people.
    #[serde(default)]
    pub name: String,
    /// Grant types it may use.
    pub grants: Vec<GrantType>,
    /// Scopes it may request.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Roles of its own tokens.
    #[serde(default)]
    pub roles: Vec<String>,
}

impl NewClient {
    /// A client `id` allowed `grants`, without scopes or roles.
    pub fn new(id: impl Into<String>, grants: impl IntoIterator<Item = GrantType>) -> Self {
        Self {
            id: id.into(),
            name: String::new(),
            grants: grants.into_iter().collect(),
            scopes: Vec::new(),
            roles: Vec::new(),
        }
    }

    /// Sets the scopes it may request.
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the roles of its own tokens.
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }
}

/// Storage of OAuth clients.
#[async_trait]
pub trait ClientStore: Send + Sync + fmt::Debug {
    /// Stores a new client (`Conflict` when the id is taken).
    async fn insert(&self, client: &OAuthClient) -> Result<(), StoreError>;
    /// The client `id`.
    async fn get(&self, id: &str) -> Result<Option<OAuthClient>, StoreError>;
    /// Every client, sorted by id.
    async fn list(&self) -> Result<Vec<OAuthClient>, StoreError>;
    /// Deletes a client; `false` when unknown.
    async fn delete(&self, id: &str) -> Result<bool, StoreError>;
}

/// In-memory [`ClientStore`] (one process; the reference backend).
#[derive(Debug, Default, Clone)]
pub struct MemoryClientStore {
    clients: Arc<Mutex<BTreeMap<String, OAuthClient>>>,
}

impl MemoryClientStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, OAuthClient>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl ClientStore for MemoryClientStore {
    async fn insert(&self, client: &OAuthClient) -> Result<(), StoreError> {
        let mut c = self.lock();
        if c.contains_key(&client.id) {
            return Err(StoreError::Conflict(format!("client `{}`", client.id)));
        }
        c.insert(client.id.clone(), client.clone());
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<OAuthClient>, StoreError> {
        Ok(self.lock().get(id).cloned())
    }

    async fn list(&self) -> Result<Vec<OAuthClient>, StoreError> {
        Ok(self.lock().values().cloned().collect())
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.lock().remove(id).is_some())
    }
}

/// Client registration and authentication over a [`ClientStore`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Clients {
    store: Arc<dyn ClientStore>,
    clock: Clock,
}

impl Clients {
    /// Clients in `store`.
    pub fn new(store: impl ClientStore + 'static) -> Self {
        Self::from_shared(Arc::new(store))
    }

    /// Like [`new`](Self::new), for a store chosen at run time.
    pub fn from_shared(store: Arc<dyn ClientStore>) -> Self {
        Self { store, clock: Clock::system() }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ClientStore> {
        &self.store
    }

    /// Registers a client; returns its secret (shown once, never stored) and the record.
    pub async fn create(
        &self,
        new: NewClient,
    ) -> Result<(String, OAuthClient), crate::identity::IdentityError> {
        let id = crate::identity::check_name("client", &new.id)?;
        let secret = format!("cs_{}", token_string(32));
        let client = OAuthClient {
            id,
            name: new.name,
            secret_hash: sha256_hex(secret.as_bytes()),
            grants: new.grants,
            scopes: new.scopes,
            roles: new.roles,
            created_at: self.clock.now(),
        };
        self.store.insert(&client).await?;
        tracing::info!(target: "audit", event = "client_created", client_id = %client.id, "OAuth client registered");
        Ok((secret, client))
    }

    /// The client `id` when `secret` is its secret. An unknown id costs the same hash
    /// and constant-time comparison as a wrong secret.
    pub async fn authenticate(
        &self,
        id: &str,
        secret: &str,
    ) -> Result<Option<OAuthClient>, StoreError> {
        let client = self.store.get(id).await?;
        let presented = sha256_hex(secret.as_bytes());
        let stored =
            client.as_ref().map_or(crate::random::DUMMY_SHA256_HEX, |c| c.secret_hash.as_str());
        let matches: bool = presented.as_bytes().ct_eq(stored.as_bytes()).into();
        Ok(client.filter(|_| matches))
    }
}
