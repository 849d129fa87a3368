//! `POST /v1/anomaly/detect` and `GET /v1/anomalies`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use kubesage_core::{AnomalyPoint, Finding, ObjectRef, Series, anomaly_finding};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, ErrorBody, Result};
use crate::state::AppState;

/// Series to score.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectRequest {
    /// The detector (`default`, `context`, `mad`, `ewma`, `seasonal`, `forest`).
    #[serde(default = "default_detector")]
    #[schema(value_type = String, pattern = "^(default|context|mad|ewma|seasonal|forest)$")]
    pub detector: String,
    /// Scores at or above this are anomalies (0 to 1).
    #[serde(default = "default_threshold")]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub threshold: f64,
    /// The series; each is scored by a fresh detector. `timestamps` and `values` of a
    /// series must have equal lengths (JSON Schema cannot say so; a 400 does).
    #[schema(min_items = 1)]
    pub series: Vec<SeriesIn>,
}

fn default_detector() -> String {
    "default".to_owned()
}

fn default_threshold() -> f64 {
    0.5
}

/// One series: labels as Prometheus gives them, and points.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesIn {
    /// Labels (`__name__`, `namespace`, `pod`, ...); `namespace` with `pod` or `node` makes
    /// anomalies into findings about that object.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Unix seconds, one per value, non-decreasing.
    pub timestamps: Vec<i64>,
    /// Values; `null` marks a gap.
    pub values: Vec<Option<f64>>,
}

/// The scores of one series.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct SeriesOut {
    /// `name{label="value",...}`.
    pub name: String,
    /// The object the series is about, if its labels say.
    pub object: Option<ObjectRef>,
    /// One score in `[0, 1]` per point.
    pub scores: Vec<f64>,
    /// Points scored at or above the threshold.
    pub anomalies: Vec<AnomalyOut>,
}

/// An anomalous point.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct AnomalyOut {
    /// Unix seconds.
    pub timestamp: i64,
    /// RFC 3339.
    pub time: String,
    /// The value.
    pub value: f64,
    /// The score.
    pub score: f64,
}

/// The result of a detection request.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct DetectResponse {
    /// The detector used.
    pub detector: String,
    /// The threshold used.
    pub threshold: f64,
    /// One entry per series, in request order.
    pub series: Vec<SeriesOut>,
    /// Findings about the objects whose series had anomalies (kept for attaching to alerts).
    pub findings: Vec<Finding>,
}

/// Anomaly findings recorded from detection requests.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct AnomalyList {
    /// Most recent last.
    pub findings: Vec<Finding>,
}

fn validate(request: &DetectRequest, max_points: usize) -> Result<()> {
    kubesage_ml::anomaly::detector(&request.detector)?;
    if !(0.0..=1.0).contains(&request.threshold) {
        return Err(Error::BadRequest(format!("threshold must be within 0 and 1, got {}", request.threshold)));
    }
    if request.series.is_empty() {
        return Err(Error::BadRequest("series: give at least one series".into()));
    }
    let mut points = 0usize;
    for (i, s) in request.series.iter().enumerate() {
        if s.timestamps.len() != s.values.len() {
            return Err(Error::BadRequest(format!(
                "series[{i}]: {} timestamps but {} values",
                s.timestamps.len(),
                s.values.len()
            )));
        }
        if let Some(w) = s.timestamps.windows(2).position(|w| w[1] < w[0]) {
            return Err(Error::BadRequest(format!("series[{i}]: timestamps go backwards at index {}", w + 1)));
        }
        if let Some(v) = s.values.iter().flatten().find(|v| !v.is_finite()) {
            return Err(Error::BadRequest(format!("series[{i}]: value {v} is not finite")));
        }
        points = points.saturating_add(s.values.len());
    }
    if points > max_points {
        return Err(Error::BadRequest(format!("{points} points in one request; at most {max_points}")));
    }
    Ok(())
}

/// Scores posted series with a detector and reports anomalies.
#[utoipa::path(post, path = "/v1/anomaly/detect", tag = "anomaly", request_body = DetectRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Scores and anomalies per series", body = DetectResponse),
        (status = 400, description = "Unknown detector, mismatched lengths, bad threshold", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 503, description = "Overloaded (with Retry-After) or timed out; retry later", body = ErrorBody),
        (status = 413, description = "The body is over the size limit", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 422, description = "The JSON does not have the request's shape", body = ErrorBody)))]
pub async fn detect(State(state): State<AppState>, Json(request): Json<DetectRequest>) -> Result<Json<DetectResponse>> {
    validate(&request, state.settings().max_points)?;
    let task = tokio::task::spawn_blocking(move || -> Result<DetectResponse> {
        let mut out = Vec::with_capacity(request.series.len());
        let mut findings = Vec::new();
        for s in request.series {
            let series = Series {
                labels: s.labels.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
                timestamps: s.timestamps,
                values: s.values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect(),
            };
            let mut detector = kubesage_ml::anomaly::detector(&request.detector)?;
            let scores = detector.score_batch(&series.timestamps, &series.values);
            let points: Vec<AnomalyPoint> = series
                .timestamps
                .iter()
                .zip(&series.values)
                .zip(&scores)
                .filter(|(_, score)| **score >= request.threshold)
                .map(|((&timestamp, &value), &score)| AnomalyPoint { timestamp, value, score })
                .collect();
            if let Some(f) = anomaly_finding(&series, &points, &request.detector) {
                findings.push(f);
            }
            out.push(SeriesOut {
                name: series.display_name(),
                object: kubesage_core::anomaly::object_of(&series.labels),
                scores,
                anomalies: points
                    .iter()
                    .map(|p| AnomalyOut {
                        timestamp: p.timestamp,
                        time: kubesage_core::time::format_rfc3339(p.timestamp),
                        value: p.value,
                        score: p.score,
                    })
                    .collect(),
            });
        }
        Ok(DetectResponse { detector: request.detector, threshold: request.threshold, series: out, findings })
    });
    let response = task.await.map_err(|e| Error::Internal(format!("detection task: {e}")))??;
    let max = state.settings().max_anomalies;
    let mut store = state.anomalies();
    for f in &response.findings {
        store.record(f.clone(), max);
    }
    drop(store);
    Ok(Json(response))
}

/// Anomaly findings recorded from detection requests, most recent last.
#[utoipa::path(get, path = "/v1/anomalies", tag = "anomaly", security(("bearer" = [])),
    responses(
        (status = 200, description = "Recorded anomaly findings", body = AnomalyList),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 503, description = "Overloaded (with Retry-After) or timed out; retry later", body = ErrorBody)))]
pub async fn list(State(state): State<AppState>) -> Json<AnomalyList> {
    Json(AnomalyList { findings: state.anomalies().iter().cloned().collect() })
}
