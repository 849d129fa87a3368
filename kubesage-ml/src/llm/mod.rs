//! Language-model providers: the [`LlmProvider`] trait of `kubesage-core` over HTTP.
//!
//! Two wire formats cover the servers KubeSage meets:
//!
//! - [`OpenAiCompatible`]: `POST {base}/v1/chat/completions`, which OpenAI, vLLM, llama.cpp's
//!   server (and llama-cpp-python's) and NVIDIA NIM all speak, streamed as server-sent events;
//! - [`Ollama`]: Ollama's native `POST {base}/api/chat`, streamed as one JSON object a line.
//!
//! Both share one transport with the same guarantees:
//!
//! - **Timeouts** ([`Timeouts`]): to connect; for the whole answer (for a stream, until its
//!   headers arrive); and, in a stream, between one chunk and the next, so a server that
//!   stalls mid-answer fails instead of hanging.
//! - **Retries** ([`RetryPolicy`]): connection failures, HTTP 429, 408 and 5xx are tried
//!   again, at most `max_attempts` times in all, after an exponential backoff with jitter or
//!   the server's `Retry-After` (in seconds); a `Retry-After` beyond the policy's cap ends
//!   the attempts at once, with the wait reported in [`LlmErrorKind::RateLimited`]. Other
//!   4xx answers are final. A stream is retried only until its first byte: once text has
//!   been delivered, a failure is reported rather than repeated.
//! - **Secrets**: the [`ApiKey`] goes out only in the `Authorization: Bearer` header
//!   (marked sensitive). It has no `Display`, its `Debug` prints `***`, and answer bodies
//!   quoted in errors have it scrubbed out, in case a server echoes it back.
//! - **Typed errors**: every failure is [`Error::Llm`](crate::Error::Llm) with the provider,
//!   the attempts made and an [`LlmErrorKind`] a caller can match on.
//!
//! Which provider to use is configuration ([`LlmConfig`], YAML then `KUBESAGE_LLM_*`
//! variables); [`build`] turns it into a [`Provider`], an enum over the two, so callers need
//! no generics.
//!
//! ```no_run
//! # async fn run() -> kubesage_ml::Result<()> {
//! use kubesage_core::llm::{ChatMessage, ChatRequest, LlmProvider};
//! use kubesage_ml::llm::{LlmConfig, build};
//!
//! let config = LlmConfig::from_yaml("provider: ollama\nmodel: llama3.2\n", "kubesage.yaml")?
//!     .apply_env(std::env::vars())?;
//! if let Some(llm) = build(&config)? {
//!     let request = ChatRequest::new(vec![ChatMessage::user("Why would a pod be OOMKilled?")]);
//!     let answer = llm.chat_stream(&request, &mut |text| print!("{text}")).await?;
//!     println!("\n({} tokens)", answer.usage.map_or(0, |u| u.completion_tokens));
//! }
//! # Ok(()) }
//! ```

mod config;
mod ollama;
mod openai;
#[cfg(test)]
mod tests;
mod transport;

use std::fmt;
use std::time::Duration;

use kubesage_core::llm::{ChatRequest, ChatResponse, LlmProvider};

pub use config::{LlmConfig, OLLAMA_BASE_URL, OPENAI_BASE_URL, ProviderKind, build, build_with_env};
pub use ollama::Ollama;
pub use openai::OpenAiCompatible;
pub use transport::{RetryPolicy, Timeouts};

use crate::error::Result;

/// A secret API key. It never appears in `Debug` output (which prints `ApiKey(***)`), has
/// no `Display`, and is not serialized; [`ApiKey::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key (surrounding whitespace, such as a file's final newline, is dropped).
    pub fn new(key: impl Into<String>) -> Self {
        let key: String = key.into();
        ApiKey(key.trim().to_owned())
    }

    /// The key itself. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// How to reach a server: the key, timeouts, retries, and a default temperature.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Sent as `Authorization: Bearer <key>` when set.
    pub api_key: Option<ApiKey>,
    /// Connect, answer and between-chunk timeouts.
    pub timeouts: Timeouts,
    /// When and how often to try again.
    pub retry: RetryPolicy,
    /// The temperature for requests that do not set one.
    pub temperature: Option<f32>,
}

/// A temperature as JSON, written as its shortest decimal (`0.3`, not the `f32`'s exact
/// `0.30000001192092896`).
pub(crate) fn temperature_json(t: f32) -> serde_json::Value {
    let decimal: f64 = t.to_string().parse().unwrap_or(f64::from(t));
    serde_json::json!(decimal)
}

