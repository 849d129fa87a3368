//! Load on the HTTP service: `kubesage serve --demo` in a process of its own, driven by
//! keep-alive HTTP/1.1 connections in a closed loop (send, read the whole body, repeat).
//! Reports requests/s, latency percentiles and status counts per scenario, the server's
//! memory idle and at peak, and checks that an overloaded server sheds requests with 503
//! while `/healthz` keeps answering, rather than queueing without bound or falling over.
//!
//! The server is this bench binary re-executed with `KUBESAGE_BENCH_SERVE` set, so its
//! resident memory is its own and not the load generator's. The generator runs on a tokio
//! runtime with one worker thread; on a 2-core machine that leaves the server about one core,
//! and the figures are those of the two sharing the machine, not of a dedicated server.
//!
//! Run: `cargo bench -p kubesage-benches --bench serve_load`
//! (`KUBESAGE_BENCH_SECS=N` measures N seconds per scenario after 1 s of warm-up; default 5).

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use kubesage_benches::http_load::{self, Answer, Tally, Target, Window, connect, percentile, send};

/// Set in the environment of the re-executed bench binary: serve, with these extra flags.
const SERVE_ENV: &str = "KUBESAGE_BENCH_SERVE";
const WARM_UP: Duration = Duration::from_secs(1);
/// What a request may take before the generator gives up on it (the server's own timeout is 30 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The liveness probe's `timeoutSeconds` in deploy/kubernetes/deployment.yaml.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
const PROBE_EVERY: Duration = Duration::from_millis(100);

/// `kubesage serve --demo` as a child process, killed when dropped (also when a check panics).
struct Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    addr: String,
    /// Error lines the server logged for requests answered with 5xx.
    failure_lines: Arc<AtomicU64>,
    /// Held open: the child exits when it reads end-of-file here, so a bench killed outright
    /// leaves no server behind.
    _stdin: ChildStdin,
}

impl Server {
    fn start(extra_flags: &str) -> Server {
        let exe = std::env::current_exe().expect("the bench binary's own path");
        let mut child = Command::new(exe)
            .env(SERVE_ENV, extra_flags)
            .env_remove("KUBESAGE_CONFIG")
            .env_remove("KUBESAGE_LOG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server process");
        let stdin = child.stdin.take().expect("the server's stdin is piped");
        // The server logs as in production (level info). Its per-request failure lines (one
        // ERROR for every 503) are counted rather than shown, info lines dropped, and anything
        // else (warnings, other errors, a panic, a failure to start) passed on.
        let stderr = child.stderr.take().expect("the server's stderr is piped");
        let failure_lines = Arc::new(AtomicU64::new(0));
        let counter = failure_lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("tower_http::trace::on_failure") {
                    counter.fetch_add(1, Ordering::Relaxed);
                } else if !line.contains(" INFO ") {
                    eprintln!("server: {line}");
                }
            }
        });
        let stdout = child.stdout.take().expect("the server's stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the server's first line");
        let Some(addr) = line.trim().strip_prefix("listening on http://").map(str::to_owned) else {
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            panic!("the server did not start: first line {line:?}, exit status {status:?}");
        };
        Server { child, addr, failure_lines, _stdin: stdin }
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child's side: run `kubesage serve --demo` on a free loopback port until killed, or
/// until the parent closes our stdin.
fn serve(extra_flags: &str) -> ! {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let mut args = vec!["kubesage", "serve", "--demo", "--listen", "127.0.0.1:0"];
    args.extend(extra_flags.split_whitespace());
    let code = kubesage_server::cli::run(args, &mut std::io::stdout(), &mut std::io::stderr());
    std::process::exit(code.into())
}

/// A series for `POST /v1/anomaly/detect`: a day cycle at 5-minute steps with noise and a
/// spike every 700 points, values with two decimals as an exporter would give them.
fn detect_body(points: usize) -> Bytes {
    let (timestamps, raw) = kubesage_benches::cpu_series(points, 700);
    let values: Vec<f64> = raw.iter().map(|v| (v * 100.0).round() / 100.0).collect();
    let body = serde_json::json!({
        "detector": "default",
        "series": [{
            "labels": {"__name__": "container_cpu_usage_seconds_total", "namespace": "shop", "pod": "checkout-7d4b9c-x2x1q"},
            "timestamps": timestamps,
            "values": values,
        }],
    });
    Bytes::from(serde_json::to_vec(&body).expect("the request serializes"))
}

