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
    /// A knowledge index or runbook folder cannot be used (no Markdown, a corrupt or
    /// incompatible index file).
    #[error("knowledge base: {0}")]
    Knowledge(String),
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
