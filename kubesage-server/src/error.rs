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
    /// A request the API cannot act on: a malformed body or parameter.
    #[error("{0}")]
    BadRequest(String),
    /// The requested finding, alert or route does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The listening socket could not be opened, or serving failed.
    #[error("cannot serve on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A background task failed unexpectedly (a panic in an analysis, a cancelled task).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The HTTP status an API request that failed this way answers with: the user's
    /// mistakes get a 4xx, everything else a 500.
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        use kubesage_k8s::Error as K;
        use kubesage_ml::Error as M;
        match self {
            Error::BadRequest(_) | Error::Usage(_) | Error::Core(_) => StatusCode::BAD_REQUEST,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::K8s(K::Decode { .. } | K::NotKubernetes { .. }) => StatusCode::BAD_REQUEST,
            Error::K8s(K::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Ml(
                kubesage_ml::Error::UnknownDetector { .. }
                | kubesage_ml::Error::InvalidSeries(_)
                | kubesage_ml::Error::Knowledge(_),
            ) => StatusCode::BAD_REQUEST,
            Error::K8s(K::PrometheusUnreachable { .. } | K::Unreachable { .. }) => StatusCode::BAD_GATEWAY,
            Error::Ml(M::ModelNotFound { .. }) => StatusCode::NOT_FOUND,
            Error::Ml(M::ModelNotReady { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Ml(M::ModelExists { .. }) => StatusCode::CONFLICT,
            Error::Ml(M::ModelTooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Ml(
                M::ModelInput { .. }
                | M::ModelName { .. }
                | M::ModelDecode { .. }
                | M::ModelInvalid { .. }
                | M::UnsupportedOperator { .. },
            ) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The JSON body of every error response: `{"error": "..."}`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
}

impl axum::response::IntoResponse for Error {
    fn into_response(self) -> axum::response::Response {
        let status = self.status();
        let message = if status == axum::http::StatusCode::INTERNAL_SERVER_ERROR {
            // Internal faults are logged in full and answered generically.
            tracing::error!(error = %kubesage_core::error::display_chain(&self), "request failed");
            "internal error; see the server log".to_owned()
        } else {
            kubesage_core::error::display_chain(&self)
        };
        (status, axum::Json(ErrorBody { error: message })).into_response()
    }
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
