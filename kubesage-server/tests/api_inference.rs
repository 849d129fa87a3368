//! The Open Inference Protocol (KServe v2) routes driven through the whole router with
//! `oneshot`, serving real scikit-learn exports (the parity fixtures of
//! scripts/models/sklearn_fixtures.py, in `$KUBESAGE_SKLEARN_FIXTURES`): predictions are
//! compared with scikit-learn's own, in JSON and binary tensors; the repository extension,
//! uploads, errors, limits, authentication and the per-model metrics.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use kubesage_ml::model::repository::ModelRepository;
use kubesage_server::auth::TokenSet;
use kubesage_server::{AppState, ServeSettings, app};
use serde_json::{Value, json};
use tower::ServiceExt;

fn fixtures_dir() -> PathBuf {
    kubesage_ml::model::sklearn_fixtures().unwrap_or_else(|e| panic!("{e}"))
}

fn expected(case: &str) -> Value {
    let path = fixtures_dir().join(case).join("expected.json");
    serde_json::from_slice(&std::fs::read(&path).expect("expected.json")).expect("json")
}

fn model_bytes(case: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(case).join("model.onnx")).expect("model.onnx")
}

/// A repository with `forest` (v1: the binary random forest) and `logreg` (v1: binary, v2:
/// multiclass logistic regression), loaded.
fn repository(dir: &Path) -> Arc<ModelRepository> {
    for (name, version, case) in
        [("forest", 1, "forest_classifier_binary"), ("logreg", 1, "logreg_binary"), ("logreg", 2, "logreg_multiclass")]
    {
        let d = dir.join(name).join(version.to_string());
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join("model.onnx"), model_bytes(case)).expect("write");
    }
    let repo = Arc::new(ModelRepository::open(dir).expect("opens"));
    repo.load_all().expect("loads");
    repo
}

fn model_server(dir: &Path, settings: ServeSettings, tokens: Option<TokenSet>) -> (AppState, Router) {
    let state = AppState::new(settings, tokens, "none (model server)");
    state.set_models_only();
    state.set_models(repository(dir));
    state.set_models_loaded();
    (state.clone(), app(state))
}

async fn send_raw(app: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.expect("body").to_bytes())
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let (status, _, body) = send_raw(app, request).await;
    let value = if body.is_empty() { Value::Null } else { serde_json::from_slice(&body).expect("a JSON body") };
    (status, value)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

fn post_json(uri: &str, body: &Value) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(body).expect("json")))
        .expect("request")
}

fn rows(case: &str) -> (Vec<f32>, usize, usize) {
    let e = expected(case);
    let rows = e["rows"].as_array().expect("rows");
    let width = rows[0].as_array().expect("row").len();
    let flat = rows.iter().flat_map(|r| r.as_array().expect("row").iter().map(|v| v.as_f64().expect("f") as f32));
    (flat.collect(), rows.len(), width)
}

/// scikit-learn's answer for an output of a fixture.
fn check(case: &str, output: &str) -> Value {
    expected(case)["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["output"] == output)
        .expect("a check of that output")["expected"]
        .clone()
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-5)
}

fn floats(v: &Value) -> Vec<f64> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<f64>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            other => out.push(other.as_f64().expect("a number")),
        }
    }
    walk(v, &mut out);
    out
}

#[tokio::test]
async fn server_metadata_and_health() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, app) = model_server(dir.path(), ServeSettings::default(), None);
    let (status, meta) = send(&app, get("/v2")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(meta["name"], "kubesage");
    assert!(meta["extensions"].as_array().expect("list").contains(&json!("model_repository")));
    assert_eq!(send(&app, get("/v2/health/live")).await.0, StatusCode::OK);
    assert_eq!(send(&app, get("/v2/health/ready")).await.0, StatusCode::OK);
    assert_eq!(send(&app, get("/readyz")).await.0, StatusCode::OK, "a model server without a cluster is ready");
}

