//! The service's own metrics, in the Prometheus text exposition format (version 0.0.4).
//!
//! A handful of counters and histograms do not need a metrics framework: request counts and
//! latencies are recorded by [`track`], the middleware outermost in the stack (so it sees
//! shed, timed-out and refused requests too), and everything that already has a home (the
//! findings, the watch counters) is read from there when `/metrics` is scraped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// Latency buckets in seconds, from half a millisecond (a cached listing) to ten seconds.
const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Inference latency buckets in seconds, from 50 µs (one row through a small model) to 5 s.
const INFERENCE_BUCKETS: &[f64] =
    &[0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// A cumulative histogram with fixed buckets.
#[derive(Debug, Clone)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending upper bounds; `+Inf` is implied).
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram { bounds, counts: vec![0; bounds.len()], sum: 0.0, count: 0 }
    }

    /// Records one observation.
    pub fn observe(&mut self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.counts[i] += 1;
        }
        self.sum += value;
        self.count += 1;
    }

    /// Observations recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, n) in self.bounds.iter().zip(&self.counts) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Http {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
}

/// One served model version's counters.
#[derive(Debug)]
struct ModelStats {
    success: u64,
    failure: u64,
    rows: u64,
    latency: Histogram,
}

/// The service's counters.
#[derive(Debug)]
pub struct Metrics {
    http: Mutex<Http>,
    models: Mutex<BTreeMap<(String, u64), ModelStats>>,
    in_flight: AtomicI64,
    analysis: Mutex<Histogram>,
    watch_lag: Mutex<Histogram>,
    analyses: AtomicU64,
    analyzer_runs: AtomicU64,
    alerts: Mutex<BTreeMap<String, u64>>,
    started: std::time::SystemTime,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            http: Mutex::default(),
            models: Mutex::default(),
            in_flight: AtomicI64::new(0),
            analysis: Mutex::new(Histogram::new(LATENCY_BUCKETS)),
            watch_lag: Mutex::new(Histogram::new(LATENCY_BUCKETS)),
            analyses: AtomicU64::new(0),
            analyzer_runs: AtomicU64::new(0),
            alerts: Mutex::default(),
            started: std::time::SystemTime::now(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    /// Records one finished request.
    pub fn record_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut http = lock(&self.http);
        *http.requests.entry((route.to_owned(), method.to_owned(), status)).or_default() += 1;
        http.latency
            .entry((route.to_owned(), method.to_owned()))
            .or_insert_with(|| Histogram::new(LATENCY_BUCKETS))
            .observe(seconds);
    }

    /// Requests answered so far with `status` on `route` (for tests and the load benchmark).
    pub fn requests(&self, route: &str, status: u16) -> u64 {
        lock(&self.http).requests.iter().filter(|((r, _, s), _)| r == route && *s == status).map(|(_, n)| n).sum()
    }

    /// Records one analysis: its duration, how many analyzers ran, and how long the oldest
    /// change it reflects had waited (`None` for a static source).
    pub fn record_analysis(&self, seconds: f64, analyzers: usize, lag_seconds: Option<f64>) {
        lock(&self.analysis).observe(seconds);
        self.analyses.fetch_add(1, Ordering::Relaxed);
        self.analyzer_runs.fetch_add(analyzers as u64, Ordering::Relaxed);
        if let Some(lag) = lag_seconds {
            lock(&self.watch_lag).observe(lag);
        }
    }

    /// Records one inference request to a model version: whether it succeeded, the rows
    /// (the first dimension of its first input) and the time spent decoding, running and
    /// encoding. Only requests that named a served model are recorded, so the label set is
    /// bounded by the repository, not by what clients send.
    pub fn record_inference(&self, model: &str, version: u64, ok: bool, rows: u64, seconds: f64) {
        let mut models = lock(&self.models);
        let key = (model.to_owned(), version);
        let stats = models.entry(key).or_insert_with(|| ModelStats {
            success: 0,
            failure: 0,
            rows: 0,
            latency: Histogram::new(INFERENCE_BUCKETS),
        });
        if ok {
            stats.success += 1;
            stats.rows += rows;
            stats.latency.observe(seconds);
        } else {
            stats.failure += 1;
        }
    }

