//! End to end: the real `kubesage anomaly detect` reads a labelled NAB series back from a
//! real Prometheus and finds the labelled anomaly.
//!
//! NAB's `artificialWithAnomaly/art_daily_jumpsup.csv` (two weeks at 5-minute spacing, one
//! labelled anomaly window) is shifted to end an hour ago, written as OpenMetrics text as a
//! pod's `container_cpu_usage`, backfilled with `promtool tsdb create-blocks-from
//! openmetrics`, and served by a `prometheus` child process on a loopback port with no
//! scrape jobs. The CLI then queries it over the series' range.
//!
//! Needs Debian's `prometheus` package (the `prometheus` and `promtool` binaries on PATH);
//! `.ci/run` installs it. Without it these tests fail and say so, rather than skipping.

mod service;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kubesage_core::time::parse_rfc3339;
use kubesage_k8s::prometheus::PrometheusClient;

const METRIC: &str = "container_cpu_usage";
const NAMESPACE: &str = "shop";
const POD: &str = "checkout-7b9d6c5f48-676td";
const CONTAINER: &str = "checkout";
const NAB_FILE: &str = "artificialWithAnomaly/art_daily_jumpsup.csv";
const SPACING: i64 = 300;

/// Anomalies outside the labelled window that still count as "a handful": the series has
/// 4,032 points, and a detector may fire briefly while it learns the daily pattern.
const MAX_OUTSIDE_WINDOW: usize = 5;

/// Readiness polls of Prometheus, 100 ms apart: at most about 30 s.
const READY_TRIES: u32 = 300;

/// A binary from Debian's `prometheus` package, or a failure that says how to get it.
fn debian_tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file()))
        .unwrap_or_default();
    found.unwrap_or_else(|| {
        panic!(
            "`{name}` is not on PATH. The Prometheus end-to-end tests need Debian's `prometheus` package \
             (the `prometheus` and `promtool` binaries): .ci/run installs it, or run \
             `apt-get install prometheus`."
        )
    })
}

/// A series with its labelled anomaly windows, times in Unix seconds.
#[derive(Debug, Clone)]
struct Labelled {
    timestamps: Vec<i64>,
    values: Vec<f64>,
    windows: Vec<(i64, i64)>,
}

impl Labelled {
    fn start(&self) -> i64 {
        self.timestamps[0]
    }
    fn end(&self) -> i64 {
        self.timestamps[self.timestamps.len() - 1]
    }
    fn in_window(&self, t: i64) -> bool {
        self.windows.iter().any(|&(from, to)| (from..=to).contains(&t))
    }
    /// The same series moved by `by` seconds, windows included.
    fn shifted(&self, by: i64) -> Labelled {
        Labelled {
            timestamps: self.timestamps.iter().map(|t| t + by).collect(),
            values: self.values.clone(),
            windows: self.windows.iter().map(|&(a, b)| (a + by, b + by)).collect(),
        }
    }
}

/// NAB writes naive UTC times: `2014-04-01 00:05:00` and `2014-04-10 16:15:00.000000`.
fn nab_time(s: &str) -> i64 {
    parse_rfc3339(&format!("{}Z", s.trim())).unwrap_or_else(|| panic!("a NAB timestamp: {s:?}"))
}

fn load_nab() -> Labelled {
    let nab = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/nab");
    let csv_path = nab.join("data").join(NAB_FILE);
    let csv = std::fs::read_to_string(&csv_path).unwrap_or_else(|e| panic!("read {}: {e}", csv_path.display()));
    let (mut timestamps, mut values) = (Vec::new(), Vec::new());
    for line in csv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let (t, v) = line.split_once(',').unwrap_or_else(|| panic!("a CSV row: {line:?}"));
        timestamps.push(nab_time(t));
        values.push(v.trim().parse::<f64>().unwrap_or_else(|e| panic!("a value in {line:?}: {e}")));
    }
    let windows_path = nab.join("combined_windows.json");
    let windows_json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&windows_path).unwrap_or_else(|e| panic!("read {}: {e}", windows_path.display())),
    )
    .expect("combined_windows.json is JSON");
    let windows: Vec<(i64, i64)> = windows_json[NAB_FILE]
        .as_array()
        .unwrap_or_else(|| panic!("{NAB_FILE} has windows"))
        .iter()
        .map(|w| (nab_time(w[0].as_str().expect("window start")), nab_time(w[1].as_str().expect("window end"))))
        .collect();
    assert!(timestamps.windows(2).all(|p| p[1] - p[0] == SPACING), "the series is evenly spaced");
    assert!(!windows.is_empty());
    Labelled { timestamps, values, windows }
}

