//! The token server on the platform's database, and the first start's administrator.

use std::fmt;
use std::time::Duration;

use axum::Router;

use platform_auth::apikey::ApiKeys;
use platform_auth::error::StoreError;
use platform_auth::identity::{Grantee, Identity, IdentityError, NewUser, PasswordHasher, Role};
use platform_auth::jwt::{Issuer, KeySet};
use platform_auth::refresh::RefreshTokens;
use platform_auth::revocation::Revocations;
use platform_auth::server::{ADMIN_ROLE, GrantType, NewClient, TokenServer};
use platform_auth::sql::{
    self, SqlApiKeyStore, SqlClientStore, SqlIdentityStore, SqlRefreshStore, SqlRevocationStore,
};
use platform_auth::{AuthenticateLayer, Authenticator, AuthorizeLayer};
use platform_core::store::Store;

use super::config::PlatformConfig;
use super::error::PlatformError;
use super::secret::{Secret, generate_password};
use super::signing_key;

/// What the first start created. Its secrets exist nowhere else in clear: show them to
/// the operator once ([`Bootstrap::banner`]).
#[derive(Clone)]
#[non_exhaustive]
pub struct Bootstrap {
    /// The administrator's username (role `auth-admin`).
    pub admin_username: String,
    /// Its password, when it was generated (`None`: it came from the configuration or
    /// `PLATFORM_ADMIN_PASSWORD`, and the operator knows it).
    pub generated_password: Option<Secret>,
    /// The OAuth client for command-line logins.
    pub client_id: String,
    /// Its secret (always generated).
    pub client_secret: Secret,
}

impl fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bootstrap")
            .field("admin_username", &self.admin_username)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Bootstrap {
    /// The message printed once at the first start: the credentials and a command that
    /// gets a token through the gateway at `gateway_url`.
    pub fn banner(&self, gateway_url: &str) -> String {
        let password = match &self.generated_password {
            Some(p) => format!("{}    (generated; shown only now)", p.expose()),
            None => "(the one you configured)".to_owned(),
        };
        let pw_arg = match &self.generated_password {
            Some(p) => p.expose().to_owned(),
            None => "$PLATFORM_ADMIN_PASSWORD".to_owned(),
        };
        format!(
            "\n\
             ====================================================================\n\
             First start: created the platform administrator and a CLI client.\n\
             \n  admin username: {user}\
             \n  admin password: {password}\
             \n  OAuth client:   {client}\
             \n  client secret:  {secret}    (shown only now)\
             \n\
             \nGet an admin token:\
             \n  curl -s -u {client}:{secret} -d grant_type=password -d username={user} \\\
             \n    --data-urlencode password='{pw_arg}' {gateway_url}/oauth/token\
             \n\
             \nOnly hashes are stored: keep these somewhere safe now.\n\
             ====================================================================\n",
            user = self.admin_username,
            client = self.client_id,
            secret = self.client_secret.expose(),
        )
    }
}

/// The token server on `store`, signing as `issuer` (its tables migrated, its signing
/// key loaded or created), and the API keys it accepts. The first start's accounts come
/// later, from [`bootstrap`].
pub(crate) async fn token_server(
    config: &PlatformConfig,
    store: &Store,
    issuer: String,
) -> Result<(TokenServer, ApiKeys), PlatformError> {
    let auth = &config.auth;
    sql::migrate(store).await.map_err(|e| PlatformError::Store(format!("auth tables: {e}")))?;
    let (key, _) = signing_key::load_or_create(&config.signing_key_file())?;
    let issuer = Issuer::new(KeySet::new(key), issuer, &auth.audience).ttl(auth.access_token_ttl);
    let hasher = PasswordHasher::new(auth.passwords.clone())
        .map_err(|e| PlatformError::Config(format!("`auth.passwords`: {e}")))?;
    let identity = Identity::new(SqlIdentityStore::new(store.clone())).with_hasher(hasher);
    // Revocation records must outlive the tokens they revoke.
    let retain = auth.access_token_ttl.max(Duration::from_secs(24 * 3600));
    let revocations = Revocations::new(SqlRevocationStore::new(store.clone())).retain(retain);
    let refresh = RefreshTokens::new(SqlRefreshStore::new(store.clone()))
        .with_revocations(revocations.clone());
    let api_keys = ApiKeys::new(SqlApiKeyStore::new(store.clone()));
    let server = TokenServer::new(issuer, identity, SqlClientStore::new(store.clone()))
        .refresh_tokens(refresh)
        .revocations(revocations)
        .api_keys(api_keys.clone());
    Ok((server, api_keys))
}

/// On a database without users: the `auth-admin` role, the administrator and the CLI
/// client. `None` on later starts.
///
/// The platform calls it after everything else that can fail has been built: its
/// secrets exist only in the returned value until they are shown.
pub(crate) async fn bootstrap(
    config: &PlatformConfig,
    server: &TokenServer,
) -> Result<Option<Bootstrap>, PlatformError> {
    create_first_accounts(config, server).await.map_err(|e| {
        PlatformError::Auth(format!("creating the bootstrap administrator failed: {e}"))
    })
}

async fn create_first_accounts(
    config: &PlatformConfig,
    server: &TokenServer,
) -> Result<Option<Bootstrap>, IdentityError> {
    let identity = server.identity();
    if !identity.store().list_users().await?.is_empty() {
        return Ok(None);
    }
    let auth = &config.auth;
    // The client first: the user's existence is what marks the bootstrap as done, so an
    // interrupted first start is redone whole (and a half-made client replaced).
    let clients = server.clients();
    clients.store().delete(&auth.cli_client_id).await?;
    let cli = NewClient::new(&auth.cli_client_id, [GrantType::Password, GrantType::RefreshToken]);
    let (client_secret, _) = clients.create(cli).await?;
    match identity.create_role(Role::new(ADMIN_ROLE, "manages users, clients and API keys")).await {
        Ok(()) | Err(IdentityError::Store(StoreError::Conflict(_))) => {}
        Err(e) => return Err(e),
    }
    let (password, generated) = match &auth.admin_password {
        Some(p) => (p.expose().to_owned(), None),
        None => {
            let p = generate_password(24);
            (p.clone(), Some(Secret::new(p)))
        }
    };
    let admin = identity.create_user(NewUser::new(&auth.admin_username).password(password)).await?;
    identity.grant_role(&Grantee::User(admin.id.clone()), ADMIN_ROLE).await?;
    tracing::info!(target: "platform", username = %admin.username, client = %auth.cli_client_id, "first start: created the administrator and the CLI client");
    Ok(Some(Bootstrap {
        admin_username: admin.username,
        generated_password: generated,
        client_id: auth.cli_client_id.clone(),
        client_secret: Secret::new(client_secret),
    }))
}

/// `router` behind the token server's credentials: any valid access token (or API key)
/// reads; other methods also need `write_role`.
pub(crate) fn require_token(
    router: Router,
    server: &TokenServer,
    api_keys: &ApiKeys,
    write_role: &str,
) -> Router {
    let credentials = Authenticator::new()
        .jwt(server.verifier().clone())
        .api_keys(api_keys.clone())
        .realm("control");
    let role = write_role.to_owned();
    let authorize = AuthorizeLayer::from_fn(format!("role {write_role} for writes"), move |r| {
        r.method == http::Method::GET || r.principal.has_role(&role)
    })
    .realm("control");
    router.layer(authorize).layer(AuthenticateLayer::new(credentials))
}