#[tokio::test]
async fn readiness_waits_for_the_models_and_fails_on_a_broken_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = AppState::new(ServeSettings::default(), None, "none");
    state.set_models_only();
    let repo = repository(dir.path());
    state.set_models(Arc::clone(&repo));
    let app = app(state.clone());
    assert_eq!(send(&app, get("/v2/health/ready")).await.0, StatusCode::SERVICE_UNAVAILABLE, "still loading");
    assert_eq!(send(&app, get("/readyz")).await.0, StatusCode::SERVICE_UNAVAILABLE);
    state.set_models_loaded();
    assert_eq!(send(&app, get("/v2/health/ready")).await.0, StatusCode::OK);

    std::fs::create_dir_all(dir.path().join("broken/1")).expect("mkdir");
    std::fs::write(dir.path().join("broken/1/model.onnx"), b"\x08\x07garbage").expect("write");
    let (status, body) = send(&app, post_json("/v2/repository/models/broken/load", &json!({}))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["error"].as_str().expect("message").contains("not ready"), "{body}");
    assert_eq!(send(&app, get("/v2/health/ready")).await.0, StatusCode::SERVICE_UNAVAILABLE);
    state.begin_shutdown();
    assert_eq!(send(&app, get("/v2/health/ready")).await.0, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn model_metadata_comes_from_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, app) = model_server(dir.path(), ServeSettings::default(), None);
    let (status, meta) = send(&app, get("/v2/models/forest")).await;
    assert_eq!(status, StatusCode::OK, "{meta}");
    let (_, _, width) = rows("forest_classifier_binary");
    assert_eq!(meta["versions"], json!(["1"]));
    assert_eq!(meta["inputs"][0], json!({"name": "input", "datatype": "FP32", "shape": [-1, width]}));
    let outputs: Vec<&str> =
        meta["outputs"].as_array().expect("list").iter().map(|o| o["name"].as_str().expect("name")).collect();
    assert_eq!(outputs, vec!["label", "probabilities"]);
    assert_eq!(send(&app, get("/v2/models/logreg")).await.1["versions"], json!(["1", "2"]));
    assert_eq!(send(&app, get("/v2/models/logreg/versions/1")).await.1["versions"], json!(["1"]));
    assert_eq!(send(&app, get("/v2/models/forest/ready")).await.0, StatusCode::OK);
    assert_eq!(send(&app, get("/v2/models/forest/versions/1/ready")).await.0, StatusCode::OK);
    let (status, body) = send(&app, get("/v2/models/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().expect("message").contains("\"nope\""));
    assert_eq!(send(&app, get("/v2/models/forest/versions/7")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, get("/v2/models/forest/versions/x")).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn json_inference_agrees_with_scikit_learn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, app) = model_server(dir.path(), ServeSettings::default(), None);
    for (model, case) in [("forest", "forest_classifier_binary"), ("logreg/versions/2", "logreg_multiclass")] {
        let (flat, n, width) = rows(case);
        let nested: Vec<Vec<f32>> = flat.chunks(width).map(<[f32]>::to_vec).collect();
        let request = json!({"id": "req-7", "inputs": [{"name": "input", "shape": [n, width], "datatype": "FP32", "data": nested}]});
        let (status, body) = send(&app, post_json(&format!("/v2/models/{model}/infer"), &request)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["id"], "req-7");
        let outputs = body["outputs"].as_array().expect("outputs");
        let label = outputs.iter().find(|o| o["name"] == "label").expect("label");
        assert_eq!(label["datatype"], "INT64");
        assert_eq!(label["shape"], json!([n]));
        assert_eq!(label["data"], check(case, "label"), "{case}: labels equal scikit-learn's");
        let p = outputs.iter().find(|o| o["name"] == "probabilities").expect("probabilities");
        assert!(
            close(&floats(&p["data"]), &floats(&check(case, "probabilities"))),
            "{case}: probabilities within 1e-5"
        );
    }
    assert_eq!(model_version(&app, "/v2/models/logreg/infer").await, "2", "no version: the highest");
    assert_eq!(model_version(&app, "/v2/models/logreg/versions/1/infer").await, "1");
    let (ok, failed) = state.metrics().inferences("forest", 1);
    assert_eq!((ok, failed), (1, 0));
    let (_, _, text) = send_raw(&app, get("/metrics")).await;
    let text = String::from_utf8(text.to_vec()).expect("utf-8");
    assert!(
        text.contains("kubesage_model_requests_total{model=\"forest\",version=\"1\",outcome=\"success\"} 1"),
        "{text}"
    );
    let (_, n, _) = rows("forest_classifier_binary");
    assert!(text.contains(&format!("kubesage_model_rows_total{{model=\"forest\",version=\"1\"}} {n}")), "{text}");
    assert!(
        text.contains("kubesage_model_inference_duration_seconds_count{model=\"forest\",version=\"1\"} 1"),
        "{text}"
    );
}

