//! The error type of `kubesage-ml`.

use std::path::PathBuf;

/// What can go wrong in the models.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A name does not match any detector.
    #[error("unknown detector {name:?}; known detectors: {known}")]
    UnknownDetector {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: String,
    },
    /// Input series are malformed (mismatched lengths, unordered or unparsable data).
    #[error("invalid series: {0}")]
    InvalidSeries(String),
    /// A CSV file could not be parsed.
    #[error("{origin}: line {line}: {reason}")]
    Csv {
        /// Where it came from.
        origin: String,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// NAB windows, profiles or results are malformed.
    #[error("NAB: {0}")]
    Nab(String),
    /// A model file cannot be used: missing, too large, truncated, not ONNX, or not the
    /// interface expected (tract's message, with its causes, is the reason).
    #[error("model {path}: {reason}")]
    Model {
        /// The file (or folder).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A model file (or buffer) is larger than the model runtime accepts.
    #[error("model {origin}: {bytes} bytes, over the {limit}-byte limit")]
    ModelTooLarge {
        /// The file, or `in-memory model`.
        origin: String,
        /// Its size.
        bytes: u64,
        /// The limit ([`MAX_MODEL_BYTES`](crate::model::MAX_MODEL_BYTES)).
        limit: u64,
    },
    /// The bytes are not an ONNX model: empty, truncated, or not protobuf at all.
    #[error("model {origin}: not a readable ONNX model ({reason})")]
    ModelDecode {
        /// The file, or `in-memory model`.
        origin: String,
        /// The protobuf decoder's message.
        reason: String,
    },
    /// The ONNX model decodes but cannot be used: a tensor whose data does not match its
    /// declared shape or is over the size limit, external data, a malformed graph or operator
    /// attributes, or a graph tract cannot type (tract's message, with its causes, is the
    /// reason).
    #[error("model {origin}: {reason}")]
    ModelInvalid {
        /// The file, or `in-memory model`.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// The model uses an operator that neither tract nor KubeSage implements.
    #[error("model {origin}: operator {op:?} (domain {domain:?}) of node {node:?} is not supported")]
    UnsupportedOperator {
        /// The file, or `in-memory model`.
        origin: String,
        /// The ONNX operator type.
        op: String,
        /// Its domain (`ai.onnx.ml`; empty for the default domain).
        domain: String,
        /// The node's name (or its first output's).
        node: String,
    },
    /// Inputs given to a model do not match its input schema (count, datatype or shape).
    #[error("model input {name:?}: {reason}")]
    ModelInput {
        /// The input's name (empty when the count is wrong).
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// Running a loaded model failed (tract's message, with its causes).
    #[error("model run failed: {0}")]
    ModelRun(String),
    /// A model repository has no model (or version) of that name.
    #[error("model {name:?}{}: not found", version_note(*version))]
    ModelNotFound {
        /// The model's name.
        name: String,
        /// The version asked for, if one was.
        version: Option<u64>,
    },
    /// The model (or version) exists but is not loaded: unloaded, or it failed to load.
    #[error("model {name:?}{}: not ready ({reason})", version_note(*version))]
    ModelNotReady {
        /// The model's name.
        name: String,
        /// The version asked for, if one was.
        version: Option<u64>,
        /// Why: `unloaded`, or the load error.
        reason: String,
    },
    /// A model name or version that cannot be a folder of a model repository.
    #[error("model name {name:?}: {reason}")]
    ModelName {
        /// The name (or version) as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An upload would replace a version that exists: versions are immutable.
    #[error("model {name:?} version {version} exists; versions are immutable (upload a new version)")]
    ModelExists {
        /// The model's name.
        name: String,
        /// The version.
        version: u64,
    },
    /// A knowledge index or runbook folder cannot be used (no Markdown, a corrupt or
    /// incompatible index file).
    #[error("knowledge base: {0}")]
    Knowledge(String),
    /// Passage vectors cannot be used for dense or hybrid search: none were computed, their
    /// file cannot be read, another model computed them, or the passages changed since.
    #[error("passage vectors{}: {problem}; run `kubesage kb ingest` to rebuild them", path_note(path.as_deref()))]
    PassageVectors {
        /// The vectors file, when the index has one.
        path: Option<PathBuf>,
        /// What is wrong.
        #[source]
        problem: crate::rag::dense::VectorsProblem,
    },
    /// A vector's length differs from the vector index's dimension.
    #[error("vector has dimension {actual}, the index holds dimension {expected}")]
    DimensionMismatch {
        /// The index's dimension.
        expected: usize,
        /// The vector's length.
        actual: usize,
    },
    /// A vector has a NaN or infinite component and cannot be indexed or searched.
    #[error("vector component {position} is {value}; vectors must be finite")]
    NonFiniteVector {
        /// The 0-based position of the first bad component.
        position: usize,
        /// Its value (NaN or ±inf).
        value: f32,
    },
    /// A vector is all zeros, so it has no direction to compare by cosine similarity.
    #[error("vector is all zeros; cosine similarity needs a non-zero vector")]
    ZeroVector,
    /// Vector index settings are out of range (a zero dimension, too many connections).
    #[error("vector index settings: {0}")]
    IndexConfig(String),
    /// A vector index file cannot be loaded: not an index, another version, truncated,
    /// inconsistent or failing its checksum.
    #[error("{path}: {problem}")]
    IndexFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        problem: crate::index::IndexFileProblem,
    },
    /// A language-model provider failed: bad configuration, an unreachable server, a
    /// timeout, rate limiting, an HTTP error or a malformed answer (see
    /// [`LlmErrorKind`](crate::llm::LlmErrorKind)). Never holds the API key.
    #[error("LLM {provider}: {kind}{}", attempts_note(*.attempts))]
    Llm {
        /// The provider (`openai`, `ollama`), or `configuration` before there is one.
        provider: String,
        /// Attempts made (0 when nothing was sent).
        attempts: u32,
        /// What went wrong.
        kind: crate::llm::LlmErrorKind,
    },
}

/// ` (after N attempts)` when a request was tried more than once.
fn attempts_note(attempts: u32) -> String {
    if attempts > 1 { format!(" (after {attempts} attempts)") } else { String::new() }
}

/// ` <path>` when there is one.
fn path_note(path: Option<&std::path::Path>) -> String {
    path.map(|p| format!(" {}", p.display())).unwrap_or_default()
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn version_note(version: Option<u64>) -> String {
    version.map(|v| format!(" version {v}")).unwrap_or_default()
}
