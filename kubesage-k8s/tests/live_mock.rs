//! The live source against kube-rs's mock transport: every request is checked, so these
//! tests prove one list call per kind, pagination, and how refusals are reported.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use kube::client::Body;
use kubesage_core::{ResourceKind, SourceScope};
use kubesage_k8s::{Error, LiveOptions, LiveSource};
use serde_json::json;

type Log = Arc<Mutex<Vec<String>>>;

/// Answers list requests from `pages` (keyed by path; each entry a sequence of pages) and
/// `statuses` (path -> HTTP error code), recording every request's path and query.
fn mock(pages: BTreeMap<String, Vec<serde_json::Value>>, statuses: BTreeMap<String, u16>) -> (kube::Client, Log) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let log: Log = Arc::default();
    let seen = log.clone();
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            assert_eq!(request.method(), http::Method::GET, "the scan only reads");
            let path = request.uri().path().to_owned();
            let query = request.uri().query().unwrap_or_default().to_owned();
            seen.lock().map(|mut l| l.push(format!("{path}?{query}"))).ok();
            let (status, body) = if let Some(code) = statuses.get(&path) {
                let status = json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": code,
                    "reason": if *code == 403 { "Forbidden" } else { "NotFound" },
                    "message": format!("{path} is not allowed for system:serviceaccount:test:scanner")});
                (*code, status)
            } else {
                let page_index = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("continue=page"))
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(0);
                let body = pages
                    .get(&path)
                    .and_then(|p| p.get(page_index).cloned())
                    .unwrap_or_else(|| json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": []}));
                (200, body)
            };
            let response = Response::builder()
                .status(status)
                .body(Body::from(serde_json::to_vec(&body).unwrap_or_default()))
                .expect("a valid response");
            send.send_response(response);
        }
    });
    (kube::Client::new(service, "default"), log)
}

fn pod(name: &str, phase: &str) -> serde_json::Value {
    json!({"metadata": {"name": name, "namespace": "shop", "uid": name}, "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"phase": phase}})
}

fn scope(kinds: &[ResourceKind]) -> SourceScope {
    SourceScope { namespace: None, kinds: kinds.iter().copied().collect() }
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f).await.expect("the scan finished in time")
}

#[tokio::test]
async fn one_list_call_per_kind() {
    let mut pages = BTreeMap::new();
    pages.insert("/api/v1/pods".to_owned(), vec![json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [pod("a", "Running"), pod("b", "Pending")]})]);
    pages.insert("/api/v1/nodes".to_owned(), vec![json!({"kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": [{"metadata": {"name": "n1"}, "spec": {"unschedulable": true}}]})]);
    let (client, log) = mock(pages, BTreeMap::new());
    let source = LiveSource::from_client(client, "mock");
    let kinds = [
        ResourceKind::Pod,
        ResourceKind::Node,
        ResourceKind::Deployment,
        ResourceKind::Event,
        ResourceKind::EndpointSlice,
    ];
    let cluster = within(source.read(&scope(&kinds))).await.expect("the scan succeeds");

    assert_eq!(cluster.pods.len(), 2);
    assert_eq!(cluster.pods[1].status.phase, "Pending");
    assert!(cluster.nodes[0].spec.unschedulable);
    for k in kinds {
        assert!(cluster.is_loaded(k), "{k} is loaded even when empty");
    }
    let mut requests = log.lock().expect("log").clone();
    requests.sort();
    assert_eq!(
        requests,
        vec![
            "/api/v1/events?limit=500",
            "/api/v1/nodes?limit=500",
            "/api/v1/pods?limit=500",
            "/apis/apps/v1/deployments?limit=500",
            "/apis/discovery.k8s.io/v1/endpointslices?limit=500",
        ]
    );
}

#[tokio::test]
async fn follows_continue_tokens() {
    let mut pages = BTreeMap::new();
    pages.insert(
        "/api/v1/namespaces/shop/pods".to_owned(),
        vec![
            json!({"metadata": {"continue": "page1"}, "items": [pod("a", "Running"), pod("b", "Running")]}),
            json!({"metadata": {"continue": "page2"}, "items": [pod("c", "Running"), pod("d", "Running")]}),
            json!({"metadata": {"continue": ""}, "items": [pod("e", "Running")]}),
        ],
    );
    let (client, log) = mock(pages, BTreeMap::new());
    let source = LiveSource::from_client(client, "mock").page_size(2);
    let scope = SourceScope {
        namespace: Some("shop".into()),
        kinds: [ResourceKind::Pod, ResourceKind::Node].into_iter().collect(),
    };
    let cluster = within(source.read(&scope)).await.expect("the scan succeeds");
    let names: Vec<&str> = cluster.pods.iter().map(|p| p.metadata.name.as_str()).collect();
    assert_eq!(names, vec!["a", "b", "c", "d", "e"]);
    let requests = log.lock().expect("log").clone();
    let pod_requests: Vec<&String> = requests.iter().filter(|r| r.contains("/pods")).collect();
    assert_eq!(
        pod_requests,
        vec![
            "/api/v1/namespaces/shop/pods?limit=2",
            "/api/v1/namespaces/shop/pods?limit=2&continue=page1",
            "/api/v1/namespaces/shop/pods?limit=2&continue=page2",
        ]
    );
    // Nodes are cluster-scoped: listed whole even in a namespaced scan.
    assert!(requests.iter().any(|r| r == "/api/v1/nodes?limit=2"));
}