/// One request on a fresh connection, for `/metrics`.
async fn get_once(addr: &str, path: &str) -> Answer {
    http_load::once(addr, &Target::get(path)).await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// What the `/healthz` probe saw.
#[derive(Default)]
struct ProbeResult {
    ok: u64,
    failed: u64,
    max: Duration,
}

/// Probes `/healthz` every 100 ms over its own connection, on its own thread and runtime (so
/// the 256 load tasks do not delay it), until `stop`; an answer other than 200 or none
/// within the probe timeout is a failure.
fn probe_healthz(addr: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<ProbeResult> {
    std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("the probe's tokio runtime");
        runtime.block_on(async move {
            let mut result = ProbeResult::default();
            let mut sender: Option<SendRequest<Full<Bytes>>> = None;
            let target = Target::get("/healthz");
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                let outcome = tokio::time::timeout(PROBE_TIMEOUT, async {
                    let ready = match sender.as_mut() {
                        Some(s) => s.ready().await.is_ok(),
                        None => false,
                    };
                    let s = match sender.as_mut() {
                        Some(s) if ready => s,
                        _ => sender.insert(connect(&addr).await?),
                    };
                    send(s, &addr, &target).await
                })
                .await;
                result.max = result.max.max(start.elapsed());
                match outcome {
                    Ok(Ok(answer)) if answer.status == 200 => result.ok += 1,
                    _ => {
                        result.failed += 1;
                        sender = None;
                    }
                }
                tokio::time::sleep(PROBE_EVERY).await;
            }
            result
        })
    })
}

/// The value of an unlabelled sample, or the sum of a labelled family's samples whose labels
/// contain every one of `labels`, in Prometheus text.
fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (family, rest) = series.split_once('{').unwrap_or((series, ""));
            (family == name && labels.iter().all(|l| rest.contains(l))).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

async fn memory_mb(addr: &str) -> (f64, f64) {
    let answer = get_once(addr, "/metrics").await;
    let text = String::from_utf8_lossy(&answer.body);
    let rss = metric(&text, "process_resident_memory_bytes", &[]);
    let peak = metric(&text, "process_max_resident_memory_bytes", &[]);
    (rss / 1e6, peak / 1e6)
}

/// One scenario's figures.
struct Row {
    name: String,
    connections: usize,
    rate: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
    statuses: String,
}

impl Row {
    fn new(name: String, connections: usize, tally: &Tally, secs: Duration) -> Row {
        let mut all: Vec<u32> = tally.latencies.values().flatten().copied().collect();
        all.sort_unstable();
        let mut statuses: Vec<String> = tally.latencies.iter().map(|(s, l)| format!("{s}: {}", l.len())).collect();
        if tally.errors > 0 {
            statuses.push(format!("errors: {}", tally.errors));
        }
        if tally.reconnects > 0 {
            statuses.push(format!("reconnects: {}", tally.reconnects));
        }
        Row {
            name,
            connections,
            rate: tally.answered() as f64 / secs.as_secs_f64(),
            p50: percentile(&all, 50.0),
            p99: percentile(&all, 99.0),
            p999: percentile(&all, 99.9),
            max: all.last().map_or(f64::NAN, |&m| f64::from(m) / 1e3),
            statuses: statuses.join(", "),
        }
    }

    fn print(&self, extra: &str) {
        println!(
            "  {:<26} {:>3} conns {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  p99.9 {:>7.2} ms  max {:>7.2} ms  [{}]{extra}",
            self.name, self.connections, self.rate, self.p50, self.p99, self.p999, self.max, self.statuses
        );
    }
}

async fn run_scenario(addr: &str, target: Target, connections: usize, secs: Duration) -> (Row, Tally) {
    let name = target.label();
    let window = Window { warm_up: WARM_UP, measure: secs, request_timeout: REQUEST_TIMEOUT };
    let tally = http_load::load(addr, target, connections, window).await;
    (Row::new(name, connections, &tally, secs), tally)
}

fn main() {
    if let Some(flags) = std::env::var_os(SERVE_ENV) {
        serve(&flags.to_string_lossy());
    }
    let secs = std::env::var("KUBESAGE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map_or(Duration::from_secs(5), Duration::from_secs_f64);
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "kubesage serve --demo in a child process; load from this process: keep-alive HTTP/1.1, closed loop, \
         tokio runtime with 1 worker thread"
    );
    println!(
        "{cores} cores shared by server and load generator; {:.0} s warm-up, then {:.1} s measured per scenario",
        WARM_UP.as_secs_f64(),
        secs.as_secs_f64()
    );
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a tokio runtime");
    runtime.block_on(scenarios(secs));
}

