//! The HTTP routes, one group a file. [`crate::app`] assembles them with the tower stack.

pub mod alerts;
pub mod anomaly;
pub mod findings;
pub mod health;
pub mod knowledge;
pub mod openapi;
pub mod scan;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// Probes, metrics and the API description: unauthenticated and never shed, so that the
/// kubelet and Prometheus keep their view of the service when it is busy.
pub fn operational() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::document))
}

/// The versioned API.
pub fn v1() -> Router<AppState> {
    Router::new()
        .route("/v1/findings", get(findings::list))
        .route("/v1/findings/{id}", get(findings::get_one))
        .route("/v1/findings/{id}/explanation", get(knowledge::explanation))
        .route("/v1/kb/search", get(knowledge::search))
        .route("/v1/scan", post(scan::scan))
        .route("/v1/anomaly/detect", post(anomaly::detect))
        .route("/v1/anomalies", get(anomaly::list))
        .route("/v1/alerts", post(alerts::receive).get(alerts::list))
        .route("/v1/alerts/{fingerprint}", get(alerts::get_one))
}