/// Why a call to a language model failed. Carried by [`Error::Llm`](crate::Error::Llm).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LlmErrorKind {
    /// The configuration cannot be used: an unknown provider, no model, a base URL that is
    /// not `http(s)://`, an unreadable key file, a value out of range.
    Config {
        /// Where the bad value came from: a field, an environment variable, a file.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No connection could be made (refused, a name that does not resolve, TLS failure, the
    /// connect timeout), or it broke before an answer.
    Unreachable {
        /// The endpoint (without credentials).
        url: String,
        /// The transport error and its causes.
        reason: String,
    },
    /// The server did not answer in time: no complete answer (or, for a stream, no
    /// headers) within the request timeout, or a stream that stalled for longer than the
    /// idle timeout.
    Timeout {
        /// The endpoint.
        url: String,
        /// The limit that was reached.
        after: Duration,
        /// Whether a stream had started and then stalled (the idle timeout), rather than
        /// the answer never arriving (the request timeout).
        mid_stream: bool,
    },
    /// HTTP 429, still after the last attempt, or with a `Retry-After` longer than the
    /// retry policy will wait.
    RateLimited {
        /// The endpoint.
        url: String,
        /// The server's `Retry-After`, when it gave one in seconds.
        retry_after: Option<Duration>,
        /// The start of the answer's body (with the API key scrubbed out).
        body: String,
    },
    /// Any other non-success status: 401/403 (a bad key), 404 (an unknown model or path),
    /// 400 (a request the server refuses), 5xx after the last attempt.
    Http {
        /// The endpoint.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the answer's body, one line, at most a few hundred characters,
        /// with the API key scrubbed out.
        body: String,
    },
    /// A success status with something that is not the API's answer: not JSON, a missing
    /// field, a stream cut off before its end, bytes that are not UTF-8.
    MalformedResponse(String),
    /// The server reported an error inside a successful answer (an `error` object in the
    /// body, or an error event in the middle of a stream).
    ServerError {
        /// The endpoint.
        url: String,
        /// The server's message.
        message: String,
    },
}

impl fmt::Display for LlmErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LlmErrorKind::Config { origin, reason } => write!(f, "invalid configuration ({origin}): {reason}"),
            LlmErrorKind::Unreachable { url, reason } => write!(f, "cannot reach {url}: {reason}"),
            LlmErrorKind::Timeout { url, after, mid_stream: false } => {
                write!(f, "no answer from {url} within {after:?} (the request timeout)")
            }
            LlmErrorKind::Timeout { url, after, mid_stream: true } => {
                write!(f, "the answer from {url} stalled: nothing arrived for {after:?} (the idle timeout)")
            }
            LlmErrorKind::RateLimited { url, retry_after, body } => {
                write!(f, "{url} is rate limiting requests (HTTP 429)")?;
                if let Some(wait) = retry_after {
                    write!(f, "; it asks to retry after {}s", wait.as_secs())?;
                }
                write!(f, ": {body}")
            }
            LlmErrorKind::Http { url, status, body } => {
                let reason = reqwest::StatusCode::from_u16(*status).ok().and_then(|s| s.canonical_reason());
                write!(f, "{url} answered HTTP {status}")?;
                if let Some(reason) = reason {
                    write!(f, " {reason}")?;
                }
                if matches!(status, 401 | 403) {
                    f.write_str(" (check the API key)")?;
                }
                write!(f, ": {body}")
            }
            LlmErrorKind::MalformedResponse(what) => write!(f, "malformed answer: {what}"),
            LlmErrorKind::ServerError { url, message } => write!(f, "{url} reported an error: {message}"),
        }
    }
}

/// A provider chosen at run time: either implementation behind one type, so callers need
/// no generics. Built from configuration by [`build`].
#[derive(Debug, Clone)]
pub enum Provider {
    /// An OpenAI-compatible server.
    OpenAi(OpenAiCompatible),
    /// An Ollama server.
    Ollama(Ollama),
}

impl Provider {
    /// The URL requests go to (without credentials).
    pub fn endpoint(&self) -> &str {
        match self {
            Provider::OpenAi(p) => p.endpoint(),
            Provider::Ollama(p) => p.endpoint(),
        }
    }
}

impl LlmProvider for Provider {
    type Error = crate::Error;

    fn name(&self) -> &str {
        match self {
            Provider::OpenAi(p) => p.name(),
            Provider::Ollama(p) => p.name(),
        }
    }

    fn model(&self) -> &str {
        match self {
            Provider::OpenAi(p) => p.model(),
            Provider::Ollama(p) => p.model(),
        }
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        match self {
            Provider::OpenAi(p) => p.chat(request).await,
            Provider::Ollama(p) => p.chat(request).await,
        }
    }

    async fn chat_stream(
        &self,
        request: &ChatRequest,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ChatResponse> {
        match self {
            Provider::OpenAi(p) => p.chat_stream(request, on_delta).await,
            Provider::Ollama(p) => p.chat_stream(request, on_delta).await,
        }
    }
}
