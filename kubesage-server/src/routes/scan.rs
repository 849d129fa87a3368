//! `POST /v1/scan`: analyse a posted snapshot.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use kubesage_core::{Report, ScanOptions, Selector};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{Error, ErrorBody, Result};
use crate::state::AppState;

/// How to scan the posted snapshot.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScanQuery {
    /// Report only objects in this namespace.
    pub namespace: Option<String>,
    /// Report only objects whose labels match (`app=web,tier!=db`).
    pub selector: Option<String>,
    /// Run only these analyzers (comma-separated).
    pub analyzers: Option<String>,
}

/// Scans a snapshot posted as the body: what `kubectl get ... -o json` or `-o yaml` prints
/// (a `List`, one object, or YAML documents).
#[utoipa::path(post, path = "/v1/scan", tag = "findings", params(ScanQuery),
    request_body(content = String, description = "A Kubernetes List or object, JSON or YAML",
        content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The scan's report", body = Report),
        (status = 400, description = "Not JSON/YAML, not Kubernetes objects, or bad parameters", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 503, description = "Overloaded (with Retry-After) or timed out; retry later", body = ErrorBody),
        (status = 413, description = "The body is over the size limit", body = ErrorBody)))]
pub async fn scan(State(state): State<AppState>, Query(q): Query<ScanQuery>, body: Bytes) -> Result<Json<Report>> {
    let selector = match q.selector.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => Some(s.parse::<Selector>()?),
        None => None,
    };
    let options = ScanOptions {
        namespace: q.namespace.filter(|n| !n.is_empty()),
        selector,
        analyzers: q
            .analyzers
            .map(|a| a.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default(),
        now: None,
    };
    kubesage_core::select_analyzers(state.analyzers(), &options.analyzers)?;
    // Decoding and analysis are CPU work: keep them off the threads that serve requests.
    let task = tokio::task::spawn_blocking(move || -> Result<Report> {
        let cluster = kubesage_k8s::source::decode_document(&body, "request body")?;
        Ok(kubesage_core::scan(&cluster, state.analyzers(), &options)?)
    });
    let report = task.await.map_err(|e| Error::Internal(format!("scan task: {e}")))??;
    Ok(Json(report))
}
