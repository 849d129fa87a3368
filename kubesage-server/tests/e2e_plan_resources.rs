//! End to end: `kubesage plan resources --prometheus` against a real Prometheus holding
//! cAdvisor-shaped series whose right answers are known.
//!
//! Two days and an hour of samples, one a minute, are written as OpenMetrics, backfilled
//! with `promtool tsdb create-blocks-from openmetrics` and served by a `prometheus` child
//! process on a loopback port (no scrape jobs):
//!
//! - `shop/api-5c7d8f9b6d-k2m4p`, container `api`: a CPU counter growing at 0.4 cores,
//!   a working set of 300 MiB.
//! - `batch/worker-0`, container `worker`: 1 core one hour in five, 0.1 otherwise; a working
//!   set of 1 GiB with a 10-minute 1.5 GiB spike twelve hours before the end.
//! - Decoys the queries must leave out: the pod-level cgroup (`container=""`) and the pause
//!   container (`container="POD"`), both far larger.
//!
//! Needs Debian's `prometheus` package (`prometheus` and `promtool` on PATH); without it the
//! test fails and says so.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kubesage_k8s::plan::resources::histogram::BucketScheme;
use kubesage_k8s::plan::resources::vpa::{cpu_buckets, memory_buckets};

const MIB: f64 = 1024.0 * 1024.0;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
/// History read by the command, and what is backfilled before it so that the first
/// 5-minute rates have data.
const WINDOW: i64 = 2 * DAY;
const LEAD: i64 = HOUR;
const SCRAPE: i64 = 60;
const STEP: i64 = 300;

fn tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not on PATH: this test needs Debian's `prometheus` package (apt-get install prometheus)"
            )
        })
}

/// The worker's CPU rate at `t`, hours counted from the start of the data.
fn worker_cpu(t: i64, start: i64) -> f64 {
    if ((t - start) / HOUR) % 5 == 0 { 1.0 } else { 0.1 }
}

/// The OpenMetrics text of all series over `[start, end]`.
fn openmetrics(start: i64, end: i64) -> String {
    let spike = (end - 12 * HOUR)..(end - 12 * HOUR + 10 * 60);
    let api = r#"namespace="shop",pod="api-5c7d8f9b6d-k2m4p",container="api""#;
    let worker = r#"namespace="batch",pod="worker-0",container="worker""#;
    let pod_level = r#"namespace="shop",pod="api-5c7d8f9b6d-k2m4p",container="""#;
    let pause = r#"namespace="shop",pod="api-5c7d8f9b6d-k2m4p",container="POD""#;
    let times = || (start..=end).step_by(SCRAPE as usize);
    let mut text = String::from("# TYPE container_cpu_usage_seconds counter\n");
    for (labels, rate) in [(api, 0.4), (pod_level, 50.0), (pause, 20.0)] {
        for t in times() {
            text.push_str(&format!(
                "container_cpu_usage_seconds_total{{{labels}}} {} {t}\n",
                rate * (t - start) as f64
            ));
        }
    }
    let mut used = 0.0;
    for t in times() {
        text.push_str(&format!("container_cpu_usage_seconds_total{{{worker}}} {used} {t}\n"));
        used += worker_cpu(t, start) * SCRAPE as f64;
    }
    text.push_str("# TYPE container_memory_working_set_bytes gauge\n");
    for t in times() {
        text.push_str(&format!("container_memory_working_set_bytes{{{api}}} {} {t}\n", 300.0 * MIB));
    }
    for t in times() {
        let bytes = if spike.contains(&t) { 1536.0 * MIB } else { 1024.0 * MIB };
        text.push_str(&format!("container_memory_working_set_bytes{{{worker}}} {bytes} {t}\n"));
    }
    for labels in [pod_level, pause] {
        for t in times() {
            text.push_str(&format!("container_memory_working_set_bytes{{{labels}}} {} {t}\n", 64.0 * 1024.0 * MIB));
        }
    }
    text.push_str("# EOF\n");
    text
}