/// The version that answered a one-row request.
async fn model_version(app: &Router, uri: &str) -> String {
    let (flat, _, width) = rows("logreg_multiclass");
    let request =
        json!({"inputs": [{"name": "input", "shape": [1, width], "datatype": "FP32", "data": &flat[..width]}]});
    let (status, body) = send(app, post_json(uri, &request)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["model_version"].as_str().expect("version").to_owned()
}

#[tokio::test]
async fn binary_tensors_in_and_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, app) = model_server(dir.path(), ServeSettings::default(), None);
    let case = "forest_classifier_binary";
    let (flat, n, width) = rows(case);
    let raw: Vec<u8> = flat.iter().flat_map(|f| f.to_le_bytes()).collect();
    let header = json!({
        "inputs": [{"name": "input", "shape": [n, width], "datatype": "FP32", "parameters": {"binary_data_size": raw.len()}}],
        "outputs": [{"name": "probabilities", "parameters": {"binary_data": true}}, {"name": "label"}]
    });
    let mut body = serde_json::to_vec(&header).expect("json");
    let json_len = body.len();
    body.extend_from_slice(&raw);
    let request = Request::post("/v2/models/forest/infer")
        .header("Inference-Header-Content-Length", json_len.to_string())
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(body))
        .expect("request");
    let (status, headers, bytes) = send_raw(&app, request).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    let split: usize = headers["inference-header-content-length"].to_str().expect("ascii").parse().expect("number");
    let meta: Value = serde_json::from_slice(&bytes[..split]).expect("json part");
    assert_eq!(meta["outputs"][0]["name"], "probabilities", "outputs in the order asked");
    assert_eq!(meta["outputs"][0]["parameters"]["binary_data_size"], n * 2 * 4);
    assert_eq!(meta["outputs"][1]["data"], check(case, "label"), "the unflagged output stays JSON");
    let probabilities: Vec<f64> =
        bytes[split..].chunks_exact(4).map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))).collect();
    assert!(close(&probabilities, &floats(&check(case, "probabilities"))));
}