#[tokio::test]
async fn forbidden_and_unserved_kinds_are_skipped_not_fatal() {
    let mut pages = BTreeMap::new();
    pages.insert("/api/v1/pods".to_owned(), vec![json!({"items": [pod("a", "Running")]})]);
    let mut statuses = BTreeMap::new();
    statuses.insert("/api/v1/secrets".to_owned(), 403);
    statuses.insert("/apis/autoscaling/v2/horizontalpodautoscalers".to_owned(), 404);
    let (client, _log) = mock(pages, statuses);
    let source = LiveSource::from_client(client, "mock");
    let kinds = [ResourceKind::Pod, ResourceKind::Secret, ResourceKind::HorizontalPodAutoscaler];
    let cluster = within(source.read(&scope(&kinds))).await.expect("a partial read is not an error");
    assert_eq!(cluster.pods.len(), 1);
    assert!(!cluster.is_loaded(ResourceKind::Secret), "a refused kind is not treated as empty");
    let skipped: BTreeMap<&str, &str> = cluster.skipped.iter().map(|s| (s.kind.as_str(), s.reason.as_str())).collect();
    assert!(skipped["Secret"].starts_with("forbidden: "), "{skipped:?}");
    assert!(skipped["Secret"].contains("system:serviceaccount:test:scanner"));
    assert_eq!(skipped["HorizontalPodAutoscaler"], "not served by this cluster (autoscaling/v2)");
}

#[tokio::test]
async fn nothing_readable_is_an_error() {
    let mut statuses = BTreeMap::new();
    statuses.insert("/api/v1/pods".to_owned(), 403);
    statuses.insert("/api/v1/events".to_owned(), 403);
    let (client, _log) = mock(BTreeMap::new(), statuses);
    let source = LiveSource::from_client(client, "mock");
    let result = within(source.read(&scope(&[ResourceKind::Pod, ResourceKind::Event]))).await;
    match result {
        Err(Error::NothingReadable(why)) => assert!(why.contains("forbidden"), "{why}"),
        other => panic!("expected NothingReadable, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_list_is_skipped_with_reason() {
    let mut pages = BTreeMap::new();
    pages.insert("/api/v1/pods".to_owned(), vec![json!({"items": [{"metadata": {"name": 42}}]})]);
    pages.insert("/api/v1/nodes".to_owned(), vec![json!({"items": []})]);
    let (client, _log) = mock(pages, BTreeMap::new());
    let source = LiveSource::from_client(client, "mock");
    let cluster = within(source.read(&scope(&[ResourceKind::Pod, ResourceKind::Node]))).await.expect("nodes were read");
    assert!(cluster.is_loaded(ResourceKind::Node));
    assert!(!cluster.is_loaded(ResourceKind::Pod));
    assert!(
        cluster.skipped.iter().any(|s| s.kind == "Pod" && s.reason.contains("invalid type")),
        "{:?}",
        cluster.skipped
    );
}

fn kubeconfig(server: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\ncontexts:\n- name: dev\n  context:\n    cluster: c\n    user: u\ncurrent-context: dev\nusers:\n- name: u\n  user:\n    token: t\n"
    );
    std::fs::write(file.path(), text).expect("write kubeconfig");
    file
}

#[tokio::test]
async fn unreachable_server_is_a_clear_error() {
    // Bind then drop a listener to find a loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port");
    let kc = kubeconfig(&format!("http://127.0.0.1:{port}"));
    let options =
        LiveOptions { kubeconfig: Some(kc.path().to_owned()), timeout: Duration::from_secs(3), ..Default::default() };
    let source = LiveSource::connect(&options).await.expect("the kubeconfig is valid");
    let result = within(source.read(&scope(&[ResourceKind::Pod, ResourceKind::Event]))).await;
    match result {
        Err(Error::Unreachable { url, reason }) => {
            assert!(url.contains(&port.to_string()));
            assert!(reason.to_lowercase().contains("connect"), "{reason}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_kubeconfigs_are_typed_errors() {
    let kc = kubeconfig("http://127.0.0.1:1");
    let unknown_context =
        LiveOptions { kubeconfig: Some(kc.path().to_owned()), context: Some("prod".into()), ..Default::default() };
    assert!(matches!(LiveSource::connect(&unknown_context).await, Err(Error::Kubeconfig(m)) if m.contains("prod")));

    let garbage = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(garbage.path(), "clusters: [{{{").expect("write");
    let bad = LiveOptions { kubeconfig: Some(garbage.path().to_owned()), ..Default::default() };
    assert!(matches!(LiveSource::connect(&bad).await, Err(Error::Kubeconfig(_))));

    let missing = LiveOptions { kubeconfig: Some("/nonexistent/kubeconfig".into()), ..Default::default() };
    assert!(matches!(LiveSource::connect(&missing).await, Err(Error::Kubeconfig(_))));
}
