//! The Ollama provider on the wire.

use std::time::Duration;

use kubesage_core::llm::{ChatMessage, ChatRequest, LlmProvider, ToolCall, ToolSpec, Usage};
use serde_json::json;

use super::server::{Reply, Scripted};
use super::*;

fn client(base: &str, options: ClientOptions) -> (Ollama, Arc<Mutex<Vec<Duration>>>) {
    let mut client = Ollama::new(base, "llama3.2", options).expect("a client");
    let waits = record_waits(client.transport_mut());
    (client, waits)
}

fn question() -> ChatRequest {
    ChatRequest::new(vec![ChatMessage::user("Why was web-2 evicted?")])
}

/// One line of a streamed answer.
fn line(content: &str) -> String {
    let object = json!({"model": "llama3.2", "created_at": "2026-11-02T10:00:00.1Z",
        "message": {"role": "assistant", "content": content}, "done": false});
    format!("{object}\n")
}

const LAST_LINE: &str = r#"{"model":"llama3.2","created_at":"2026-11-02T10:00:01Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":7,"eval_duration":4535599000}
"#;

#[tokio::test]
async fn an_ndjson_stream_cut_anywhere_is_assembled_with_options_sent() {
    let stream = [line("Evicted: "), line("node disk pressure ✓"), line(""), LAST_LINE.to_owned()].concat();
    let inside_json = stream.find("disk").expect("there") + 2;
    let inside_check = stream.find('✓').expect("there") + 1;
    let between_lines = stream.find("\n{").expect("there") + 1;
    let pieces = cut(&stream, &[7, between_lines, inside_json, inside_check, stream.len() - 1]);

    let server = Scripted::start(vec![Reply::ndjson(pieces)]).await;
    let (llm, _) = client(&server.base, options(None));
    let request = question().with_temperature(0.0).with_seed(42).with_max_tokens(64);
    let mut deltas = Vec::new();
    let answer = within(llm.chat_stream(&request, &mut |d: &str| deltas.push(d.to_owned()))).await.expect("an answer");

    assert_eq!(deltas, ["Evicted: ", "node disk pressure ✓"]);
    assert_eq!(answer.content, "Evicted: node disk pressure ✓");
    assert_eq!(answer.model, "llama3.2");
    assert_eq!(answer.finish_reason.as_deref(), Some("stop"));
    assert_eq!(answer.usage, Some(Usage { prompt_tokens: 26, completion_tokens: 7 }));

    let sent = &server.requests()[0];
    assert_eq!(sent.request_line, "POST /api/chat HTTP/1.1");
    assert!(!sent.headers.contains_key("authorization"));
    assert_eq!(
        sent.body,
        json!({
            "model": "llama3.2",
            "messages": [{"role": "user", "content": "Why was web-2 evicted?"}],
            "stream": true,
            "options": {"temperature": 0.0, "seed": 42, "num_predict": 64},
        })
    );
}

#[tokio::test]
async fn tool_calls_come_back_with_object_arguments_and_results_name_their_tool() {
    let answer = r#"{"model":"llama3.2","created_at":"2026-11-02T10:00:00Z","message":{"role":"assistant","content":"",
      "tool_calls":[{"function":{"name":"get_events","arguments":{"namespace":"shop","kind":"Pod"}}}]},
      "done_reason":"stop","done":true,"prompt_eval_count":122,"eval_count":33}"#;
    let server = Scripted::start(vec![Reply::json("200 OK", answer)]).await;
    let (llm, _) = client(&server.base, ClientOptions { temperature: Some(0.2), ..options(Some(KEY)) });
    let tool = ToolSpec {
        name: "get_events".into(),
        description: "Lists events.".into(),
        parameters: json!({"type": "object", "properties": {"namespace": {"type": "string"}}}),
    };
    let earlier = ToolCall { id: "call_7".into(), name: "get_pod".into(), arguments: json!({"name": "web-2"}) };
    let mut request = question().with_tools(vec![tool]);
    request.messages.push(ChatMessage { tool_calls: vec![earlier], ..ChatMessage::assistant("") });
    request.messages.push(ChatMessage::tool_result("call_7", "phase: Failed, reason: Evicted"));

    let response = within(llm.chat(&request)).await.expect("an answer");
    assert_eq!(response.tool_calls.len(), 1);
    assert_eq!(response.tool_calls[0].id, "call_0");
    assert_eq!(response.tool_calls[0].name, "get_events");
    assert_eq!(response.tool_calls[0].arguments, json!({"namespace": "shop", "kind": "Pod"}));
    assert_eq!(response.usage, Some(Usage { prompt_tokens: 122, completion_tokens: 33 }));

    let sent = &server.requests()[0];
    assert_eq!(sent.headers["authorization"], format!("Bearer {KEY}"));
    let body = &sent.body;
    assert_eq!((body["stream"].clone(), body["options"].clone()), (json!(false), json!({"temperature": 0.2})));
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "get_events");
    assert_eq!(
        body["messages"][1]["tool_calls"],
        json!([{"id": "call_7", "function": {"name": "get_pod", "arguments": {"name": "web-2"}}}])
    );
    assert_eq!(body["messages"][2]["tool_name"], "get_pod");
    assert_eq!(body["messages"][2]["role"], "tool");
}

#[tokio::test]
async fn errors_in_and_around_the_stream_are_typed() {
    // A missing model: 404 with Ollama's message, not retried.
    let missing = Reply::json("404 Not Found", r#"{"error":"model \"llama9\" not found, try pulling it first"}"#);
    let server = Scripted::start(vec![missing]).await;
    let (llm, waits) = client(&server.base, options(None));
    let (kind, attempts, _) = llm_error(within(llm.chat(&question())).await);
    assert!(matches!(&kind, LlmErrorKind::Http { status: 404, body, .. } if body.contains("try pulling it first")));
    assert_eq!((attempts, waits_of(&waits).len()), (1, 0));

    // An error object in the middle of a stream.
    let pieces = vec![line("The").into_bytes(), b"{\"error\":\"model runner has unexpectedly stopped\"}\n".to_vec()];
    let server = Scripted::start(vec![Reply::ndjson(pieces)]).await;
    let (llm, _) = client(&server.base, options(None));
    let (kind, _, _) = llm_error(within(llm.chat_stream(&question(), &mut |_: &str| {})).await);
    assert!(matches!(&kind, LlmErrorKind::ServerError { message, .. } if message.contains("unexpectedly stopped")));

    // A stream that ends before `done`, and one with a line that is not JSON.
    for pieces in [vec![line("The").into_bytes()], vec![line("The").into_bytes(), b"{\"done\":\n".to_vec()]] {
        let server = Scripted::start(vec![Reply::ndjson(pieces)]).await;
        let (llm, _) = client(&server.base, options(None));
        let (kind, _, _) = llm_error(within(llm.chat_stream(&question(), &mut |_: &str| {})).await);
        assert!(matches!(kind, LlmErrorKind::MalformedResponse(_)), "{kind:?}");
    }

    // Overloaded (503) then fine: retried after the backoff.
    let busy = Reply::json("503 Service Unavailable", r#"{"error":"server busy"}"#);
    let server = Scripted::start(vec![busy, Reply::ndjson(vec![line("ok").into_bytes(), LAST_LINE.into()])]).await;
    let (llm, waits) = client(&server.base, options(None));
    let answer = within(llm.chat_stream(&question(), &mut |_: &str| {})).await.expect("an answer after a retry");
    assert_eq!(answer.content, "ok");
    assert_eq!(waits_of(&waits), [Duration::from_millis(500)]);
}
