//! The HTTP service driven through its router with `tower::ServiceExt::oneshot`: no sockets,
//! the whole tower stack of [`kubesage_server::app`] (auth, load shedding, timeout, body
//! limit, JSON errors, metrics, CORS) and every route group.
//!
//! Expectations are computed independently where they can be: the findings a route should
//! list are filtered here from the full list, scan reports are compared with
//! `kubesage_core::scan` on the same input, and the metrics text is parsed line by line.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use kubesage_core::{Cluster, Report, ScanOptions, Severity, TrackedFinding};
use kubesage_server::alerts::StoredAlert;
use kubesage_server::analysis::analyze_once;
use kubesage_server::auth::TokenSet;
use kubesage_server::routes::alerts::{AlertList, Received};
use kubesage_server::routes::anomaly::{AnomalyList, DetectResponse};
use kubesage_server::routes::findings::FindingsPage;
use kubesage_server::{AppState, ServeSettings, app};
use serde_json::{Value, json};
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn demo_cluster() -> Cluster {
    kubesage_k8s::source::demo::cluster().expect("the demo cluster decodes")
}

/// The demo's report as the core computes it, with every analyzer the service runs.
fn demo_report(options: &ScanOptions) -> Report {
    let analyzers = kubesage_k8s::analyze::all();
    kubesage_core::scan(&demo_cluster(), &analyzers, options).expect("the demo scans")
}

/// A state with no analysis yet.
fn fresh_state(settings: ServeSettings, tokens: Option<TokenSet>) -> AppState {
    AppState::new(settings, tokens, "embedded demo cluster")
}

/// A state with the demo analysed once.
fn demo_state(settings: ServeSettings, tokens: Option<TokenSet>) -> AppState {
    let state = fresh_state(settings, tokens);
    analyze_once(&state, &demo_cluster(), &ScanOptions::default()).expect("the demo analyses");
    state
}

fn demo_app() -> Router {
    app(demo_state(ServeSettings::default(), None))
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

fn get_with_token(uri: &str, token: &str) -> Request<Body> {
    Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).expect("request")
}

fn post_json(uri: &str, body: &Value) -> Request<Body> {
    post_raw(uri, "application/json", body.to_string())
}

fn post_raw(uri: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri).header(header::CONTENT_TYPE, content_type).body(body.into()).expect("request")
}

/// Sends one request and returns status, headers and the whole body.
async fn send_raw(app: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
    let response = app.clone().oneshot(request).await.expect("the router is infallible");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("the response body reads").to_bytes();
    (parts.status, parts.headers, bytes)
}

/// Sends one request and parses the body as JSON (`null` when empty).
async fn send(app: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let (status, headers, bytes) = send_raw(app, request).await;
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
    };
    (status, headers, value)
}

/// Sends a request that must succeed and decodes its JSON body as `T`.
async fn send_ok<T: serde::de::DeserializeOwned>(app: &Router, request: Request<Body>) -> T {
    let what = format!("{} {}", request.method(), request.uri());
    let (status, _, body) = send(app, request).await;
    assert_eq!(status, StatusCode::OK, "{what}: {body}");
    serde_json::from_value(body).unwrap_or_else(|e| panic!("{what}: unexpected shape: {e}"))
}

/// Asserts `{"error": "<non-empty>"}` served as JSON, and returns the message.
fn assert_json_error(headers: &HeaderMap, body: &Value) -> String {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("application/json"), "content-type {content_type:?} for {body}");
    let message = body["error"].as_str().unwrap_or_else(|| panic!("no `error` string in {body}"));
    assert!(!message.trim().is_empty(), "empty error message");
    assert_eq!(body.as_object().map(serde_json::Map::len), Some(1), "only `error` in {body}");
    message.to_owned()
}

/// Sends a request expected to fail with `expected`, and returns the error message.
async fn expect_error(app: &Router, request: Request<Body>, expected: StatusCode) -> String {
    let what = format!("{} {}", request.method(), request.uri());
    let (status, headers, body) = send(app, request).await;
    assert_eq!(status, expected, "{what}: {body}");
    assert_json_error(&headers, &body)
}

async fn findings_page(app: &Router, query: &str) -> FindingsPage {
    send_ok(app, get(&format!("/v1/findings{query}"))).await
}

/// What a value looks like on the wire (`Finding::links` is internal and not serialized).
fn as_json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("serializes")
}

fn ids(findings: &[TrackedFinding]) -> Vec<String> {
    findings.iter().map(|t| t.finding.id.clone()).collect()
}

/// Awaits `future`, failing the test rather than hanging if the service never answers. Not a
/// pass/fail timing: every answer awaited this way is expected in milliseconds.
async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future).await.expect("no answer within a minute")
}

/// A body that yields `first` and then never ends while the sender lives; `polled` fires the
/// first time the server reads it.
fn held_body(first: Bytes) -> (Body, tokio::sync::mpsc::Sender<Bytes>, tokio::sync::oneshot::Receiver<()>) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tx.try_send(first).expect("the channel has room");
    let (polled_tx, polled_rx) = tokio::sync::oneshot::channel();
    let stream = futures::stream::unfold((rx, Some(polled_tx)), |(mut rx, mut polled)| async move {
        if let Some(p) = polled.take() {
            let _ = p.send(());
        }
        rx.recv().await.map(|chunk| (Ok::<_, Infallible>(chunk), (rx, polled)))
    });
    (Body::from_stream(stream), tx, polled_rx)
}

/// Two thousand points of a sine, one minute apart, with a spike at `SPIKE` and gaps at `GAP`.
const SPIKE: usize = 1_500;
const GAP: usize = 700;
const T0: i64 = 1_763_600_000;

fn spiky_series(namespace: &str, pod: &str) -> Value {
    let timestamps: Vec<i64> = (0..2_000).map(|i| T0 + 60 * i).collect();
    let values: Vec<Value> = (0..2_000usize)
        .map(|i| match i {
            SPIKE => json!(400.0),
            GAP => Value::Null,
            _ => json!(50.0 + 10.0 * (i as f64 * std::f64::consts::TAU / 100.0).sin()),
        })
        .collect();
    json!({
        "labels": {"__name__": "container_memory_working_set_bytes", "namespace": namespace, "pod": pod, "container": "app"},
        "timestamps": timestamps,
        "values": values,
    })
}

/// One alert as Alertmanager's webhook (version 4) sends it.
fn am_alert(status: &str, labels: Value, fingerprint: &str, ends_at: &str) -> Value {
    json!({
        "status": status,
        "labels": labels,
        "annotations": {
            "summary": "Pod is crash looping.",
            "description": "Pod is in waiting state (reason: \"CrashLoopBackOff\").",
            "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping",
        },
        "startsAt": "2026-11-20T09:45:00.000Z",
        "endsAt": ends_at,
        "generatorURL": "http://prometheus-k8s-0:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason%5B5m%5D%29+%3E%3D+1&g0.tab=1",
        "fingerprint": fingerprint,
    })
}

