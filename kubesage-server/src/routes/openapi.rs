//! `GET /openapi.json`: the OpenAPI 3 document, generated from the route handlers'
//! annotations and the types they exchange, so it cannot drift from the code.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{alerts, anomaly, findings, health, knowledge, scan};

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(title = "KubeSage", description = "Findings about a Kubernetes cluster and their explanations, anomaly detection on metric series, an Alertmanager webhook receiver that explains alerts with them, and the knowledge base of runbooks."),
    paths(
        health::healthz, health::readyz, health::metrics,
        findings::list, findings::get_one, knowledge::explanation, scan::scan,
        knowledge::search,
        anomaly::detect, anomaly::list,
        alerts::receive, alerts::list, alerts::get_one,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Probes and metrics"),
        (name = "findings", description = "What is broken, with evidence"),
        (name = "anomaly", description = "Anomaly detection on metric series"),
        (name = "alerts", description = "Alertmanager webhook receiver"),
        (name = "knowledge", description = "The knowledge base of runbooks"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Serves the document.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
