//! The OpenAI-compatible provider on the wire.

use std::time::Duration;

use kubesage_core::llm::{ChatMessage, ChatRequest, LlmProvider, ToolSpec, Usage};
use serde_json::json;

use super::server::{Reply, Scripted, closed_port};
use super::*;

/// A client for `base` whose waits are recorded.
fn client(base: &str, options: ClientOptions) -> (OpenAiCompatible, Arc<Mutex<Vec<Duration>>>) {
    let mut client = OpenAiCompatible::new(base, "smollm2", options).expect("a client");
    let waits = record_waits(client.transport_mut());
    (client, waits)
}

fn question() -> ChatRequest {
    ChatRequest::new(vec![
        ChatMessage::system("You explain Kubernetes findings."),
        ChatMessage::user("Why is checkout-1 restarting?"),
    ])
}

const COMPLETION: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"smollm2-135m",
  "choices":[{"index":0,"message":{"role":"assistant","content":"It is OOMKilled."},"logprobs":null,"finish_reason":"stop"}],
  "usage":{"prompt_tokens":21,"completion_tokens":5,"total_tokens":26}}"#;

#[tokio::test]
async fn a_completion_sends_the_wire_format_and_the_key_and_reads_the_answer() {
    let server = Scripted::start(vec![Reply::json("200 OK", COMPLETION)]).await;
    let (llm, waits) = client(&server.base, ClientOptions { temperature: Some(0.3), ..options(Some(KEY)) });
    let request = question().with_max_tokens(64).with_seed(42);
    let answer = within(llm.chat(&request)).await.expect("an answer");

    assert_eq!(answer.content, "It is OOMKilled.");
    assert_eq!(answer.model, "smollm2-135m");
    assert_eq!(answer.usage, Some(Usage { prompt_tokens: 21, completion_tokens: 5 }));
    assert_eq!(answer.finish_reason.as_deref(), Some("stop"));
    assert!(answer.tool_calls.is_empty());
    assert!(waits_of(&waits).is_empty());

    let sent = server.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].request_line, "POST /v1/chat/completions HTTP/1.1");
    assert_eq!(sent[0].headers.get("authorization").map(String::as_str), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(sent[0].headers.get("content-type").map(String::as_str), Some("application/json"));
    assert_eq!(
        sent[0].body,
        json!({
            "model": "smollm2",
            "messages": [
                {"role": "system", "content": "You explain Kubernetes findings."},
                {"role": "user", "content": "Why is checkout-1 restarting?"},
            ],
            "stream": false,
            "temperature": 0.3,
            "max_tokens": 64,
            "seed": 42,
        })
    );
}

#[tokio::test]
async fn a_base_url_ending_in_v1_is_not_doubled_and_no_key_sends_no_header() {
    let server = Scripted::start(vec![Reply::json("200 OK", COMPLETION)]).await;
    let (llm, _) = client(&format!("{}/v1/", server.base), options(None));
    within(llm.chat(&question())).await.expect("an answer");
    let sent = server.requests();
    assert_eq!(sent[0].path(), "/v1/chat/completions");
    assert!(!sent[0].headers.contains_key("authorization"));
}

