//! Model serving side by side (issue 4): `kubesage serve --model-repository DIR` against
//! FastAPI + uvicorn + scikit-learn (benches/model_serve_fastapi.py), the stack this project
//! was first sketched on, serving the same fitted RandomForest (100 trees) and
//! LogisticRegression (benches/model_serve_models.py trains them on fixed synthetic data and
//! exports them with skl2onnx for us, with joblib for the peer).
//!
//! Both servers get the same request bytes on the same route, a single-row Open Inference
//! Protocol JSON infer request (`POST /v2/models/{name}/infer`), from the same closed-loop
//! client (`kubesage_benches::http_load`) at 64 keep-alive connections, after a warm-up.
//! Before measuring, each server's answer to that request is checked against scikit-learn's
//! own prediction (labels equal, probabilities within 1e-5): same model, same answer.
//!
//! Both run in their fast configuration, without a per-request log: ours with `KUBESAGE_LOG=warn`
//! (the default `info` would not log requests either, but warn keeps the bench quiet), uvicorn
//! with `--no-access-log`, uvloop and httptools. uvicorn is measured with 1 and with 2 worker
//! processes (`KUBESAGE_BENCH_FASTAPI_WORKERS`, default `1,2`) and the ratio taken against its
//! best. Our server is this bench binary re-executed with `KUBESAGE_BENCH_MODEL_REPOSITORY`
//! set (so it is the bench profile's build), with tokio's default worker count (2 here).
//!
//! The load generator runs in this process on a tokio runtime with one worker thread; on a
//! 2-core machine it shares the cores with the server under test, for both servers alike.
//! The CPU time of the server (its processes) and of the load generator (this process) over
//! the load, from /proc, is printed per answered request: it tells which side ran out of CPU.
//!
//! Targets (issue 4): at least 20x FastAPI's throughput, and p99 under 2 ms at 64 connections.
//!
//! Run: `benches/model_serve.sh` (makes `.venv-bench` from benches/requirements-serve.txt and
//! runs `cargo bench -p kubesage-benches --bench model_serve`). `KUBESAGE_BENCH_SECS=N`
//! measures N seconds per server and model (default 10); `KUBESAGE_BENCH_PYTHON` overrides
//! the interpreter (default `.venv-bench/bin/python`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use kubesage_benches::http_load::{self, Tally, Target, Window, percentile};
use serde_json::{Value, json};

/// Set in the environment of the re-executed bench binary: serve this model repository.
const SERVE_ENV: &str = "KUBESAGE_BENCH_MODEL_REPOSITORY";
const CONNECTIONS: usize = 64;
const WARM_UP: Duration = Duration::from_secs(2);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may take to answer its readiness probe after it starts.
const START_DEADLINE: Duration = Duration::from_secs(90);
const MODELS: [&str; 2] = ["forest", "logreg"];
const TARGET_RATIO: f64 = 20.0;
const TARGET_P99_MS: f64 = 2.0;
/// How far a probability may be from scikit-learn's (the ONNX graph computes in float32).
const PROBABILITY_TOLERANCE: f64 = 1e-5;

/// A server process, stopped when dropped (also when a check panics).
struct Server {
    name: String,
    child: Child,
    /// `127.0.0.1:PORT`.
    addr: String,
    /// Ours exits when this closes, so a bench killed outright leaves no server behind.
    _stdin: Option<ChildStdin>,
}

impl Server {
    /// Ours: this binary re-executed, serving `repository` on a free loopback port.
    fn ours(repository: &Path) -> Server {
        let exe = std::env::current_exe().expect("the bench binary's own path");
        let mut child = Command::new(exe)
            .env(SERVE_ENV, repository)
            .env("KUBESAGE_LOG", "warn")
            .env_remove("KUBESAGE_CONFIG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start our server");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("our server's stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read our server's first line");
        let Some(addr) = line.trim().strip_prefix("listening on http://").map(str::to_owned) else {
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            panic!("our server did not start: first line {line:?}, exit status {status:?}");
        };
        Server { name: "kubesage".into(), child, addr, _stdin: stdin }
    }

