//! The OpenAI chat completions API, as OpenAI, vLLM, llama.cpp's server and NVIDIA NIM
//! serve it: `POST {base}/v1/chat/completions`.
//!
//! A streamed answer is a series of server-sent events, each `data: {chunk}` followed by a
//! blank line, ending with `data: [DONE]`. A chunk's `choices[0].delta` carries the next
//! piece of text, or pieces of tool calls: the first piece of a call brings its `index`,
//! `id` and function name, later ones (matched by `index`) more of its arguments, a JSON
//! text cut anywhere. With `stream_options.include_usage`, a last chunk with no choices
//! carries the token counts.

use kubesage_core::llm::{
    ChatMessage, ChatRequest, ChatResponse, LlmProvider, Role, ToolCall, ToolChoice, ToolSpec, Usage,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::transport::{Flow, Transport, parse_base_url, with_path};
use super::{ClientOptions, LlmErrorKind};
use crate::error::Result;

const NAME: &str = "openai";

/// A client for an OpenAI-compatible chat completions endpoint. Cheap to clone; clones
/// share connections.
#[derive(Debug, Clone)]
pub struct OpenAiCompatible {
    transport: Transport,
    model: String,
    temperature: Option<f32>,
}

impl OpenAiCompatible {
    /// A client for the server at `base_url` asking `model`.
    ///
    /// The base URL may end in `/v1` or not (`https://api.openai.com/v1`,
    /// `http://localhost:8080`, `https://integrate.api.nvidia.com/v1` all work), or be the
    /// whole endpoint (ending in `/chat/completions`) for servers that mount it elsewhere.
    pub fn new(base_url: &str, model: impl Into<String>, options: ClientOptions) -> Result<Self> {
        let endpoint = endpoint(parse_base_url(NAME, base_url)?);
        let transport = Transport::new(NAME, endpoint, &options)?;
        Ok(OpenAiCompatible { transport, model: model.into(), temperature: options.temperature })
    }

    /// The URL requests go to (without credentials).
    pub fn endpoint(&self) -> &str {
        self.transport.shown()
    }

    #[cfg(test)]
    pub(crate) fn transport_mut(&mut self) -> &mut Transport {
        &mut self.transport
    }

    /// The request body.
    fn body(&self, request: &ChatRequest, stream: bool) -> Vec<u8> {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("messages".into(), Value::Array(request.messages.iter().map(wire_message).collect()));
        body.insert("stream".into(), json!(stream));
        if stream {
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
        if let Some(t) = request.temperature.or(self.temperature) {
            body.insert("temperature".into(), super::temperature_json(t));
        }
        if let Some(n) = request.max_tokens {
            body.insert("max_tokens".into(), json!(n));
        }
        if let Some(seed) = request.seed {
            body.insert("seed".into(), json!(seed));
        }
        if !request.tools.is_empty() {
            body.insert("tools".into(), Value::Array(request.tools.iter().map(wire_tool).collect()));
            let choice = match &request.tool_choice {
                ToolChoice::Auto => None,
                ToolChoice::None => Some(json!("none")),
                ToolChoice::Required => Some(json!("required")),
                ToolChoice::Function(name) => Some(json!({"type": "function", "function": {"name": name}})),
            };
            if let Some(choice) = choice {
                body.insert("tool_choice".into(), choice);
            }
        }
        serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
    }
}

/// `{base}/v1/chat/completions`, whether or not the base ends in `/v1`.
fn endpoint(base: reqwest::Url) -> reqwest::Url {
    let path = base.path().trim_end_matches('/').to_owned();
    if path.ends_with("/chat/completions") {
        return base;
    }
    let prefix = path.strip_suffix("/v1").unwrap_or(&path).to_owned();
    with_path(base, &prefix, "/v1/chat/completions")
}

/// A message as the API takes it.
fn wire_message(message: &ChatMessage) -> Value {
    let mut wire = Map::new();
    wire.insert("role".into(), json!(message.role.as_str()));
    wire.insert("content".into(), json!(message.content));
    if !message.tool_calls.is_empty() && message.role == Role::Assistant {
        let calls = message
            .tool_calls
            .iter()
            .map(|call| {
                let arguments = match &call.arguments {
                    Value::String(raw) => raw.clone(),
                    other => other.to_string(),
                };
                json!({"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}})
            })
            .collect();
        wire.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(id) = &message.tool_call_id {
        wire.insert("tool_call_id".into(), json!(id));
    }
    Value::Object(wire)
}

/// A tool as the API takes it (Ollama takes the same).
pub(super) fn wire_tool(tool: &ToolSpec) -> Value {
    json!({
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    })
}

/// Tool-call arguments: the API sends a JSON text (some servers an object). Text that
/// does not parse is kept as a JSON string; none at all is an empty object.
pub(super) fn parse_arguments(raw: Option<Value>) -> Value {
    match raw {
        None | Some(Value::Null) => json!({}),
        Some(Value::String(text)) if text.trim().is_empty() => json!({}),
        Some(Value::String(text)) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        Some(other) => other,
    }
}

/// A completion or a stream chunk: `choices[].message` in the first, `choices[].delta` in
/// the second. Everything is optional, since servers differ in what they leave out.
#[derive(Debug, Deserialize)]
struct Completion {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default, alias = "delta")]
    message: Option<WireMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
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
    index: Option<u32>,
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

#[derive(Debug, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u32>,
    #[serde(default)]
    completion_tokens: Option<u32>,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage { prompt_tokens: u.prompt_tokens.unwrap_or(0), completion_tokens: u.completion_tokens.unwrap_or(0) }
    }
}

/// The message of an `error` object (`{"error": {"message": ...}}` or `{"error": "..."}`).
pub(super) fn error_message(error: &Value) -> String {
    match error {
        Value::String(s) => s.clone(),
        Value::Object(o) => match o.get("message") {
            Some(Value::String(m)) => m.clone(),
            _ => error.to_string(),
        },
        other => other.to_string(),
    }
}

/// A tool call being assembled from stream pieces.
#[derive(Debug, Default)]
struct PartialCall {
    index: u32,
    id: String,
    name: String,
    arguments: String,
}

/// A streamed answer being assembled from chunks.
#[derive(Debug, Default)]
struct Assembly {
    content: String,
    calls: Vec<PartialCall>,
    model: Option<String>,
    usage: Option<Usage>,
    finish_reason: Option<String>,
}

impl Assembly {
    /// Adds a chunk, handing its text to `on_delta`.
    fn add(&mut self, chunk: Completion, on_delta: &mut (dyn FnMut(&str) + Send)) {
        if let Some(model) = chunk.model.filter(|m| !m.is_empty()) {
            self.model = Some(model);
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
        }
        // Only the first choice is asked for (no `n`); others are ignored.
        for choice in chunk.choices.unwrap_or_default().into_iter().filter(|c| c.index.unwrap_or(0) == 0) {
            if let Some(reason) = choice.finish_reason {
                self.finish_reason = Some(reason);
            }
            let Some(delta) = choice.message else { continue };
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                on_delta(&text);
                self.content.push_str(&text);
            }
            for (position, piece) in delta.tool_calls.unwrap_or_default().into_iter().enumerate() {
                self.add_call_piece(piece, position);
            }
        }
    }

    fn add_call_piece(&mut self, piece: WireToolCall, position: usize) {
        // Servers that leave `index` out send each call whole, in order.
        let index = piece.index.unwrap_or_else(|| (self.calls.len() + position) as u32);
        let at = match self.calls.iter().position(|c| c.index == index) {
            Some(at) => at,
            None => {
                self.calls.push(PartialCall { index, ..PartialCall::default() });
                self.calls.len() - 1
            }
        };
        let call = &mut self.calls[at];
        if let Some(id) = piece.id.filter(|id| !id.is_empty()) {
            call.id = id;
        }
        let Some(function) = piece.function else { return };
        if let Some(name) = function.name.filter(|n| !n.is_empty()) {
            // The name comes whole in the first piece; some servers repeat it later.
            if call.name.is_empty() {
                call.name = name;
            } else if call.name != name {
                call.name.push_str(&name);
            }
        }
        match function.arguments {
            Some(Value::String(text)) => call.arguments.push_str(&text),
            Some(Value::Null) | None => {}
            Some(object) => call.arguments = object.to_string(),
        }
    }

    fn finish(self, configured_model: &str) -> ChatResponse {
        let tool_calls = self
            .calls
            .into_iter()
            .enumerate()
            .map(|(n, call)| ToolCall {
                id: if call.id.is_empty() { format!("call_{n}") } else { call.id },
                name: call.name,
                arguments: parse_arguments(Some(Value::String(call.arguments))),
            })
            .collect();
        ChatResponse {
            content: self.content,
            tool_calls,
            model: self.model.unwrap_or_else(|| configured_model.to_owned()),
            usage: self.usage,
            finish_reason: self.finish_reason,
        }
    }
}

/// Server-sent events, a line at a time: `data:` lines accumulate until a blank line ends
/// the event; `event:` names it; lines starting with `:` are comments (keep-alives).
#[derive(Debug, Default)]
pub(super) struct SseDecoder {
    data: Option<String>,
    event: Option<String>,
}

/// One server-sent event.
#[derive(Debug, PartialEq)]
pub(super) struct SseEvent {
    /// Its `event:` name, if any.
    pub(super) name: Option<String>,
    /// Its data lines, joined with `\n`.
    pub(super) data: String,
}

impl SseDecoder {
    /// Takes one line; returns the event a blank line completes.
    pub(super) fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.finish();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "event" => self.event = Some(value.to_owned()),
            _ => {}
        }
        None
    }

    /// The event in progress, at the end of the stream (or of an event).
    pub(super) fn finish(&mut self) -> Option<SseEvent> {
        let name = self.event.take();
        self.data.take().map(|data| SseEvent { name, data })
    }
}

