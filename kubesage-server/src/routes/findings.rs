//! `GET /v1/findings` and `GET /v1/findings/{id}`.

use axum::Json;
use axum::extract::{Path, Query, State};
use kubesage_core::{Severity, SkippedKind, TrackedFinding};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{Error, ErrorBody, Result};
use crate::state::AppState;

/// Largest page of findings.
pub const MAX_LIMIT: usize = 10_000;

/// Filters for listing findings. Lists are comma-separated; every filter given must match.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindingsQuery {
    /// Only findings about objects in this namespace.
    pub namespace: Option<String>,
    /// Only these severities (`critical,warning`).
    #[param(pattern = "^(critical|warning|info)(,(critical|warning|info))*$")]
    pub severity: Option<String>,
    /// Only these analyzers (`pod,service`).
    pub analyzer: Option<String>,
    /// `active` (default), `resolved` or `all`.
    #[param(inline)]
    pub status: Option<StatusFilter>,
    /// Page size (default 1000, at most 10000).
    #[param(minimum = 0, maximum = 10000)]
    pub limit: Option<i64>,
    /// Findings to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// Which findings to list by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    /// Findings the latest analysis reports.
    Active,
    /// Findings that went away.
    Resolved,
    /// Both.
    All,
}

/// A page of findings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FindingsPage {
    /// The findings: active ones most severe first, then resolved ones most recent first.
    pub findings: Vec<TrackedFinding>,
    /// How many matched in all (the page may hold fewer).
    pub total: usize,
    /// Where the cluster state comes from.
    pub source: String,
    /// When the latest analysis looked (RFC 3339).
    pub observed_at: Option<String>,
    /// Kinds that could not be read.
    pub skipped: Vec<SkippedKind>,
}

fn list_of(text: &Option<String>) -> Option<Vec<String>> {
    text.as_ref().map(|t| t.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect())
}

/// Severities as the schema states them: lowercase names, comma-separated, none empty.
fn severities(text: &str) -> Result<Vec<Severity>> {
    text.split(',')
        .map(|name| match name {
            "critical" => Ok(Severity::Critical),
            "warning" => Ok(Severity::Warning),
            "info" => Ok(Severity::Info),
            other => Err(Error::BadRequest(format!("severity: expected critical, warning or info, got {other:?}"))),
        })
        .collect()
}

struct Filter {
    namespace: Option<String>,
    severities: Option<Vec<Severity>>,
    analyzers: Option<Vec<String>>,
    active: bool,
    resolved: bool,
}

impl Filter {
    fn parse(q: &FindingsQuery) -> Result<Self> {
        let severities = q.severity.as_deref().map(severities).transpose()?;
        let (active, resolved) = match q.status {
            None | Some(StatusFilter::Active) => (true, false),
            Some(StatusFilter::Resolved) => (false, true),
            Some(StatusFilter::All) => (true, true),
        };
        Ok(Filter { namespace: q.namespace.clone(), severities, analyzers: list_of(&q.analyzer), active, resolved })
    }

    fn matches(&self, t: &TrackedFinding) -> bool {
        let f = &t.finding;
        self.namespace.as_ref().is_none_or(|ns| f.object.namespace.as_deref() == Some(ns.as_str()))
            && self.severities.as_ref().is_none_or(|s| s.contains(&f.severity))
            && self.analyzers.as_ref().is_none_or(|a| a.iter().any(|n| n.eq_ignore_ascii_case(&f.analyzer)))
    }
}

/// Lists findings, filtered and paged.
#[utoipa::path(get, path = "/v1/findings", tag = "findings", params(FindingsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of findings", body = FindingsPage),
        (status = 400, description = "A filter does not parse", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 503, description = "Overloaded (with Retry-After) or timed out; retry later", body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, Query(q): Query<FindingsQuery>) -> Result<Json<FindingsPage>> {
    let filter = Filter::parse(&q)?;
    let limit = usize::try_from(q.limit.unwrap_or(1000))
        .ok()
        .filter(|l| *l <= MAX_LIMIT)
        .ok_or_else(|| Error::BadRequest(format!("limit: from 0 to {MAX_LIMIT}")))?;
    let offset =
        usize::try_from(q.offset.unwrap_or(0)).map_err(|_| Error::BadRequest("offset: must not be negative".into()))?;
    let page = state.with_findings(|f| {
        let active = f.tracker.active().iter().filter(|_| filter.active);
        let resolved = f.tracker.resolved().rev().filter(|_| filter.resolved);
        let mut total = 0;
        let mut findings = Vec::new();
        for t in active.chain(resolved).filter(|t| filter.matches(t)) {
            if total >= offset && findings.len() < limit {
                findings.push(t.clone());
            }
            total += 1;
        }
        FindingsPage {
            findings,
            total,
            source: f.source.clone(),
            observed_at: f.observed_at.clone(),
            skipped: f.skipped.clone(),
        }
    });
    Ok(Json(page))
}

/// One finding by id: the active one, else the latest resolved one.
#[utoipa::path(get, path = "/v1/findings/{id}", tag = "findings",
    params(("id" = String, Path, description = "The finding's id (16 hex digits)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The finding", body = TrackedFinding),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 503, description = "Overloaded (with Retry-After) or timed out; retry later", body = ErrorBody),
        (status = 404, description = "No finding has this id", body = ErrorBody)))]
pub async fn get_one(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<TrackedFinding>> {
    state
        .with_findings(|f| f.tracker.get(&id).cloned())
        .map(Json)
        .ok_or_else(|| Error::NotFound(format!("no finding with id {id:?}")))
}