    /// The peer: uvicorn with `workers` processes serving the joblib files in `sklearn`.
    fn fastapi(python: &Path, sklearn: &Path, workers: usize) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let child = Command::new(python)
            .args(["-m", "uvicorn", "model_serve_fastapi:app", "--app-dir"])
            .arg(kubesage_benches::repo_root().join("benches"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--workers", &workers.to_string()])
            .args(["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"])
            .env("MODEL_SERVE_SKLEARN_DIR", sklearn)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start uvicorn with {}: {e}", python.display()));
        Server { name: format!("fastapi x{workers}"), child, addr: format!("127.0.0.1:{port}"), _stdin: None }
    }

    /// Polls `/v2/health/ready` until it answers 200, the process exits, or the deadline.
    async fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited before it was ready: {status}", self.name);
            }
            if let Ok(answer) = http_load::once(&self.addr, &Target::get("/v2/health/ready")).await
                && answer.status == 200
            {
                return;
            }
            assert!(started.elapsed() < START_DEADLINE, "{} was not ready within {START_DEADLINE:?}", self.name);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// CPU seconds (user + system) of the process and its descendants so far.
    fn cpu_seconds(&self) -> Option<f64> {
        process_tree_cpu(self.child.id())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // uvicorn stops its worker processes on SIGTERM, not on SIGKILL: ask first.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clock ticks per second for /proc's CPU times (`getconf CLK_TCK`; 100 on Linux in practice).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
        .unwrap_or(100.0)
}

/// utime + stime of `pid` (all its threads), in seconds.
fn process_cpu(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks())
}

/// utime + stime of `pid` and of its children, recursively, in seconds.
fn process_tree_cpu(pid: u32) -> Option<f64> {
    let mut seconds = process_cpu(pid)?;
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()) {
            seconds += process_tree_cpu(child).unwrap_or(0.0);
        }
    }
    Some(seconds)
}

/// The child's side: `kubesage serve --model-repository DIR` on a free loopback port until
/// killed, or until the parent closes our stdin.
fn serve(repository: &std::ffi::OsStr) -> ! {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let repository = repository.to_string_lossy().into_owned();
    let args = ["kubesage", "serve", "--model-repository", &repository, "--listen", "127.0.0.1:0"];
    let code = kubesage_server::cli::run(args, &mut std::io::stdout(), &mut std::io::stderr());
    std::process::exit(code.into())
}

/// The interpreter with benches/requirements-serve.txt installed.
fn python() -> PathBuf {
    let python = std::env::var_os("KUBESAGE_BENCH_PYTHON")
        .filter(|p| !p.is_empty())
        .map_or_else(|| kubesage_benches::repo_root().join(".venv-bench/bin/python"), PathBuf::from);
    assert!(
        python.exists(),
        "no Python at {}: run benches/model_serve.sh (it creates .venv-bench from benches/requirements-serve.txt), \
         or set KUBESAGE_BENCH_PYTHON to an interpreter with those packages",
        python.display()
    );
    python
}

/// Trains and exports the models into `work`; returns `rows.json`.
fn train(python: &Path, work: &Path) -> Value {
    let script = kubesage_benches::repo_root().join("benches/model_serve_models.py");
    let status = Command::new(python)
        .arg(&script)
        .arg("--out")
        .arg(work)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .status()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    assert!(status.success(), "{} failed: {status}", script.display());
    let rows = std::fs::read(work.join("rows.json")).expect("model_serve_models.py wrote rows.json");
    serde_json::from_slice(&rows).expect("rows.json is JSON")
}

/// The single-row infer request both servers get, byte for byte.
fn request_body(row: &Value) -> Vec<u8> {
    let features = row.as_array().map_or(0, Vec::len);
    let body = json!({
        "inputs": [{"name": "input", "shape": [1, features], "datatype": "FP32", "data": row}],
        "outputs": [{"name": "label"}, {"name": "probabilities"}],
    });
    serde_json::to_vec(&body).expect("the request serializes")
}

