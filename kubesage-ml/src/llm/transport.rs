//! The HTTP exchange both providers share: one JSON `POST`, with timeouts, retries,
//! the key in its header, and errors classified into [`LlmErrorKind`]s.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use tokio::time::{Instant, timeout};

use super::{ApiKey, ClientOptions, LlmErrorKind};
use crate::error::{Error, Result};

/// The largest complete (non-streamed) answer accepted: 16 MiB.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The largest single line (one event or object) of a stream: 16 MiB.
const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// How much of an error answer is read to quote from.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// How many characters of an error answer an error message quotes.
const EXCERPT_CHARS: usize = 300;

/// How long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open the connection (TCP and TLS). Default 10 s.
    pub connect: Duration,
    /// For a complete answer, from sending the request to its last byte; for a stream,
    /// until the answer's headers arrive. Default 120 s.
    pub request: Duration,
    /// In a stream, between one chunk and the next (and from the headers to the first
    /// chunk). Default 60 s.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { connect: Duration::from_secs(10), request: Duration::from_secs(120), idle: Duration::from_secs(60) }
    }
}

/// When to try a request again, and how long to wait first.
///
/// Connection failures, HTTP 429, 408 and 5xx are retried; nothing else is. Before retry
/// `n` (1, 2, ...) the wait is `initial_backoff * 2^(n-1)`, at most `max_backoff`; with
/// `jitter`, a random point in the upper half of that (so concurrent clients spread out
/// but never retry sooner than half the backoff). A `Retry-After` in seconds replaces the
/// backoff; one longer than `max_retry_after` ends the attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 never retries. Default 3.
    pub max_attempts: u32,
    /// The wait before the first retry. Default 500 ms.
    pub initial_backoff: Duration,
    /// The longest backoff. Default 30 s.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one gives up. Default 60 s.
    pub max_retry_after: Duration,
    /// Whether backoffs are randomised. Default true.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }
    }

    /// The wait before retry `retry` (1 for the first), given `unit`, a number in `[0, 1]`
    /// that picks the point in the jitter range (ignored without jitter; 1 is the full
    /// backoff).
    pub fn backoff(&self, retry: u32, unit: f64) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        let full = self.initial_backoff.saturating_mul(1u32 << doublings).min(self.max_backoff);
        if self.jitter { full.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0)) } else { full }
    }
}

/// What a failed attempt allows next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Nothing: the failure is final.
    No,
    /// Another attempt after the policy's backoff.
    Backoff,
    /// Another attempt after exactly this long (the server's `Retry-After`).
    After(Duration),
}

/// Whether an HTTP status may be retried, and when: 429, 408 and 5xx are, after the
/// server's `Retry-After` when it gave one within `cap`; a longer one, and every other
/// status, ends the attempts.
fn retry_for_status(status: StatusCode, retry_after: Option<Duration>, cap: Duration) -> Retry {
    let transient =
        status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT || status.is_server_error();
    match retry_after {
        _ if !transient => Retry::No,
        Some(wait) if wait > cap => Retry::No,
        Some(wait) => Retry::After(wait),
        None => Retry::Backoff,
    }
}

/// A `Retry-After` in whole seconds (the HTTP-date form is ignored: the backoff applies).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Sleeps; injected so tests can record the waits instead of taking them.
pub(crate) type Sleeper = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

fn tokio_sleeper() -> Sleeper {
    Arc::new(|wait| Box::pin(tokio::time::sleep(wait)))
}

/// One failed attempt: what went wrong, and whether to try again.
struct Failure {
    kind: LlmErrorKind,
    retry: Retry,
}

/// A successful answer.
enum Answer {
    /// The whole body of a complete answer.
    Body(Vec<u8>),
    /// A stream, to read with [`Transport::for_each_line`].
    Stream(reqwest::Response),
}

/// Whether to keep reading a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Read on.
    Continue,
    /// The stream's end marker was seen.
    Done,
}

