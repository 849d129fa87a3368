//! The Open Inference Protocol's model repository extension — `POST /v2/repository/index`,
//! `POST /v2/repository/models/{name}/load` and `.../unload` — and our uploads and deletions
//! beside it: `POST /v2/repository/models/{name}/versions` (the next version) or
//! `PUT .../versions/{version}` with the ONNX file as the body, and `DELETE
//! /v2/repository/models/{name}[/versions/{version}]`.
//!
//! Loading reads and optimises a model (tract's work, up to seconds for a large forest), so
//! it runs on the blocking pool; requests to other models, and to the versions already
//! loaded, are served meanwhile.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use kubesage_ml::model::repository::{ModelRepository, VersionStatus, parse_version};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::inference::repository;
use crate::error::{Error, Result};
use crate::state::AppState;

fn status_json(s: &VersionStatus) -> Value {
    json!({"name": s.name, "version": s.version.to_string(), "state": s.state.as_str(), "reason": s.reason})
}

async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&ModelRepository) -> kubesage_ml::Result<T> + Send + 'static,
) -> Result<T> {
    let repo: Arc<ModelRepository> = Arc::clone(repository(state)?);
    let result = tokio::task::spawn_blocking(move || f(&repo))
        .await
        .map_err(|e| Error::Internal(format!("repository task: {e}")))?;
    Ok(result?)
}

/// The body of an index request.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexRequest {
    /// Only versions ready to serve.
    #[serde(default)]
    pub ready: bool,
}

fn optional_json<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T> {
    let text = body.trim_ascii();
    if text.is_empty() || text == b"null" {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| Error::BadRequest(format!("the request body: {e}")))
}

/// `POST /v2/repository/index`: every version of every model in the folder or loaded, with
/// its state (`READY`, `UNAVAILABLE`) and why it is not ready.
pub async fn index(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>> {
    let request: IndexRequest = optional_json(&body)?;
    let all = blocking(&state, |r| r.index()).await?;
    Ok(Json(Value::Array(
        all.iter().filter(|s| !request.ready || s.state.as_str() == "READY").map(status_json).collect(),
    )))
}

/// The body of a load request. Triton lets `parameters` carry a configuration or model file;
/// ours come from the folder (or an upload), so parameters are refused rather than ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadRequest {
    /// Must be empty.
    #[serde(default)]
    pub parameters: Map<String, Value>,
}

/// `POST /v2/repository/models/{name}/load`: (re)load every version of the model from the
/// folder; a model copied there while the server runs is served from now on.
pub async fn load(State(state): State<AppState>, Path(name): Path<String>, body: Bytes) -> Result<Json<Value>> {
    let request: LoadRequest = optional_json(&body)?;
    if let Some(key) = request.parameters.keys().next() {
        return Err(Error::BadRequest(format!(
            "load parameter {key:?} is not supported: models are read from the repository folder"
        )));
    }
    let states = blocking(&state, move |r| r.load(&name)).await?;
    Ok(Json(Value::Array(states.iter().map(status_json).collect())))
}

/// `POST /v2/repository/models/{name}/unload`: stop serving the model (its files stay).
pub async fn unload(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>> {
    blocking(&state, move |r| r.unload(&name)).await?;
    Ok(Json(json!({})))
}

/// `POST /v2/repository/models/{name}/versions`: store the body (an ONNX file) as the next
/// version and serve it. 201 with the version's status.
pub async fn upload_next(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>)> {
    let status = blocking(&state, move |r| r.put(&name, None, &body)).await?;
    Ok((StatusCode::CREATED, Json(status_json(&status))))
}

/// `PUT /v2/repository/models/{name}/versions/{version}`: store the body as that version
/// (409 when it exists: versions are immutable).
pub async fn upload(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>)> {
    let version = parse_version(&version)?;
    let status = blocking(&state, move |r| r.put(&name, Some(version), &body)).await?;
    Ok((StatusCode::CREATED, Json(status_json(&status))))
}

/// `DELETE /v2/repository/models/{name}`: delete every version, files included.
pub async fn delete_model(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode> {
    blocking(&state, move |r| r.delete(&name, None)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v2/repository/models/{name}/versions/{version}`.
pub async fn delete_version(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<StatusCode> {
    let version = parse_version(&version)?;
    blocking(&state, move |r| r.delete(&name, Some(version))).await?;
    Ok(StatusCode::NO_CONTENT)
}