/// A whole webhook notification (version 4) carrying `alerts`.
fn am_payload(status: &str, alerts: Vec<Value>) -> Value {
    let common_labels = alerts.first().map(|a| a["labels"].clone()).unwrap_or_else(|| json!({}));
    json!({
        "version": "4",
        "groupKey": "{}/{severity=\"critical\"}:{alertname=\"KubePodCrashLooping\"}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "kubesage",
        "groupLabels": {"alertname": common_labels["alertname"].clone()},
        "commonLabels": common_labels,
        "commonAnnotations": {"summary": "Pod is crash looping."},
        "externalURL": "http://alertmanager-main-0:9093",
        "alerts": alerts,
    })
}

const FIRING_ENDS_AT: &str = "0001-01-01T00:00:00Z";

// ---------------------------------------------------------------------------------------
// 1. Probes
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn probes_follow_the_state_from_starting_to_ready_to_shutting_down() {
    let state = fresh_state(ServeSettings::default(), None);
    let app = app(state.clone());

    let (status, _, body) = send(&app, get("/healthz")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));

    let (status, _, body) = send(&app, get("/readyz")).await;
    assert_eq!((status, body), (StatusCode::SERVICE_UNAVAILABLE, json!({"status": "starting"})));

    analyze_once(&state, &demo_cluster(), &ScanOptions::default()).expect("the demo analyses");
    let (status, _, body) = send(&app, get("/readyz")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ready"})));

    state.begin_shutdown();
    let (status, _, body) = send(&app, get("/readyz")).await;
    assert_eq!((status, body), (StatusCode::SERVICE_UNAVAILABLE, json!({"status": "shutting down"})));
    // Liveness is not readiness: a draining process is still alive.
    let (status, _, body) = send(&app, get("/healthz")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
}

// ---------------------------------------------------------------------------------------
// 2. Findings
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn findings_list_everything_active_most_severe_first() {
    let app = demo_app();
    let expected = demo_report(&ScanOptions::default());
    let page = findings_page(&app, "").await;

    assert_eq!(page.total, expected.findings.len());
    assert_eq!(page.findings.len(), page.total, "the default page holds the whole demo");
    assert_eq!(ids(&page.findings), expected.findings.iter().map(|f| f.id.clone()).collect::<Vec<_>>());
    assert!(page.findings.windows(2).all(|w| w[0].finding.severity >= w[1].finding.severity), "most severe first");
    assert!(page.findings.iter().any(|t| t.finding.severity == Severity::Info), "the demo has every severity");
    assert_eq!(page.source, "embedded demo cluster");
    assert_eq!(page.observed_at, expected.observed_at);
    let stamp = expected.observed_at.clone().expect("the demo has a time");
    for t in &page.findings {
        assert_eq!(t.status, kubesage_core::FindingStatus::Active);
        assert_eq!((t.first_seen.as_str(), t.last_seen.as_str()), (stamp.as_str(), stamp.as_str()));
        assert!(t.resolved_at.is_none());
    }
}

#[tokio::test]
async fn findings_filters_narrow_the_list_as_stated() {
    let app = demo_app();
    let all = findings_page(&app, "").await.findings;
    let expect = |keep: &dyn Fn(&TrackedFinding) -> bool| -> Vec<String> {
        all.iter().filter(|t| keep(t)).map(|t| t.finding.id.clone()).collect()
    };

    let cases: Vec<(&str, Vec<String>)> = vec![
        ("?namespace=shop", expect(&|t| t.finding.object.namespace.as_deref() == Some("shop"))),
        ("?severity=warning", expect(&|t| t.finding.severity == Severity::Warning)),
        ("?severity=critical,info", expect(&|t| t.finding.severity != Severity::Warning)),
        ("?analyzer=pod", expect(&|t| t.finding.analyzer == "pod")),
        ("?analyzer=Service,node", expect(&|t| ["service", "node"].contains(&t.finding.analyzer.as_str()))),
        (
            "?namespace=shop&severity=critical&analyzer=pod",
            expect(&|t| {
                t.finding.object.namespace.as_deref() == Some("shop")
                    && t.finding.severity == Severity::Critical
                    && t.finding.analyzer == "pod"
            }),
        ),
        ("?namespace=no-such-namespace", Vec::new()),
        ("?status=resolved", Vec::new()),
        ("?status=all", expect(&|_| true)),
        ("?status=active", expect(&|_| true)),
    ];
    for (query, want) in cases {
        let page = findings_page(&app, query).await;
        assert_eq!(ids(&page.findings), want, "{query}");
        assert_eq!(page.total, want.len(), "{query}");
    }
    // The filters are not vacuous on the demo.
    let shop = findings_page(&app, "?namespace=shop").await.total;
    assert!(shop > 0 && shop < all.len());
}

#[tokio::test]
async fn findings_pages_concatenate_to_the_full_list() {
    let app = demo_app();
    let all = findings_page(&app, "").await;
    for limit in [1usize, 7, 25] {
        let mut collected = Vec::new();
        let mut offset = 0;
        while offset < all.total + limit {
            let page = findings_page(&app, &format!("?limit={limit}&offset={offset}")).await;
            assert_eq!(page.total, all.total, "total is the count of all matches, not of the page");
            assert!(page.findings.len() <= limit);
            collected.extend(ids(&page.findings));
            offset += limit;
        }
        assert_eq!(collected, ids(&all.findings), "limit {limit}");
    }
    let empty = findings_page(&app, "?limit=0").await;
    assert_eq!((empty.findings.len(), empty.total), (0, all.total));
    let past = findings_page(&app, &format!("?offset={}", all.total)).await;
    assert_eq!((past.findings.len(), past.total), (0, all.total));
    // Paging composes with filters.
    let critical = findings_page(&app, "?severity=critical").await;
    let second = findings_page(&app, "?severity=critical&limit=5&offset=5").await;
    assert_eq!(ids(&second.findings), ids(&critical.findings[5..10]));
}

#[tokio::test]
async fn a_finding_by_id_and_unknown_ids() {
    let app = demo_app();
    let all = findings_page(&app, "").await.findings;
    let chosen = &all[all.len() / 2];
    let one: TrackedFinding = send_ok(&app, get(&format!("/v1/findings/{}", chosen.finding.id))).await;
    assert_eq!(&one, chosen);
    assert_eq!(one.status, kubesage_core::FindingStatus::Active);
    assert!(!one.first_seen.is_empty() && !one.last_seen.is_empty());

    let message = expect_error(&app, get("/v1/findings/0123456789abcdef"), StatusCode::NOT_FOUND).await;
    assert!(message.contains("0123456789abcdef"), "{message}");
}

#[tokio::test]
async fn findings_refuse_bad_parameters() {
    let app = demo_app();
    for query in [
        "severity=urgent",
        "severity=critical,",
        "severity=",
        "status=gone",
        "limit=10001",
        "limit=-1",
        "limit=ten",
        "offset=-1",
    ] {
        expect_error(&app, get(&format!("/v1/findings?{query}")), StatusCode::BAD_REQUEST).await;
    }
    // The bounds themselves are accepted.
    findings_page(&app, "?limit=10000&offset=0").await;
}

#[tokio::test]
async fn a_finding_missing_from_a_later_analysis_is_resolved() {
    let state = demo_state(ServeSettings::default(), None);
    let app = app(state.clone());
    let before = findings_page(&app, "").await;

    let mut report = demo_report(&ScanOptions::default());
    let gone = report.findings.iter().position(|f| f.reason == "CrashLoopBackOff").expect("a crash-looping pod");
    let gone = report.findings.remove(gone);
    let later = demo_cluster().observed_at.expect("the demo has a time") + 3_600;
    let change = state.publish(report, later);
    assert_eq!(change.resolved, vec![gone.id.clone()]);
    let stamp = kubesage_core::time::format_rfc3339(later);

    let resolved = findings_page(&app, "?status=resolved").await;
    assert_eq!(resolved.total, 1);
    let r = &resolved.findings[0];
    assert_eq!(r.finding.id, gone.id);
    assert_eq!(r.status, kubesage_core::FindingStatus::Resolved);
    assert_eq!(r.resolved_at.as_deref(), Some(stamp.as_str()));

    let by_id: TrackedFinding = send_ok(&app, get(&format!("/v1/findings/{}", gone.id))).await;
    assert_eq!(by_id.status, kubesage_core::FindingStatus::Resolved);
    assert_eq!(by_id.resolved_at.as_deref(), Some(stamp.as_str()));

    let active = findings_page(&app, "").await;
    assert_eq!(active.total, before.total - 1);
    assert!(!ids(&active.findings).contains(&gone.id));
    // Still-active findings keep their first sighting and move their last one.
    assert!(active.findings.iter().all(|t| t.first_seen == before.findings[0].first_seen && t.last_seen == stamp));

    let everything = findings_page(&app, "?status=all").await;
    assert_eq!(everything.total, before.total);
    assert_eq!(everything.findings.last().map(|t| t.finding.id.clone()), Some(gone.id.clone()), "resolved last");
    // Filters apply to resolved findings too.
    let pods = findings_page(&app, "?status=resolved&analyzer=pod&namespace=shop").await;
    assert_eq!(ids(&pods.findings), vec![gone.id.clone()]);
    assert_eq!(findings_page(&app, "?status=resolved&analyzer=node").await.total, 0);
}

// ---------------------------------------------------------------------------------------
// 3. Authentication
// ---------------------------------------------------------------------------------------

async fn assert_unauthorized(app: &Router, request: Request<Body>) {
    let what = format!("{} {}", request.method(), request.uri());
    let (status, headers, body) = send(app, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    let challenge = headers.get(header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "WWW-Authenticate {challenge:?}");
    assert_json_error(&headers, &body);
}

#[tokio::test]
async fn the_api_needs_a_token_and_the_operational_routes_do_not() {
    let tokens = TokenSet::new(["s3cret-token".to_owned()], None).expect("tokens");
    let app = app(demo_state(ServeSettings::default(), Some(tokens)));

    for uri in ["/v1/findings", "/v1/findings/0123456789abcdef", "/v1/anomalies", "/v1/alerts"] {
        assert_unauthorized(&app, get(uri)).await;
        assert_unauthorized(&app, get_with_token(uri, "wrong-token")).await;
        assert_unauthorized(&app, get_with_token(uri, "s3cret-token-but-longer")).await;
    }
    // A refused POST is refused before its body is read or validated.
    assert_unauthorized(&app, post_raw("/v1/scan", "application/yaml", "not even yaml: [")).await;
    assert_unauthorized(&app, post_json("/v1/alerts", &json!({}))).await;
    let basic = Request::get("/v1/findings")
        .header(header::AUTHORIZATION, "Basic czNjcmV0LXRva2Vu")
        .body(Body::empty())
        .expect("request");
    assert_unauthorized(&app, basic).await;

    let page: FindingsPage = send_ok(&app, get_with_token("/v1/findings", "s3cret-token")).await;
    assert!(page.total > 0);
    let (status, _, _) = send(&app, get_with_token("/v1/alerts", "s3cret-token")).await;
    assert_eq!(status, StatusCode::OK);

    for uri in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let (status, _, _) = send_raw(&app, get(uri)).await;
        assert_eq!(status, StatusCode::OK, "{uri} without a token");
    }
}

#[tokio::test]
async fn a_token_from_a_token_file_is_accepted() {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), "# mounted from Secret kubesage-api-tokens\n\nfile-token-1\n  file-token-2  \n")
        .expect("write the token file");
    let tokens = TokenSet::new(Vec::<String>::new(), Some(file.path())).expect("tokens");
    let app = app(demo_state(ServeSettings::default(), Some(tokens)));

    for token in ["file-token-1", "file-token-2"] {
        let (status, _, _) = send(&app, get_with_token("/v1/findings?limit=1", token)).await;
        assert_eq!(status, StatusCode::OK, "{token}");
    }
    assert_unauthorized(&app, get_with_token("/v1/findings", "# mounted from Secret kubesage-api-tokens")).await;
    assert_unauthorized(&app, get("/v1/findings")).await;
}

