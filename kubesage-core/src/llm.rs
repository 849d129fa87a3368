//! Talking to a language model: the conversation types and the [`LlmProvider`] trait.
//!
//! The types follow the shape every chat API shares (OpenAI's chat completions, and the
//! servers that copy it — vLLM, llama.cpp, NVIDIA NIM — and Ollama's native `/api/chat`):
//! a list of [`ChatMessage`]s with [`Role`]s in, one assistant message out, optionally
//! asking for [`ToolCall`]s against the [`ToolSpec`]s offered. Each provider maps them to
//! its own wire format; nothing here knows about HTTP, and no runtime is assumed, so the
//! trait's futures run on whatever executor the caller has (`kubesage-ml` implements it
//! over `reqwest` and tokio).
//!
//! ```
//! use kubesage_core::llm::{ChatMessage, ChatRequest, Role};
//! let request = ChatRequest::new(vec![
//!     ChatMessage::system("You explain Kubernetes findings in one paragraph."),
//!     ChatMessage::user("Pod shop/checkout-1 is in CrashLoopBackOff. Why?"),
//! ])
//! .with_temperature(0.0)
//! .with_seed(7);
//! assert_eq!(request.messages[1].role, Role::User);
//! ```

use std::future::Future;

use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions that frame the conversation.
    System,
    /// The person (or program) asking.
    User,
    /// The model.
    Assistant,
    /// The result of a tool the model asked for.
    Tool,
}

impl Role {
    /// The name every chat API uses for it: `system`, `user`, `assistant`, `tool`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One message of a conversation.
///
/// Beyond role and text, two fields carry tool use across turns: an assistant message that
/// asked for tools keeps its [`tool_calls`](Self::tool_calls), and the [`Role::Tool`]
/// message answering one names it in [`tool_call_id`](Self::tool_call_id). APIs reject a
/// tool result that does not point back at a call, so build those with
/// [`ChatMessage::tool_result`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// Its text (empty for an assistant message that only calls tools).
    pub content: String,
    /// The tools an assistant message asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a [`Role::Tool`] message: the [`ToolCall::id`] it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    /// A message with a role and text, and no tool use.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        ChatMessage { role, content: content.into(), tool_calls: Vec::new(), tool_call_id: None }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message (a previous answer, or a few-shot example).
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// The result of the tool call `call_id`, to send back after running it.
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage { tool_call_id: Some(call_id.into()), ..Self::new(Role::Tool, content) }
    }
}

impl From<&ChatResponse> for ChatMessage {
    /// The answer as the assistant message to keep in the conversation, tool calls included.
    fn from(response: &ChatResponse) -> Self {
        ChatMessage { tool_calls: response.tool_calls.clone(), ..Self::assistant(response.content.clone()) }
    }
}

/// A tool the model may ask to call: a function name, what it does, and its parameters as
/// a JSON Schema object (`{"type": "object", "properties": {...}, "required": [...]}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The function's name (letters, digits, `_` and `-`: what the APIs accept).
    pub name: String,
    /// What it does and when to use it; the model reads this.
    pub description: String,
    /// The JSON Schema of its arguments.
    pub parameters: serde_json::Value,
}

/// A call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's id, to answer with [`ChatMessage::tool_result`]. Providers that do not
    /// give ids get generated ones (`call_0`, `call_1`, ... in order).
    pub id: String,
    /// The tool's name, one of the [`ToolSpec::name`]s offered.
    pub name: String,
    /// The arguments the model chose. Usually an object; when the model wrote arguments
    /// that are not valid JSON, the raw text as a JSON string, so the caller can report
    /// it rather than lose it.
    pub arguments: serde_json::Value,
}

/// What to ask the model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature (0 is the most deterministic); `None` leaves the provider's
    /// configured default, then the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// The most tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// A sampling seed, for reproducible answers where the server supports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Tools the model may call; empty offers none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// Whether the model must call a tool; [`ToolChoice::Auto`] (the default) lets it choose.
    #[serde(default, skip_serializing_if = "ToolChoice::is_auto")]
    pub tool_choice: ToolChoice,
}

/// Whether and which tool the model must call. OpenAI-compatible servers honour it (small
/// models often need `Function` to call a tool at all); Ollama's API has no such setting
/// and ignores it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    #[default]
    Auto,
    /// The model must not call tools.
    None,
    /// The model must call some tool.
    Required,
    /// The model must call this tool.
    Function(String),
}

impl ToolChoice {
    /// Whether it is [`ToolChoice::Auto`].
    pub fn is_auto(&self) -> bool {
        *self == ToolChoice::Auto
    }
}

impl ChatRequest {
    /// A request with these messages and every option left to the provider.
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        ChatRequest { messages, ..ChatRequest::default() }
    }

    /// Sets the temperature.
    pub fn with_temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Sets the token limit.
    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Offers tools.
    pub fn with_tools(mut self, tools: Vec<ToolSpec>) -> Self {
        self.tools = tools;
        self
    }

    /// Sets whether and which tool the model must call.
    pub fn with_tool_choice(mut self, choice: ToolChoice) -> Self {
        self.tool_choice = choice;
        self
    }
}