/// The label and the probabilities of an infer answer.
fn prediction(server: &str, body: &[u8]) -> (Vec<i64>, Vec<f64>) {
    let answer: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{server} answered no JSON ({e}): {}", String::from_utf8_lossy(body)));
    let output = |name: &str| -> &Vec<Value> {
        answer["outputs"]
            .as_array()
            .and_then(|outputs| outputs.iter().find(|o| o["name"] == name))
            .and_then(|o| o["data"].as_array())
            .unwrap_or_else(|| panic!("{server}: no `{name}` output with data in {answer}"))
    };
    let labels = output("label").iter().map(|v| v.as_i64().expect("an integer label")).collect();
    let probabilities = output("probabilities").iter().map(|v| v.as_f64().expect("a probability")).collect();
    (labels, probabilities)
}

/// Checks that `server` answers `target` as scikit-learn does.
async fn check_prediction(server: &Server, model: &str, target: &Target, sklearn: &Value) {
    let answer = http_load::once(&server.addr, target)
        .await
        .unwrap_or_else(|e| panic!("{}: {}: {}", server.name, target.label(), http_load::chain(e.as_ref())));
    assert_eq!(
        answer.status,
        200,
        "{} answered {} to {}: {}",
        server.name,
        answer.status,
        target.label(),
        String::from_utf8_lossy(&answer.body)
    );
    let (labels, probabilities) = prediction(&server.name, &answer.body);
    let want_label = sklearn["labels"][0].as_i64().expect("scikit-learn's label");
    let want: Vec<f64> = sklearn["probabilities"][0]
        .as_array()
        .expect("scikit-learn's probabilities")
        .iter()
        .map(|v| v.as_f64().expect("a probability"))
        .collect();
    assert_eq!(labels, [want_label], "{} labels {model}'s row {labels:?}; scikit-learn says {want_label}", server.name);
    assert_eq!(probabilities.len(), want.len(), "{}: {model} probabilities {probabilities:?} vs {want:?}", server.name);
    let worst = probabilities.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(
        worst <= PROBABILITY_TOLERANCE,
        "{}: {model} probabilities {probabilities:?} differ from scikit-learn's {want:?} by {worst:e}",
        server.name
    );
}

/// One measurement.
struct Row {
    server: String,
    model: &'static str,
    rate: f64,
    p50: f64,
    p99: f64,
    errors: u64,
    /// The server's CPU time per answered request, µs.
    cpu_per_request: f64,
    /// The load generator's (this process's) CPU time per answered request, µs.
    client_cpu_per_request: f64,
}

impl Row {
    fn new(server: &str, model: &'static str, tally: &Tally, secs: Duration, cpu: [Option<f64>; 2]) -> Row {
        let all = tally.sorted_latencies();
        let ok = tally.count(200);
        let non_ok = (tally.answered() - ok) as u64;
        Row {
            server: server.to_owned(),
            model,
            rate: ok as f64 / secs.as_secs_f64(),
            p50: percentile(&all, 50.0),
            p99: percentile(&all, 99.0),
            errors: tally.errors + non_ok,
            cpu_per_request: cpu[0].map_or(f64::NAN, |c| c * 1e6 / ok.max(1) as f64),
            client_cpu_per_request: cpu[1].map_or(f64::NAN, |c| c * 1e6 / ok.max(1) as f64),
        }
    }

    fn print(&self) {
        println!(
            "  {:<14} {:<8} {:>5} {:>10.0} {:>9.3} {:>9.3} {:>7} {:>14.1} {:>14.1}",
            self.server,
            self.model,
            CONNECTIONS,
            self.rate,
            self.p50,
            self.p99,
            self.errors,
            self.cpu_per_request,
            self.client_cpu_per_request
        );
    }
}

fn header() {
    println!(
        "  {:<14} {:<8} {:>5} {:>10} {:>9} {:>9} {:>7} {:>14} {:>14}",
        "server", "model", "conns", "req/s", "p50 ms", "p99 ms", "errors", "server us/req", "client us/req"
    );
}