    /// Inference requests recorded for a model version: (succeeded, failed).
    pub fn inferences(&self, model: &str, version: u64) -> (u64, u64) {
        lock(&self.models).get(&(model.to_owned(), version)).map_or((0, 0), |s| (s.success, s.failure))
    }

    /// Counts alerts received by status (`firing`, `resolved`).
    pub fn record_alert(&self, status: &str) {
        *lock(&self.alerts).entry(status.to_owned()).or_default() += 1;
    }

    /// The exposition text for `state`.
    pub fn render(&self, state: &AppState) -> String {
        let mut out = String::with_capacity(8 << 10);
        let _ = writeln!(out, "# HELP kubesage_build_info KubeSage version.\n# TYPE kubesage_build_info gauge");
        let _ = writeln!(out, "kubesage_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));

        {
            let http = lock(&self.http);
            header(&mut out, "kubesage_http_requests_total", "counter", "HTTP requests answered, by route and status.");
            for ((route, method, status), n) in &http.requests {
                let _ = writeln!(
                    out,
                    "kubesage_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
            header(&mut out, "kubesage_http_request_duration_seconds", "histogram", "HTTP request latency.");
            for ((route, method), h) in &http.latency {
                h.write(
                    &mut out,
                    "kubesage_http_request_duration_seconds",
                    &format!("route=\"{}\",method=\"{method}\"", escape(route)),
                );
            }
        }
        header(&mut out, "kubesage_http_requests_in_flight", "gauge", "HTTP requests being served.");
        let _ = writeln!(out, "kubesage_http_requests_in_flight {}", self.in_flight.load(Ordering::Relaxed));

        let findings = state.findings_summary();
        header(&mut out, "kubesage_findings", "gauge", "Active findings, by severity.");
        for (severity, n) in [("critical", findings.critical), ("warning", findings.warning), ("info", findings.info)] {
            let _ = writeln!(out, "kubesage_findings{{severity=\"{severity}\"}} {n}");
        }
        header(&mut out, "kubesage_findings_resolved", "gauge", "Resolved findings remembered.");
        let _ = writeln!(out, "kubesage_findings_resolved {}", findings.resolved);

        header(&mut out, "kubesage_analyses_total", "counter", "Analyses of the cluster.");
        let _ = writeln!(out, "kubesage_analyses_total {}", self.analyses.load(Ordering::Relaxed));
        header(
            &mut out,
            "kubesage_analyzer_runs_total",
            "counter",
            "Analyzer runs (an analysis re-runs only those whose kinds changed).",
        );
        let _ = writeln!(out, "kubesage_analyzer_runs_total {}", self.analyzer_runs.load(Ordering::Relaxed));
        header(&mut out, "kubesage_analysis_duration_seconds", "histogram", "Time to analyse the cluster.");
        lock(&self.analysis).write(&mut out, "kubesage_analysis_duration_seconds", "");
        header(
            &mut out,
            "kubesage_watch_lag_seconds",
            "histogram",
            "Time from a watch event's arrival to findings that reflect it.",
        );
        lock(&self.watch_lag).write(&mut out, "kubesage_watch_lag_seconds", "");

        if let Some(view) = state.watch() {
            let stats = view.stats();
            header(&mut out, "kubesage_watch_objects", "gauge", "Objects held by the watch, by kind.");
            for s in &stats {
                let _ = writeln!(out, "kubesage_watch_objects{{kind=\"{}\"}} {}", s.kind.name(), s.objects);
            }
            header(&mut out, "kubesage_watch_events_total", "counter", "Watch events applied, by kind.");
            for s in &stats {
                let _ = writeln!(out, "kubesage_watch_events_total{{kind=\"{}\"}} {}", s.kind.name(), s.events);
            }
            header(&mut out, "kubesage_watch_errors_total", "counter", "Watch stream errors (retried), by kind.");
            for s in &stats {
                let _ = writeln!(out, "kubesage_watch_errors_total{{kind=\"{}\"}} {}", s.kind.name(), s.errors);
            }
            header(&mut out, "kubesage_watch_synced", "gauge", "1 when a kind is listed and watched, by kind.");
            for s in &stats {
                let synced = u8::from(s.status == kubesage_k8s::source::watch::KindStatus::Synced);
                let _ = writeln!(out, "kubesage_watch_synced{{kind=\"{}\"}} {synced}", s.kind.name());
            }
        }

        {
            let models = lock(&self.models);
            header(
                &mut out,
                "kubesage_model_requests_total",
                "counter",
                "Inference requests, by model, version and outcome.",
            );
            for ((model, version), st) in models.iter() {
                let labels = format!("model=\"{}\",version=\"{version}\"", escape(model));
                let _ = writeln!(out, "kubesage_model_requests_total{{{labels},outcome=\"success\"}} {}", st.success);
                let _ = writeln!(out, "kubesage_model_requests_total{{{labels},outcome=\"failure\"}} {}", st.failure);
            }
            header(&mut out, "kubesage_model_rows_total", "counter", "Rows inferred, by model and version.");
            for ((model, version), st) in models.iter() {
                let _ = writeln!(
                    out,
                    "kubesage_model_rows_total{{model=\"{}\",version=\"{version}\"}} {}",
                    escape(model),
                    st.rows
                );
            }
            header(
                &mut out,
                "kubesage_model_inference_duration_seconds",
                "histogram",
                "Time to decode, run and encode a successful inference request, by model and version.",
            );
            for ((model, version), st) in models.iter() {
                st.latency.write(
                    &mut out,
                    "kubesage_model_inference_duration_seconds",
                    &format!("model=\"{}\",version=\"{version}\"", escape(model)),
                );
            }
        }

        header(&mut out, "kubesage_alerts_received_total", "counter", "Alerts received from Alertmanager, by status.");
        for (status, n) in lock(&self.alerts).iter() {
            let _ = writeln!(out, "kubesage_alerts_received_total{{status=\"{}\"}} {n}", escape(status));
        }

        let (rss, peak) = process_memory();
        header(&mut out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        let _ = writeln!(out, "process_resident_memory_bytes {rss}");
        header(&mut out, "process_max_resident_memory_bytes", "gauge", "Peak resident memory size in bytes.");
        let _ = writeln!(out, "process_max_resident_memory_bytes {peak}");
        header(&mut out, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch.");
        let start = self.started.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let _ = writeln!(out, "process_start_time_seconds {start}");
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Resident and peak resident memory from `/proc/self/status` (zero where unavailable).
pub fn process_memory() -> (u64, u64) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return (0, 0) };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The method as a label value: the standard methods by name, any other as `other`, since
/// HTTP allows clients to invent methods and each would otherwise be a new series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Middleware: counts and times every request by its matched route (`unmatched` for 404s)
/// and method (`other` for non-standard ones), so clients probing random paths or sending
/// invented methods cannot blow up the label set.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = method_label(request.method()).to_owned();
    let metrics = state.metrics();
    metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
    metrics.record_request(&route, &method, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Histogram::new(&[0.1, 1.0]);
        for v in [0.05, 0.5, 0.7, 3.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.write(&mut out, "x", "a=\"b\"");
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.1\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"1\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"+Inf\"} 4\n"), "{out}");
        assert!(out.contains("x_count{a=\"b\"} 4\n"), "{out}");
        assert!(out.contains("x_sum{a=\"b\"} 4.25\n"), "{out}");
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
