//! Ollama's native chat API: `POST {base}/api/chat`.
//!
//! A streamed answer is one JSON object a line (NDJSON): each has `message.content`, the
//! next piece of text, and `done: false`; the last has `done: true`, `done_reason` and the
//! token counts (`prompt_eval_count`, `eval_count`). Tool calls arrive whole, in
//! `message.tool_calls`, with arguments as a JSON object. Sampling settings go in
//! `options` (`temperature`, `seed`, `num_predict`). An error, even mid-stream, is an
//! object `{"error": "..."}`.

use kubesage_core::llm::{ChatMessage, ChatRequest, ChatResponse, LlmProvider, Role, ToolCall, Usage};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::openai::{error_message, parse_arguments, wire_tool};
use super::transport::{Flow, Transport, parse_base_url, with_path};
use super::{ClientOptions, LlmErrorKind};
use crate::error::Result;

const NAME: &str = "ollama";

/// A client for an Ollama server. Cheap to clone; clones share connections.
#[derive(Debug, Clone)]
pub struct Ollama {
    transport: Transport,
    model: String,
    temperature: Option<f32>,
}

impl Ollama {
    /// A client for the Ollama at `base_url` (`http://localhost:11434`; a trailing `/api`
    /// is accepted too) asking `model` (`llama3.2`, `qwen2.5:7b`).
    pub fn new(base_url: &str, model: impl Into<String>, options: ClientOptions) -> Result<Self> {
        let base = parse_base_url(NAME, base_url)?;
        let path = base.path().trim_end_matches('/').to_owned();
        let prefix = path.strip_suffix("/api").unwrap_or(&path).to_owned();
        let transport = Transport::new(NAME, with_path(base, &prefix, "/api/chat"), &options)?;
        Ok(Ollama { transport, model: model.into(), temperature: options.temperature })
    }

    /// The URL requests go to (without credentials).
    pub fn endpoint(&self) -> &str {
        self.transport.shown()
    }

    #[cfg(test)]
    pub(crate) fn transport_mut(&mut self) -> &mut Transport {
        &mut self.transport
    }

    fn body(&self, request: &ChatRequest, stream: bool) -> Vec<u8> {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        let messages = request.messages.iter().map(|m| wire_message(m, &request.messages)).collect();
        body.insert("messages".into(), Value::Array(messages));
        body.insert("stream".into(), json!(stream));
        if !request.tools.is_empty() {
            body.insert("tools".into(), Value::Array(request.tools.iter().map(wire_tool).collect()));
        }
        let mut options = Map::new();
        if let Some(t) = request.temperature.or(self.temperature) {
            options.insert("temperature".into(), super::temperature_json(t));
        }
        if let Some(seed) = request.seed {
            options.insert("seed".into(), json!(seed));
        }
        if let Some(n) = request.max_tokens {
            options.insert("num_predict".into(), json!(n));
        }
        if !options.is_empty() {
            body.insert("options".into(), Value::Object(options));
        }
        serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
    }
}

/// A message as Ollama takes it. A tool result names its tool (`tool_name`), found from the
/// call it answers among the conversation's earlier assistant messages.
fn wire_message(message: &ChatMessage, conversation: &[ChatMessage]) -> Value {
    let mut wire = Map::new();
    wire.insert("role".into(), json!(message.role.as_str()));
    wire.insert("content".into(), json!(message.content));
    if !message.tool_calls.is_empty() && message.role == Role::Assistant {
        let calls = message
            .tool_calls
            .iter()
            .map(|call| {
                // Ollama wants an object; arguments kept as unparsable text cannot be one.
                let arguments = match &call.arguments {
                    Value::Object(_) => call.arguments.clone(),
                    Value::String(text) => {
                        serde_json::from_str::<Value>(text).ok().filter(Value::is_object).unwrap_or_else(|| json!({}))
                    }
                    _ => json!({}),
                };
                json!({"id": call.id, "function": {"name": call.name, "arguments": arguments}})
            })
            .collect();
        wire.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(id) = &message.tool_call_id {
        wire.insert("tool_call_id".into(), json!(id));
        let name = conversation.iter().flat_map(|m| &m.tool_calls).find(|c| &c.id == id).map(|c| &c.name);
        if let Some(name) = name {
            wire.insert("tool_name".into(), json!(name));
        }
    }
    Value::Object(wire)
}

/// One object of an answer (the only one when not streaming).
#[derive(Debug, Deserialize)]
struct ChatChunk {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    done: Option<bool>,
    #[serde(default)]
    done_reason: Option<String>,
    #[serde(default)]
    prompt_eval_count: Option<u32>,
    #[serde(default)]
    eval_count: Option<u32>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Debug, Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
}

#[derive(Debug, Deserialize)]
struct WireFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<Value>,
}

/// An answer being assembled from objects.
#[derive(Debug, Default)]
struct Assembly {
    content: String,
    tool_calls: Vec<ToolCall>,
    model: Option<String>,
    usage: Option<Usage>,
    finish_reason: Option<String>,
    done: bool,
}

