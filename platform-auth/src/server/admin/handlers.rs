//! The admin API's handlers.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::AdminError;
use crate::apikey::{ApiKeyRecord, ApiKeys, NewApiKey};
use crate::identity::{Grantee, Group, NewUser, Role};
use crate::server::{NewClient, TokenServer};

type Result<T = Response> = std::result::Result<T, AdminError>;
type Body<T> = std::result::Result<Json<T>, JsonRejection>;

fn created(v: Value) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

fn done(found: bool, what: impl FnOnce() -> String) -> Result {
    if found {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(AdminError::NotFound(what()))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserInput {
    username: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    attributes: Map<String, Value>,
}

pub(super) async fn list_users(State(s): State<TokenServer>) -> Result {
    Ok(Json(s.inner.identity.store().list_users().await?).into_response())
}

pub(super) async fn create_user(State(s): State<TokenServer>, body: Body<UserInput>) -> Result {
    let input = body?.0;
    let mut new = NewUser::new(input.username);
    if let Some(p) = input.password {
        new = new.password(p);
    }
    for (k, v) in input.attributes {
        new = new.attribute(k, v);
    }
    let user = s.inner.identity.create_user(new).await?;
    Ok(created(json!(user)))
}

pub(super) async fn get_user(State(s): State<TokenServer>, Path(id): Path<String>) -> Result {
    let store = s.inner.identity.store();
    let Some(record) = store.user(&id).await? else {
        return Err(AdminError::NotFound(format!("user `{id}` does not exist")));
    };
    let roles = store.roles_of(&Grantee::User(id.clone())).await?;
    let effective = store.effective_roles(&id).await?;
    let groups = store.groups_of(&id).await?;
    let body = json!({"user": record.user, "roles": roles, "effective_roles": effective, "groups": groups});
    Ok(Json(body).into_response())
}

/// Deletes the user and revokes its refresh-token families (and, with revocations, its
/// access tokens).
pub(super) async fn delete_user(State(s): State<TokenServer>, Path(id): Path<String>) -> Result {
    let found = s.inner.identity.delete_user(&id).await?;
    if found {
        s.inner.refresh.revoke_subject(&id).await?;
    }
    done(found, || format!("user `{id}` does not exist"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PasswordInput {
    password: String,
}

pub(super) async fn set_password(
    State(s): State<TokenServer>,
    Path(id): Path<String>,
    body: Body<PasswordInput>,
) -> Result {
    s.inner.identity.set_password(&id, &body?.0.password).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DisabledInput {
    disabled: bool,
}

/// Disabling also revokes the user's sessions.
pub(super) async fn set_disabled(
    State(s): State<TokenServer>,
    Path(id): Path<String>,
    body: Body<DisabledInput>,
) -> Result {
    let disabled = body?.0.disabled;
    let found = s.inner.identity.set_disabled(&id, disabled).await?;
    if found && disabled {
        s.inner.refresh.revoke_subject(&id).await?;
    }
    done(found, || format!("user `{id}` does not exist"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoleRef {
    role: String,
}

pub(super) async fn grant_user_role(
    State(s): State<TokenServer>,
    Path(id): Path<String>,
    body: Body<RoleRef>,
) -> Result {
    s.inner.identity.grant_role(&Grantee::User(id), &body?.0.role).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn revoke_user_role(
    State(s): State<TokenServer>,
    Path((id, role)): Path<(String, String)>,
) -> Result {
    let found = s.inner.identity.revoke_role(&Grantee::User(id.clone()), &role).await?;
    done(found, || format!("user `{id}` does not have role `{role}`"))
}

pub(super) async fn list_groups(State(s): State<TokenServer>) -> Result {
    Ok(Json(s.inner.identity.store().list_groups().await?).into_response())
}

pub(super) async fn create_group(State(s): State<TokenServer>, body: Body<Group>) -> Result {
    let group = body?.0;
    s.inner.identity.create_group(group.clone()).await?;
    Ok(created(json!(group)))
}

pub(super) async fn delete_group(State(s): State<TokenServer>, Path(name): Path<String>) -> Result {
    let found = s.inner.identity.store().delete_group(&name).await?;
    done(found, || format!("group `{name}` does not exist"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MemberInput {
    user_id: String,
}

pub(super) async fn add_member(
    State(s): State<TokenServer>,
    Path(name): Path<String>,
    body: Body<MemberInput>,
) -> Result {
    s.inner.identity.add_member(&name, &body?.0.user_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn grant_group_role(
    State(s): State<TokenServer>,
    Path(name): Path<String>,
    body: Body<RoleRef>,
) -> Result {
    s.inner.identity.grant_role(&Grantee::Group(name), &body?.0.role).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn list_roles(State(s): State<TokenServer>) -> Result {
    Ok(Json(s.inner.identity.store().list_roles().await?).into_response())
}

pub(super) async fn create_role(State(s): State<TokenServer>, body: Body<Role>) -> Result {
    let role = body?.0;
    s.inner.identity.create_role(role.clone()).await?;
    Ok(created(json!(role)))
}

pub(super) async fn delete_role(State(s): State<TokenServer>, Path(name): Path<String>) -> Result {
    let found = s.inner.identity.store().delete_role(&name).await?;
    done(found, || format!("role `{name}` does not exist"))
}

pub(super) async fn list_clients(State(s): State<TokenServer>) -> Result {
    Ok(Json(s.inner.clients.store().list().await?).into_response())
}

/// Registers a client; the response carries its secret, the only time it is shown.
pub(super) async fn create_client(State(s): State<TokenServer>, body: Body<NewClient>) -> Result {
    let (secret, client) = s.inner.clients.create(body?.0).await?;
    Ok(created(json!({"client": client, "client_secret": secret})))
}

pub(super) async fn get_client(State(s): State<TokenServer>, Path(id): Path<String>) -> Result {
    match s.inner.clients.store().get(&id).await? {
        Some(c) => Ok(Json(c).into_response()),
        None => Err(AdminError::NotFound(format!("client `{id}` does not exist"))),
    }
}

pub(super) async fn delete_client(State(s): State<TokenServer>, Path(id): Path<String>) -> Result {
    let found = s.inner.clients.store().delete(&id).await?;
    tracing::info!(target: "audit", event = "client_deleted", client_id = %id, found, "OAuth client deleted");
    done(found, || format!("client `{id}` does not exist"))
}

fn api_keys(s: &TokenServer) -> Result<&ApiKeys> {
    s.inner
        .api_keys
        .as_ref()
        .ok_or_else(|| AdminError::NotFound("API keys are not enabled on this server".to_owned()))
}

fn key_json(k: &ApiKeyRecord) -> Value {
    json!({
        "id": k.id, "name": k.name, "subject": k.subject, "scopes": k.scopes,
        "created_at": k.created_at, "expires_at": k.expires_at,
        "last_used_at": k.last_used_at, "revoked_at": k.revoked_at,
    })
}

/// `GET /admin/api-keys?subject=<subject>`.
pub(super) async fn list_api_keys(State(s): State<TokenServer>, RawQuery(q): RawQuery) -> Result {
    let query = q.unwrap_or_default();
    let subject = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "subject")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| AdminError::BadInput("the query parameter `subject` is required".into()))?;
    let keys = api_keys(&s)?.store().list(&subject).await?;
    Ok(Json(keys.iter().map(key_json).collect::<Vec<_>>()).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ApiKeyInput {
    name: String,
    subject: String,
    #[serde(default)]
    scopes: Vec<String>,
    /// Lifetime in seconds.
    #[serde(default)]
    ttl_secs: Option<u64>,
}

/// Creates an API key; the response carries the key, the only time it is shown.
pub(super) async fn create_api_key(
    State(s): State<TokenServer>,
    body: Body<ApiKeyInput>,
) -> Result {
    let input = body?.0;
    let mut new = NewApiKey::new(input.name, input.subject).scopes(input.scopes);
    if let Some(ttl) = input.ttl_secs {
        new = new.expires_in(Duration::from_secs(ttl));
    }
    let (key, record) = api_keys(&s)?.create(new).await?;
    Ok(created(json!({"api_key": key, "record": key_json(&record)})))
}

pub(super) async fn revoke_api_key(State(s): State<TokenServer>, Path(id): Path<String>) -> Result {
    let found = api_keys(&s)?.revoke(&id).await?;
    done(found, || format!("API key `{id}` does not exist"))
}
