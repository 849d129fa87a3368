//! The error type of `kubesage-core`.

/// Everything that can go wrong inside the core: parsing configuration and selectors,
/// and decoding cluster objects. Each variant carries enough context to act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A label selector string (`--selector`) could not be parsed.
    #[error("invalid label selector {selector:?}: {reason}")]
    Selector {
        /// The selector as the user wrote it.
        selector: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A configuration file is not valid YAML or has fields of the wrong type.
    #[error("invalid configuration in {origin}: {reason}")]
    Config {
        /// Where the configuration came from (a path or an environment variable).
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A name does not match any known analyzer.
    #[error("unknown analyzer {name:?}; known analyzers: {known}")]
    UnknownAnalyzer {
        /// The name that was asked for.
        name: String,
        /// A comma separated list of the names that exist.
        known: String,
    },
    /// A severity name was not one of `critical`, `warning` or `info`.
    #[error("unknown severity {0:?}; expected critical, warning or info")]
    UnknownSeverity(String),
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Renders an error and its sources as one line (`outer: cause: root cause`), skipping a
/// cause whose text the line already holds.
pub fn display_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    text
}

/// The causes below an error (not the error itself), most general first, joined by `: `
/// with repeats dropped; `None` when it has no source. Transport errors carry the useful
/// part (`tcp connect error: Connection refused (os error 111)`) in their sources, while
/// their own text may name a URL with credentials in it.
pub fn source_chain(e: &dyn std::error::Error) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        cause = c.source();
    }
    (!parts.is_empty()).then(|| parts.join(": "))
}