// ---------------------------------------------------------------------------------------
// 4. Request bodies: POST /v1/scan
// ---------------------------------------------------------------------------------------

fn demo_yaml() -> &'static str {
    kubesage_k8s::source::demo::DEMO_YAML
}

#[tokio::test]
async fn scanning_a_posted_snapshot_matches_the_core_scan() {
    let app = demo_app();
    let expected = demo_report(&ScanOptions::default());
    assert!(expected.summary.critical > 0);

    let report: Report = send_ok(&app, post_raw("/v1/scan", "application/yaml", demo_yaml())).await;
    assert_eq!(report.summary.critical, expected.summary.critical);
    assert_eq!(report.summary, expected.summary);
    assert_eq!(as_json(&report.findings), as_json(&expected.findings));

    let scoped: Report = send_ok(&app, post_raw("/v1/scan?namespace=shop", "application/yaml", demo_yaml())).await;
    let want = demo_report(&ScanOptions { namespace: Some("shop".into()), ..ScanOptions::default() });
    assert!(!scoped.findings.is_empty());
    assert!(scoped.findings.iter().all(|f| f.object.namespace.as_deref() == Some("shop")));
    assert_eq!(as_json(&scoped.findings), as_json(&want.findings));

    let pods: Report = send_ok(&app, post_raw("/v1/scan?analyzers=pod", "application/yaml", demo_yaml())).await;
    let want = demo_report(&ScanOptions { analyzers: vec!["pod".into()], ..ScanOptions::default() });
    assert!(!pods.findings.is_empty());
    assert!(pods.findings.iter().all(|f| f.analyzer == "pod"));
    assert_eq!(as_json(&pods.findings), as_json(&want.findings));
    assert!(pods.findings.len() < report.findings.len());

    // JSON works as well as YAML: the demo as a List.
    let cluster_json = {
        let docs: Vec<Value> = serde_saphyr_docs(demo_yaml());
        json!({"apiVersion": "v1", "kind": "List", "items": docs})
    };
    let from_json: Report = send_ok(&app, post_json("/v1/scan", &cluster_json)).await;
    assert_eq!(from_json.summary.critical, expected.summary.critical);
}