/// The HTTP client of one provider for one endpoint.
pub(crate) struct Transport {
    /// The provider's name, for errors (`openai`, `ollama`).
    provider: &'static str,
    http: reqwest::Client,
    endpoint: Url,
    /// The endpoint as shown in messages (without a password).
    shown: String,
    /// The `Authorization` header's value, marked sensitive.
    authorization: Option<HeaderValue>,
    /// The key, only to scrub it out of quoted bodies.
    api_key: Option<ApiKey>,
    timeouts: Timeouts,
    retry: RetryPolicy,
    sleep: Sleeper,
    /// The state of the jitter generator (SplitMix64).
    jitter_state: AtomicU64,
}

impl Clone for Transport {
    fn clone(&self) -> Self {
        Transport {
            provider: self.provider,
            http: self.http.clone(),
            endpoint: self.endpoint.clone(),
            shown: self.shown.clone(),
            authorization: self.authorization.clone(),
            api_key: self.api_key.clone(),
            timeouts: self.timeouts,
            retry: self.retry,
            sleep: Arc::clone(&self.sleep),
            jitter_state: AtomicU64::new(self.next_random() ^ 0x5851_F42D_4C95_7F2D),
        }
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("endpoint", &self.shown)
            .field("api_key", &self.api_key)
            .field("timeouts", &self.timeouts)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport posting to `endpoint` (already resolved by the provider).
    pub(crate) fn new(provider: &'static str, endpoint: Url, options: &ClientOptions) -> Result<Self> {
        let shown = redact(&endpoint);
        let config = |reason: String| Error::Llm {
            provider: provider.to_owned(),
            attempts: 0,
            kind: LlmErrorKind::Config { origin: "base_url".to_owned(), reason },
        };
        let api_key = options.api_key.clone().filter(|k| !k.is_empty());
        let authorization = match &api_key {
            None => None,
            Some(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| Error::Llm {
                    provider: provider.to_owned(),
                    attempts: 0,
                    kind: LlmErrorKind::Config {
                        origin: "api_key".to_owned(),
                        reason: "the key holds characters an HTTP header cannot carry".to_owned(),
                    },
                })?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        let http = reqwest::Client::builder()
            .connect_timeout(options.timeouts.connect)
            .build()
            .map_err(|e| config(format!("cannot build an HTTP client: {e}")))?;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x2545_F491_4F6C_DD1D, |d| d.as_nanos() as u64);
        Ok(Transport {
            provider,
            http,
            endpoint,
            shown,
            authorization,
            api_key,
            timeouts: options.timeouts,
            retry: options.retry,
            sleep: tokio_sleeper(),
            jitter_state: AtomicU64::new(seed),
        })
    }

    /// Replaces the sleeper (tests record the waits instead of taking them).
    #[cfg(test)]
    pub(crate) fn set_sleeper(&mut self, sleep: Sleeper) {
        self.sleep = sleep;
    }

    /// The endpoint as shown in messages.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    /// An error of this provider.
    pub(crate) fn error(&self, attempts: u32, kind: LlmErrorKind) -> Error {
        Error::Llm { provider: self.provider.to_owned(), attempts, kind }
    }

    /// A malformed-answer error naming the endpoint.
    pub(crate) fn malformed(&self, what: impl std::fmt::Display) -> LlmErrorKind {
        LlmErrorKind::MalformedResponse(format!("{}: {what}", self.shown))
    }

    /// Posts `body` (JSON) and returns the successful answer and the attempts it took,
    /// retrying as the policy allows. With `stream`, the answer's body is left to read;
    /// otherwise it is read whole within the request timeout.
    async fn post(&self, body: &[u8], stream: bool) -> Result<(Answer, u32)> {
        let max_attempts = self.retry.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.attempt(body, stream).await {
                Ok(answer) => return Ok((answer, attempt)),
                Err(failure) => failure,
            };
            let wait = match failure.retry {
                Retry::No => None,
                Retry::After(wait) => Some(wait),
                Retry::Backoff => Some(self.retry.backoff(attempt, self.unit())),
            };
            match wait {
                Some(wait) if attempt < max_attempts => {
                    tracing::warn!(
                        provider = self.provider,
                        endpoint = %self.shown,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying the LLM request: {}",
                        failure.kind
                    );
                    (self.sleep)(wait).await;
                }
                _ => return Err(self.error(attempt, failure.kind)),
            }
        }
    }