/// The event of a stream chunk with this delta and finish reason.
fn event(delta: serde_json::Value, finish: Option<&str>) -> String {
    let chunk = json!({"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1700000000,
        "model": "smollm2-135m", "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]});
    format!("data: {chunk}\n\n")
}

#[tokio::test]
async fn a_stream_cut_inside_json_and_inside_a_character_arrives_whole_and_in_order() {
    let first = "Exit 137 → OOMKilled 💥";
    let stream = [
        event(json!({"role": "assistant", "content": ""}), None),
        event(json!({"content": first}), None),
        event(json!({"content": ", raise the memory limit."}), None),
        event(json!({}), Some("stop")),
        // The usage chunk of `stream_options.include_usage` (vLLM sends `choices: null`).
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-2", "model": "smollm2-135m", "choices": null,
            "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}})
        ),
        ": a keep-alive comment\n\n".to_owned(),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    let inside_json = stream.find(", raise").expect("the text is there") - 12;
    let inside_arrow = stream.find('→').expect("the arrow is there") + 1;
    let inside_emoji = stream.find('💥').expect("the emoji is there") + 2;
    let inside_done = stream.find("[DONE]").expect("the end is there") + 3;
    assert!(!stream.is_char_boundary(inside_arrow) && !stream.is_char_boundary(inside_emoji));
    assert!(inside_json > inside_emoji && stream[inside_json..].starts_with("{\"content\":"), "a cut inside an event");
    let pieces = cut(&stream, &[20, inside_json, inside_arrow, inside_emoji, inside_done]);

    let server = Scripted::start(vec![Reply::sse(pieces)]).await;
    let (llm, _) = client(&server.base, options(Some(KEY)));
    let mut deltas = Vec::new();
    let answer = within(llm.chat_stream(&question(), &mut |d: &str| deltas.push(d.to_owned())))
        .await
        .expect("a streamed answer");

    assert_eq!(deltas, [first, ", raise the memory limit."]);
    assert_eq!(answer.content, format!("{first}, raise the memory limit."));
    assert_eq!(answer.model, "smollm2-135m");
    assert_eq!(answer.finish_reason.as_deref(), Some("stop"));
    assert_eq!(answer.usage, Some(Usage { prompt_tokens: 30, completion_tokens: 12 }));
    let sent = &server.requests()[0];
    assert_eq!(sent.body["stream"], json!(true));
    assert_eq!(sent.body["stream_options"], json!({"include_usage": true}));
}

#[tokio::test]
async fn tool_calls_streamed_in_pieces_are_assembled_by_index() {
    let piece = |index: u32, id: Option<&str>, name: Option<&str>, arguments: &str| {
        let mut call = json!({"index": index, "function": {"arguments": arguments}});
        if let Some(id) = id {
            call["id"] = json!(id);
            call["type"] = json!("function");
        }
        if let Some(name) = name {
            call["function"]["name"] = json!(name);
        }
        event(json!({"tool_calls": [call]}), None)
    };
    let stream = [
        event(json!({"role": "assistant", "content": null}), None),
        piece(0, Some("call_a"), Some("get_pod"), ""),
        piece(0, None, None, "{\"namespace\": \"sh"),
        piece(1, Some("call_b"), Some("get_events"), "{\"kind\":"),
        piece(0, None, None, "op\", \"name\": \"checkout-1\"}"),
        piece(1, None, None, " \"Pod\"}"),
        event(json!({}), Some("tool_calls")),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    // Every event in a chunk of its own, and one cut inside an event for good measure.
    let mut cuts: Vec<usize> = stream.match_indices("data: ").map(|(at, _)| at).skip(1).collect();
    cuts.push(stream.find("checkout").expect("there") + 4);
    let server = Scripted::start(vec![Reply::sse(cut(&stream, &cuts))]).await;
    let (llm, _) = client(&server.base, options(None));

    let pod = ToolSpec {
        name: "get_pod".into(),
        description: "Reads a pod.".into(),
        parameters: json!({"type": "object", "properties": {"namespace": {"type": "string"}, "name": {"type": "string"}}}),
    };
    let events = ToolSpec {
        name: "get_events".into(),
        description: "Lists events.".into(),
        parameters: json!({"type": "object", "properties": {"kind": {"type": "string"}}}),
    };
    let earlier = kubesage_core::llm::ToolCall { id: "call_0".into(), name: "get_pod".into(), arguments: json!({}) };
    let mut request = question()
        .with_tools(vec![pod, events])
        .with_tool_choice(kubesage_core::llm::ToolChoice::Function("get_pod".into()));
    request.messages.push(ChatMessage { tool_calls: vec![earlier], ..ChatMessage::assistant("") });
    request.messages.push(ChatMessage::tool_result("call_0", "not found"));

    let mut deltas = Vec::new();
    let answer =
        within(llm.chat_stream(&request, &mut |d: &str| deltas.push(d.to_owned()))).await.expect("a streamed answer");
    assert!(deltas.is_empty(), "{deltas:?}");
    assert_eq!(answer.content, "");
    assert_eq!(answer.finish_reason.as_deref(), Some("tool_calls"));
    let calls: Vec<_> = answer.tool_calls.iter().map(|c| (c.id.as_str(), c.name.as_str(), &c.arguments)).collect();
    assert_eq!(
        calls,
        [
            ("call_a", "get_pod", &json!({"namespace": "shop", "name": "checkout-1"})),
            ("call_b", "get_events", &json!({"kind": "Pod"})),
        ]
    );

    let body = &server.requests()[0].body;
    assert_eq!(
        body["tools"][0],
        json!({"type": "function", "function": {"name": "get_pod", "description": "Reads a pod.",
            "parameters": {"type": "object", "properties": {"namespace": {"type": "string"}, "name": {"type": "string"}}}}})
    );
    assert_eq!(
        body["messages"][2],
        json!({"role": "assistant", "content": "", "tool_calls": [{"id": "call_0", "type": "function",
            "function": {"name": "get_pod", "arguments": "{}"}}]})
    );
    assert_eq!(body["messages"][3], json!({"role": "tool", "content": "not found", "tool_call_id": "call_0"}));
    assert_eq!(body["tool_choice"], json!({"type": "function", "function": {"name": "get_pod"}}));
}

#[tokio::test]
async fn a_complete_answer_with_tool_calls_parses_their_arguments() {
    let body = r#"{"model":"m","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant",
      "content":null,"tool_calls":[{"id":"call_9","type":"function","function":{"name":"get_pod","arguments":"{\"name\":\"a\"}"}},
      {"type":"function","function":{"name":"broken","arguments":"{\"name\":"}}]}}]}"#;
    let server = Scripted::start(vec![Reply::json("200 OK", body)]).await;
    let (llm, _) = client(&server.base, options(None));
    let answer = within(llm.chat(&question())).await.expect("an answer");
    assert_eq!(answer.content, "");
    assert_eq!(answer.usage, None);
    assert_eq!(answer.tool_calls[0].arguments, json!({"name": "a"}));
    // No id given: one is made up; arguments that are not JSON are kept as text.
    assert_eq!(answer.tool_calls[1].id, "call_1");
    assert_eq!(answer.tool_calls[1].arguments, json!("{\"name\":"));
}

