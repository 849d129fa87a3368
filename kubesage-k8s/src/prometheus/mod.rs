//! A client for the Prometheus HTTP API: the metric series that anomaly detection reads.
//!
//! Two endpoints are enough for that, `GET /api/v1/query` (an instant vector or a scalar)
//! and `GET /api/v1/query_range` (a matrix); both answers become [`Series`], a vector's
//! elements one point each. The client is plain `reqwest` rather than a Prometheus crate so
//! that it can guard what it accepts, since a careless range query over a large cluster can
//! return gigabytes:
//!
//! - a range query that asks for more than [`MAX_POINTS_PER_SERIES`] points per series (the
//!   limit Prometheus itself enforces) is refused before it is sent;
//! - a body over the size limit (512 MiB by default, [`PrometheusClient::with_max_body_bytes`])
//!   is refused from its `Content-Length`, or, without one, as soon as the bytes read pass
//!   the limit, so nothing unbounded is buffered;
//! - answers are decoded straight into series, without an intermediate JSON tree.
//!
//! Sample values arrive as strings; `NaN`, `+Inf` and `-Inf` all become `NaN`, the core's
//! mark for a gap (see [`Series`]). Timestamps are kept in whole Unix seconds (rounded down).
//!
//! ```no_run
//! # async fn run() -> kubesage_k8s::Result<()> {
//! use kubesage_k8s::prometheus::{PrometheusClient, parse_step, parse_time};
//! let prometheus = PrometheusClient::new("http://prometheus:9090", std::time::Duration::from_secs(30))?;
//! let now = 1_700_000_000;
//! let (start, end) = (parse_time("now-6h", now).unwrap_or(now), now);
//! let series = prometheus.query_range("rate(container_cpu_usage_seconds_total[5m])", start, end, 60).await?;
//! # let _ = (series, parse_step("5m")); Ok(()) }
//! ```

mod response;
#[cfg(test)]
mod tests;
mod time;

use std::time::Duration;

use kubesage_core::Series;
use reqwest::Url;

pub use time::{parse_step, parse_time};

use crate::error::{Error, Result};
use response::Envelope;

/// The most points per series a range query may ask for: `(end - start) / step` above this
/// is refused, before sending, as Prometheus would refuse it (`exceeded maximum resolution
/// of 11,000 points per timeseries`).
pub const MAX_POINTS_PER_SERIES: u64 = 11_000;

/// The default limit on the size of an answer's body: 512 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 512 * 1024 * 1024;

/// How much of a body is preallocated from its `Content-Length` at most; the rest grows as
/// bytes actually arrive, so a false length cannot make us allocate the whole limit.
const MAX_PREALLOCATION: u64 = 16 * 1024 * 1024;

/// A client for one Prometheus server (or anything serving its HTTP API: Thanos, Mimir,
/// VictoriaMetrics). Cheap to clone; clones share connections.
#[derive(Debug, Clone)]
pub struct PrometheusClient {
    http: reqwest::Client,
    /// The base URL, ending in `/`, so that `api/v1/...` joins below any path prefix.
    base: Url,
    timeout: Duration,
    max_body_bytes: u64,
}

impl PrometheusClient {
    /// A client for the Prometheus at `base_url` (`http://prometheus:9090`, or with a path
    /// prefix such as `https://example.com/prometheus`). `timeout` bounds each request,
    /// from connecting to the last byte of the answer.
    ///
    /// User name and password in the URL are sent as basic authentication and never shown
    /// in error messages.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self> {
        let invalid = |reason: String| Error::PrometheusUrl { url: redact(base_url), reason };
        let mut base = Url::parse(base_url.trim()).map_err(|e| invalid(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid(format!("the scheme must be http or https, not {:?}", base.scheme())));
        }
        if base.host().is_none() {
            return Err(invalid("no host".to_owned()));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid("a base URL takes no query string or fragment".to_owned()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| invalid(format!("cannot build an HTTP client: {e}")))?;
        Ok(PrometheusClient { http, base, timeout, max_body_bytes: DEFAULT_MAX_BODY_BYTES })
    }

    /// Sets the largest answer body accepted, in bytes (default [`DEFAULT_MAX_BODY_BYTES`]).
    pub fn with_max_body_bytes(mut self, limit: u64) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// The base URL, as used (ending in `/`, without credentials).
    pub fn base_url(&self) -> String {
        redact(self.base.as_str())
    }

    /// Evaluates `promql` at one instant: `GET /api/v1/query`, at `time` (Unix seconds) or,
    /// when `None`, at the server's now. An instant vector gives one single-point series per
    /// element; a scalar gives one series without labels.
    pub async fn query(&self, promql: &str, time: Option<i64>) -> Result<Vec<Series>> {
        let mut params = vec![("query", promql.to_owned())];
        if let Some(t) = time {
            params.push(("time", t.to_string()));
        }
        self.get("api/v1/query", &params).await
    }

