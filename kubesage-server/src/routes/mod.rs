//! The HTTP routes, one group a file. [`crate::app`] assembles them with the tower stack.

pub mod alerts;
pub mod anomaly;
pub mod findings;
pub mod health;
pub mod inference;
pub mod knowledge;
pub mod openapi;
pub mod repository;
pub mod scan;

use axum::Router;
use axum::routing::{delete, get, post, put};

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

/// The Open Inference Protocol's probes and server metadata: unauthenticated and never shed,
/// like [`operational`].
pub fn v2_operational() -> Router<AppState> {
    Router::new()
        .route("/v2", get(inference::server_metadata))
        .route("/v2/health/live", get(inference::live))
        .route("/v2/health/ready", get(inference::ready))
}

/// Model metadata, readiness, inference and the repository extension (without uploads).
pub fn v2() -> Router<AppState> {
    Router::new()
        .route("/v2/models/{name}", get(inference::model_metadata))
        .route("/v2/models/{name}/ready", get(inference::model_ready))
        .route("/v2/models/{name}/infer", post(inference::infer))
        .route("/v2/models/{name}/versions/{version}", get(inference::version_metadata))
        .route("/v2/models/{name}/versions/{version}/ready", get(inference::version_ready))
        .route("/v2/models/{name}/versions/{version}/infer", post(inference::infer_version))
        .route("/v2/repository/index", post(repository::index))
        .route("/v2/repository/models/{name}/load", post(repository::load))
        .route("/v2/repository/models/{name}/unload", post(repository::unload))
        .route("/v2/repository/models/{name}", delete(repository::delete_model))
        .route("/v2/repository/models/{name}/versions/{version}", delete(repository::delete_version))
}

/// Model uploads: their bodies are models, allowed up to `max_model_bytes`.
pub fn v2_uploads() -> Router<AppState> {
    Router::new()
        .route("/v2/repository/models/{name}/versions", post(repository::upload_next))
        .route("/v2/repository/models/{name}/versions/{version}", put(repository::upload))
}