#[tokio::test]
async fn rate_limiting_waits_as_long_as_retry_after_says_then_succeeds() {
    let limited =
        Reply::json("429 Too Many Requests", r#"{"error":{"message":"Rate limit reached","type":"requests"}}"#)
            .with_header("Retry-After: 7");
    let server = Scripted::start(vec![limited, Reply::json("200 OK", COMPLETION)]).await;
    let (llm, waits) = client(&server.base, options(Some(KEY)));
    let answer = within(llm.chat(&question())).await.expect("an answer after one retry");
    assert_eq!(answer.content, "It is OOMKilled.");
    assert_eq!(server.requests().len(), 2);
    assert_eq!(waits_of(&waits), [Duration::from_secs(7)]);
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_gives_up_at_once_and_says_when() {
    let limited =
        Reply::json("429 Too Many Requests", r#"{"error":{"message":"quota"}}"#).with_header("Retry-After: 3600");
    let server = Scripted::start(vec![limited]).await;
    let (llm, waits) = client(&server.base, options(Some(KEY)));
    let (kind, attempts, error) = llm_error(within(llm.chat(&question())).await);
    assert_eq!(attempts, 1);
    assert!(waits_of(&waits).is_empty());
    match kind {
        LlmErrorKind::RateLimited { retry_after, body, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(3600)));
            assert!(body.contains("quota"), "{body}");
        }
        other => panic!("expected rate limiting, got {other:?}"),
    }
    assert!(error.to_string().contains("retry after 3600s"), "{error}");
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_until_the_attempts_run_out() {
    let failing = || Reply::json("500 Internal Server Error", r#"{"error":{"message":"CUDA out of memory"}}"#);
    let server = Scripted::start(vec![failing(), failing(), failing()]).await;
    let (llm, waits) = client(&server.base, options(Some(KEY)));
    let (kind, attempts, error) = llm_error(within(llm.chat(&question())).await);
    assert_eq!(attempts, 3);
    assert_eq!(server.requests().len(), 3);
    assert_eq!(waits_of(&waits), [Duration::from_millis(500), Duration::from_secs(1)]);
    assert!(
        matches!(&kind, LlmErrorKind::Http { status: 500, body, .. } if body.contains("CUDA out of memory")),
        "{kind:?}"
    );
    let message = error.to_string();
    assert!(message.starts_with("LLM openai: "), "{message}");
    assert!(message.contains("HTTP 500 Internal Server Error") && message.contains("after 3 attempts"), "{message}");
    assert_no_key(&error);
}

#[tokio::test]
async fn a_rejected_key_is_not_retried_and_never_shown() {
    // Servers sometimes echo the key they rejected.
    let body = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com.","type":"invalid_request_error","code":"invalid_api_key"}}}}"#
    );
    let server = Scripted::start(vec![Reply::json("401 Unauthorized", &body)]).await;
    let (llm, waits) = client(&server.base, options(Some(KEY)));
    let (kind, attempts, error) = llm_error(within(llm.chat(&question())).await);
    assert_eq!(attempts, 1);
    assert_eq!(server.requests().len(), 1);
    assert!(waits_of(&waits).is_empty());
    match &kind {
        LlmErrorKind::Http { status: 401, body, .. } => {
            assert!(body.contains("Incorrect API key provided: ***"), "{body}");
            assert!(body.contains("invalid_api_key"), "{body}");
        }
        other => panic!("expected HTTP 401, got {other:?}"),
    }
    assert!(error.to_string().contains("401 Unauthorized (check the API key)"), "{error}");
    assert_no_key(&error);
    assert!(!format!("{llm:?}").contains(KEY));
}

#[tokio::test]
async fn other_client_errors_are_final_but_408_is_retried() {
    let server = Scripted::start(vec![Reply::json("400 Bad Request", r#"{"error":"unknown field"}"#)]).await;
    let (llm, waits) = client(&server.base, options(None));
    let (kind, attempts, _) = llm_error(within(llm.chat(&question())).await);
    assert!(matches!(kind, LlmErrorKind::Http { status: 400, .. }), "{kind:?}");
    assert_eq!((attempts, waits_of(&waits).len()), (1, 0));

    let timed_out = Reply::text("408 Request Timeout", "text/plain", "slow upload");
    let server = Scripted::start(vec![timed_out, Reply::json("200 OK", COMPLETION)]).await;
    let (llm, waits) = client(&server.base, options(None));
    within(llm.chat(&question())).await.expect("an answer after a 408");
    assert_eq!(waits_of(&waits), [Duration::from_millis(500)]);
}

#[tokio::test]
async fn answers_that_are_not_the_api_are_malformed() {
    let cases = [
        Reply::text("200 OK", "text/html", "<html>Sign in to the proxy</html>"),
        Reply::json("200 OK", r#"{"choices":[]}"#),
        Reply::json("200 OK", r#"{"choices":"many"}"#),
    ];
    for reply in cases {
        let server = Scripted::start(vec![reply]).await;
        let (llm, _) = client(&server.base, options(None));
        let (kind, attempts, _) = llm_error(within(llm.chat(&question())).await);
        assert!(matches!(kind, LlmErrorKind::MalformedResponse(_)), "{kind:?}");
        assert_eq!(attempts, 1);
    }
    let (kind, _, _) = {
        let server = Scripted::start(vec![Reply::json("200 OK", "<html>")]).await;
        let (llm, _) = client(&server.base, options(None));
        llm_error(within(llm.chat(&question())).await)
    };
    assert!(kind.to_string().contains("<html>"), "{kind}");
}

#[tokio::test]
async fn broken_streams_are_malformed_and_stream_errors_are_the_servers() {
    let bad_json = vec![event(json!({"content": "a"}), None).into_bytes(), b"data: {\"choices\": [\n\n".to_vec()];
    let cut_off = vec![event(json!({"content": "a"}), None).into_bytes()];
    let not_utf8 = vec![b"data: {\"choices\":[{\"delta\":{\"content\":\"\xff\"}}]}\n\n".to_vec()];
    for pieces in [bad_json, cut_off, not_utf8] {
        let server = Scripted::start(vec![Reply::sse(pieces)]).await;
        let (llm, _) = client(&server.base, options(None));
        let (kind, _, _) = llm_error(within(llm.chat_stream(&question(), &mut |_: &str| {})).await);
        assert!(matches!(kind, LlmErrorKind::MalformedResponse(_)), "{kind:?}");
    }

    let failing = vec![
        event(json!({"content": "partial"}), None).into_bytes(),
        b"data: {\"error\":{\"message\":\"model overloaded\",\"code\":503}}\n\n".to_vec(),
    ];
    let server = Scripted::start(vec![Reply::sse(failing)]).await;
    let (llm, _) = client(&server.base, options(None));
    let mut deltas = Vec::new();
    let (kind, _, _) = llm_error(within(llm.chat_stream(&question(), &mut |d: &str| deltas.push(d.to_owned()))).await);
    assert_eq!(deltas, ["partial"]);
    assert!(matches!(&kind, LlmErrorKind::ServerError { message, .. } if message == "model overloaded"), "{kind:?}");

    // A stream that ends with a finish reason but no `[DONE]` is complete.
    let server =
        Scripted::start(vec![Reply::sse(vec![event(json!({"content": "ok"}), Some("stop")).into_bytes()])]).await;
    let (llm, _) = client(&server.base, options(None));
    let answer = within(llm.chat_stream(&question(), &mut |_: &str| {})).await.expect("a complete answer");
    assert_eq!(answer.content, "ok");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = Scripted::start(vec![Reply::silent()]).await;
    let quick = ClientOptions {
        timeouts: Timeouts { request: Duration::from_millis(200), ..options(None).timeouts },
        ..options(Some(KEY))
    };
    let (llm, waits) = client(&server.base, quick);
    let (kind, attempts, error) = llm_error(within(llm.chat(&question())).await);
    assert!(
        matches!(kind, LlmErrorKind::Timeout { mid_stream: false, after, .. } if after == Duration::from_millis(200))
    );
    assert_eq!(attempts, 1, "a timed-out request is not repeated");
    assert!(waits_of(&waits).is_empty());
    assert!(error.to_string().contains("within 200ms"), "{error}");
}

#[tokio::test]
async fn a_stream_that_stalls_times_out_between_chunks() {
    let server =
        Scripted::start(vec![Reply::stalling_sse(vec![event(json!({"content": "Hel"}), None).into_bytes()])]).await;
    let quick = ClientOptions {
        timeouts: Timeouts { idle: Duration::from_millis(200), ..options(None).timeouts },
        ..options(None)
    };
    let (llm, _) = client(&server.base, quick);
    let mut deltas = Vec::new();
    let (kind, _, error) =
        llm_error(within(llm.chat_stream(&question(), &mut |d: &str| deltas.push(d.to_owned()))).await);
    assert_eq!(deltas, ["Hel"]);
    assert!(matches!(kind, LlmErrorKind::Timeout { mid_stream: true, .. }), "{kind:?}");
    assert!(error.to_string().contains("stalled"), "{error}");
}

#[tokio::test]
async fn a_refused_connection_is_unreachable_after_the_retries() {
    let base = format!("http://127.0.0.1:{}", closed_port().await);
    let (llm, waits) = client(&base, options(Some(KEY)));
    let (kind, attempts, error) = llm_error(within(llm.chat(&question())).await);
    assert!(
        matches!(&kind, LlmErrorKind::Unreachable { url, .. } if url.ends_with("/v1/chat/completions")),
        "{kind:?}"
    );
    assert_eq!(attempts, 3);
    assert_eq!(waits_of(&waits), [Duration::from_millis(500), Duration::from_secs(1)]);
    assert!(error.to_string().contains("cannot reach"), "{error}");
    assert_no_key(&error);
}

#[tokio::test]
async fn the_provider_enum_delegates() {
    let server = Scripted::start(vec![Reply::json("200 OK", COMPLETION)]).await;
    let config = LlmConfig {
        provider: ProviderKind::OpenAi,
        base_url: Some(server.base.clone()),
        model: Some("smollm2".into()),
        api_key: Some(ApiKey::new(KEY)),
        ..LlmConfig::default()
    };
    let provider = build_with_env(&config, &|_| None).expect("valid").expect("a provider");
    assert_eq!((provider.name(), provider.model()), ("openai", "smollm2"));
    let answer = within(provider.chat(&question())).await.expect("an answer");
    assert_eq!(answer.content, "It is OOMKilled.");
    assert_eq!(server.requests()[0].headers["authorization"], format!("Bearer {KEY}"));
}