impl OpenAiCompatible {
    /// Handles one event's data: the end marker, a chunk, or an error.
    fn on_event(
        &self,
        event: SseEvent,
        assembly: &mut Assembly,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> std::result::Result<Flow, LlmErrorKind> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return Ok(Flow::Done);
        }
        if event.name.as_deref() == Some("error") {
            let message = match serde_json::from_str::<Value>(data) {
                Ok(value) => error_message(value.get("error").unwrap_or(&value)),
                Err(_) => data.to_owned(),
            };
            let message = self.transport.excerpt(message.as_bytes());
            return Err(LlmErrorKind::ServerError { url: self.endpoint().to_owned(), message });
        }
        if data.is_empty() {
            return Ok(Flow::Continue);
        }
        // A server that forgets the blank lines between events joins several data lines
        // into one event; read them one by one when the whole does not parse.
        let chunks: Vec<Completion> = match serde_json::from_str(data) {
            Ok(chunk) => vec![chunk],
            Err(e) if data.contains('\n') => data
                .lines()
                .map(|l| l.trim_start_matches("data:").trim())
                .filter(|l| !l.is_empty() && *l != "[DONE]")
                .map(serde_json::from_str)
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| self.transport.malformed(format!("a stream event is not JSON ({e})")))?,
            Err(e) => {
                return Err(self.transport.malformed(format!(
                    "a stream event is not JSON ({e}): {}",
                    self.transport.excerpt(data.as_bytes())
                )));
            }
        };
        for chunk in chunks {
            if let Some(error) = &chunk.error {
                let message = self.transport.excerpt(error_message(error).as_bytes());
                return Err(LlmErrorKind::ServerError { url: self.endpoint().to_owned(), message });
            }
            assembly.add(chunk, on_delta);
        }
        Ok(Flow::Continue)
    }
}