async fn scenarios(secs: Duration) {
    let mut rows = Vec::new();

    let mut server = Server::start("");
    let (idle_rss, _) = memory_mb(&server.addr).await;
    println!("server at {} (default limits: --max-concurrency 64); idle RSS {idle_rss:.1} MB", server.addr);

    let (row, _) = run_scenario(&server.addr, Target::get("/healthz"), 64, secs).await;
    row.print("");
    rows.push(row);

    let (row, tally) = run_scenario(&server.addr, Target::get("/v1/findings"), 64, secs).await;
    let findings = get_once(&server.addr, "/v1/findings").await;
    let count = serde_json::from_slice::<serde_json::Value>(&findings.body)
        .ok()
        .and_then(|v| v["findings"].as_array().map(Vec::len))
        .unwrap_or(0);
    row.print(&format!("  ({count} findings, {:.1} KB a response)", tally.body_bytes as f64 / 1e3));
    rows.push(row);

    let points = 1_000;
    let body = detect_body(points);
    let body_kb = body.len() as f64 / 1e3;
    let target = Target::post_json("/v1/anomaly/detect", body);
    let (row, tally) = run_scenario(&server.addr, target, 64, secs).await;
    let scored = (tally.count(200) * points) as f64 / secs.as_secs_f64();
    row.print(&format!("  ({points} points, {body_kb:.1} KB a request: {scored:.0} points scored/s)"));
    rows.push(Row { name: format!("{} ({points} pts)", row.name), ..row });

    let (_, peak) = memory_mb(&server.addr).await;
    assert!(server.is_running(), "the server exited during the load");
    drop(server);

    // Overload: a server that runs 4 `/v1` requests at once, and 256 connections each posting
    // a 20,000-point series, retrying at once on 503 (ignoring Retry-After: the worst case).
    // A shed request's body is never read, so the server closes that connection after its 503
    // (which does not say `Connection: close`): a request already on its way over it fails
    // ("connection closed before message completed", or a broken pipe while writing the body).
    // Those are counted as errors; the generator reconnects.
    let mut server = Server::start("--max-concurrency 4");
    let (overload_idle, _) = memory_mb(&server.addr).await;
    println!("server at {} with --max-concurrency 4; idle RSS {overload_idle:.1} MB", server.addr);
    let points = 20_000;
    let body = detect_body(points);
    let body_kb = body.len() as f64 / 1e3;
    let target = Target::post_json("/v1/anomaly/detect", body);
    let stop = Arc::new(AtomicBool::new(false));
    let probe = probe_healthz(server.addr.clone(), stop.clone());
    let (row, tally) = run_scenario(&server.addr, target, 256, secs).await;
    stop.store(true, Ordering::Relaxed);
    let probe = probe.join().expect("the /healthz probe panicked");
    let by_status = |status: u16| {
        let mut l = tally.latencies.get(&status).cloned().unwrap_or_default();
        l.sort_unstable();
        format!("p50 {:.2} ms, p99 {:.2} ms", percentile(&l, 50.0), percentile(&l, 99.0))
    };
    row.print(&format!("  ({points} points, {body_kb:.0} KB a request)"));
    let (ok, shed) = (tally.count(200), tally.count(503));
    println!(
        "    overload: {ok} served (200; {}), {shed} shed (503; {}), {} other answers, {} errors; \
         {:.0} points scored/s",
        by_status(200),
        by_status(503),
        tally.answered() - ok - shed,
        tally.errors,
        (ok * points) as f64 / secs.as_secs_f64()
    );
    for (kind, n) in &tally.error_kinds {
        println!("      {n} x {kind}");
    }
    println!(
        "    /healthz during the overload: {} answered 200, {} failed (no 200 within {} s); slowest {:.1} ms",
        probe.ok,
        probe.failed,
        PROBE_TIMEOUT.as_secs(),
        probe.max.as_secs_f64() * 1e3
    );
    let metrics = get_once(&server.addr, "/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body);
    let route = "route=\"/v1/anomaly/detect\"";
    println!(
        "    the server's own count, warm-up included: {} answered 200, {} answered 503",
        metric(&text, "kubesage_http_requests_total", &[route, "status=\"200\""]),
        metric(&text, "kubesage_http_requests_total", &[route, "status=\"503\""]),
    );
    println!(
        "    the server logged {} ERROR lines for failed requests (one per 503) over warm-up and load",
        server.failure_lines.load(Ordering::Relaxed)
    );
    let overload_peak = metric(&text, "process_max_resident_memory_bytes", &[]) / 1e6;
    rows.push(Row { name: format!("{} ({points} pts, limit 4)", row.name), ..row });

    assert!(server.is_running(), "the server exited under overload: it should shed load, not crash");
    assert!(shed > 0, "no request was shed with 503 under overload ({ok} answered 200)");
    assert!(ok > 0, "no request was served under overload ({shed} shed with 503)");
    assert!(
        probe.failed == 0 && probe.ok > 0,
        "/healthz failed {} times (and answered {}) while the API was overloaded",
        probe.failed,
        probe.ok
    );
    drop(server);

    println!("summary:");
    println!(
        "  {:<48} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9}  statuses",
        "scenario", "conns", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms"
    );
    for r in &rows {
        println!(
            "  {:<48} {:>5} {:>9.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2}  {}",
            r.name, r.connections, r.rate, r.p50, r.p99, r.p999, r.max, r.statuses
        );
    }
    println!(
        "  server memory: idle {idle_rss:.1} MB, peak {peak:.1} MB over the first three scenarios; \
         peak {overload_peak:.1} MB under overload (idle {overload_idle:.1} MB)"
    );
    println!("  overload: shed with 503, did not crash; /healthz answered throughout");
}