/// The demo's objects as JSON values, from its YAML (a `List` document or several).
fn serde_saphyr_docs(yaml: &str) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(yaml).expect("the demo YAML parses");
    docs.into_iter()
        .flat_map(|d| match d.get("items").and_then(Value::as_array) {
            Some(items) => items.clone(),
            None => vec![d],
        })
        .collect()
}

#[tokio::test]
async fn scan_refuses_what_it_cannot_use() {
    let app = demo_app();
    let message = expect_error(
        &app,
        post_raw("/v1/scan?analyzers=pod,telepathy", "application/yaml", demo_yaml()),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.contains("telepathy"), "{message}");
    expect_error(&app, post_raw("/v1/scan", "application/json", r#"{"items": ["#), StatusCode::BAD_REQUEST).await;
    expect_error(&app, post_raw("/v1/scan", "application/json", r#"{"hello": 1}"#), StatusCode::BAD_REQUEST).await;
    expect_error(&app, post_raw("/v1/scan", "application/json", ""), StatusCode::BAD_REQUEST).await;
    expect_error(
        &app,
        post_raw("/v1/scan?selector=app%3D%3D%3Dweb%2C%21", "application/yaml", demo_yaml()),
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413() {
    let settings =
        ServeSettings { max_body_bytes: 1024, request_timeout: Duration::from_secs(20), ..ServeSettings::default() };
    let app = app(demo_state(settings, None));
    assert!(demo_yaml().len() > 1024);

    // Declared too large: refused from the header, before any of the body is read. The body
    // never ends, so reading it would end in the request timeout's 503 instead.
    let (body, _tx, _polled) = held_body(Bytes::from_static(&[b' '; 512]));
    let declared = Request::post("/v1/scan")
        .header(header::CONTENT_TYPE, "application/yaml")
        .header(header::CONTENT_LENGTH, demo_yaml().len())
        .body(body)
        .expect("request");
    expect_error(&app, declared, StatusCode::PAYLOAD_TOO_LARGE).await;

    // A whole body with its length.
    let whole = Request::post("/v1/scan")
        .header(header::CONTENT_LENGTH, demo_yaml().len())
        .body(Body::from(demo_yaml()))
        .expect("request");
    expect_error(&app, whole, StatusCode::PAYLOAD_TOO_LARGE).await;

    // Streamed without a length, and endless: refused as soon as it passes the limit.
    let endless = futures::stream::repeat_with(|| Ok::<_, Infallible>(Bytes::from_static(&[b'#'; 256])));
    let streamed = Request::post("/v1/scan").body(Body::from_stream(endless)).expect("request");
    assert!(!streamed.headers().contains_key(header::CONTENT_LENGTH));
    expect_error(&app, streamed, StatusCode::PAYLOAD_TOO_LARGE).await;

    // The other routes that read bodies have the same limit.
    let big = json!({"series": [spiky_series("shop", "p")]});
    expect_error(&app, post_json("/v1/anomaly/detect", &big), StatusCode::PAYLOAD_TOO_LARGE).await;

    // Under the limit is fine.
    let small = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tiny"}}
    ]});
    let report: Report = send_ok(&app, post_json("/v1/scan", &small)).await;
    assert!(report.findings.is_empty());
}

// ---------------------------------------------------------------------------------------
// 5. Anomaly detection
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn anomaly_detection_flags_the_spike_and_records_a_finding_about_the_pod() {
    let app = demo_app();
    let request = json!({"series": [spiky_series("shop", "checkout-7b9d6c5f48-676td")]});
    let response: DetectResponse = send_ok(&app, post_json("/v1/anomaly/detect", &request)).await;

    assert_eq!((response.detector.as_str(), response.threshold), ("default", 0.5));
    assert_eq!(response.series.len(), 1);
    let series = &response.series[0];
    assert_eq!(series.scores.len(), 2_000);
    assert!(series.scores.iter().all(|s| (0.0..=1.0).contains(s)));
    assert_eq!(series.scores[GAP], 0.0, "a null value is a gap and scores 0");
    let spike_t = T0 + 60 * SPIKE as i64;
    let spike = series.anomalies.iter().find(|a| a.timestamp == spike_t).expect("the spike is an anomaly");
    assert_eq!(spike.value, 400.0);
    assert_eq!(spike.time, kubesage_core::time::format_rfc3339(spike_t));
    assert!(series.anomalies.iter().all(|a| a.score >= 0.5));
    let pod = kubesage_core::ObjectRef::new("Pod", "shop", "checkout-7b9d6c5f48-676td");
    assert_eq!(series.object.as_ref(), Some(&pod));
    assert!(series.name.starts_with("container_memory_working_set_bytes{"), "{}", series.name);

    assert_eq!(response.findings.len(), 1);
    let finding = &response.findings[0];
    assert_eq!((finding.analyzer.as_str(), &finding.object), ("anomaly", &pod));

    let recorded: AnomalyList = send_ok(&app, get("/v1/anomalies")).await;
    assert_eq!(recorded.findings.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), vec![finding.id.as_str()]);

    // A series naming no object scores but makes no finding; the same pod again refreshes
    // its finding instead of adding another.
    let mut unlabelled = spiky_series("x", "y");
    unlabelled["labels"] = json!({"__name__": "up"});
    let request = json!({"detector": "mad", "threshold": 0.7,
        "series": [unlabelled, spiky_series("shop", "checkout-7b9d6c5f48-676td")]});
    let response: DetectResponse = send_ok(&app, post_json("/v1/anomaly/detect", &request)).await;
    assert_eq!((response.detector.as_str(), response.threshold, response.series.len()), ("mad", 0.7, 2));
    assert!(response.series[0].object.is_none());
    assert_eq!(response.findings.len(), 1);
    let recorded: AnomalyList = send_ok(&app, get("/v1/anomalies")).await;
    assert_eq!(recorded.findings.len(), 1);
}

#[tokio::test]
async fn anomaly_detection_refuses_bad_requests() {
    let app = demo_app();
    let series = |timestamps: Value, values: Value| json!({"labels": {}, "timestamps": timestamps, "values": values});
    let ok_series = series(json!([1, 2, 3]), json!([1.0, null, 3.0]));

    // Nulls are gaps, not errors.
    let response: DetectResponse =
        send_ok(&app, post_json("/v1/anomaly/detect", &json!({"series": [ok_series]}))).await;
    assert_eq!(response.series[0].scores.len(), 3);
    assert_eq!(response.series[0].scores[1], 0.0);

    let bad_request = [
        json!({"series": [series(json!([1, 2, 3]), json!([1.0, 2.0]))]}),
        json!({"detector": "telepathy", "series": [ok_series]}),
        json!({"threshold": 2, "series": [ok_series]}),
        json!({"threshold": -0.1, "series": [ok_series]}),
        json!({"series": []}),
        json!({"series": [series(json!([3, 2, 1]), json!([1.0, 2.0, 3.0]))]}),
    ];
    for body in bad_request {
        expect_error(&app, post_json("/v1/anomaly/detect", &body), StatusCode::BAD_REQUEST).await;
    }
    let unknown = expect_error(
        &app,
        post_json("/v1/anomaly/detect", &json!({"detector": "telepathy", "series": [ok_series]})),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(unknown.contains("telepathy"), "{unknown}");
    expect_error(&app, post_raw("/v1/anomaly/detect", "application/json", r#"{"series": ["#), StatusCode::BAD_REQUEST)
        .await;

    let unprocessable = [
        json!({"series": 5}),
        json!({"series": [ok_series], "detektor": "mad"}),
        json!({"series": [{"timestamps": [1], "values": [1.0], "unit": "bytes"}]}),
        json!({"series": [{"timestamps": [1]}]}),
        json!({"series": [{"timestamps": [1], "values": ["one"]}]}),
    ];
    for body in unprocessable {
        expect_error(&app, post_json("/v1/anomaly/detect", &body), StatusCode::UNPROCESSABLE_ENTITY).await;
    }

    let no_type = Request::post("/v1/anomaly/detect")
        .body(Body::from(json!({"series": [ok_series]}).to_string()))
        .expect("request");
    expect_error(&app, no_type, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    expect_error(
        &app,
        post_raw("/v1/anomaly/detect", "text/plain", json!({"series": [ok_series]}).to_string()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;

    let recorded: AnomalyList = send_ok(&app, get("/v1/anomalies")).await;
    assert!(recorded.findings.is_empty(), "refused requests record nothing");
}

// ---------------------------------------------------------------------------------------
// 6. Alerts
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn alerts_are_explained_by_findings_and_anomalies_and_updated_in_place() {
    let app = demo_app();
    let all = findings_page(&app, "").await.findings;
    let by_id: HashMap<&str, &TrackedFinding> = all.iter().map(|t| (t.finding.id.as_str(), t)).collect();
    let crash = all
        .iter()
        .find(|t| t.finding.reason == "CrashLoopBackOff" && !t.finding.related.is_empty())
        .expect("the demo has a crash-looping pod with related findings");
    let pod = &crash.finding.object;
    let namespace = pod.namespace.clone().expect("pods are namespaced");
    let related: BTreeSet<&str> =
        crash.finding.related.iter().map(String::as_str).filter(|id| by_id.contains_key(id)).collect();
    assert!(
        related.iter().any(|id| by_id[id].finding.object.kind == "Deployment"),
        "the demo links the pod to its Deployment's finding"
    );

    // An anomaly about the same pod, detected before the alert arrives.
    let detected: DetectResponse =
        send_ok(&app, post_json("/v1/anomaly/detect", &json!({"series": [spiky_series(&namespace, &pod.name)]}))).await;
    let anomaly_id = detected.findings.first().expect("an anomaly finding").id.clone();

    let fingerprint = "8e3f0c1a2b4d5e6f";
    let labels = json!({
        "alertname": "KubePodCrashLooping",
        "container": "app",
        "endpoint": "http",
        "instance": "10.244.1.17:8080",
        "job": "kube-state-metrics",
        "namespace": namespace,
        "pod": pod.name,
        "prometheus": "monitoring/k8s",
        "service": "kube-state-metrics",
        "severity": "critical",
        "uid": "7f6c2d8e-2f4b-4b7e-9a55-3c1d2e4f5a6b",
    });
    let firing = am_payload("firing", vec![am_alert("firing", labels.clone(), fingerprint, FIRING_ENDS_AT)]);
    let received: Received = send_ok(&app, post_json("/v1/alerts", &firing)).await;
    assert_eq!(received.alerts, 1);
    assert_eq!(received.fingerprints, vec![fingerprint.to_owned()]);
    assert_eq!(received.anomalies, 1);

    let alert: StoredAlert = send_ok(&app, get(&format!("/v1/alerts/{fingerprint}"))).await;
    assert_eq!(alert.fingerprint, fingerprint);
    assert_eq!((alert.status.as_str(), alert.notifications), ("firing", 1));
    assert_eq!(alert.ends_at, None, "a firing alert's zero endsAt is no end");
    assert_eq!(alert.receiver, "kubesage");
    assert_eq!(alert.starts_at, "2026-11-20T09:45:00.000Z");
    assert!(alert.generator_url.starts_with("http://prometheus-k8s-0:9090/graph"));
    assert_eq!(alert.labels.get("pod"), Some(&pod.name));
    assert_eq!(alert.annotations.get("summary").map(String::as_str), Some("Pod is crash looping."));
    assert!(alert.objects.contains(pod), "{:?}", alert.objects);
    let attached: BTreeSet<&str> = alert.findings.iter().map(|t| t.finding.id.as_str()).collect();
    assert!(attached.contains(crash.finding.id.as_str()));
    for id in &related {
        assert!(attached.contains(id), "related finding {id} ({:?}) attached", by_id[id].finding.object);
    }
    assert_eq!(received.findings, alert.findings.len());
    assert!(alert.findings.iter().all(|t| by_id.get(t.finding.id.as_str()) == Some(&t)), "as they stood");
    assert_eq!(alert.anomalies.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), vec![anomaly_id.as_str()]);

    // Alertmanager resolves it: the same alert, updated in place.
    let ends_at = "2026-11-20T10:30:00.000Z";
    let resolved = am_payload("resolved", vec![am_alert("resolved", labels, fingerprint, ends_at)]);
    let received: Received = send_ok(&app, post_json("/v1/alerts", &resolved)).await;
    assert_eq!(received.fingerprints, vec![fingerprint.to_owned()]);
    let updated: StoredAlert = send_ok(&app, get(&format!("/v1/alerts/{fingerprint}"))).await;
    assert_eq!((updated.status.as_str(), updated.notifications), ("resolved", 2));
    assert_eq!(updated.ends_at.as_deref(), Some(ends_at));
    assert_eq!(updated.first_received, alert.first_received);

    let listed: AlertList = send_ok(&app, get("/v1/alerts")).await;
    assert_eq!(listed.alerts.len(), 1, "one alert, not one per notification");
    let firing_only: AlertList = send_ok(&app, get("/v1/alerts?status=firing")).await;
    assert!(firing_only.alerts.iter().all(|a| a.fingerprint != fingerprint));
    let resolved_only: AlertList = send_ok(&app, get("/v1/alerts?status=resolved")).await;
    assert_eq!(resolved_only.alerts.iter().map(|a| a.fingerprint.as_str()).collect::<Vec<_>>(), vec![fingerprint]);
    expect_error(&app, get("/v1/alerts?status=pending"), StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn an_alert_naming_only_a_namespace_gets_that_namespaces_findings() {
    let app = demo_app();
    let in_namespace = findings_page(&app, "?namespace=payments&limit=20").await;
    assert!(in_namespace.total > 0);

    let labels = json!({"alertname": "KubeQuotaAlmostFull", "namespace": "payments", "resource": "requests.cpu",
        "severity": "info", "job": "kube-state-metrics"});
    let payload = am_payload("firing", vec![am_alert("firing", labels, "0a1b2c3d4e5f6071", FIRING_ENDS_AT)]);
    let received: Received = send_ok(&app, post_json("/v1/alerts", &payload)).await;
    assert_eq!(received.findings, in_namespace.findings.len());
    let alert: StoredAlert = send_ok(&app, get("/v1/alerts/0a1b2c3d4e5f6071")).await;
    assert!(alert.objects.is_empty(), "{:?}", alert.objects);
    assert_eq!(ids(&alert.findings), ids(&in_namespace.findings), "the namespace's most severe findings");
}

#[tokio::test]
async fn several_alerts_in_one_notification_and_alerts_without_a_fingerprint() {
    let app = demo_app();
    let node = json!({"alertname": "KubeNodeNotReady", "node": "node-c", "severity": "warning"});
    let unrelated = json!({"alertname": "Watchdog", "severity": "none"});
    let payload = am_payload(
        "firing",
        vec![am_alert("firing", node, "", FIRING_ENDS_AT), am_alert("firing", unrelated, "", FIRING_ENDS_AT)],
    );
    let first: Received = send_ok(&app, post_json("/v1/alerts", &payload)).await;
    assert_eq!(first.alerts, 2);
    assert_eq!(first.fingerprints.len(), 2);
    assert_ne!(first.fingerprints[0], first.fingerprints[1]);
    let second: Received = send_ok(&app, post_json("/v1/alerts", &payload)).await;
    assert_eq!(second.fingerprints, first.fingerprints, "a fingerprint is computed from the labels, stably");

    let node_alert: StoredAlert = send_ok(&app, get(&format!("/v1/alerts/{}", first.fingerprints[0]))).await;
    assert_eq!(node_alert.notifications, 2);
    assert!(node_alert.findings.iter().any(|t| t.finding.reason == "NotReady" && t.finding.object.name == "node-c"));
    let watchdog: StoredAlert = send_ok(&app, get(&format!("/v1/alerts/{}", first.fingerprints[1]))).await;
    assert!(watchdog.findings.is_empty() && watchdog.objects.is_empty());
}

#[tokio::test]
async fn alerts_refuse_bad_payloads_and_unknown_fingerprints() {
    let app = demo_app();
    let mut missing_alerts = am_payload("firing", Vec::new());
    missing_alerts.as_object_mut().expect("an object").remove("alerts");
    expect_error(&app, post_json("/v1/alerts", &missing_alerts), StatusCode::UNPROCESSABLE_ENTITY).await;
    expect_error(&app, post_json("/v1/alerts", &json!({"alerts": "many"})), StatusCode::UNPROCESSABLE_ENTITY).await;
    expect_error(
        &app,
        post_json("/v1/alerts", &json!({"alerts": [], "truncatedAlerts": -1})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    expect_error(&app, post_raw("/v1/alerts", "application/json", "{\"alerts\": ["), StatusCode::BAD_REQUEST).await;
    expect_error(&app, get("/v1/alerts/ffffffffffffffff"), StatusCode::NOT_FOUND).await;

    let listed: AlertList = send_ok(&app, get("/v1/alerts")).await;
    assert!(listed.alerts.is_empty());
}

// ---------------------------------------------------------------------------------------
// 7. Overload and 8. timeout
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_full_service_sheds_api_requests_but_still_answers_probes() {
    let settings = ServeSettings { max_concurrency: 1, ..ServeSettings::default() };
    let app = app(demo_state(settings, None));

    // The first request takes the only permit and holds it while its body is unfinished.
    let (body, tx, polled) = held_body(Bytes::from_static(demo_yaml().as_bytes()));
    let holder = tokio::spawn(app.clone().oneshot(post_raw("/v1/scan", "application/yaml", body)));
    within(polled).await.expect("the server reads the first request's body");

    let (status, headers, body) = send(&app, get("/v1/findings")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("1"));
    assert_eq!(
        headers.get(header::CONNECTION).and_then(|v| v.to_str().ok()),
        Some("close"),
        "the unread body ends the connection"
    );
    let message = assert_json_error(&headers, &body);
    assert!(message.contains("overloaded"), "{message}");
    expect_error(&app, post_json("/v1/alerts", &am_payload("firing", Vec::new())), StatusCode::SERVICE_UNAVAILABLE)
        .await;

    for uri in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let (status, _, _) = send_raw(&app, get(uri)).await;
        assert_eq!(status, StatusCode::OK, "{uri} is not shed");
    }

    // Finishing the body finishes the first request, which then releases its permit.
    drop(tx);
    let response = within(holder).await.expect("the first request's task").expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let report: Report = serde_json::from_slice(&bytes).expect("a report");
    assert_eq!(report.summary.critical, demo_report(&ScanOptions::default()).summary.critical);
    let page: FindingsPage = send_ok(&app, get("/v1/findings?limit=1")).await;
    assert_eq!(page.findings.len(), 1);
}

#[tokio::test]
async fn a_request_over_the_timeout_is_answered_503() {
    let settings = ServeSettings { request_timeout: Duration::from_millis(100), ..ServeSettings::default() };
    let app = app(demo_state(settings, None));
    let (body, _tx, _polled) = held_body(Bytes::from_static(b"apiVersion: v1\n"));
    within(expect_error(&app, post_raw("/v1/scan", "application/yaml", body), StatusCode::SERVICE_UNAVAILABLE)).await;
    // The service carries on.
    let (status, _, _) = send(&app, get("/v1/findings?limit=1")).await;
    assert_eq!(status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// 9. Metrics
// ---------------------------------------------------------------------------------------

/// One sample line: `name{labels} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses `key="value",...` with the exposition format's escapes.
fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let valid_key = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err(format!("bad label name {key:?}"));
        }
        if chars.next() != Some('"') {
            return Err(format!("label {key}: value not quoted"));
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('"') => break,
                Some('\\') => match chars.next() {
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    Some('n') => value.push('\n'),
                    other => return Err(format!("label {key}: bad escape {other:?}")),
                },
                Some(c) => value.push(c),
                None => return Err(format!("label {key}: unterminated value")),
            }
        }
        if labels.insert(key.clone(), value).is_some() {
            return Err(format!("label {key} repeated"));
        }
        match chars.next() {
            None => break,
            Some(',') => {}
            Some(c) => return Err(format!("unexpected {c:?} after label {key}")),
        }
    }
    Ok(labels)
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let (series, value) = line.rsplit_once(' ').ok_or("no value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse::<f64>().map_err(|e| format!("value {v:?}: {e}"))?,
    };
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}').ok_or("unclosed labels")?)?),
        None => (series, BTreeMap::new()),
    };
    let valid_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if !valid_name {
        return Err(format!("bad metric name {name:?}"));
    }
    Ok(Sample { name: name.to_owned(), labels, value })
}

/// Parses the whole exposition, checking that each family is announced by HELP then TYPE
/// before its samples and that its lines are not split up.
fn parse_exposition(text: &str) -> Result<Vec<Sample>, String> {
    let mut help: BTreeSet<String> = BTreeSet::new();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut samples = Vec::new();
    let mut enter = |family: &str, current: &mut Option<String>| -> Result<(), String> {
        if current.as_deref() != Some(family) {
            if let Some(previous) = current.take() {
                finished.insert(previous);
            }
            if finished.contains(family) {
                return Err(format!("the lines of {family} are split up"));
            }
            *current = Some(family.to_owned());
        }
        Ok(())
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            return Err("blank line".into());
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, doc) = rest.split_once(' ').unwrap_or((rest, ""));
            enter(name, &mut current)?;
            if doc.trim().is_empty() || !help.insert(name.to_owned()) {
                return Err(format!("HELP for {name} empty or repeated"));
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or_else(|| format!("TYPE without a type: {line}"))?;
            enter(name, &mut current)?;
            if !help.contains(name) {
                return Err(format!("TYPE for {name} before its HELP"));
            }
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(format!("unknown type: {line}"));
            }
            if types.insert(name.to_owned(), kind.to_owned()).is_some() {
                return Err(format!("TYPE for {name} repeated"));
            }
        } else if line.starts_with('#') {
            return Err(format!("unknown comment {line:?}"));
        } else {
            let sample = parse_sample(line).map_err(|e| format!("{e}: {line:?}"))?;
            let family = if types.contains_key(&sample.name) {
                sample.name.clone()
            } else {
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| sample.name.strip_suffix(suffix))
                    .filter(|base| types.get(*base).is_some_and(|k| k == "histogram" || k == "summary"))
                    .ok_or_else(|| format!("no TYPE before {line:?}"))?
                    .to_owned()
            };
            enter(&family, &mut current)?;
            if sample.name.ends_with("_bucket") && !sample.labels.contains_key("le") {
                return Err(format!("bucket without le: {line}"));
            }
            samples.push(sample);
        }
    }
    Ok(samples)
}

fn value_of(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    samples.iter().find(|s| s.name == name && s.labels == want).map(|s| s.value)
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_report_findings() {
    let app = demo_app();
    for _ in 0..3 {
        findings_page(&app, "?limit=2").await;
    }
    expect_error(&app, get("/v1/findings?severity=urgent"), StatusCode::BAD_REQUEST).await;
    expect_error(&app, get("/v1/findings/00000000deadbeef"), StatusCode::NOT_FOUND).await;
    let probe = format!("/wp-admin/{}/setup-config.php", std::process::id());
    expect_error(&app, get(&probe), StatusCode::NOT_FOUND).await;
    expect_error(
        &app,
        Request::delete("/v1/findings").body(Body::empty()).expect("request"),
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;

    // Methods are an open set (RFC 9110 allows extension methods): invented ones must not
    // become label values either, or any client could grow the metrics without bound.
    for i in 0..3 {
        let method = Method::from_bytes(format!("XYZZY{i}").as_bytes()).expect("a method token");
        let request = Request::builder().method(method).uri("/healthz").body(Body::empty()).expect("request");
        expect_error(&app, request, StatusCode::METHOD_NOT_ALLOWED).await;
    }

    let (status, headers, bytes) = send_raw(&app, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = String::from_utf8(bytes.to_vec()).expect("utf-8");
    assert!(text.ends_with('\n'));
    assert!(
        text.contains("kubesage_http_requests_total{route=\"/v1/findings\",method=\"GET\",status=\"200\"} 3\n"),
        "{text}"
    );
    assert!(!text.contains("wp-admin"), "a probed path must not become a label");
    assert!(!text.contains("XYZZY"), "an invented method must not become a label");

    let samples = parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let requests = |route: &str, method: &str, status: &str| {
        value_of(&samples, "kubesage_http_requests_total", &[("route", route), ("method", method), ("status", status)])
    };
    assert_eq!(requests("/v1/findings", "GET", "200"), Some(3.0));
    assert_eq!(requests("/v1/findings", "GET", "400"), Some(1.0));
    assert_eq!(requests("/v1/findings/{id}", "GET", "404"), Some(1.0));
    assert_eq!(requests("unmatched", "GET", "404"), Some(1.0));
    assert_eq!(requests("/metrics", "GET", "200"), None, "this scrape is still being answered");
    let deletes = samples
        .iter()
        .filter(|s| {
            s.name == "kubesage_http_requests_total" && s.labels.get("method").map(String::as_str) == Some("DELETE")
        })
        .map(|s| (s.labels["status"].clone(), s.value))
        .collect::<Vec<_>>();
    assert_eq!(deletes, vec![("405".to_owned(), 1.0)]);
    assert_eq!(requests("/healthz", "other", "405"), Some(3.0), "invented methods are counted together");

    // The latency histogram agrees with the counter and is cumulative.
    let latency = |suffix: &str, le: Option<&str>| {
        let mut labels = vec![("route", "/v1/findings"), ("method", "GET")];
        labels.extend(le.map(|le| ("le", le)));
        value_of(&samples, &format!("kubesage_http_request_duration_seconds{suffix}"), &labels)
    };
    assert_eq!(latency("_count", None), Some(4.0));
    assert_eq!(latency("_bucket", Some("+Inf")), Some(4.0));
    let buckets: Vec<f64> = samples
        .iter()
        .filter(|s| {
            s.name == "kubesage_http_request_duration_seconds_bucket"
                && s.labels.get("route").map(String::as_str) == Some("/v1/findings")
        })
        .map(|s| s.value)
        .collect();
    assert!(buckets.len() > 2 && buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");

    let expected = demo_report(&ScanOptions::default()).summary;
    assert_eq!(value_of(&samples, "kubesage_findings", &[("severity", "critical")]), Some(expected.critical as f64));
    assert_eq!(value_of(&samples, "kubesage_findings", &[("severity", "warning")]), Some(expected.warning as f64));
    assert_eq!(value_of(&samples, "kubesage_findings", &[("severity", "info")]), Some(expected.info as f64));
    assert_eq!(value_of(&samples, "kubesage_findings_resolved", &[]), Some(0.0));
    assert_eq!(value_of(&samples, "kubesage_analyses_total", &[]), Some(1.0));
    assert_eq!(value_of(&samples, "kubesage_http_requests_in_flight", &[]), Some(1.0), "the scrape itself");
}

#[test]
fn the_exposition_parser_rejects_what_prometheus_would() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"uote\"} 2\n";
    let samples = parse_exposition(ok).expect("valid");
    assert_eq!(samples[0].labels["y"], "q\"uote");
    for bad in [
        "a_total 1\n",                                                          // no TYPE
        "# TYPE a gauge\na 1\n",                                                // TYPE before HELP
        "# HELP a A.\n# TYPE a gauge\na{x=1} 1\n",                              // unquoted
        "# HELP a A.\n# TYPE a gauge\na one\n",                                 // not a number
        "# HELP a A.\n# TYPE a gauge\n# HELP b B.\n# TYPE b gauge\nb 1\na 2\n", // split family
    ] {
        assert!(parse_exposition(bad).is_err(), "accepted {bad:?}");
    }
}

// ---------------------------------------------------------------------------------------
// 10. OpenAPI
// ---------------------------------------------------------------------------------------

fn collect_refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_router() {
    let app = demo_app();
    let (status, _, doc) = send(&app, get("/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    assert!(doc["info"]["title"].is_string());

    let expected: BTreeMap<&str, Vec<&str>> = [
        ("/healthz", vec!["get"]),
        ("/readyz", vec!["get"]),
        ("/metrics", vec!["get"]),
        ("/v1/findings", vec!["get"]),
        ("/v1/findings/{id}", vec!["get"]),
        ("/v1/findings/{id}/explanation", vec!["get"]),
        ("/v1/kb/search", vec!["get"]),
        ("/v1/scan", vec!["post"]),
        ("/v1/anomaly/detect", vec!["post"]),
        ("/v1/anomalies", vec!["get"]),
        ("/v1/alerts", vec!["get", "post"]),
        ("/v1/alerts/{fingerprint}", vec!["get"]),
    ]
    .into_iter()
    .collect();
    let paths = doc["paths"].as_object().expect("paths");
    let documented: BTreeMap<&str, Vec<&str>> = paths
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .expect("a path item")
                .keys()
                .map(String::as_str)
                .filter(|k| ["get", "put", "post", "delete", "options", "head", "patch", "trace"].contains(k))
                .collect::<Vec<_>>();
            (path.as_str(), methods)
        })
        .collect();
    assert_eq!(documented, expected);

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"].as_str().map(str::to_ascii_lowercase).as_deref(), Some("bearer"));
    for (path, methods) in &expected {
        for method in methods {
            let operation = &doc["paths"][path][method];
            let secured = operation["security"].as_array().is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            assert_eq!(secured, path.starts_with("/v1/"), "{method} {path} security");
            assert!(operation["responses"]["200"].is_object(), "{method} {path} documents its 200");
        }
    }

    let schemas = doc["components"]["schemas"].as_object().expect("component schemas");
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 10, "the document uses references");
    for r in refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(schemas.contains_key(name), "$ref {r} does not resolve");
    }

    // Every documented operation is served by the router (not its fallback, not a 405).
    for (path, methods) in &expected {
        for method in methods {
            let uri = path.replace("{id}", "0000000000000000").replace("{fingerprint}", "0000000000000000");
            let request = Request::builder()
                .method(Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("a method"))
                .uri(&uri)
                .body(Body::empty())
                .expect("request");
            let (status, _, body) = send_raw(&app, request).await;
            let text = String::from_utf8_lossy(&body);
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
            assert!(!text.contains("no route for"), "{method} {uri} fell through: {text}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// 11. CORS
// ---------------------------------------------------------------------------------------

fn with_origin(method: Method, uri: &str, origin: &str) -> Request<Body> {
    let mut builder = Request::builder().method(method.clone()).uri(uri).header(header::ORIGIN, origin);
    if method == Method::OPTIONS {
        builder = builder
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization");
    }
    builder.body(Body::empty()).expect("request")
}

#[tokio::test]
async fn cors_is_off_by_default() {
    let app = demo_app();
    for method in [Method::GET, Method::OPTIONS] {
        let (_, headers, _) = send_raw(&app, with_origin(method.clone(), "/v1/findings", "https://ui.example")).await;
        assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN), "{method}");
        assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_METHODS), "{method}");
    }
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let settings = ServeSettings { cors_origins: vec!["https://ui.example".into()], ..ServeSettings::default() };
    let tokens = TokenSet::new(["t0ken".to_owned()], None).expect("tokens");
    let app = app(demo_state(settings, Some(tokens)));

    let mut request = with_origin(Method::GET, "/v1/findings?limit=1", "https://ui.example");
    request.headers_mut().insert(header::AUTHORIZATION, "Bearer t0ken".parse().expect("header"));
    let (status, headers, _) = send_raw(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).map(|v| v.as_bytes()),
        Some(&b"https://ui.example"[..])
    );

    // A preflight is answered without a token (browsers send none with it).
    let (status, headers, _) = send_raw(&app, with_origin(Method::OPTIONS, "/v1/findings", "https://ui.example")).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(
        headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).map(|v| v.as_bytes()),
        Some(&b"https://ui.example"[..])
    );
    let methods = headers.get(header::ACCESS_CONTROL_ALLOW_METHODS).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(methods.contains("GET") && methods.contains("POST"), "{methods}");
    let allowed = headers.get(header::ACCESS_CONTROL_ALLOW_HEADERS).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(allowed.to_ascii_lowercase().contains("authorization"), "{allowed}");

    for method in [Method::GET, Method::OPTIONS] {
        let (_, headers, _) = send_raw(&app, with_origin(method.clone(), "/v1/findings", "https://evil.example")).await;
        assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN), "{method} from another origin");
    }
}

