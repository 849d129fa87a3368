//! Configuration: a YAML file, then `KUBESAGE_*` environment variables, then flags.
//!
//! Each layer overrides the one before. The core only parses; reading the file and the
//! environment is the caller's job, so this stays testable without touching either.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::finding::Severity;

/// KubeSage settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", default, deny_unknown_fields)]
pub struct Config {
    /// Path to a kubeconfig file; `None` uses `KUBECONFIG`, `~/.kube/config` or in-cluster.
    pub kubeconfig: Option<String>,
    /// The kubeconfig context to use.
    pub context: Option<String>,
    /// Restrict scans to one namespace.
    pub namespace: Option<String>,
    /// Analyzers to run; empty runs all.
    pub analyzers: Vec<String>,
    /// Default output format (`table`, `json`, `yaml`, `markdown`).
    pub output: String,
    /// Exit non-zero when findings at or above this severity exist.
    pub fail_on: Option<Severity>,
    /// Objects per page when listing from a live cluster.
    pub page_size: u32,
    /// Seconds before a request to the API server is abandoned.
    pub request_timeout_secs: u64,
    /// Bearer tokens the HTTP service accepts (prefer `token_file`: files stay out of process listings).
    pub api_tokens: Vec<String>,
    /// A file of bearer tokens, one per line (a Kubernetes Secret mounted as a file).
    pub token_file: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            kubeconfig: None,
            context: None,
            namespace: None,
            analyzers: Vec::new(),
            output: "table".to_owned(),
            fail_on: None,
            page_size: 500,
            request_timeout_secs: 30,
            api_tokens: Vec::new(),
            token_file: None,
        }
    }
}

impl Config {
    /// Parses a YAML configuration file's text. `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, Error> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_saphyr::from_str(text).map_err(|e| Error::Config { origin: origin.to_owned(), reason: e.to_string() })
    }

    /// Applies `KUBESAGE_*` variables from `vars` (pass `std::env::vars()`). Unknown
    /// `KUBESAGE_` variables are ignored; malformed values are errors.
    pub fn apply_env(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, Error> {
        for (key, value) in vars {
            let Some(name) = key.strip_prefix("KUBESAGE_") else { continue };
            let bad = |reason: String| Error::Config { origin: key.clone(), reason };
            match name {
                "KUBECONFIG" => self.kubeconfig = Some(value),
                "CONTEXT" => self.context = Some(value),
                "NAMESPACE" => self.namespace = Some(value),
                "ANALYZERS" => {
                    self.analyzers =
                        value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
                }
                "OUTPUT" => self.output = value,
                "FAIL_ON" => self.fail_on = Some(value.parse().map_err(|e: Error| bad(e.to_string()))?),
                "PAGE_SIZE" => {
                    self.page_size = value.parse().map_err(|_| bad(format!("expected a number, got {value:?}")))?;
                }
                "REQUEST_TIMEOUT_SECS" => {
                    self.request_timeout_secs =
                        value.parse().map_err(|_| bad(format!("expected a number, got {value:?}")))?;
                }
                "TOKEN_FILE" => self.token_file = Some(value),
                "API_TOKENS" => {
                    self.api_tokens =
                        value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
                }
                _ => {}
            }
        }
        if self.page_size == 0 {
            return Err(Error::Config { origin: "page_size".into(), reason: "must be at least 1".into() });
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env() {
        let file = "namespace: shop\npage_size: 100\nanalyzers: [pod, service]\nfail_on: warning\n";
        let cfg = Config::from_yaml(file, "test.yaml").and_then(|c| {
            c.apply_env([
                ("KUBESAGE_NAMESPACE".to_owned(), "payments".to_owned()),
                ("KUBESAGE_FAIL_ON".to_owned(), "critical".to_owned()),
                ("PATH".to_owned(), "/bin".to_owned()),
            ])
        });
        let cfg = cfg.unwrap_or_default();
        assert_eq!(cfg.namespace.as_deref(), Some("payments"));
        assert_eq!(cfg.page_size, 100);
        assert_eq!(cfg.analyzers, vec!["pod", "service"]);
        assert_eq!(cfg.fail_on, Some(Severity::Critical));
        assert_eq!(cfg.output, "table");
    }

    #[test]
    fn bad_input_is_typed() {
        assert!(matches!(Config::from_yaml("page_size: many", "f"), Err(Error::Config { .. })));
        assert!(matches!(Config::from_yaml("colour: blue", "f"), Err(Error::Config { .. })));
        assert!(matches!(Config::from_yaml("[unclosed", "f"), Err(Error::Config { .. })));
        let env = Config::default().apply_env([("KUBESAGE_PAGE_SIZE".to_owned(), "x".to_owned())]);
        assert!(matches!(env, Err(Error::Config { origin, .. }) if origin == "KUBESAGE_PAGE_SIZE"));
        let zero = Config::default().apply_env([("KUBESAGE_PAGE_SIZE".to_owned(), "0".to_owned())]);
        assert!(zero.is_err());
    }
}
