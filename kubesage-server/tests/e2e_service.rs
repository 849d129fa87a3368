//! End to end: the real `kubesage serve` binary on a loopback port, with the real programs
//! that talk to it in a cluster: a Prometheus that scrapes its `/metrics`, an Alertmanager
//! that posts to its webhook with a bearer token, and a SIGTERM in the middle of a request.
//!
//! Watch mode runs against kmock's Kubernetes API emulator (see `emulator/`), changed
//! through its REST API while `kubesage serve` watches it.
//!
//! Needs Debian's `prometheus` and `prometheus-alertmanager` packages and the virtualenv
//! with kmock (`scripts/test` provides all three). Without them these tests fail and say
//! so, rather than skipping.

mod emulator;
mod service;

use service::{Proc, free_port, get_json, http, read_response, serve, wait_for};

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A program from a Debian package, or a failure that says how to get it.
fn debian_tool(name: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file()))
        .unwrap_or_default();
    found.unwrap_or_else(|| {
        panic!("`{name}` is not on PATH: install Debian's `{package}` package (.ci/run does, via scripts/test)")
    })
}

fn token_file(dir: &Path, token: &str) -> PathBuf {
    let path = dir.join("token");
    std::fs::write(&path, format!("{token}\n")).expect("write the token file");
    path
}

/// The demo's first critical Pod finding: (namespace, pod, finding id).
fn demo_pod_finding(findings: &serde_json::Value) -> (String, String, String) {
    let f = findings["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| {
            f["object"]["kind"] == "Pod"
                && f["severity"] == "critical"
                && !f["related"].as_array().is_none_or(Vec::is_empty)
        })
        .expect("the demo has a critical Pod finding with related findings");
    (
        f["object"]["namespace"].as_str().expect("namespace").to_owned(),
        f["object"]["name"].as_str().expect("name").to_owned(),
        f["id"].as_str().expect("id").to_owned(),
    )
}

#[test]
fn prometheus_scrapes_the_metrics_endpoint() {
    let prometheus = debian_tool("prometheus", "prometheus");
    let server = serve(&["--demo"]);
    let critical =
        get_json(server.addr, "/v1/findings?severity=critical&limit=0", None)["total"].as_u64().expect("a total");
    assert!(critical > 0);

    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: kubesage\n    \
             static_configs:\n      - targets: ['{}']\n",
            server.addr
        ),
    )
    .expect("write prometheus.yml");
    let port = free_port();
    let _prom = Proc(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let prom: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let query = |q: &str| -> Option<f64> {
        let path = format!("/api/v1/query?query={}", q.replace('{', "%7B").replace('}', "%7D").replace('"', "%22"));
        let stream = TcpStream::connect(prom).ok()?;
        drop(stream);
        let (status, body) = http(prom, "GET", &path, &[], b"");
        if status != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    };
    wait_for("Prometheus to scrape kubesage (up == 1)", Duration::from_secs(60), || {
        query("up{job=\"kubesage\"}").filter(|v| *v == 1.0)
    });
    let scraped = wait_for("kubesage_findings in Prometheus", Duration::from_secs(30), || {
        query("kubesage_findings{severity=\"critical\"}")
    });
    assert_eq!(scraped, critical as f64, "Prometheus sees the same critical count as the API");
    // The scrapes themselves are counted by route.
    let scrapes = wait_for("a counted scrape", Duration::from_secs(30), || {
        query("kubesage_http_requests_total{route=\"/metrics\",status=\"200\"}").filter(|v| *v >= 1.0)
    });
    assert!(scrapes >= 1.0);
}