impl LlmProvider for OpenAiCompatible {
    type Error = crate::Error;

    fn name(&self) -> &str {
        NAME
    }

    fn model(&self) -> &str {
        &self.model
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let (bytes, attempts) = self.transport.post_json(&self.body(request, false)).await?;
        let fail = |kind| self.transport.error(attempts, kind);
        let completion: Completion = serde_json::from_slice(&bytes).map_err(|e| {
            fail(self.transport.malformed(format!("not a chat completion ({e}): {}", self.transport.excerpt(&bytes))))
        })?;
        if let Some(error) = &completion.error {
            let message = self.transport.excerpt(error_message(error).as_bytes());
            return Err(fail(LlmErrorKind::ServerError { url: self.endpoint().to_owned(), message }));
        }
        let mut choices = completion.choices.unwrap_or_default();
        if choices.is_empty() {
            return Err(fail(self.transport.malformed("the completion has no choices")));
        }
        let choice = choices.swap_remove(choices.iter().position(|c| c.index.unwrap_or(0) == 0).unwrap_or(0));
        let message = choice.message.ok_or_else(|| fail(self.transport.malformed("the choice has no message")))?;
        let tool_calls = message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(n, call)| {
                let function = call.function.unwrap_or(WireFunction { name: None, arguments: None });
                ToolCall {
                    id: call.id.filter(|id| !id.is_empty()).unwrap_or_else(|| format!("call_{n}")),
                    name: function.name.unwrap_or_default(),
                    arguments: parse_arguments(function.arguments),
                }
            })
            .collect();
        Ok(ChatResponse {
            content: message.content.unwrap_or_default(),
            tool_calls,
            model: completion.model.filter(|m| !m.is_empty()).unwrap_or_else(|| self.model.clone()),
            usage: completion.usage.map(Usage::from),
            finish_reason: choice.finish_reason,
        })
    }

    async fn chat_stream(
        &self,
        request: &ChatRequest,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ChatResponse> {
        let (response, attempts) = self.transport.post_streaming(&self.body(request, true)).await?;
        let mut decoder = SseDecoder::default();
        let mut assembly = Assembly::default();
        let mut done = false;
        self.transport
            .for_each_line(response, attempts, |line| {
                let Some(event) = decoder.line(line) else { return Ok(Flow::Continue) };
                let flow = self.on_event(event, &mut assembly, on_delta)?;
                done = flow == Flow::Done;
                Ok(flow)
            })
            .await?;
        if !done {
            // The last event may lack its blank line.
            if let Some(event) = decoder.finish() {
                done = self.on_event(event, &mut assembly, on_delta).map_err(|k| self.transport.error(attempts, k))?
                    == Flow::Done;
            }
        }
        // Some servers end with the finish reason and close, without `[DONE]`; a stream
        // with neither was cut off.
        if !done && assembly.finish_reason.is_none() {
            let what = "the stream ended before its end (no `data: [DONE]` and no finish reason)";
            return Err(self.transport.error(attempts, self.transport.malformed(what)));
        }
        Ok(assembly.finish(&self.model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> String {
        parse_base_url(NAME, text).map(|u| endpoint(u).to_string()).unwrap_or_default()
    }

    #[test]
    fn the_endpoint_is_found_with_or_without_v1() {
        assert_eq!(url("http://localhost:8080"), "http://localhost:8080/v1/chat/completions");
        assert_eq!(url("http://localhost:8080/"), "http://localhost:8080/v1/chat/completions");
        assert_eq!(url("https://api.openai.com/v1"), "https://api.openai.com/v1/chat/completions");
        assert_eq!(url("https://api.openai.com/v1/"), "https://api.openai.com/v1/chat/completions");
        assert_eq!(url("https://proxy.example/openai/v1"), "https://proxy.example/openai/v1/chat/completions");
        assert_eq!(url("https://x.example/api/chat/completions"), "https://x.example/api/chat/completions");
    }

    /// The SSE events of a stream, fed `pieces` at a time.
    fn events(pieces: &[&[u8]]) -> Vec<SseEvent> {
        let mut lines = super::super::transport::LineBuffer::default();
        let mut decoder = SseDecoder::default();
        let mut out = Vec::new();
        for piece in pieces {
            lines.push(piece);
            while let Some(line) = lines.next_line() {
                out.extend(decoder.line(std::str::from_utf8(&line).unwrap_or("NOT UTF-8")));
            }
        }
        if let Some(line) = lines.finish() {
            out.extend(decoder.line(std::str::from_utf8(&line).unwrap_or("NOT UTF-8")));
        }
        out.extend(decoder.finish());
        out
    }

    #[test]
    fn sse_events_survive_any_split_and_follow_the_spec() {
        let stream = ": keep-alive\r\n\r\ndata: {\"a\":\"\u{1F600}\"}\r\n\r\nevent: error\ndata:x\ndata: y\n\nid: 3\nretry: 10\ndata: [DONE]\n\n";
        let expected = vec![
            SseEvent { name: None, data: "{\"a\":\"\u{1F600}\"}".into() },
            SseEvent { name: Some("error".into()), data: "x\ny".into() },
            SseEvent { name: None, data: "[DONE]".into() },
        ];
        let bytes = stream.as_bytes();
        assert_eq!(events(&[bytes]), expected);
        for cut in 0..bytes.len() {
            assert_eq!(events(&[&bytes[..cut], &bytes[cut..]]), expected, "split at {cut}");
        }
        let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(events(&one_by_one), expected);
        // A last event without its blank line still counts.
        assert_eq!(events(&[b"data: 1\n\ndata: 2"]).len(), 2);
    }

    #[test]
    fn arguments_are_parsed_or_kept_as_text() {
        assert_eq!(parse_arguments(Some(json!("{\"a\": 1}"))), json!({"a": 1}));
        assert_eq!(parse_arguments(Some(json!({"a": 1}))), json!({"a": 1}));
        assert_eq!(parse_arguments(Some(json!(""))), json!({}));
        assert_eq!(parse_arguments(None), json!({}));
        assert_eq!(parse_arguments(Some(json!("{\"a\": "))), json!("{\"a\": "));
    }
}