#[tokio::test]
async fn requests_that_do_not_fit_the_model_are_400s_with_reasons() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, app) = model_server(dir.path(), ServeSettings::default(), None);
    let (_, _, width) = rows("forest_classifier_binary");
    let cases = [
        (
            json!({"inputs": [{"name": "input", "shape": [1, width], "datatype": "FP64", "data": vec![0.0; width]}]}),
            "datatype FP64; the model takes FP32",
        ),
        (
            json!({"inputs": [{"name": "input", "shape": [1, width + 1], "datatype": "FP32", "data": vec![0.0; width + 1]}]}),
            "shape",
        ),
        (json!({"inputs": [{"name": "other", "shape": [1], "datatype": "FP32", "data": [0.0]}]}), "no such input"),
        (
            json!({"inputs": [{"name": "input", "shape": [1, width], "datatype": "FP32", "data": vec![0.0; width]}], "outputs": [{"name": "nope"}]}),
            "no such output",
        ),
        (
            json!({"inputs": [{"name": "input", "shape": [2, width], "datatype": "FP32", "data": vec![0.0; width]}]}),
            "elements given",
        ),
        (json!({"inputs": "x"}), "not a valid inference request"),
    ];
    for (request, expected) in cases {
        let (status, body) = send(&app, post_json("/v2/models/forest/infer", &request)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{request}: {body}");
        assert!(body["error"].as_str().expect("message").contains(expected), "{request}: {body}");
    }
    assert_eq!(state.metrics().inferences("forest", 1), (0, 6), "failures are counted per model");
    let (status, _) = send(&app, post_json("/v2/models/ghost/infer", &json!({"inputs": []}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(state.metrics().inferences("ghost", 1), (0, 0), "unknown models make no series");
    let bad_header = Request::post("/v2/models/forest/infer")
        .header("Inference-Header-Content-Length", "many")
        .body(Body::from("{}"))
        .expect("request");
    assert_eq!(send(&app, bad_header).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_repository_extension_loads_unloads_uploads_and_deletes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, app) = model_server(dir.path(), ServeSettings::default(), None);
    let (status, index) = send(&app, post_json("/v2/repository/index", &json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        index,
        json!([
            {"name": "forest", "version": "1", "state": "READY", "reason": ""},
            {"name": "logreg", "version": "1", "state": "READY", "reason": ""},
            {"name": "logreg", "version": "2", "state": "READY", "reason": ""},
        ])
    );

    let (status, _) = send(&app, post_json("/v2/repository/models/forest/unload", &json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(send(&app, get("/v2/models/forest/ready")).await.0, StatusCode::BAD_REQUEST);
    let (_, _, width) = rows("forest_classifier_binary");
    let one_row =
        json!({"inputs": [{"name": "input", "shape": [1, width], "datatype": "FP32", "data": vec![0.5; width]}]});
    let (status, body) = send(&app, post_json("/v2/models/forest/infer", &one_row)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body["error"].as_str().expect("message").contains("unloaded"));
    let (_, ready_only) = send(&app, post_json("/v2/repository/index", &json!({"ready": true}))).await;
    assert_eq!(ready_only.as_array().expect("list").len(), 2);
    assert_eq!(send(&app, post_json("/v2/repository/models/forest/load", &json!({}))).await.0, StatusCode::OK);
    assert_eq!(send(&app, post_json("/v2/models/forest/infer", &one_row)).await.0, StatusCode::OK);
    let (status, body) =
        send(&app, post_json("/v2/repository/models/forest/load", &json!({"parameters": {"config": "{}"}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Dropped into the folder while serving: listed, then served after a load.
    let late = dir.path().join("late/4");
    std::fs::create_dir_all(&late).expect("mkdir");
    std::fs::write(late.join("model.onnx"), model_bytes("logreg_binary")).expect("write");
    let (_, index) = send(&app, post_json("/v2/repository/index", &Value::Null)).await;
    assert!(
        index
            .as_array()
            .expect("list")
            .contains(&json!({"name": "late", "version": "4", "state": "UNAVAILABLE", "reason": "not loaded"}))
    );
    assert_eq!(send(&app, post_json("/v2/repository/models/late/load", &json!({}))).await.0, StatusCode::OK);
    assert_eq!(send(&app, get("/v2/models/late/versions/4/ready")).await.0, StatusCode::OK);

    // Uploads: the next version, a chosen one, an existing one, a broken file.
    let upload = |method: Method, uri: &str, body: Vec<u8>| {
        Request::builder().method(method).uri(uri).body(Body::from(body)).expect("request")
    };
    let (status, body) = send(
        &app,
        upload(Method::POST, "/v2/repository/models/forest/versions", model_bytes("forest_classifier_multiclass")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["version"], "2");
    assert!(dir.path().join("forest/2/model.onnx").is_file());
    let (status, _) =
        send(&app, upload(Method::PUT, "/v2/repository/models/forest/versions/9", model_bytes("logreg_binary"))).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) =
        send(&app, upload(Method::PUT, "/v2/repository/models/forest/versions/9", model_bytes("logreg_binary"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) =
        send(&app, upload(Method::PUT, "/v2/repository/models/forest/versions/10", b"junk".to_vec())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(!dir.path().join("forest/10").exists(), "a refused upload writes nothing");
    let (status, _) =
        send(&app, upload(Method::PUT, "/v2/repository/models/..%2Fx/versions/1", model_bytes("logreg_binary"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Deletes.
    let delete = |uri: &str| Request::delete(uri).body(Body::empty()).expect("request");
    assert_eq!(send(&app, delete("/v2/repository/models/forest/versions/9")).await.0, StatusCode::NO_CONTENT);
    assert!(!dir.path().join("forest/9").exists());
    assert_eq!(send(&app, delete("/v2/repository/models/late")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(send(&app, get("/v2/models/late")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, delete("/v2/repository/models/late")).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn limits_and_authentication() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = ServeSettings { max_body_bytes: 4 << 10, max_model_bytes: 64 << 10, ..ServeSettings::default() };
    let tokens = TokenSet::new(["t0ken".to_owned()], None).expect("tokens");
    let (_, app) = model_server(dir.path(), settings, Some(tokens));
    assert_eq!(send(&app, get("/v2/health/live")).await.0, StatusCode::OK, "probes need no token");
    assert_eq!(send(&app, get("/v2/models/forest")).await.0, StatusCode::UNAUTHORIZED);
    let authed = |mut r: Request<Body>| {
        r.headers_mut().insert(header::AUTHORIZATION, "Bearer t0ken".parse().expect("header"));
        r
    };
    assert_eq!(send(&app, authed(get("/v2/models/forest"))).await.0, StatusCode::OK);
    let big =
        json!({"inputs": [{"name": "input", "shape": [1000, 6], "datatype": "FP32", "data": vec![0.123456; 6000]}]});
    assert_eq!(send(&app, authed(post_json("/v2/models/forest/infer", &big))).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    let model = model_bytes("forest_classifier_binary");
    assert!(model.len() > 4 << 10 && model.len() < 64 << 10, "the fixture fits between the two limits");
    let upload = Request::put("/v2/repository/models/small/versions/1").body(Body::from(model)).expect("request");
    assert_eq!(send(&app, authed(upload)).await.0, StatusCode::CREATED, "uploads have the model limit");
    let huge =
        Request::put("/v2/repository/models/big/versions/1").body(Body::from(vec![0u8; 80 << 10])).expect("request");
    assert_eq!(send(&app, authed(huge)).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_server_without_models_has_no_v2_routes() {
    let app = app(AppState::new(ServeSettings::default(), None, "demo"));
    assert_eq!(send(&app, get("/v2/models/forest")).await.0, StatusCode::NOT_FOUND);
}
