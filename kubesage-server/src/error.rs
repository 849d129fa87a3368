//! The error type of `kubesage-server`.

/// What can go wrong running a command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading a cluster or snapshot failed.
    #[error(transparent)]
    K8s(#[from] kubesage_k8s::Error),
    /// A model failed or rejected its input (detector names, series, NAB files).
    #[error(transparent)]
    Ml(#[from] kubesage_ml::Error),
    /// Arguments that parse but make no sense together.
    #[error("{0}")]
    Usage(String),
    /// The core rejected an input (selector, analyzer name, configuration).
    #[error(transparent)]
    Core(#[from] kubesage_core::Error),
    /// A file named on the command line could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Output could not be written or rendered.
    #[error("cannot write output: {0}")]
    Output(String),
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