/// Loads `server` with `model`'s request; the server's CPU time is read over the load
/// (warm-up included) and scaled to the measured window.
async fn measure(server: &mut Server, model: &'static str, target: &Target, window: Window) -> Row {
    let client = std::process::id();
    let before = [server.cpu_seconds(), process_cpu(client)];
    let tally = http_load::load(&server.addr, target.clone(), CONNECTIONS, window).await;
    let after = [server.cpu_seconds(), process_cpu(client)];
    assert!(server.is_running(), "{} exited under load", server.name);
    let total = window.warm_up + window.measure;
    let scale = window.measure.as_secs_f64() / total.as_secs_f64();
    let cpu = [0, 1].map(|i| before[i].zip(after[i]).map(|(b, a)| (a - b) * scale));
    for (kind, n) in &tally.error_kinds {
        println!("    {}: {n} x {kind}", server.name);
    }
    let row = Row::new(&server.name, model, &tally, window.measure, cpu);
    row.print();
    row
}

fn main() {
    if let Some(repository) = std::env::var_os(SERVE_ENV) {
        serve(&repository);
    }
    let secs = std::env::var("KUBESAGE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map_or(Duration::from_secs(10), Duration::from_secs_f64);
    let workers: Vec<usize> = std::env::var("KUBESAGE_BENCH_FASTAPI_WORKERS")
        .unwrap_or_else(|_| "1,2".into())
        .split(',')
        .filter_map(|w| w.trim().parse().ok())
        .filter(|&w| w > 0)
        .collect();
    assert!(!workers.is_empty(), "KUBESAGE_BENCH_FASTAPI_WORKERS lists no worker count");
    let python = python();
    let work = tempfile::tempdir().expect("a temporary folder");
    let rows = train(&python, work.path());

    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "kubesage serve --model-repository against FastAPI + uvicorn + scikit-learn; {CONNECTIONS} keep-alive \
         connections, closed loop, single-row KServe v2 JSON infer requests"
    );
    println!(
        "{cores} cores shared by the server and the load generator (one tokio thread); {:.0} s warm-up, then \
         {:.1} s measured per server and model",
        WARM_UP.as_secs_f64(),
        secs.as_secs_f64()
    );
    let window = Window { warm_up: WARM_UP, measure: secs, request_timeout: REQUEST_TIMEOUT };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a tokio runtime");
    runtime.block_on(async {
        let row = &rows["rows"][0];
        let targets: Vec<(&'static str, Target)> = MODELS
            .iter()
            .map(|&m| (m, Target::post_json(&format!("/v2/models/{m}/infer"), request_body(row))))
            .collect();
        let mut results = Vec::new();

        header();
        let mut ours = Server::ours(&work.path().join("repository"));
        ours.wait_ready().await;
        for (model, target) in &targets {
            check_prediction(&ours, model, target, &rows["models"][*model]).await;
        }
        for (model, target) in &targets {
            results.push(measure(&mut ours, model, target, window).await);
        }
        drop(ours);

        for &w in &workers {
            let mut peer = Server::fastapi(&python, &work.path().join("sklearn"), w);
            peer.wait_ready().await;
            for (model, target) in &targets {
                check_prediction(&peer, model, target, &rows["models"][*model]).await;
            }
            for (model, target) in &targets {
                results.push(measure(&mut peer, model, target, window).await);
            }
        }
        println!("  (both servers answered the request as scikit-learn does: same labels, probabilities within 1e-5)");

        println!("summary:");
        header();
        for r in &results {
            r.print();
        }
        for model in MODELS {
            let Some(ours) = results.iter().find(|r| r.model == model && r.server == "kubesage") else { continue };
            let Some(best) = results
                .iter()
                .filter(|r| r.model == model && r.server != "kubesage")
                .max_by(|a, b| a.rate.total_cmp(&b.rate))
            else {
                continue;
            };
            let ratio = ours.rate / best.rate;
            let mark = |met: bool| if met { "met" } else { "MISSED" };
            println!(
                "  {model}: {ratio:.1}x the throughput of {} ({:.0} vs {:.0} req/s; target >= {TARGET_RATIO}x: {}); \
                 our p99 {:.3} ms (target < {TARGET_P99_MS} ms: {}), FastAPI's {:.3} ms",
                best.server,
                ours.rate,
                best.rate,
                mark(ratio >= TARGET_RATIO),
                ours.p99,
                mark(ours.p99 < TARGET_P99_MS),
                best.p99
            );
        }
    });
}