    /// Posts `body` and reads the whole answer.
    pub(crate) async fn post_json(&self, body: &[u8]) -> Result<(Vec<u8>, u32)> {
        match self.post(body, false).await? {
            (Answer::Body(bytes), attempts) => Ok((bytes, attempts)),
            (Answer::Stream(_), attempts) => Err(self.error(attempts, self.malformed("a stream where a body was due"))),
        }
    }

    /// Posts `body` and returns the answer to stream from once its status is a success.
    pub(crate) async fn post_streaming(&self, body: &[u8]) -> Result<(reqwest::Response, u32)> {
        match self.post(body, true).await? {
            (Answer::Stream(response), attempts) => Ok((response, attempts)),
            (Answer::Body(_), attempts) => Err(self.error(attempts, self.malformed("a body where a stream was due"))),
        }
    }

    /// One attempt.
    async fn attempt(&self, body: &[u8], stream: bool) -> std::result::Result<Answer, Failure> {
        let started = Instant::now();
        let mut request = self
            .http
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, if stream { "text/event-stream, application/x-ndjson" } else { "application/json" })
            .body(body.to_vec());
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        let response = match timeout(self.timeouts.request, request.send()).await {
            Err(_) => return Err(self.timed_out(false)),
            Ok(Err(e)) => return Err(self.transport_failure(&e)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let remaining = self.timeouts.request.saturating_sub(started.elapsed());
        if status.is_success() {
            if stream {
                return Ok(Answer::Stream(response));
            }
            return match timeout(remaining, read_limited(response, MAX_BODY_BYTES)).await {
                Err(_) => Err(self.timed_out(false)),
                Ok(Err(e)) => Err(Failure { kind: self.unreachable(&e), retry: Retry::No }),
                Ok(Ok((_, true))) => Err(Failure {
                    kind: self.malformed(format!("the answer is over the {MAX_BODY_BYTES}-byte limit")),
                    retry: Retry::No,
                }),
                Ok(Ok((bytes, false))) => Ok(Answer::Body(bytes)),
            };
        }
        let wait = retry_after(response.headers());
        // The body is only for the message: what arrives in time, up to a limit.
        let quoted = match timeout(remaining, read_limited(response, MAX_ERROR_BODY_BYTES)).await {
            Ok(Ok((bytes, _))) => bytes,
            _ => Vec::new(),
        };
        let body = self.excerpt(&quoted);
        let kind = if status == StatusCode::TOO_MANY_REQUESTS {
            LlmErrorKind::RateLimited { url: self.shown.clone(), retry_after: wait, body }
        } else {
            LlmErrorKind::Http { url: self.shown.clone(), status: status.as_u16(), body }
        };
        Err(Failure { kind, retry: retry_for_status(status, wait, self.retry.max_retry_after) })
    }

    /// Reads a stream's body line by line, handing each complete line (without its line
    /// ending) to `on_line`, until it returns [`Flow::Done`] or the body ends. A final line
    /// without a newline is handed over too. `attempts` is reported in errors.
    pub(crate) async fn for_each_line(
        &self,
        mut response: reqwest::Response,
        attempts: u32,
        mut on_line: impl FnMut(&str) -> std::result::Result<Flow, LlmErrorKind>,
    ) -> Result<()> {
        let mut lines = LineBuffer::default();
        loop {
            let chunk = match timeout(self.timeouts.idle, response.chunk()).await {
                Err(_) => return Err(self.error(attempts, self.timed_out(true).kind)),
                Ok(Err(e)) => return Err(self.error(attempts, self.unreachable(&e))),
                Ok(Ok(chunk)) => chunk,
            };
            let Some(chunk) = chunk else { break };
            lines.push(&chunk);
            while let Some(line) = lines.next_line() {
                if self.hand_over(&line, attempts, &mut on_line)? == Flow::Done {
                    return Ok(());
                }
            }
            if lines.pending() > MAX_LINE_BYTES {
                let what = format!("a line of the stream is over the {MAX_LINE_BYTES}-byte limit");
                return Err(self.error(attempts, self.malformed(what)));
            }
        }
        if let Some(line) = lines.finish() {
            if std::str::from_utf8(&line).is_err() {
                let what = "the stream ended in the middle of a line (or is not UTF-8)";
                return Err(self.error(attempts, self.malformed(what)));
            }
            self.hand_over(&line, attempts, &mut on_line)?;
        }
        Ok(())
    }

    fn hand_over(
        &self,
        line: &[u8],
        attempts: u32,
        on_line: &mut impl FnMut(&str) -> std::result::Result<Flow, LlmErrorKind>,
    ) -> Result<Flow> {
        let text = std::str::from_utf8(line)
            .map_err(|e| self.error(attempts, self.malformed(format!("the stream is not UTF-8 ({e})"))))?;
        on_line(text).map_err(|kind| self.error(attempts, kind))
    }

    fn timed_out(&self, mid_stream: bool) -> Failure {
        let after = if mid_stream { self.timeouts.idle } else { self.timeouts.request };
        Failure { kind: LlmErrorKind::Timeout { url: self.shown.clone(), after, mid_stream }, retry: Retry::No }
    }

    /// A transport error: connection failures are retried, anything later is not (the
    /// server may have started work on the request).
    fn transport_failure(&self, error: &reqwest::Error) -> Failure {
        let retry = if error.is_connect() { Retry::Backoff } else { Retry::No };
        if error.is_timeout() && !error.is_connect() {
            return self.timed_out(false);
        }
        Failure { kind: self.unreachable(error), retry }
    }

    fn unreachable(&self, error: &reqwest::Error) -> LlmErrorKind {
        LlmErrorKind::Unreachable { url: self.shown.clone(), reason: causes(error) }
    }

    /// The start of a body for a message: one line, at most [`EXCERPT_CHARS`] characters,
    /// with the API key scrubbed out.
    pub(crate) fn excerpt(&self, body: &[u8]) -> String {
        let mut text = String::from_utf8_lossy(body).into_owned();
        if let Some(key) = &self.api_key {
            text = text.replace(key.expose(), "***");
        }
        let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        match line.char_indices().nth(EXCERPT_CHARS) {
            _ if line.is_empty() => "(an empty body)".to_owned(),
            Some((cut, _)) => format!("{}...", &line[..cut]),
            None => line,
        }
    }

    /// A number in `[0, 1)` for jitter (SplitMix64; quality is not a concern here).
    fn unit(&self) -> f64 {
        (self.next_random() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn next_random(&self) -> u64 {
        let mut z =
            self.jitter_state.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Reads a body up to `limit` bytes; the flag says whether more was left unread.
async fn read_limited(mut response: reqwest::Response, limit: usize) -> reqwest::Result<(Vec<u8>, bool)> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            body.extend_from_slice(&chunk[..limit - body.len()]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// Splits a byte stream into lines, whatever the chunk boundaries: a line is handed out
/// only once its `\n` has arrived, so a multibyte character or a JSON object split across
/// chunks is whole by then. `\r\n` endings lose their `\r`.
#[derive(Debug, Default)]
pub(crate) struct LineBuffer {
    buffer: Vec<u8>,
    /// Where the unread part starts.
    start: usize,
}

impl LineBuffer {
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        } else if self.start > 64 * 1024 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    pub(crate) fn next_line(&mut self) -> Option<Vec<u8>> {
        let end = self.buffer[self.start..].iter().position(|&b| b == b'\n')? + self.start;
        let mut line = &self.buffer[self.start..end];
        if let [head @ .., b'\r'] = line {
            line = head;
        }
        let line = line.to_vec();
        self.start = end + 1;
        Some(line)
    }

    /// Bytes waiting for their line's end.
    pub(crate) fn pending(&self) -> usize {
        self.buffer.len() - self.start
    }

    /// The last line, if the stream ended without a newline after it.
    pub(crate) fn finish(&mut self) -> Option<Vec<u8>> {
        let rest = &self.buffer[self.start..];
        let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
        let line = (!rest.iter().all(u8::is_ascii_whitespace)).then(|| rest.to_vec());
        self.start = self.buffer.len();
        line
    }
}

/// The chain of causes below a transport error, without repeats and without the URL
/// (which may hold credentials): `client error (Connect): tcp connect error: Connection
/// refused (os error 111)`.
fn causes(error: &reqwest::Error) -> String {
    let kind = if error.is_connect() { "connection failed" } else { "the request failed" };
    kubesage_core::error::source_chain(error).unwrap_or_else(|| kind.to_owned())
}

/// A URL without its user name and password, for messages.
fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
    }
    shown.to_string()
}

/// Parses and checks a base URL: absolute `http(s)` with a host, no query or fragment.
/// Returns it without a trailing `/`.
pub(crate) fn parse_base_url(provider: &'static str, base_url: &str) -> Result<Url> {
    let invalid = |reason: String| Error::Llm {
        provider: provider.to_owned(),
        attempts: 0,
        kind: LlmErrorKind::Config { origin: "base_url".to_owned(), reason },
    };
    let mut url = Url::parse(base_url.trim()).map_err(|e| {
        let shown = Url::parse(base_url.trim()).map(|u| redact(&u)).unwrap_or_else(|_| "the given text".to_owned());
        invalid(format!("{shown} is not a URL: {e}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!("the scheme must be http or https, not {:?}", url.scheme())));
    }
    if url.host().is_none() {
        return Err(invalid("the URL has no host".to_owned()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base URL takes no query string or fragment".to_owned()));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

/// `base` with `suffix` (`/v1/chat/completions`) appended to its path.
pub(crate) fn with_path(mut base: Url, prefix: &str, suffix: &str) -> Url {
    let path = format!("{prefix}{suffix}");
    base.set_path(&path);
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_in_the_upper_half() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(60),
            jitter: false,
        };
        let schedule: Vec<_> = (1..=6).map(|n| policy.backoff(n, 0.0)).collect();
        let ms = |v: u64| Duration::from_millis(v);
        assert_eq!(schedule, [ms(500), ms(1000), ms(2000), ms(4000), ms(4000), ms(4000)]);
        let jittered = RetryPolicy { jitter: true, ..policy };
        assert_eq!(jittered.backoff(2, 0.0), ms(500));
        assert_eq!(jittered.backoff(2, 1.0), ms(1000));
        assert_eq!(jittered.backoff(2, 0.5), ms(750));
        assert_eq!(jittered.backoff(40, 1.0), ms(4000), "no overflow far out");
    }

    #[test]
    fn which_statuses_are_retried() {
        let cap = Duration::from_secs(60);
        let s = |code| StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
        for code in [429, 408, 500, 502, 503, 504] {
            assert_eq!(retry_for_status(s(code), None, cap), Retry::Backoff, "{code}");
        }
        for code in [400, 401, 403, 404, 409, 413, 422] {
            assert_eq!(retry_for_status(s(code), None, cap), Retry::No, "{code}");
            assert_eq!(retry_for_status(s(code), Some(Duration::from_secs(1)), cap), Retry::No, "{code}");
        }
        let seven = Duration::from_secs(7);
        assert_eq!(retry_for_status(s(429), Some(seven), cap), Retry::After(seven));
        assert_eq!(retry_for_status(s(503), Some(seven), cap), Retry::After(seven));
        assert_eq!(retry_for_status(s(429), Some(Duration::from_secs(61)), cap), Retry::No);
    }

    #[test]
    fn retry_after_is_read_in_seconds_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static(" 12 "));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(12)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn lines_come_out_whole_whatever_the_chunks() {
        let stream = "a\r\nb\u{e9}c\n\nlast".as_bytes();
        for cut in 0..=stream.len() {
            let mut buffer = LineBuffer::default();
            let mut lines = Vec::new();
            for piece in [&stream[..cut], &stream[cut..]] {
                buffer.push(piece);
                while let Some(line) = buffer.next_line() {
                    lines.push(String::from_utf8(line).unwrap_or_default());
                }
            }
            lines.extend(buffer.finish().map(|l| String::from_utf8(l).unwrap_or_default()));
            assert_eq!(lines, ["a", "b\u{e9}c", "", "last"], "cut at {cut}");
        }
    }

    #[test]
    fn base_urls_are_checked_and_credentials_hidden() {
        let ok = parse_base_url("openai", " http://user:pw@host:8000/v1/ ").map(|u| redact(&u));
        assert_eq!(ok.ok().as_deref(), Some("http://host:8000/v1"));
        for bad in ["ftp://host", "not a url", "http://host/?a=b", "unix:/tmp/sock"] {
            let err = parse_base_url("openai", bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("base_url"), "{bad}: {err}");
        }
    }
}
