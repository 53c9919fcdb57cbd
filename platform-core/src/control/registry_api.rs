//! Handlers of `/v1/registry/…`.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::sse::Event;
use futures_util::StreamExt;
use http::StatusCode;

use super::api_error::ApiError;
use super::extract::{JsonBody, PathParams};
use super::plane::{EventStream, Shared, event_stream};
use super::wire::{DeregisterResponse, HealthRequest, RegisterRequest, RegisterResponse};
use crate::registry::{Snapshot, WatchEvent};

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `POST /v1/registry/{service}/instances`: registers and holds a lease for the client.
pub(crate) async fn register(
    State(state): Shared,
    PathParams(service): PathParams<String>,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    if req.instance.service != service {
        return Err(ApiError::invalid(
            "instance.service",
            format!(
                "{:?} does not match the service in the path, {service:?}",
                req.instance.service
            ),
        ));
    }
    if req.ttl > state.max_ttl {
        return Err(ApiError::invalid(
            "ttl",
            format!("{:?} is longer than this service's maximum {:?}", req.ttl, state.max_ttl),
        ));
    }
    let id = req.instance.id.clone();
    let lease = state.registry.register(req.instance, req.ttl).await?;
    let ttl = lease.ttl();
    state.leases.hold(lease);
    let body = RegisterResponse {
        service,
        id,
        ttl_ms: millis(ttl),
        heartbeat_interval_ms: millis(ttl / 3),
    };
    Ok((StatusCode::CREATED, Json(body)))
}

/// `PUT …/{id}/heartbeat`: 204, or 404 `lease_not_found` (register again).
pub(crate) async fn heartbeat(
    State(state): Shared,
    PathParams((service, id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if state.leases.heartbeat(&service, &id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "lease_not_found",
            format!(
                "no lease is held for instance {id:?} of service {service:?}; register it again"
            ),
        ))
    }
}

/// `DELETE …/{id}`: deregisters now.
pub(crate) async fn deregister(
    State(state): Shared,
    PathParams((service, id)): PathParams<(String, String)>,
) -> Result<Json<DeregisterResponse>, ApiError> {
    state.leases.forget(&service, &id);
    let removed = state.registry.deregister(&service, &id).await?;
    Ok(Json(DeregisterResponse { removed }))
}

/// `PUT …/{id}/health`.
pub(crate) async fn set_health(
    State(state): Shared,
    PathParams((service, id)): PathParams<(String, String)>,
    JsonBody(req): JsonBody<HealthRequest>,
) -> Result<StatusCode, ApiError> {
    state.registry.set_health(&service, &id, req.health).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/registry/{service}`: the snapshot (empty at version 0 for an unknown service).
pub(crate) async fn snapshot(
    State(state): Shared,
    PathParams(service): PathParams<String>,
) -> Result<Json<Snapshot>, ApiError> {
    Ok(Json(state.registry.instances(&service).await?))
}

/// `GET /v1/registry/{service}/watch`: server-sent events, a `resync` first.
pub(crate) async fn watch(
    State(state): Shared,
    PathParams(service): PathParams<String>,
) -> Result<EventStream, ApiError> {
    let watch = state.registry.watch(&service).await?;
    Ok(event_stream(&state, watch.map(|e| to_event(&e))))
}

fn to_event(event: &WatchEvent) -> Event {
    let kind = match event {
        WatchEvent::Added { .. } => "added",
        WatchEvent::Updated { .. } => "updated",
        WatchEvent::Removed { .. } => "removed",
        _ => "resync",
    };
    let data = serde_json::to_string(event).unwrap_or_default();
    Event::default().event(kind).id(event.version().to_string()).data(data)
}
