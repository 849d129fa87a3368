//! Server-side apply of planned manifests against kube-rs's mock transport: every request's
//! method, path, query (`fieldManager=kubesage`, `dryRun=All`) and content type is checked,
//! and the answers drive the diff.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use kube::client::Body;
use kubesage_k8s::plan::apply::{apply, preview};
use serde_json::{Value, json};

type Log = Arc<Mutex<Vec<String>>>;

/// An API server holding one live Service (`ml/forest-model`, port 8080) and no Deployment;
/// an apply answers the object applied, with server bookkeeping added.
fn mock() -> (kube::Client, Log) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let log: Log = Arc::default();
    let seen = log.clone();
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let method = request.method().clone();
            let path = request.uri().path().to_owned();
            let query = request.uri().query().unwrap_or_default().to_owned();
            let content_type = request
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = http_body_util::BodyExt::collect(request.into_body()).await.expect("body").to_bytes();
            seen.lock().map(|mut l| l.push(format!("{method} {path}?{query} {content_type}"))).ok();
            let live_service = json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "forest-model", "namespace": "ml", "resourceVersion": "7", "uid": "u1"},
                "spec": {"ports": [{"name": "http", "port": 8080}], "type": "ClusterIP"}});
            let (status, answer) = match (method.as_str(), path.as_str()) {
                ("GET", "/api/v1/namespaces/ml/services/forest-model") => (200, live_service),
                ("GET", _) => (
                    404,
                    json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": 404, "reason": "NotFound", "message": "not found"}),
                ),
                ("PATCH", _) => {
                    let mut applied: Value = serde_json::from_slice(&body).expect("the patch is JSON");
                    applied["metadata"]["resourceVersion"] = json!("8");
                    applied["metadata"]["managedFields"] = json!([{"manager": "kubesage"}]);
                    if path.contains("/services/") {
                        applied["spec"]["type"] = json!("ClusterIP");
                    }
                    (200, applied)
                }
                other => panic!("unexpected request {other:?}"),
            };
            let response = Response::builder()
                .status(status)
                .body(Body::from(serde_json::to_vec(&answer).expect("json")))
                .expect("a response");
            send.send_response(response);
        }
    });
    (kube::Client::new(service, "default"), log)
}

fn docs() -> Vec<Value> {
    vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "forest-model", "namespace": "ml"},
               "spec": {"replicas": 2}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "forest-model", "namespace": "ml"},
               "spec": {"ports": [{"name": "http", "port": 80}]}}),
    ]
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f).await.expect("finished in time")
}

#[tokio::test]
async fn a_dry_run_first_then_the_apply() {
    let (client, log) = mock();
    let changes = within(preview(&client, &docs())).await.expect("preview");
    assert!(changes[0].created, "no Deployment yet");
    assert_eq!(changes[0].kind, "Deployment");
    assert!(!changes[1].created);
    assert_eq!(changes[1].object, "ml/forest-model");
    assert_eq!(changes[1].lines, vec!["~ spec.ports[0].port: 8080 -> 80".to_owned()], "only the real change");

    let requests = log.lock().expect("log").clone();
    assert_eq!(requests.len(), 4);
    assert!(requests[0].starts_with("GET /apis/apps/v1/namespaces/ml/deployments/forest-model"));
    for patch in [&requests[1], &requests[3]] {
        assert!(patch.starts_with("PATCH "), "{patch}");
        assert!(patch.contains("dryRun=All") && patch.contains("fieldManager=kubesage"), "{patch}");
        assert!(patch.ends_with("application/apply-patch+yaml"), "{patch}");
    }

    within(apply(&client, &docs())).await.expect("apply");
    let requests = log.lock().expect("log").clone();
    let applies: Vec<&String> = requests[4..].iter().collect();
    assert_eq!(applies.len(), 2, "the apply reads nothing: {applies:?}");
    assert!(
        applies.iter().all(|r| r.starts_with("PATCH ") && !r.contains("dryRun") && r.contains("fieldManager=kubesage"))
    );
}

#[tokio::test]
async fn a_refused_apply_is_an_error_naming_the_object() {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    tokio::spawn(async move {
        while let Some((_, send)) = handle.next_request().await {
            let status = json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": 403, "reason": "Forbidden", "message": "deployments.apps is forbidden"});
            send.send_response(
                Response::builder()
                    .status(403)
                    .body(Body::from(serde_json::to_vec(&status).expect("json")))
                    .expect("response"),
            );
        }
    });
    let client = kube::Client::new(service, "default");
    let err = within(preview(&client, &docs())).await.expect_err("forbidden");
    let text = err.to_string();
    assert!(text.contains("Deployment ml/forest-model") && text.contains("forbidden"), "{text}");
}