    /// Evaluates `promql` over `[start, end]` (Unix seconds) every `step_secs` seconds:
    /// `GET /api/v1/query_range`. Refused without sending when `step_secs` is 0, `end` is
    /// before `start`, or the range holds more than [`MAX_POINTS_PER_SERIES`] steps.
    pub async fn query_range(&self, promql: &str, start: i64, end: i64, step_secs: u64) -> Result<Vec<Series>> {
        if step_secs == 0 {
            return Err(Error::PrometheusResponse("a range query needs a step of at least 1 second".to_owned()));
        }
        let Some(span) = end.checked_sub(start).and_then(|s| u64::try_from(s).ok()) else {
            return Err(Error::PrometheusResponse(format!(
                "a range query's end ({}) must not be before its start ({})",
                kubesage_core::time::format_rfc3339(end),
                kubesage_core::time::format_rfc3339(start)
            )));
        };
        let points = span / step_secs;
        if points > MAX_POINTS_PER_SERIES {
            return Err(Error::PrometheusResponse(format!(
                "a range of {} at a step of {step_secs}s is {points} points per series, over Prometheus's limit of \
                 {MAX_POINTS_PER_SERIES}; use a step of at least {}s or a shorter range",
                kubesage_core::time::human_duration(i64::try_from(span).unwrap_or(i64::MAX)),
                span.div_ceil(MAX_POINTS_PER_SERIES),
            )));
        }
        let params = [
            ("query", promql.to_owned()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("step", step_secs.to_string()),
        ];
        self.get("api/v1/query_range", &params).await
    }

    /// Sends one API request and decodes its answer.
    async fn get(&self, endpoint: &str, params: &[(&str, String)]) -> Result<Vec<Series>> {
        let mut url = self.base.join(endpoint).map_err(|e| Error::PrometheusUrl {
            url: self.base_url(),
            reason: format!("cannot join {endpoint}: {e}"),
        })?;
        let shown = redact(url.as_str());
        url.query_pairs_mut().extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));

        let response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| self.unreachable(&shown, &e))?;
        let status = response.status();
        let body = self.read_body(response, &shown).await?;

        let envelope: Envelope = match serde_json::from_slice(&body) {
            Ok(envelope) => envelope,
            Err(e) if status.is_success() => {
                return Err(Error::PrometheusResponse(format!(
                    "{shown} answered with something that is not a Prometheus API answer ({e}): {}",
                    excerpt(&body)
                )));
            }
            Err(_) => {
                return Err(Error::PrometheusResponse(format!("{shown} answered HTTP {status}: {}", excerpt(&body))));
            }
        };
        match envelope.status.as_str() {
            "success" => {
                let data = envelope
                    .data
                    .ok_or_else(|| Error::PrometheusResponse(format!("{shown} answered success without `data`")))?;
                response::into_series(data).map_err(|reason| Error::PrometheusResponse(format!("{shown}: {reason}")))
            }
            "error" => Err(Error::PrometheusQuery {
                error_type: envelope.error_type.unwrap_or_else(|| "unknown".to_owned()),
                message: envelope.error.unwrap_or_else(|| format!("HTTP {status}, without a message")),
            }),
            other => Err(Error::PrometheusResponse(format!("{shown} answered with status {other:?} (HTTP {status})"))),
        }
    }

    /// Reads a body of at most `max_body_bytes`, refusing a larger one as early as it can.
    async fn read_body(&self, mut response: reqwest::Response, shown: &str) -> Result<Vec<u8>> {
        let limit = self.max_body_bytes;
        let too_large = |declared: Option<u64>| {
            let size = declared.map(|len| format!(" ({len} bytes)")).unwrap_or_default();
            Error::PrometheusResponse(format!(
                "the answer from {shown}{size} is over the {limit}-byte limit; narrow the query \
                 (fewer series, a shorter range or a larger step)"
            ))
        };
        let declared = response.content_length();
        if let Some(len) = declared.filter(|&len| len > limit) {
            return Err(too_large(Some(len)));
        }
        let capacity = declared.unwrap_or(0).min(MAX_PREALLOCATION);
        let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        while let Some(chunk) = response.chunk().await.map_err(|e| self.unreachable(shown, &e))? {
            if (body.len() as u64).saturating_add(chunk.len() as u64) > limit {
                return Err(too_large(None));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn unreachable(&self, shown: &str, error: &reqwest::Error) -> Error {
        let reason =
            if error.is_timeout() { format!("no complete answer within {:?}", self.timeout) } else { causes(error) };
        Error::PrometheusUnreachable { url: shown.to_owned(), reason }
    }
}

/// The chain of causes below a transport error, most general first, without repeats:
/// `client error (Connect): tcp connect error: Connection refused (os error 111)`.
fn causes(error: &reqwest::Error) -> String {
    kubesage_core::error::source_chain(error).unwrap_or_else(|| error.to_string())
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match Url::parse(url.trim()) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.trim().to_owned(),
    }
}

/// The start of a body for an error message: one line, at most 200 characters.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(800)]);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(200) {
        _ if line.is_empty() => "(an empty body)".to_owned(),
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    }
}
