//! `GET /v1/kb/search` and `GET /v1/findings/{id}/explanation`: the knowledge base and
//! explanations of findings, as `kubesage kb search` and `kubesage explain` give them.

use axum::Json;
use axum::extract::{Path, Query, State};
use kubesage_core::Finding;
use kubesage_ml::rag::explain::Explanation;
use kubesage_ml::rag::index::Hit;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{Error, ErrorBody, Result};
use crate::state::AppState;

/// Most passages one search returns.
pub const MAX_TOP: u32 = 50;

/// Longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 4_096;

/// Query parameters of `GET /v1/kb/search`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What to look for: an alert name, an error message, a question.
    #[param(min_length = 1, max_length = 4096)]
    pub q: String,
    /// How many passages (default 5).
    #[param(minimum = 1, maximum = 50)]
    pub top: Option<u32>,
}

/// Passages that match, best first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResult {
    /// The passages.
    pub hits: Vec<Hit>,
}

/// Searches the built-in knowledge base and the service's runbook index.
#[utoipa::path(get, path = "/v1/kb/search", tag = "knowledge", params(SearchQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Matching passages, best first", body = SearchResult),
        (status = 400, description = "No query, or `top` out of range", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 503, description = "Overloaded (with Retry-After) or timed out; retry later", body = ErrorBody)))]
pub async fn search(State(state): State<AppState>, Query(q): Query<SearchQuery>) -> Result<Json<SearchResult>> {
    if q.q.trim().is_empty() || q.q.len() > MAX_QUERY_BYTES {
        return Err(Error::BadRequest(format!("q: from 1 to {MAX_QUERY_BYTES} bytes of text")));
    }
    let top = q.top.unwrap_or(5);
    if !(1..=MAX_TOP).contains(&top) {
        return Err(Error::BadRequest(format!("top: from 1 to {MAX_TOP}")));
    }
    let explainer = state.explainer();
    let query = q.q;
    let hits = tokio::task::spawn_blocking(move || explainer.search(&query, top as usize))
        .await
        .map_err(|e| Error::Internal(format!("the search failed: {e}")))?;
    Ok(Json(SearchResult { hits }))
}

/// Explains one active finding: by the configured language model (anonymized, cached), or
/// offline from the knowledge base and the evidence.
#[utoipa::path(get, path = "/v1/findings/{id}/explanation", tag = "findings",
    params(("id" = String, Path, description = "The finding's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The explanation, with its sources", body = Explanation),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No active finding has this id", body = ErrorBody),
        (status = 503, description = "Overloaded (with Retry-After) or timed out; retry later", body = ErrorBody)))]
pub async fn explanation(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Explanation>> {
    let (finding, others) = state.with_findings(|f| {
        let active = f.tracker.active();
        let finding = active.iter().find(|t| t.finding.id == id).map(|t| t.finding.clone());
        (finding, active.iter().map(|t| t.finding.clone()).collect::<Vec<Finding>>())
    });
    let finding = finding.ok_or_else(|| Error::NotFound(format!("no active finding with id {id:?}")))?;
    let others: Vec<&Finding> = others.iter().collect();
    Ok(Json(state.explainer().explain(&finding, &others).await))
}