#[test]
fn alertmanager_posts_alerts_that_get_findings_attached() {
    let alertmanager = debian_tool("prometheus-alertmanager", "prometheus-alertmanager");
    let dir = tempfile::tempdir().expect("temp dir");
    let token = "am-e2e-9f2c41";
    let tokens = token_file(dir.path(), token);
    let server = serve(&["--demo", "--token-file", tokens.to_str().expect("utf-8 path")]);
    let all = get_json(server.addr, "/v1/findings?limit=10000", Some(token));
    let (namespace, pod, finding_id) = demo_pod_finding(&all);

    let config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: kubesage\n  group_by: [alertname, namespace, pod]\n  group_wait: 1s\n  \
             group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: kubesage\n    webhook_configs:\n      \
             - url: http://{}/v1/alerts\n        send_resolved: true\n        http_config:\n          \
             authorization:\n            type: Bearer\n            credentials_file: {}\n",
            server.addr,
            tokens.display()
        ),
    )
    .expect("write alertmanager.yml");
    let port = free_port();
    let _am = Proc(
        Command::new(alertmanager)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.path().join("am").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager"),
    );
    let am: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    wait_for("Alertmanager to be ready", Duration::from_secs(30), || {
        TcpStream::connect(am).ok().and_then(|_| (http(am, "GET", "/-/ready", &[], b"").0 == 200).then_some(()))
    });

    let alert = |ends_at: Option<&str>| {
        let mut a = serde_json::json!([{
            "labels": {"alertname": "KubePodCrashLooping", "namespace": namespace, "pod": pod, "severity": "critical"},
            "annotations": {"summary": format!("Pod {namespace}/{pod} is crash looping")},
            "generatorURL": "http://prometheus.example/graph?g0.expr=kube_pod_container_status_restarts_total"
        }]);
        if let Some(t) = ends_at {
            a[0]["endsAt"] = serde_json::Value::String(t.to_owned());
        }
        let body = serde_json::to_vec(&a).expect("JSON");
        let (status, text) = http(am, "POST", "/api/v2/alerts", &[("Content-Type", "application/json")], &body);
        assert_eq!(status, 200, "Alertmanager accepted the alert: {text}");
    };
    alert(None);

    let received = wait_for("the alert to reach kubesage", Duration::from_secs(60), || {
        let list = get_json(server.addr, "/v1/alerts", Some(token));
        list["alerts"].as_array().and_then(|a| a.first().cloned())
    });
    assert_eq!(received["status"], "firing");
    assert_eq!(received["receiver"], "kubesage");
    assert_eq!(received["labels"]["pod"], pod.as_str());
    let attached: Vec<&str> =
        received["findings"].as_array().expect("findings").iter().filter_map(|f| f["id"].as_str()).collect();
    assert!(attached.contains(&finding_id.as_str()), "the pod's finding {finding_id} is attached: {attached:?}");
    assert!(attached.len() > 1, "the pod's related findings come along: {attached:?}");

    // Alertmanager's own fingerprint is the key.
    let (_, am_alerts) = http(am, "GET", "/api/v2/alerts", &[], b"");
    let am_alerts: serde_json::Value = serde_json::from_str(&am_alerts).expect("Alertmanager lists alerts");
    let fingerprint = am_alerts[0]["fingerprint"].as_str().expect("a fingerprint").to_owned();
    assert_eq!(received["fingerprint"], fingerprint.as_str());

    // Resolving it in Alertmanager updates the same alert here.
    let past = kubesage_core::time::format_rfc3339(
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs())
            .expect("fits")
            - 1,
    );
    alert(Some(&past));
    let resolved = wait_for("the resolution to reach kubesage", Duration::from_secs(60), || {
        let a = get_json(server.addr, &format!("/v1/alerts/{fingerprint}"), Some(token));
        (a["status"] == "resolved").then_some(a)
    });
    assert!(resolved["notifications"].as_u64().expect("a count") >= 2);
    assert!(resolved["ends_at"].is_string());
    let firing = get_json(server.addr, "/v1/alerts?status=firing", Some(token));
    assert!(firing["alerts"].as_array().expect("alerts").is_empty());
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits() {
    let mut server = serve(&["--demo"]);
    let body = kubesage_k8s::source::demo::DEMO_YAML.as_bytes();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    write!(
        stream,
        "POST /v1/scan HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("send the head");
    stream.write_all(first).expect("send half the body");
    stream.flush().expect("flush");

    let status = Command::new("kill").args(["-TERM", &server.proc.0.id().to_string()]).status().expect("run kill");
    assert!(status.success());
    // Once the signal is handled the listener closes: new connections are refused.
    wait_for("the listener to close", Duration::from_secs(30), || TcpStream::connect(server.addr).err().map(|_| ()));
    assert!(server.proc.0.try_wait().expect("poll the child").is_none(), "still running: a request is in flight");

    stream.write_all(rest).expect("send the rest of the body");
    let (code, text) = read_response(&mut stream);
    assert_eq!(code, 200, "the request in flight was answered: {text}");
    let report: serde_json::Value = serde_json::from_str(&text).expect("a report");
    assert!(report["summary"]["critical"].as_u64().expect("a count") > 0);

    let exit = wait_for("the process to exit", Duration::from_secs(30), || server.proc.0.try_wait().expect("poll"));
    assert!(exit.success(), "exit status {exit:?}");
}

#[test]
fn refuses_to_serve_an_open_api_beyond_loopback() {
    let out = Command::new(env!("CARGO_BIN_EXE_kubesage"))
        .args(["serve", "--demo", "--listen", "0.0.0.0:0"])
        .output()
        .expect("run kubesage serve");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("without authentication"), "{stderr}");

    let missing = Command::new(env!("CARGO_BIN_EXE_kubesage"))
        .args(["serve", "--demo", "--token-file", "/nonexistent/kubesage-token"])
        .output()
        .expect("run kubesage serve");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/kubesage-token"));
}

