//! The error type of `kubesage-k8s`.

use std::path::PathBuf;

/// What can go wrong reading a cluster or a snapshot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A deployment plan cannot be made: a target that is not a positive number, a
    /// measurement that is not usable, or manifests that cannot be written.
    #[error("plan: {0}")]
    Plan(String),
    /// A snapshot file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A snapshot is larger than the configured limit.
    #[error("{origin} is {size} bytes, over the {limit}-byte snapshot limit")]
    TooLarge {
        /// Where it came from.
        origin: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A snapshot is not valid JSON or YAML, or an object in it has fields of the wrong type.
    #[error("{origin}: {reason}")]
    Decode {
        /// Where it came from (a path, `stdin`, `demo`).
        origin: String,
        /// What is wrong, with the position where the parser knows it.
        reason: String,
    },
    /// A snapshot parsed but holds no Kubernetes object (not a `List`, not an object with a `kind`).
    #[error("{origin}: not a Kubernetes object or List: {reason}")]
    NotKubernetes {
        /// Where it came from.
        origin: String,
        /// What was found instead.
        reason: String,
    },
    /// A folder given as a snapshot holds no `.json`, `.yaml` or `.yml` file.
    #[error("{0} contains no .json, .yaml or .yml files")]
    EmptyFolder(PathBuf),
    /// The kubeconfig could not be loaded or names a context that does not exist.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// The API server could not be reached at all.
    #[error("cannot reach the Kubernetes API server at {url}: {reason}")]
    Unreachable {
        /// The server URL.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// Every kind the scan needs was refused or failed; there is nothing to analyse.
    #[error("could not read any kind from the cluster: {0}")]
    NothingReadable(String),
    /// A Prometheus base URL that cannot be used: not an absolute `http`/`https` URL, or the
    /// HTTP client for it could not be built.
    #[error("invalid Prometheus URL {url:?}: {reason}")]
    PrometheusUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Prometheus could not be reached: connection refused, a name that does not resolve, a
    /// TLS failure, or no complete answer within the timeout.
    #[error("cannot reach Prometheus at {url}: {reason}")]
    PrometheusUnreachable {
        /// The URL requested (without the query string).
        url: String,
        /// The transport error, with its causes.
        reason: String,
    },
    /// Prometheus answered with an error of its own (`{"status":"error",...}`): a query that
    /// does not parse (`bad_data`, HTTP 400), fails while running (`execution`, HTTP 422),
    /// times out or is cancelled inside Prometheus (`timeout`, `canceled`, HTTP 503).
    #[error("Prometheus rejected the query ({error_type}): {message}")]
    PrometheusQuery {
        /// Prometheus's `errorType`, e.g. `bad_data`.
        error_type: String,
        /// Prometheus's `error` message, e.g. `1:6: parse error: unclosed left parenthesis`.
        message: String,
    },
    /// An answer that is not what the Prometheus HTTP API documents (not JSON, an unexpected
    /// shape, an HTTP error without an API error body, a body over the size limit), or a
    /// range query refused before sending because it asks for more points than Prometheus
    /// allows. The message says which, and from where.
    #[error("{0}")]
    PrometheusResponse(String),
    /// Usage history that resource recommendations cannot use: a malformed usage file (with
    /// the line), a value that is not a non-negative number, or no samples at all.
    #[error("{origin}{}: {reason}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    UsageHistory {
        /// Where it came from (a path, `prometheus`).
        origin: String,
        /// The 1-based line of a file, when the problem is on one line.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// An error from the core (selectors, analyzer names).
    #[error(transparent)]
    Core(#[from] kubesage_core::Error),
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