// ---------------------------------------------------------------------------------------
// 12. Unknown paths and wrong methods
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_paths_and_wrong_methods_answer_json() {
    let app = demo_app();
    for uri in ["/", "/v1", "/v1/nope", "/v2/findings", "/healthz/extra"] {
        let message = expect_error(&app, get(uri), StatusCode::NOT_FOUND).await;
        assert!(message.contains(uri), "{message}");
    }
    for (method, uri) in [
        (Method::POST, "/healthz"),
        (Method::DELETE, "/metrics"),
        (Method::POST, "/v1/findings"),
        (Method::PUT, "/v1/findings/0000000000000000"),
        (Method::GET, "/v1/scan"),
        (Method::GET, "/v1/anomaly/detect"),
        (Method::DELETE, "/v1/alerts"),
    ] {
        let request = Request::builder().method(method.clone()).uri(uri).body(Body::empty()).expect("request");
        let (status, headers, body) = send(&app, request).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}: {body}");
        assert_json_error(&headers, &body);
        assert!(headers.contains_key(header::ALLOW), "{method} {uri} says what is allowed");
    }
}

// ---------------------------------------------------------------------------------------
// Knowledge base and explanations
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn kb_search_finds_the_builtin_entry_and_checks_its_parameters() {
    let app = demo_app();
    let found: Value = send_ok(&app, get("/v1/kb/search?q=ImagePullBackOff%20manifest%20unknown&top=3")).await;
    let hits = found["hits"].as_array().expect("hits");
    assert!(!hits.is_empty() && hits.len() <= 3, "{found}");
    assert!(hits[0]["heading"].as_str().is_some_and(|h| h.ends_with("pod/ImagePullBackOff")), "{found}");
    for field in ["source", "heading", "score", "text"] {
        assert!(hits.iter().all(|h| !h[field].is_null()), "every hit has {field}");
    }
    for bad in ["/v1/kb/search", "/v1/kb/search?q=", "/v1/kb/search?q=x&top=0", "/v1/kb/search?q=x&top=51"] {
        let (status, headers, body) = send(&app, get(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_json_error(&headers, &body);
    }
}

#[tokio::test]
async fn a_finding_is_explained_offline_with_its_entry_and_evidence() {
    let app = demo_app();
    let page: FindingsPage = send_ok(&app, get("/v1/findings?limit=1")).await;
    let finding = &page.findings[0].finding;
    let explanation: Value = send_ok(&app, get(&format!("/v1/findings/{}/explanation", finding.id))).await;
    assert_eq!(explanation["finding"], finding.id.as_str());
    assert_eq!(explanation["mode"], "offline");
    let answer = explanation["answer"].as_str().expect("an answer");
    assert!(answer.contains(&finding.summary), "{answer}");
    let entry = kubesage_ml::rag::kb::entry(&finding.analyzer, &finding.reason).expect("a built-in entry");
    assert!(answer.contains(&entry.meaning));
    assert!(explanation["sources"].as_array().is_some_and(|s| !s.is_empty()));

    let (status, headers, body) = send(&app, get("/v1/findings/0000000000000000/explanation")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_json_error(&headers, &body);
}