/// A Prometheus child process; killed when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    log: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Backfills `metrics` and starts Prometheus on a free loopback port; returns once its
    /// log says it is ready to serve.
    fn serve(metrics: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let (input, data) = (dir.path().join("usage.om"), dir.path().join("tsdb"));
        std::fs::write(&input, metrics).expect("write OpenMetrics");
        let backfill = Command::new(tool("promtool"))
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .args([&input, &data])
            .output()
            .expect("run promtool");
        assert!(
            backfill.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&backfill.stdout),
            String::from_utf8_lossy(&backfill.stderr)
        );
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "scrape_configs: []\n").expect("write config");
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let mut child = Command::new(tool("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=30d")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start prometheus");
        // Prometheus logs to stderr; a thread passes its lines on (and keeps the pipe drained).
        let stderr = child.stderr.take().expect("piped stderr");
        let (send, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let server = Prometheus { child, port, log, _dir: dir };
        server.wait_for_log("Server is ready to receive web requests");
        server
    }

    fn wait_for_log(&self, needle: &str) {
        let mut seen = Vec::new();
        loop {
            match self.log.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if line.contains(needle) => return,
                Ok(line) => seen.push(line),
                Err(e) => panic!("prometheus never logged {needle:?} ({e}):\n{}", seen.join("\n")),
            }
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn ceil_to(value: f64, unit: f64) -> u64 {
    ((value / unit - 1e-9).ceil() * unit) as u64
}

fn bucket_end(buckets: BucketScheme, value: f64) -> f64 {
    buckets.start(buckets.bucket_of(value) + 1)
}

fn run_plan(url: &str, end: i64, extra: &[&str]) -> serde_json::Value {
    let end = end.to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_kubesage"))
        .args(["plan", "resources", "--prometheus", url, "--window", "2d", "--step", "5m", "--end", &end])
        .args(["--output", "json"])
        .args(extra)
        .output()
        .expect("run kubesage");
    assert!(out.status.success(), "exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

fn containers(plan: &serde_json::Value) -> Vec<&serde_json::Value> {
    plan["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .flat_map(|w| w["containers"].as_array().expect("c"))
        .collect()
}

#[test]
fn recommendations_from_prometheus_match_the_backfilled_usage() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    // Whole minutes, ending three hours ago: backfilled blocks must not overlap the head.
    let end = (now - 3 * HOUR) / SCRAPE * SCRAPE;
    let start = end - WINDOW - LEAD;
    let prometheus = Prometheus::serve(&openmetrics(start, end));
    let plan = run_plan(&prometheus.url(), end, &[]);

    let all = containers(&plan);
    let names: Vec<&str> = all.iter().filter_map(|c| c["container"].as_str()).collect();
    assert_eq!(names.len(), 2, "the pod cgroup and the pause container are left out: {names:?}");
    let workload = |name: &str| {
        plan["workloads"].as_array().expect("workloads").iter().find(|w| w["workload"]["name"] == name).cloned()
    };
    let api_w = workload("api").expect("the api Deployment, from its pod's name");
    assert_eq!(api_w["workload"]["kind"], "Deployment");
    let worker_w = workload("worker").expect("the worker StatefulSet");
    assert_eq!(worker_w["workload"]["namespace"], "batch");
    let api = &api_w["containers"][0];
    let worker = &worker_w["containers"][0];

    // A 2-day window at 5 minutes is 577 points per series, all of them with data.
    for c in [api, worker] {
        let points = (WINDOW / STEP + 1) as u64;
        assert_eq!((c["cpu_samples"].as_u64(), c["memory_samples"].as_u64()), (Some(points), Some(points)), "{c}");
        assert_eq!(c["history_secs"], WINDOW);
    }

    // api: rate 0.4 cores everywhere, 300 MiB.
    assert_eq!(api["simple"]["recommended"]["cpu_request_millicores"], 400);
    assert_eq!(api["simple"]["recommended"]["memory_request_bytes"], ceil_to(300.0 * MIB * 1.15, 1e6));
    assert_eq!(api["vpa"]["cpu"]["target"], ceil_to(bucket_end(cpu_buckets(), 0.4) * 1150.0, 1.0));
    assert_eq!(api["vpa"]["memory"]["target"], ceil_to(bucket_end(memory_buckets(), 300.0 * MIB) * 1.15, MIB));
    // Confidence: 577 samples are 0.4 days at one a minute, less than the 2-day span.
    let confidence = api["vpa"]["confidence"].as_f64().expect("confidence");
    assert!((confidence - 577.0 / 1440.0).abs() < 1e-9, "{confidence}");
    let upper = bucket_end(cpu_buckets(), 0.4) * 1150.0 * (1.0 + 1.0 / confidence);
    assert_eq!(api["vpa"]["cpu"]["upper"], ceil_to(upper, 1.0));

    // worker: 1 core a fifth of the time, so both the 95th (KRR) and the 90th (VPA)
    // percentiles are 1 core; the median is 0.1.
    assert_eq!(worker["simple"]["recommended"]["cpu_request_millicores"], 1000);
    assert_eq!(worker["vpa"]["cpu"]["target"], ceil_to(bucket_end(cpu_buckets(), 1.0) * 1150.0, 1.0));
    let lower = bucket_end(cpu_buckets(), 0.1) * 1150.0 * (1.0 + 0.001 / confidence).powi(-2);
    assert_eq!(worker["vpa"]["cpu"]["lower"], ceil_to(lower.max(25.0), 1.0));
    // Memory: the 10-minute spike is KRR's peak and, as one of three daily peaks weighted
    // 2, 4 and 8, above VPA's 90th percentile too.
    assert_eq!(worker["simple"]["recommended"]["memory_request_bytes"], ceil_to(1536.0 * MIB * 1.15, 1e6));
    assert_eq!(worker["vpa"]["memory"]["target"], ceil_to(bucket_end(memory_buckets(), 1536.0 * MIB) * 1.15, MIB));

    // --namespace narrows the queries.
    let shop = run_plan(&prometheus.url(), end, &["--namespace", "shop"]);
    let names: Vec<String> =
        containers(&shop).iter().filter_map(|c| c["container"].as_str().map(str::to_owned)).collect();
    assert_eq!(names, ["api"]);
}

#[test]
fn an_unreachable_prometheus_is_a_clear_error() {
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let out = Command::new(env!("CARGO_BIN_EXE_kubesage"))
        .args(["plan", "resources", "--prometheus", &format!("http://127.0.0.1:{port}"), "--timeout", "5"])
        .output()
        .expect("run kubesage");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot reach Prometheus"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
