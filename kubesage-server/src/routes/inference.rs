//! The Open Inference Protocol (KServe v2) over REST: server and model metadata, health,
//! readiness and inference for the models of the repository (`kubesage serve
//! --model-repository DIR`). The tensors' wire format is in [`crate::inference`]; the
//! repository extension is in [`super::repository`].
//!
//! Errors are `{"error": "..."}` with the status saying whose fault it is: 400 for a request
//! that does not fit the model, 404 for an unknown model or version, 503 for one that is not
//! loaded. A request without a version is served by the highest version that is ready.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kubesage_ml::model::ClassLabels;
use kubesage_ml::model::Model;
use kubesage_ml::model::repository::{ModelRepository, parse_version};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::inference::{self, HEADER_LENGTH};
use crate::state::AppState;

/// Request bodies larger than this run on the blocking pool, so one large batch cannot stall
/// the requests sharing its worker thread; smaller ones (a few rows, microseconds of work)
/// run in place, where a hand-off to another thread would cost more than the model.
const INLINE_BYTES: usize = 64 << 10;

/// `GET /v2`: the server's name, version and protocol extensions.
pub async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": "kubesage",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["model_repository", "binary_tensor_data"],
    }))
}

/// `GET /v2/health/live`: the process answers.
pub async fn live() -> StatusCode {
    StatusCode::OK
}

/// `GET /v2/health/ready`: every model the repository loaded serves, and the server is not
/// shutting down.
pub async fn ready(State(state): State<AppState>) -> StatusCode {
    if state.models_ready() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }
}

pub(crate) fn repository(state: &AppState) -> Result<&Arc<ModelRepository>> {
    state
        .models()
        .ok_or_else(|| Error::NotFound("this server serves no models: start it with --model-repository DIR".into()))
}

fn lookup(state: &AppState, name: &str, version: Option<&str>) -> Result<(u64, Model)> {
    let version = version.map(parse_version).transpose()?;
    Ok(repository(state)?.get(name, version)?)
}

#[derive(Serialize)]
struct TensorMetadata<'a> {
    name: &'a str,
    datatype: &'static str,
    shape: &'a [i64],
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Value>,
}

fn metadata_response(state: &AppState, name: &str, version: Option<&str>) -> Result<Json<Value>> {
    let (v, model) = lookup(state, name, version)?;
    let versions: Vec<String> = match version {
        Some(_) => vec![v.to_string()],
        None => repository(state)?
            .versions(name)?
            .into_iter()
            .filter(|s| s.state == kubesage_ml::model::repository::ModelState::Ready)
            .map(|s| s.version.to_string())
            .collect(),
    };
    let tensors = |specs: &[kubesage_ml::model::TensorSpec]| -> Vec<Value> {
        specs
            .iter()
            .map(|t| {
                let parameters = t.class_labels.as_ref().map(|labels| match labels {
                    ClassLabels::Int64(l) => json!({ "class_labels": l }),
                    ClassLabels::Strings(l) => json!({ "class_labels": l }),
                });
                let meta = TensorMetadata { name: &t.name, datatype: t.datatype.as_str(), shape: &t.shape, parameters };
                serde_json::to_value(meta).unwrap_or(Value::Null)
            })
            .collect()
    };
    Ok(Json(json!({
        "name": name,
        "versions": versions,
        "platform": "onnx",
        "inputs": tensors(model.inputs()),
        "outputs": tensors(model.outputs()),
    })))
}

/// `GET /v2/models/{name}`: the default version's inputs and outputs, and the ready versions.
pub async fn model_metadata(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>> {
    metadata_response(&state, &name, None)
}

/// `GET /v2/models/{name}/versions/{version}`: that version's inputs and outputs.
pub async fn version_metadata(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>> {
    metadata_response(&state, &name, Some(&version))
}

fn readiness(state: &AppState, name: &str, version: Option<&str>) -> Response {
    match lookup(state, name, version) {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e @ Error::Ml(kubesage_ml::Error::ModelNotReady { .. })) => {
            // The protocol answers "not ready" with a 4xx.
            (StatusCode::BAD_REQUEST, Json(crate::error::ErrorBody { error: e.to_string() })).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /v2/models/{name}/ready`: 200 when a version is ready, 400 when none is.
pub async fn model_ready(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    readiness(&state, &name, None)
}

/// `GET /v2/models/{name}/versions/{version}/ready`.
pub async fn version_ready(State(state): State<AppState>, Path((name, version)): Path<(String, String)>) -> Response {
    readiness(&state, &name, Some(&version))
}

/// `POST /v2/models/{name}/infer`.
pub async fn infer(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    run(&state, &name, None, &headers, body).await
}

/// `POST /v2/models/{name}/versions/{version}/infer`.
pub async fn infer_version(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    run(&state, &name, Some(&version), &headers, body).await
}

async fn run(
    state: &AppState,
    name: &str,
    version: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let (v, model) = lookup(state, name, version)?;
    let started = Instant::now();
    let header_length = match headers.get(HEADER_LENGTH) {
        None => None,
        Some(h) => Some(
            h.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or_else(|| Error::BadRequest(format!("{HEADER_LENGTH}: expected a byte count")))?,
        ),
    };
    let mut rows = 0;
    let large = body.len() > INLINE_BYTES;
    let name_owned = name.to_owned();
    let work = move || -> Result<(inference::Encoded, u64)> {
        let inference::Decoded { id, inputs, outputs: wanted, binary_by_default } =
            inference::decode(&body, header_length)?;
        let rows = inputs.first().and_then(|t| t.shape.first()).map_or(1, |&r| r as u64);
        let names: Vec<&str> = wanted.iter().map(|(n, _)| n.as_str()).collect();
        let outputs = model.infer(inputs, &names)?;
        let binary: Vec<bool> = if wanted.is_empty() {
            vec![binary_by_default; outputs.len()]
        } else {
            wanted.iter().map(|(_, b)| b.unwrap_or(binary_by_default)).collect()
        };
        Ok((inference::encode(&name_owned, v, id.as_deref(), &outputs, &binary)?, rows))
    };
    let result = if large {
        tokio::task::spawn_blocking(work).await.map_err(|e| Error::Internal(format!("inference task: {e}")))?
    } else {
        work()
    };
    let result = result.map(|(encoded, r)| {
        rows = r;
        encoded
    });
    state.metrics().record_inference(name, v, result.is_ok(), rows, started.elapsed().as_secs_f64());
    let encoded = result?;
    let mut response = encoded.body.into_response();
    let h = response.headers_mut();
    match encoded.header_length {
        Some(n) => {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
            h.insert(HEADER_LENGTH, HeaderValue::from(n));
        }
        None => {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
    }
    Ok(response)
}