fn metric(addr: SocketAddr, name: &str) -> f64 {
    let (_, text) = http(addr, "GET", "/metrics", &[], b"");
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

#[test]
fn watch_mode_tracks_a_problem_from_first_seen_to_resolved() {
    let objects = emulator::demo_objects();
    let emulator = emulator::start_emulator(objects.path(), &["secrets"]);
    let kc = emulator::kubeconfig(emulator.port);
    let server = serve(&["--kubeconfig", kc.path().to_str().expect("utf-8 path"), "--debounce-ms", "50"]);
    let api: SocketAddr = format!("127.0.0.1:{}", emulator.port).parse().expect("address");

    wait_for("the first analysis (readyz 200)", Duration::from_secs(60), || {
        (http(server.addr, "GET", "/readyz", &[], b"").0 == 200).then_some(())
    });
    let first = get_json(server.addr, "/v1/findings?limit=10000", None);
    assert!(first["total"].as_u64().expect("a total") >= 20, "the demo's problems are found: {first}");
    assert!(
        first["skipped"].as_array().expect("skipped").iter().any(|s| s["kind"] == "Secret"),
        "{}",
        first["skipped"]
    );
    assert!(first["source"].as_str().expect("a source").contains("127.0.0.1"));

    // A pod starts crash looping.
    let name = "watch-e2e-crasher";
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "uid": "uid-watch-e2e", "resourceVersion": "1000",
                     "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"containers": [{"name": "app", "image": "registry.example/shop/app:1.4.2"}]},
        "status": {"phase": "Running",
                   "conditions": [{"type": "Ready", "status": "False"}],
                   "containerStatuses": [{"name": "app", "ready": false, "restartCount": 9,
                                          "image": "registry.example/shop/app:1.4.2",
                                          "state": {"waiting": {"reason": "CrashLoopBackOff",
                                                                "message": "back-off 5m0s restarting failed container"}},
                                          "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}
    });
    let runs_before = metric(server.addr, "kubesage_analyzer_runs_total");
    let analyses_before = metric(server.addr, "kubesage_analyses_total");
    let body = serde_json::to_vec(&pod).expect("JSON");
    let (status, text) =
        http(api, "POST", "/api/v1/namespaces/shop/pods", &[("Content-Type", "application/json")], &body);
    assert_eq!(status, 200, "the emulator created the pod: {text}");

    let found = wait_for("the crash loop to be found", Duration::from_secs(60), || {
        let page = get_json(server.addr, "/v1/findings?namespace=shop&analyzer=pod", None);
        page["findings"].as_array().and_then(|fs| {
            fs.iter().find(|f| f["object"]["name"] == name && f["reason"] == "CrashLoopBackOff").cloned()
        })
    });
    assert_eq!(found["status"], "active");
    let id = found["id"].as_str().expect("an id").to_owned();
    let first_seen = found["first_seen"].as_str().expect("first_seen").to_owned();
    assert!(found.get("resolved_at").is_none());

    // Only the analyzers that read Pods ran for that change (and Events did not change).
    let runs = metric(server.addr, "kubesage_analyzer_runs_total") - runs_before;
    let analyses = metric(server.addr, "kubesage_analyses_total") - analyses_before;
    let analyzers = kubesage_k8s::analyze::all().len() as f64;
    assert!(analyses >= 1.0);
    assert!(runs / analyses < analyzers, "{runs} analyzer runs over {analyses} analyses: not incremental");
    assert!(metric(server.addr, "kubesage_watch_events_total{kind=\"Pod\"}") >= 1.0);

    // It recovers: the finding resolves, keeping when it was first seen.
    let healthy = serde_json::json!({
        "metadata": {"resourceVersion": "1001"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "app", "ready": true, "restartCount": 9,
                                          "image": "registry.example/shop/app:1.4.2",
                                          "state": {"running": {"startedAt": "2026-01-01T01:00:00Z"}}}]}
    });
    let body = serde_json::to_vec(&healthy).expect("JSON");
    let path = format!("/api/v1/namespaces/shop/pods/{name}/status");
    let (status, text) = http(api, "PATCH", &path, &[("Content-Type", "application/merge-patch+json")], &body);
    assert_eq!(status, 200, "the emulator patched the pod: {text}");
    let resolved = wait_for("the finding to resolve", Duration::from_secs(60), || {
        let f = get_json(server.addr, &format!("/v1/findings/{id}"), None);
        (f["status"] == "resolved").then_some(f)
    });
    assert_eq!(resolved["first_seen"], first_seen.as_str());
    assert!(resolved["resolved_at"].is_string());
    let listed = get_json(server.addr, "/v1/findings?status=resolved", None);
    assert!(listed["findings"].as_array().expect("findings").iter().any(|f| f["id"] == id.as_str()));

    // Deleting an object removes what was found about it.
    let (status, _) = http(api, "DELETE", &format!("/api/v1/namespaces/shop/pods/{name}"), &[], b"");
    assert_eq!(status, 200);
    wait_for("the pod's findings to go", Duration::from_secs(60), || {
        let page = get_json(server.addr, "/v1/findings?namespace=shop", None);
        let left = page["findings"].as_array()?.iter().any(|f| f["object"]["name"] == name);
        (!left).then_some(())
    });
}
