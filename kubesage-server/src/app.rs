//! The service as a function: [`app`] builds the router with the whole tower stack.

use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{from_fn_with_state, map_response};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::error::ErrorBody;
use crate::state::AppState;
use crate::{auth, metrics, routes};

/// The KubeSage HTTP service: routes, authentication and the production stack, over `state`.
///
/// The stack, declared here and nowhere else. For the whole app, outermost first:
/// 1. metrics: counts and times every answer, including those the layers below produce;
/// 2. JSON errors: any 4xx/5xx without a JSON body (a 405, a 413 from the body limit, a 503
///    from the timeout) gets `{"error": ...}`, so clients parse one error shape;
/// 3. tracing: one span per request, named by the matched route;
/// 4. panics become 500s (the detail goes to the log, not the client);
/// 5. timeout: a request still running after `request_timeout` is answered 503;
/// 6. CORS: off (no headers at all) unless origins are configured.
///
/// Each route group adds, outermost first: a body limit, `max_body_bytes` (`max_model_bytes`
/// for model uploads), refused with 413 before the body is read (`Content-Length`) or as
/// soon as it passes the limit (chunked). `/v1` and the model routes (`/v2/models`,
/// `/v2/repository`, when the state has a model repository) then add the bearer-token check
/// (401) and load shedding over a concurrency limit of their own: when `max_concurrency`
/// requests are already running, more get 503 with `Retry-After` at once instead of
/// queueing behind them. Probes (`/healthz`, `/readyz`, `/v2/health/*`), `/metrics` and
/// `/openapi.json` are neither authenticated nor shed, so the kubelet and Prometheus still
/// see a busy service as alive.
pub fn app(state: AppState) -> Router {
    let settings = state.settings().clone();

    let shed = |limit: usize| {
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(|_: tower::BoxError| async { overloaded() }))
            .layer(LoadShedLayer::new())
            .layer(GlobalConcurrencyLimitLayer::new(limit.max(1)))
    };
    let api = routes::v1()
        .layer(shed(settings.max_concurrency))
        .route_layer(from_fn_with_state(state.clone(), auth::require_token));

    // A model server: the Open Inference Protocol beside /v1, with its own concurrency
    // limit (inference load does not shed /v1, nor the reverse). Body limits are per group:
    // model uploads may be up to `max_model_bytes`, every other body `max_body_bytes`.
    // (One limit inside another would hide the inner one's 413 behind a 400.)
    let body_limit = settings.max_body_bytes;
    let limited = |router: Router<AppState>, bytes: usize| {
        router.layer(DefaultBodyLimit::max(bytes)).layer(RequestBodyLimitLayer::new(bytes))
    };
    let mut routes = Router::new().merge(limited(routes::operational(), body_limit)).merge(limited(api, body_limit));
    if state.models().is_some() {
        let auth = from_fn_with_state(state.clone(), auth::require_token);
        let v2 = routes::v2().layer(shed(settings.max_concurrency)).route_layer(auth.clone());
        let uploads = routes::v2_uploads().layer(shed(settings.max_concurrency)).route_layer(auth);
        routes = routes
            .merge(limited(routes::v2_operational(), body_limit))
            .merge(limited(v2, body_limit))
            .merge(limited(uploads, settings.max_model_bytes));
    }

    let cors = (!settings.cors_origins.is_empty()).then(|| {
        let origins: Vec<HeaderValue> =
            settings.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
    });

    // `Router::layer` wraps what came before, so the layers below are listed innermost
    // first: the last one is the outermost.
    routes
        .fallback(not_found)
        .layer(ServiceBuilder::new().option_layer(cors))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout.max(Duration::from_millis(1)),
        ))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            tracing::error!("a request handler panicked");
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log")
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str);
                    tracing::info_span!("request", method = %request.method(), route, uri = %request.uri().path())
                })
                // Shed requests are 503s: an ERROR line for each would flood the log exactly
                // when the service is busiest. Real faults are logged where they happen.
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
        .layer(map_response(json_errors))
        .layer(from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
}

fn error_response(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(ErrorBody { error: message.to_owned() })).into_response()
}

fn overloaded() -> Response {
    let mut response =
        error_response(StatusCode::SERVICE_UNAVAILABLE, "overloaded: too many requests in progress; retry");
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    // The request's body was never read, so the connection cannot carry another request:
    // say so, rather than let a keep-alive client find out by a reset.
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

async fn not_found(uri: axum::http::Uri) -> Response {
    error_response(StatusCode::NOT_FOUND, &format!("no route for {}", uri.path()))
}

async fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Rejections from axum's extractors carry a useful plain-text reason: keep it.
    let text = axum::body::to_bytes(body, 64 << 10).await.unwrap_or_default();
    let reason = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if reason.is_empty() { status.canonical_reason().unwrap_or("error").to_owned() } else { reason };
    let body = serde_json::to_vec(&ErrorBody { error: message }).unwrap_or_default();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}
