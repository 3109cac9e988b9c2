//! The `/_chaos/` control API: health, faults, peers and metrics. Everything but health
//! needs `Authorization: Bearer <token>`; a refused call changes nothing. See `API.md`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::faults::FaultRequest;
use crate::server::Agent;

/// Body of `PUT /_chaos/peers`: the live replicas of one callee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeersRequest {
    pub service: String,
    pub urls: Vec<String>,
    /// The replica slot of each URL (what `eject` is kept by); without it, the positions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub service: String,
    pub replica: String,
    pub status: String,
}

fn authorised(agent: &Agent, headers: &HeaderMap) -> bool {
    let Some(token) = &agent.token else {
        return false;
    };
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // The Kubernetes API server's proxy consumes `Authorization` (it authenticates the
    // caller with it and does not forward it), so `chaos run --cluster` sends this header.
    let header = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok());
    bearer.is_some_and(|t| t == token) || header.is_some_and(|t| t == token)
}

/// Alternative to `Authorization: Bearer`, for callers behind the Kubernetes API server proxy.
pub const TOKEN_HEADER: &str = "x-chaos-token";

fn refused() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        "missing or wrong bearer token for the chaos control API\n",
    )
        .into_response()
}

fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, msg).into_response()
}

pub async fn health(State(agent): State<Arc<Agent>>) -> Json<Health> {
    Json(Health {
        service: agent.service.name.clone(),
        replica: agent.replica.clone(),
        status: "ok".into(),
    })
}

pub async fn metrics(State(agent): State<Arc<Agent>>, headers: HeaderMap) -> Response {
    if !authorised(&agent, &headers) {
        return refused();
    }
    Json(agent.metrics.snapshot(agent.faults.memory_held())).into_response()
}

pub async fn install_fault(
    State(agent): State<Arc<Agent>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorised(&agent, &headers) {
        return refused();
    }
    match serde_json::from_slice::<FaultRequest>(&body) {
        Ok(f) => {
            let id = f.id.clone();
            agent.faults.install(f);
            (StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response()
        }
        Err(e) => bad_request(format!("invalid fault: {e}\n")),
    }
}

pub async fn list_faults(State(agent): State<Arc<Agent>>, headers: HeaderMap) -> Response {
    if !authorised(&agent, &headers) {
        return refused();
    }
    Json(agent.faults.list()).into_response()
}

pub async fn remove_fault(
    State(agent): State<Arc<Agent>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorised(&agent, &headers) {
        return refused();
    }
    if agent.faults.remove(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            format!("no fault `{id}` is installed\n"),
        )
            .into_response()
    }
}

pub async fn clear_faults(State(agent): State<Arc<Agent>>, headers: HeaderMap) -> Response {
    if !authorised(&agent, &headers) {
        return refused();
    }
    let n = agent.faults.clear();
    Json(serde_json::json!({ "removed": n })).into_response()
}

pub async fn set_peers(
    State(agent): State<Arc<Agent>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorised(&agent, &headers) {
        return refused();
    }
    let req = match serde_json::from_slice::<PeersRequest>(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(format!("invalid peers: {e}\n")),
    };
    match agent.peers.get(&req.service) {
        Some(set) => {
            set.set_slots(&req.urls, &req.slots);
            StatusCode::NO_CONTENT.into_response()
        }
        None => bad_request(format!(
            "service `{}` does not call `{}`\n",
            agent.service.name, req.service
        )),
    }
}
