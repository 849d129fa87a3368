//! `POST /v1/alerts` (the Alertmanager webhook receiver), `GET /v1/alerts` and
//! `GET /v1/alerts/{fingerprint}`.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::alerts::{
    PrometheusCheck, StoredAlert, WebhookPayload, alert_key, anomalies_for, expression_of, findings_for, objects_of,
};
use crate::error::{Error, ErrorBody, Result};
use crate::state::AppState;

/// What a webhook delivery did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Received {
    /// Alerts in the payload.
    pub alerts: usize,
    /// Their fingerprints, in payload order.
    pub fingerprints: Vec<String>,
    /// Findings attached, over all alerts.
    pub findings: usize,
    /// Anomalies attached, over all alerts.
    pub anomalies: usize,
}

/// A list of alerts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertList {
    /// Most recently received first.
    pub alerts: Vec<StoredAlert>,
}

/// Filters for listing alerts.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// `firing` or `resolved`.
    #[param(inline)]
    pub status: Option<AlertStatus>,
}

/// An alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// Still firing.
    Firing,
    /// Resolved.
    Resolved,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(0)
}

/// Receives an Alertmanager webhook notification and attaches findings and anomalies.
#[utoipa::path(post, path = "/v1/alerts", tag = "alerts", request_body = WebhookPayload,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored", body = Received),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 503, description = "Overloaded (with Retry-After) or timed out; retry later", body = ErrorBody),
        (status = 413, description = "The body is over the size limit", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The JSON is not a webhook payload", body = ErrorBody)))]
pub async fn receive(State(state): State<AppState>, Json(payload): Json<WebhookPayload>) -> Json<Received> {
    let stamp = kubesage_core::time::format_rfc3339(now());
    let active = state.active_findings(|_| true);
    let max = state.settings().max_alerts;
    let mut received = Received { alerts: payload.alerts.len(), fingerprints: Vec::new(), findings: 0, anomalies: 0 };
    for alert in payload.alerts {
        let key = alert_key(&alert);
        let (objects, namespace_only) = objects_of(&alert.labels);
        let findings = findings_for(&objects, namespace_only.as_deref(), &active);
        let anomalies = anomalies_for(&objects, namespace_only.as_deref(), state.anomalies().iter());
        received.findings += findings.len();
        received.anomalies += anomalies.len();
        let status = if alert.status.is_empty() {
            payload.status.to_ascii_lowercase()
        } else {
            alert.status.to_ascii_lowercase()
        };
        state.metrics().record_alert(if status.is_empty() { "unknown" } else { &status });
        let mut store = state.alerts();
        let (first_received, notifications) =
            store.get(&key).map_or((stamp.clone(), 1), |old| (old.first_received.clone(), old.notifications + 1));
        let ended = !alert.ends_at.is_empty() && !alert.ends_at.starts_with("0001-");
        let expression = (status == "firing" && state.settings().prometheus.is_some())
            .then(|| expression_of(&alert.generator_url))
            .flatten();
        let starts = kubesage_core::time::parse_rfc3339(&alert.starts_at).unwrap_or_else(now);
        let check = expression.as_ref().map(|q| PrometheusCheck {
            query: q.clone(),
            status: "pending".into(),
            series: 0,
            error: None,
        });
        store.upsert(
            StoredAlert {
                fingerprint: key.clone(),
                status,
                labels: alert.labels,
                annotations: alert.annotations,
                starts_at: alert.starts_at,
                ends_at: ended.then_some(alert.ends_at),
                generator_url: alert.generator_url,
                receiver: payload.receiver.clone(),
                first_received,
                last_received: stamp.clone(),
                notifications,
                objects,
                findings,
                anomalies,
                prometheus_check: check,
            },
            max,
        );
        drop(store);
        if let Some(query) = expression {
            // Alertmanager waits for the answer (10 s by default): look in Prometheus after it.
            tokio::spawn(check_expression(state.clone(), key.clone(), query, starts));
        }
        tracing::info!(fingerprint = %key, "alert received");
        received.fingerprints.push(key);
    }
    Json(received)
}

/// Reads the alert's expression over the lookback before it started (and a little after),
/// scores every returned series with the default detector, and attaches the anomalies.
async fn check_expression(state: AppState, fingerprint: String, query: String, starts: i64) {
    let Some(client) = state.settings().prometheus.clone() else { return };
    let lookback = i64::try_from(state.settings().alert_lookback.as_secs()).unwrap_or(i64::MAX);
    let step = state.settings().alert_step.as_secs().max(1);
    let start = starts.saturating_sub(lookback);
    let end = starts.saturating_add(600).min(now().max(starts));
    let result = client.query_range(&query, start, end, step).await;
    let (series, error) = match result {
        Ok(series) => (series, None),
        Err(e) => (Vec::new(), Some(kubesage_core::error::display_chain(&e))),
    };
    let count = series.len();
    let scored = tokio::task::spawn_blocking(move || {
        let mut found = Vec::new();
        for s in &series {
            let Ok(mut detector) = kubesage_ml::anomaly::detector("default") else { continue };
            let scores = detector.score_batch(&s.timestamps, &s.values);
            let points: Vec<kubesage_core::AnomalyPoint> = s
                .timestamps
                .iter()
                .zip(&s.values)
                .zip(&scores)
                .filter(|(_, score)| **score >= 0.5)
                .map(|((&timestamp, &value), &score)| kubesage_core::AnomalyPoint { timestamp, value, score })
                .collect();
            found.extend(kubesage_core::anomaly_finding(s, &points, "default"));
        }
        found
    })
    .await
    .unwrap_or_default();
    let max = state.settings().max_anomalies;
    {
        let mut anomalies = state.anomalies();
        for f in &scored {
            anomalies.record(f.clone(), max);
        }
    }
    let updated = state.alerts().update(&fingerprint, |alert| {
        for f in scored {
            if !alert.anomalies.iter().any(|a| a.id == f.id) {
                alert.anomalies.push(f);
            }
        }
        alert.prometheus_check = Some(PrometheusCheck {
            query,
            status: if error.is_some() { "failed".into() } else { "done".into() },
            series: count,
            error,
        });
    });
    if !updated {
        tracing::debug!(%fingerprint, "the alert was dropped before its Prometheus check finished");
    }
}

/// Lists received alerts, most recent first.
#[utoipa::path(get, path = "/v1/alerts", tag = "alerts", params(AlertsQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "Alerts", body = AlertList),
        (status = 400, description = "A filter does not parse", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 503, description = "Overloaded (with Retry-After) or timed out; retry later", body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, Query(q): Query<AlertsQuery>) -> Result<Json<AlertList>> {
    let status = q.status.map(|s| match s {
        AlertStatus::Firing => "firing",
        AlertStatus::Resolved => "resolved",
    });
    let alerts = state.alerts().iter().filter(|a| status.is_none_or(|s| a.status == s)).cloned().collect();
    Ok(Json(AlertList { alerts }))
}

/// One alert by fingerprint.
#[utoipa::path(get, path = "/v1/alerts/{fingerprint}", tag = "alerts",
    params(("fingerprint" = String, Path, description = "Alertmanager's fingerprint")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The alert", body = StoredAlert),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 503, description = "Overloaded (with Retry-After) or timed out; retry later", body = ErrorBody),
        (status = 404, description = "No alert has this fingerprint", body = ErrorBody)))]
pub async fn get_one(State(state): State<AppState>, Path(fingerprint): Path<String>) -> Result<Json<StoredAlert>> {
    state
        .alerts()
        .get(&fingerprint)
        .cloned()
        .map(Json)
        .ok_or_else(|| Error::NotFound(format!("no alert with fingerprint {fingerprint:?}")))
}