/// Token counts, as the server reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens read (the conversation).
    pub prompt_tokens: u32,
    /// Tokens generated (the answer).
    pub completion_tokens: u32,
}

/// The model's answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The text (empty when the model only asked for tools).
    pub content: String,
    /// The tools the model asked to call, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The model that answered, as the server names it.
    pub model: String,
    /// Token counts, when the server reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Why generation stopped, in the server's words: `stop`, `length` (the token limit),
    /// `tool_calls`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
}

/// A chat model behind some API.
///
/// Implementations own their transport, timeouts and retries; the futures they return are
/// `Send` so that a server can run them on a multithreaded executor. The trait is not
/// object-safe (its methods return `impl Future`); to choose a provider at run time, use an
/// enum over the implementations, as `kubesage_ml::llm::Provider` does.
pub trait LlmProvider: Send + Sync {
    /// The provider's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The provider's short name for messages and logs (`openai`, `ollama`).
    fn name(&self) -> &str;

    /// The model it asks, as configured.
    fn model(&self) -> &str;

    /// Asks for one complete answer.
    fn chat(&self, request: &ChatRequest) -> impl Future<Output = Result<ChatResponse, Self::Error>> + Send;

    /// Asks for an answer streamed as it is generated: `on_delta` receives each piece of
    /// text in order (never a split character), and the result is the whole answer, tool
    /// calls assembled. A failure after some text was delivered is still an error; the
    /// caller has seen a partial answer and should say so.
    fn chat_stream(
        &self,
        request: &ChatRequest,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> impl Future<Output = Result<ChatResponse, Self::Error>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A provider that echoes the last message, to check that the trait is usable
    /// generically and its futures are `Send`.
    struct Echo;

    impl LlmProvider for Echo {
        type Error = std::convert::Infallible;

        fn name(&self) -> &str {
            "echo"
        }

        fn model(&self) -> &str {
            "echo-1"
        }

        async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Self::Error> {
            let content = request.messages.last().map(|m| m.content.clone()).unwrap_or_default();
            Ok(ChatResponse { content, model: self.model().to_owned(), ..ChatResponse::default() })
        }

        async fn chat_stream(
            &self,
            request: &ChatRequest,
            on_delta: &mut (dyn FnMut(&str) + Send),
        ) -> Result<ChatResponse, Self::Error> {
            let response = self.chat(request).await?;
            for word in response.content.split_inclusive(' ') {
                on_delta(word);
            }
            Ok(response)
        }
    }

    fn assert_send<T: Send>(_: &T) {}

    /// Runs a future that never waits (the echo provider's) to completion.
    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    async fn ask<P: LlmProvider>(provider: &P, request: &ChatRequest) -> (String, Vec<String>) {
        let mut pieces = Vec::new();
        let streamed = provider.chat_stream(request, &mut |d: &str| pieces.push(d.to_owned())).await;
        (streamed.map(|r| r.content).unwrap_or_default(), pieces)
    }

    #[test]
    fn the_trait_is_usable_generically_with_send_futures() {
        let request = ChatRequest::new(vec![ChatMessage::user("why is it pending")]);
        let mut sink = |_: &str| {};
        assert_send(&Echo.chat(&request));
        assert_send(&Echo.chat_stream(&request, &mut sink));
        let (content, pieces) = block_on(ask(&Echo, &request));
        assert_eq!(content, "why is it pending");
        assert_eq!(pieces, ["why ", "is ", "it ", "pending"]);
    }

    #[test]
    fn messages_serialize_in_the_shape_chat_apis_share() {
        let call =
            ToolCall { id: "call_1".into(), name: "get_pod".into(), arguments: serde_json::json!({"name": "a"}) };
        let answer = ChatResponse { tool_calls: vec![call.clone()], ..ChatResponse::default() };
        let turn = [ChatMessage::from(&answer), ChatMessage::tool_result("call_1", "Running")];
        let json = serde_json::to_value(turn).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!([
                {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "name": "get_pod", "arguments": {"name": "a"}}]},
                {"role": "tool", "content": "Running", "tool_call_id": "call_1"},
            ])
        );
        let back: Vec<ChatMessage> = serde_json::from_value(json).unwrap_or_default();
        assert_eq!(back[0].tool_calls, [call]);
        assert_eq!(Role::Tool.as_str(), "tool");
    }

    #[test]
    fn request_builders_set_options() {
        let tool = ToolSpec { name: "t".into(), description: "d".into(), parameters: serde_json::json!({}) };
        let r = ChatRequest::new(vec![ChatMessage::assistant("x")])
            .with_temperature(0.5)
            .with_max_tokens(64)
            .with_seed(3)
            .with_tools(vec![tool]);
        assert_eq!((r.temperature, r.max_tokens, r.seed, r.tools.len()), (Some(0.5), Some(64), Some(3), 1));
        let plain = serde_json::to_value(ChatRequest::new(Vec::new())).unwrap_or_default();
        assert_eq!(plain, serde_json::json!({"messages": []}));
    }
}