/// The NAB series moved to end about an hour before now, on the 5-minute grid.
fn recent_series() -> Labelled {
    let nab = load_nab();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_secs();
    let target_end = i64::try_from(now).expect("now fits i64") - 3_600;
    nab.shifted((target_end - nab.end()).div_euclid(SPACING) * SPACING)
}

fn write_openmetrics(path: &Path, series: &Labelled) {
    let mut text = format!("# TYPE {METRIC} gauge\n");
    for (t, v) in series.timestamps.iter().zip(&series.values) {
        text.push_str(&format!(
            "{METRIC}{{namespace=\"{NAMESPACE}\",pod=\"{POD}\",container=\"{CONTAINER}\"}} {v} {t}\n"
        ));
    }
    text.push_str("# EOF\n");
    std::fs::write(path, text).expect("write the OpenMetrics file");
}

/// A `prometheus` process serving a data folder on a loopback port; killed when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus, with `series` backfilled into its TSDB first when given, and
    /// waits until it reports ready.
    fn start(series: Option<&Labelled>) -> Prometheus {
        let (prometheus, promtool) = (debian_tool("prometheus"), debian_tool("promtool"));
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        if let Some(series) = series {
            let input = dir.path().join("series.om");
            write_openmetrics(&input, series);
            let backfill = Command::new(&promtool)
                .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
                .arg(&input)
                .arg(&data)
                .output()
                .expect("run promtool");
            assert!(
                backfill.status.success(),
                "promtool backfill failed ({}): {}{}",
                backfill.status,
                String::from_utf8_lossy(&backfill.stdout),
                String::from_utf8_lossy(&backfill.stderr)
            );
        }
        // No scrape jobs: the backfilled blocks are all it serves.
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1m\nscrape_configs: []\n").expect("write config");
        let log = dir.path().join("prometheus.log");
        let log_file = std::fs::File::create(&log).expect("create log");
        let port = free_port();
        let child = Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=30d")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log handle"))
            .stderr(log_file)
            .spawn()
            .expect("start prometheus");
        let mut server = Prometheus { child, port, log, _dir: dir };
        server.wait_ready();
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Polls `/-/ready` a bounded number of times; fails early if the process exits.
    fn wait_ready(&mut self) {
        for _ in 0..READY_TRIES {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited ({status}) before it was ready:\n{}", self.log_tail());
            }
            if http_status(self.port, "/-/ready") == Some(200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("prometheus was not ready after {READY_TRIES} tries:\n{}", self.log_tail());
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}

/// The status code of `GET path`, or `None` when nothing answers properly.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head).ok()?.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}

/// Runs `kubesage anomaly detect ARGS`; returns exit code, stdout as JSON (or null), stderr.
fn detect(args: &[&str]) -> (i32, serde_json::Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_kubesage"))
        .args(["anomaly", "detect"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run kubesage");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (output.status.code().unwrap_or(-1), json, stderr)
}

#[test]
fn anomaly_detect_finds_the_labelled_jump_through_prometheus() {
    let began = Instant::now();
    let series = recent_series();
    let prometheus = Prometheus::start(Some(&series));
    eprintln!("backfilled and started Prometheus in {:.1}s", began.elapsed().as_secs_f64());

    // The backfill is what Prometheus serves: every point, exactly, through our client.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let served = runtime
        .block_on(async {
            let client = PrometheusClient::new(&prometheus.url(), Duration::from_secs(30))?;
            client.query_range(METRIC, series.start(), series.end(), SPACING as u64).await
        })
        .unwrap_or_else(|e| panic!("query the backfilled series: {e}\n{}", prometheus.log_tail()));
    assert_eq!(served.len(), 1, "{served:?}");
    assert_eq!(served[0].labels.get("pod").map(|p| p.as_str()), Some(POD));
    assert_eq!(served[0].timestamps, series.timestamps);
    assert_eq!(served[0].values, series.values);

    let (start, end) = (series.start().to_string(), series.end().to_string());
    let detected = Instant::now();
    let (code, report, stderr) = detect(&[
        "--prometheus",
        &prometheus.url(),
        "--query",
        METRIC,
        "--start",
        &start,
        "--end",
        &end,
        "--step",
        "5m",
        "--output",
        "json",
    ]);
    eprintln!("kubesage anomaly detect took {:.1}s", detected.elapsed().as_secs_f64());
    assert_eq!(code, 0, "stderr: {stderr}");

    let all_series = report["series"].as_array().unwrap_or_else(|| panic!("a series list: {report}"));
    assert_eq!(all_series.len(), 1, "{report}");
    let found = &all_series[0];
    assert_eq!(found["labels"]["namespace"], NAMESPACE);
    assert_eq!(found["labels"]["pod"], POD);
    assert_eq!(found["labels"]["container"], CONTAINER);
    assert_eq!(found["object"], serde_json::json!({"kind": "Pod", "namespace": NAMESPACE, "name": POD}));
    assert_eq!(found["points"], series.timestamps.len());

    let anomalies: Vec<i64> = found["anomalies"]
        .as_array()
        .expect("an anomaly list")
        .iter()
        .map(|a| a["timestamp"].as_i64().expect("a timestamp"))
        .collect();
    let (inside, outside): (Vec<i64>, Vec<i64>) = anomalies.iter().partition(|&&t| series.in_window(t));
    let shown = |ts: &[i64]| ts.iter().map(|&t| kubesage_core::time::format_rfc3339(t)).collect::<Vec<_>>();
    assert!(
        !inside.is_empty(),
        "no anomaly inside the labelled window {:?}; anomalies at {:?}",
        series.windows.iter().map(|&(a, b)| shown(&[a, b])).collect::<Vec<_>>(),
        shown(&anomalies)
    );
    assert!(
        outside.len() <= MAX_OUTSIDE_WINDOW,
        "{} anomalies outside the labelled window (at most {MAX_OUTSIDE_WINDOW} expected), the first at {:?}",
        outside.len(),
        shown(&outside[..outside.len().min(12)])
    );

    let findings = report["findings"].as_array().expect("a findings list");
    assert!(
        findings.iter().any(|f| f["analyzer"] == "anomaly"
            && f["reason"] == "MetricAnomaly"
            && f["object"]["kind"] == "Pod"
            && f["object"]["namespace"] == NAMESPACE
            && f["object"]["name"] == POD),
        "no MetricAnomaly finding about Pod {NAMESPACE}/{POD}: {findings:#?}"
    );
    eprintln!(
        "{} anomalies ({} inside the window); whole test {:.1}s",
        anomalies.len(),
        inside.len(),
        began.elapsed().as_secs_f64()
    );
}

#[test]
fn a_query_prometheus_rejects_exits_1_naming_its_error() {
    let prometheus = Prometheus::start(None);
    let (code, _, stderr) =
        detect(&["--prometheus", &prometheus.url(), "--query", "rate(", "--start", "now-1h", "--step", "1m"]);
    assert_eq!(code, 1, "stderr: {stderr}");
    // Prometheus's own words for the mistake reach the user.
    assert!(stderr.contains("parse error") && stderr.contains("unclosed left parenthesis"), "stderr: {stderr}");
}

#[test]
fn an_unreachable_prometheus_exits_1_with_a_clear_message() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let (code, _, stderr) = detect(&["--prometheus", &url, "--query", METRIC, "--timeout", "10", "--output", "json"]);
    assert_eq!(code, 1, "stderr: {stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "the message names the server: {stderr}");
    let lower = stderr.to_lowercase();
    assert!(lower.contains("prometheus") && lower.contains("refused"), "stderr: {stderr}");
}

/// `kubesage serve --prometheus`: a firing alert whose generator URL carries an expression
/// gets the anomalies found in that expression's recent history attached.
#[test]
fn an_alert_gets_the_anomalies_in_its_expression() {
    let series = recent_series();
    let prometheus = Prometheus::start(Some(&series));
    let lookback = format!("{}s", series.end() - series.start());
    let server = service::serve(&[
        "--demo",
        "--prometheus",
        &prometheus.url(),
        "--alert-lookback",
        &lookback,
        "--alert-step",
        "5m",
    ]);

    let expression = format!("{METRIC}{{pod=\"{POD}\"}}");
    let encoded: String = expression
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b == b'_' { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect();
    let starts = kubesage_core::time::format_rfc3339(series.end());
    let payload = serde_json::json!({
        "version": "4", "groupKey": "{}:{alertname=\"CheckoutCpuHigh\"}", "truncatedAlerts": 0,
        "status": "firing", "receiver": "kubesage",
        "groupLabels": {"alertname": "CheckoutCpuHigh"}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager.example",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "CheckoutCpuHigh", "namespace": NAMESPACE, "pod": POD},
            "annotations": {"summary": "checkout CPU is high"},
            "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": format!("http://prometheus.example/graph?g0.expr={encoded}&g0.tab=1"),
            "fingerprint": "c0ffee0000000001"
        }]
    });
    let body = serde_json::to_vec(&payload).expect("JSON");
    let (status, text) =
        service::http(server.addr, "POST", "/v1/alerts", &[("Content-Type", "application/json")], &body);
    assert_eq!(status, 200, "{text}");

    let alert = service::wait_for("the Prometheus check to finish", Duration::from_secs(60), || {
        let a = service::get_json(server.addr, "/v1/alerts/c0ffee0000000001", None);
        (a["prometheus_check"]["status"] != "pending").then_some(a)
    });
    let check = &alert["prometheus_check"];
    assert_eq!(check["status"], "done", "{check}");
    assert_eq!(check["query"], expression.as_str());
    assert_eq!(check["series"], 1);
    let anomalies = alert["anomalies"].as_array().expect("anomalies");
    assert_eq!(anomalies.len(), 1, "{anomalies:#?}");
    let a = &anomalies[0];
    assert_eq!(a["object"], serde_json::json!({"kind": "Pod", "namespace": NAMESPACE, "name": POD}));
    // It is what `kubesage anomaly detect` finds over the same range (the alert's start minus
    // the lookback, to ten minutes after it), which the test above checks against the labels.
    let (start, end) = (series.start().to_string(), (series.end() + 600).to_string());
    let (code, report, stderr) = detect(&[
        "--prometheus",
        &prometheus.url(),
        "--query",
        &expression,
        "--start",
        &start,
        "--end",
        &end,
        "--step",
        "5m",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let expected = &report["findings"][0];
    assert_eq!(a["id"], expected["id"]);
    assert_eq!(a["summary"], expected["summary"]);
    assert_eq!(a["evidence"], expected["evidence"]);
    let inside = report["series"][0]["anomalies"]
        .as_array()
        .expect("anomalies")
        .iter()
        .filter(|p| p["timestamp"].as_i64().is_some_and(|t| series.in_window(t)))
        .count();
    assert!(inside > 0, "the labelled window is among the anomalies attached");
    // The anomaly is kept for later alerts about the same pod too.
    let recorded = service::get_json(server.addr, "/v1/anomalies", None);
    assert!(recorded["findings"].as_array().expect("findings").iter().any(|f| f["id"] == a["id"]));
}

#[test]
fn an_unreachable_prometheus_marks_the_check_failed() {
    let port = free_port();
    let server = service::serve(&["--demo", "--prometheus", &format!("http://127.0.0.1:{port}")]);
    let payload = serde_json::json!({
        "alerts": [{"status": "firing", "labels": {"alertname": "X", "namespace": NAMESPACE, "pod": POD},
                    "startsAt": "2026-11-22T10:00:00Z",
                    "generatorURL": "http://p/graph?g0.expr=up", "fingerprint": "dead000000000001"}]
    });
    let body = serde_json::to_vec(&payload).expect("JSON");
    let (status, _) = service::http(server.addr, "POST", "/v1/alerts", &[("Content-Type", "application/json")], &body);
    assert_eq!(status, 200, "the webhook answers at once, whatever Prometheus does");
    let alert = service::wait_for("the Prometheus check to fail", Duration::from_secs(60), || {
        let a = service::get_json(server.addr, "/v1/alerts/dead000000000001", None);
        (a["prometheus_check"]["status"] != "pending").then_some(a)
    });
    assert_eq!(alert["prometheus_check"]["status"], "failed");
    let error = alert["prometheus_check"]["error"].as_str().expect("an error");
    assert!(error.contains("cannot reach Prometheus"), "{error}");
}