impl Assembly {
    fn add(&mut self, chunk: ChatChunk, on_delta: &mut (dyn FnMut(&str) + Send)) {
        if let Some(model) = chunk.model.filter(|m| !m.is_empty()) {
            self.model = Some(model);
        }
        if let Some(message) = chunk.message {
            if let Some(text) = message.content.filter(|t| !t.is_empty()) {
                on_delta(&text);
                self.content.push_str(&text);
            }
            for call in message.tool_calls.unwrap_or_default() {
                let function = call.function.unwrap_or(WireFunction { name: None, arguments: None });
                let n = self.tool_calls.len();
                self.tool_calls.push(ToolCall {
                    id: call.id.filter(|id| !id.is_empty()).unwrap_or_else(|| format!("call_{n}")),
                    name: function.name.unwrap_or_default(),
                    arguments: parse_arguments(function.arguments),
                });
            }
        }
        if chunk.done == Some(true) {
            self.done = true;
            self.finish_reason = chunk.done_reason.or(self.finish_reason.take());
            if chunk.prompt_eval_count.is_some() || chunk.eval_count.is_some() {
                self.usage = Some(Usage {
                    prompt_tokens: chunk.prompt_eval_count.unwrap_or(0),
                    completion_tokens: chunk.eval_count.unwrap_or(0),
                });
            }
        }
    }

    fn finish(self, configured_model: &str) -> ChatResponse {
        ChatResponse {
            content: self.content,
            tool_calls: self.tool_calls,
            model: self.model.unwrap_or_else(|| configured_model.to_owned()),
            usage: self.usage,
            finish_reason: self.finish_reason,
        }
    }
}

impl Ollama {
    /// Parses one object; an `error` object is the server's error.
    fn parse(&self, text: &[u8]) -> std::result::Result<ChatChunk, LlmErrorKind> {
        let chunk: ChatChunk = serde_json::from_slice(text).map_err(|e| {
            self.transport.malformed(format!("not an Ollama chat answer ({e}): {}", self.transport.excerpt(text)))
        })?;
        match &chunk.error {
            Some(error) => Err(LlmErrorKind::ServerError {
                url: self.endpoint().to_owned(),
                message: self.transport.excerpt(error_message(error).as_bytes()),
            }),
            None => Ok(chunk),
        }
    }
}

impl LlmProvider for Ollama {
    type Error = crate::Error;

    fn name(&self) -> &str {
        NAME
    }

    fn model(&self) -> &str {
        &self.model
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let (bytes, attempts) = self.transport.post_json(&self.body(request, false)).await?;
        let chunk = self.parse(&bytes).map_err(|kind| self.transport.error(attempts, kind))?;
        let mut assembly = Assembly::default();
        assembly.add(chunk, &mut |_| {});
        Ok(assembly.finish(&self.model))
    }

    async fn chat_stream(
        &self,
        request: &ChatRequest,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ChatResponse> {
        let (response, attempts) = self.transport.post_streaming(&self.body(request, true)).await?;
        let mut assembly = Assembly::default();
        self.transport
            .for_each_line(response, attempts, |line| {
                if line.trim().is_empty() {
                    return Ok(Flow::Continue);
                }
                assembly.add(self.parse(line.as_bytes())?, on_delta);
                Ok(if assembly.done { Flow::Done } else { Flow::Continue })
            })
            .await?;
        if !assembly.done {
            let what = "the stream ended before its last object (`\"done\": true`)";
            return Err(self.transport.error(attempts, self.transport.malformed(what)));
        }
        Ok(assembly.finish(&self.model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_api_chat_below_the_base() {
        let endpoint = |base: &str| Ollama::new(base, "m", ClientOptions::default()).map(|o| o.endpoint().to_owned());
        assert_eq!(endpoint("http://localhost:11434").ok().as_deref(), Some("http://localhost:11434/api/chat"));
        assert_eq!(endpoint("http://localhost:11434/api/").ok().as_deref(), Some("http://localhost:11434/api/chat"));
        assert_eq!(endpoint("https://gw.example/ollama").ok().as_deref(), Some("https://gw.example/ollama/api/chat"));
    }

    #[test]
    fn tool_results_name_their_tool() {
        let call = ToolCall { id: "call_0".into(), name: "get_events".into(), arguments: json!({"ns": "shop"}) };
        let raw = ToolCall { id: "call_1".into(), name: "x".into(), arguments: json!("{not json") };
        let conversation = vec![
            ChatMessage { tool_calls: vec![call, raw], ..ChatMessage::assistant("") },
            ChatMessage::tool_result("call_0", "no events"),
        ];
        let wire: Vec<Value> = conversation.iter().map(|m| wire_message(m, &conversation)).collect();
        assert_eq!(wire[0]["tool_calls"][0]["function"], json!({"name": "get_events", "arguments": {"ns": "shop"}}));
        assert_eq!(wire[0]["tool_calls"][1]["function"]["arguments"], json!({}));
        assert_eq!(
            wire[1],
            json!({"role": "tool", "content": "no events", "tool_call_id": "call_0", "tool_name": "get_events"})
        );
    }
}
