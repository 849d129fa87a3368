//! Which language model to use: [`LlmConfig`], read from YAML then overridden by
//! `KUBESAGE_LLM_*` environment variables, and [`build`], which makes the [`Provider`].
//!
//! ```yaml
//! provider: openai            # openai | ollama | none
//! base_url: http://vllm:8000  # default: https://api.openai.com/v1, or http://localhost:11434 for ollama
//! model: Qwen2.5-7B-Instruct
//! api_key_file: /var/run/secrets/llm/key   # or api_key_env: MY_KEY, or api_key (least safe)
//! timeout_secs: 120
//! max_retries: 2
//! temperature: 0.2
//! ```
//!
//! The key is looked for, in order, in `api_key` (or `KUBESAGE_LLM_API_KEY`), the file
//! `api_key_file`, the variable named by `api_key_env`, and, for `openai` only,
//! `OPENAI_API_KEY`. A source that is configured but empty or missing is an error rather
//! than a silent fallback.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::{ApiKey, ClientOptions, LlmErrorKind, Ollama, OpenAiCompatible, Provider, RetryPolicy, Timeouts};
use crate::error::{Error, Result};

/// The default base URL of the `openai` provider.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// The default base URL of the `ollama` provider.
pub const OLLAMA_BASE_URL: &str = "http://localhost:11434";

/// Which API to speak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum ProviderKind {
    /// No language model: features that need one are off.
    #[default]
    #[serde(rename = "none")]
    None,
    /// An OpenAI-compatible server ([`OpenAiCompatible`]).
    #[serde(rename = "openai")]
    OpenAi,
    /// An Ollama server ([`Ollama`]).
    #[serde(rename = "ollama")]
    Ollama,
}

impl ProviderKind {
    /// Its name in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::None => "none",
            ProviderKind::OpenAi => "openai",
            ProviderKind::Ollama => "ollama",
        }
    }
}

impl FromStr for ProviderKind {
    type Err = String;

    /// Case-insensitive; an empty value is `none`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Ok(ProviderKind::None),
            "openai" => Ok(ProviderKind::OpenAi),
            "ollama" => Ok(ProviderKind::Ollama),
            other => Err(format!("unknown provider {other:?}; expected openai, ollama or none")),
        }
    }
}

/// Language-model settings. `Debug` shows the key as `***`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Which API; `none` (the default) turns language-model features off.
    pub provider: ProviderKind,
    /// The server; `None` uses [`OPENAI_BASE_URL`] or [`OLLAMA_BASE_URL`].
    pub base_url: Option<String>,
    /// The model to ask (required unless the provider is `none`).
    pub model: Option<String>,
    /// The key itself (prefer `api_key_file` or `api_key_env`: configuration files get
    /// copied around).
    pub api_key: Option<ApiKey>,
    /// The name of an environment variable holding the key.
    pub api_key_env: Option<String>,
    /// A file holding the key (a mounted Kubernetes Secret); surrounding whitespace is
    /// dropped.
    pub api_key_file: Option<PathBuf>,
    /// Seconds to wait for a complete answer (for a stream, for it to start). Default 120.
    pub timeout_secs: u64,
    /// Seconds to wait for a connection. Default 10.
    pub connect_timeout_secs: u64,
    /// Seconds a stream may stay silent between chunks. Default 60.
    pub idle_timeout_secs: u64,
    /// Retries after the first attempt (connection failures, 429, 408, 5xx). Default 2.
    pub max_retries: u32,
    /// The temperature for requests that do not set one (0 to 2).
    pub temperature: Option<f32>,
    /// The most tokens an answer may use, where the caller does not say.
    pub max_tokens: Option<u32>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            provider: ProviderKind::None,
            base_url: None,
            model: None,
            api_key: None,
            api_key_env: None,
            api_key_file: None,
            timeout_secs: 120,
            connect_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_retries: 2,
            temperature: None,
            max_tokens: None,
        }
    }
}

/// A configuration error.
fn invalid(origin: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Llm {
        provider: "configuration".to_owned(),
        attempts: 0,
        kind: LlmErrorKind::Config { origin: origin.into(), reason: reason.into() },
    }
}

impl LlmConfig {
    /// Parses YAML text (an empty text is the default). `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self> {
        if text.trim().is_empty() {
            return Ok(LlmConfig::default());
        }
        serde_saphyr::from_str(text).map_err(|e| invalid(origin, e.to_string()))
    }

    /// Applies `KUBESAGE_LLM_*` variables from `vars` (pass `std::env::vars()`):
    /// `PROVIDER`, `BASE_URL`, `MODEL`, `API_KEY`, `API_KEY_FILE`, `TIMEOUT_SECS`,
    /// `MAX_RETRIES`, `TEMPERATURE`, `MAX_TOKENS`. Empty values are ignored; malformed ones are errors.
    /// (`OPENAI_API_KEY` is read later, by [`build`], and only as a fallback.)
    pub fn apply_env(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Result<Self> {
        for (key, value) in vars {
            let Some(name) = key.strip_prefix("KUBESAGE_LLM_") else { continue };
            if value.trim().is_empty() {
                continue;
            }
            let number = |what: &str| invalid(&key, format!("expected {what}, got {value:?}"));
            match name {
                "PROVIDER" => self.provider = value.parse().map_err(|reason: String| invalid(&key, reason))?,
                "BASE_URL" => self.base_url = Some(value),
                "MODEL" => self.model = Some(value),
                "API_KEY" => self.api_key = Some(ApiKey::new(value)),
                "API_KEY_FILE" => self.api_key_file = Some(PathBuf::from(value)),
                "TIMEOUT_SECS" => {
                    self.timeout_secs = value.trim().parse().map_err(|_| number("a number of seconds"))?
                }
                "MAX_RETRIES" => self.max_retries = value.trim().parse().map_err(|_| number("a whole number"))?,
                "TEMPERATURE" => self.temperature = Some(value.trim().parse().map_err(|_| number("a number"))?),
                "MAX_TOKENS" => self.max_tokens = Some(value.trim().parse().map_err(|_| number("a whole number"))?),
                _ => {}
            }
        }
        Ok(self)
    }

    /// The key, from the first configured source (see the module documentation). `env`
    /// looks up environment variables.
    pub fn resolve_api_key(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Option<ApiKey>> {
        if let Some(key) = &self.api_key {
            if key.is_empty() {
                return Err(invalid("api_key", "the key is empty"));
            }
            return Ok(Some(key.clone()));
        }
        if let Some(path) = &self.api_key_file {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.clone(), source })?;
            let key = ApiKey::new(text);
            if key.is_empty() {
                return Err(invalid(format!("api_key_file {}", path.display()), "the file is empty"));
            }
            return Ok(Some(key));
        }
        if let Some(name) = &self.api_key_env {
            let key = env(name).map(ApiKey::new).filter(|k| !k.is_empty());
            return match key {
                Some(key) => Ok(Some(key)),
                None => Err(invalid(format!("api_key_env {name}"), format!("the variable {name} is not set or empty"))),
            };
        }
        if self.provider == ProviderKind::OpenAi {
            return Ok(env("OPENAI_API_KEY").map(ApiKey::new).filter(|k| !k.is_empty()));
        }
        Ok(None)
    }

    /// The client options this configuration describes (without the key).
    fn options(&self) -> Result<ClientOptions> {
        for (field, secs) in [
            ("timeout_secs", self.timeout_secs),
            ("connect_timeout_secs", self.connect_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
        ] {
            if secs == 0 {
                return Err(invalid(field, "must be at least 1 second"));
            }
        }
        if let Some(t) = self.temperature.filter(|t| !(0.0..=2.0).contains(t)) {
            return Err(invalid("temperature", format!("{t} is outside 0 to 2")));
        }
        Ok(ClientOptions {
            api_key: None,
            timeouts: Timeouts {
                connect: Duration::from_secs(self.connect_timeout_secs),
                request: Duration::from_secs(self.timeout_secs),
                idle: Duration::from_secs(self.idle_timeout_secs),
            },
            retry: RetryPolicy { max_attempts: self.max_retries.saturating_add(1), ..RetryPolicy::default() },
            temperature: self.temperature,
        })
    }
}

/// The provider `config` describes, or `None` when its provider is `none`. Keys named by
/// `api_key_env`, and `OPENAI_API_KEY`, are read from the process environment.
pub fn build(config: &LlmConfig) -> Result<Option<Provider>> {
    build_with_env(config, &|name| std::env::var(name).ok())
}

/// [`build`], looking environment variables up with `env`.
pub fn build_with_env(config: &LlmConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Provider>> {
    if config.provider == ProviderKind::None {
        return Ok(None);
    }
    let model = config.model.as_deref().map(str::trim).filter(|m| !m.is_empty()).ok_or_else(|| {
        invalid(
            "model",
            format!("provider {} needs a model; set `model` or KUBESAGE_LLM_MODEL", config.provider.as_str()),
        )
    })?;
    let mut options = config.options()?;
    options.api_key = config.resolve_api_key(env)?;
    let provider = match config.provider {
        ProviderKind::None => return Ok(None),
        ProviderKind::OpenAi => {
            let base = config.base_url.as_deref().unwrap_or(OPENAI_BASE_URL);
            Provider::OpenAi(OpenAiCompatible::new(base, model, options)?)
        }
        ProviderKind::Ollama => {
            let base = config.base_url.as_deref().unwrap_or(OLLAMA_BASE_URL);
            Provider::Ollama(Ollama::new(base, model, options)?)
        }
    };
    Ok(Some(provider))
}

#[cfg(test)]
mod tests {
    use kubesage_core::llm::LlmProvider;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn yaml_then_environment() {
        let yaml = "provider: ollama\nmodel: llama3.2\ntimeout_secs: 30\ntemperature: 0.2\n";
        let config = LlmConfig::from_yaml(yaml, "kubesage.yaml")
            .and_then(|c| {
                c.apply_env(vars(&[
                    ("KUBESAGE_LLM_PROVIDER", "OpenAI"),
                    ("KUBESAGE_LLM_BASE_URL", "http://vllm:8000/v1"),
                    ("KUBESAGE_LLM_MODEL", ""),
                    ("KUBESAGE_LLM_MAX_RETRIES", "5"),
                    ("KUBESAGE_NAMESPACE", "shop"),
                ]))
            })
            .unwrap_or_default();
        assert_eq!(config.provider, ProviderKind::OpenAi);
        assert_eq!(config.base_url.as_deref(), Some("http://vllm:8000/v1"));
        assert_eq!(config.model.as_deref(), Some("llama3.2"), "an empty variable changes nothing");
        assert_eq!((config.timeout_secs, config.max_retries, config.temperature), (30, 5, Some(0.2)));
        assert_eq!(config.idle_timeout_secs, 60);

        let built = build_with_env(&config, &no_env).ok().flatten();
        match built {
            Some(Provider::OpenAi(p)) => {
                assert_eq!(p.endpoint(), "http://vllm:8000/v1/chat/completions");
                assert_eq!(p.model(), "llama3.2");
            }
            other => panic!("expected an OpenAI-compatible provider, got {other:?}"),
        }
    }

    #[test]
    fn none_or_unset_builds_nothing_and_defaults_fill_in() {
        assert!(matches!(build_with_env(&LlmConfig::default(), &no_env), Ok(None)));
        let none = LlmConfig::from_yaml("provider: none\nmodel: x\n", "f").unwrap_or_default();
        assert!(matches!(build_with_env(&none, &no_env), Ok(None)));
        let empty = LlmConfig::from_yaml("  \n", "f").unwrap_or_default();
        assert_eq!(empty, LlmConfig::default());
        let ollama = LlmConfig { provider: ProviderKind::Ollama, model: Some("m".into()), ..LlmConfig::default() };
        match build_with_env(&ollama, &no_env) {
            Ok(Some(Provider::Ollama(p))) => assert_eq!(p.endpoint(), "http://localhost:11434/api/chat"),
            other => panic!("{other:?}"),
        }
        let openai = LlmConfig { provider: ProviderKind::OpenAi, model: Some("m".into()), ..LlmConfig::default() };
        match build_with_env(&openai, &no_env) {
            Ok(Some(Provider::OpenAi(p))) => assert_eq!(p.endpoint(), "https://api.openai.com/v1/chat/completions"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mistakes_are_configuration_errors_that_say_where() {
        let cases: Vec<(Result<Option<Provider>>, &str)> = vec![
            (LlmConfig::from_yaml("provider: claude\n", "a.yaml").map(|_| None), "a.yaml"),
            (LlmConfig::from_yaml("colour: blue\n", "b.yaml").map(|_| None), "b.yaml"),
            (
                LlmConfig::default().apply_env(vars(&[("KUBESAGE_LLM_TEMPERATURE", "hot")])).map(|_| None),
                "KUBESAGE_LLM_TEMPERATURE",
            ),
            (
                LlmConfig::default().apply_env(vars(&[("KUBESAGE_LLM_PROVIDER", "gpt")])).map(|_| None),
                "KUBESAGE_LLM_PROVIDER",
            ),
            (build_with_env(&LlmConfig { provider: ProviderKind::Ollama, ..LlmConfig::default() }, &no_env), "model"),
            (
                build_with_env(
                    &LlmConfig {
                        provider: ProviderKind::OpenAi,
                        model: Some("m".into()),
                        temperature: Some(3.0),
                        ..LlmConfig::default()
                    },
                    &no_env,
                ),
                "temperature",
            ),
            (
                build_with_env(
                    &LlmConfig {
                        provider: ProviderKind::OpenAi,
                        model: Some("m".into()),
                        base_url: Some("localhost:8080".into()),
                        ..LlmConfig::default()
                    },
                    &no_env,
                ),
                "base_url",
            ),
            (
                build_with_env(
                    &LlmConfig {
                        provider: ProviderKind::OpenAi,
                        model: Some("m".into()),
                        timeout_secs: 0,
                        ..LlmConfig::default()
                    },
                    &no_env,
                ),
                "timeout_secs",
            ),
        ];
        for (result, origin) in cases {
            match result {
                Err(Error::Llm { kind: LlmErrorKind::Config { origin: o, .. }, attempts: 0, .. }) => {
                    assert!(o.contains(origin), "{o} should name {origin}");
                }
                other => panic!("expected a configuration error naming {origin}, got {other:?}"),
            }
        }
    }

    #[test]
    fn the_key_comes_from_the_first_configured_source() {
        let dir = tempfile::tempdir().ok();
        let file = dir.as_ref().map(|d| d.path().join("key")).unwrap_or_default();
        std::fs::write(&file, "sk-from-file\n").ok();
        let env = |name: &str| match name {
            "MY_KEY" => Some("sk-from-my-key".to_owned()),
            "OPENAI_API_KEY" => Some("sk-from-openai-env".to_owned()),
            _ => None,
        };
        let key = |config: &LlmConfig| config.resolve_api_key(&env).ok().flatten().map(|k| k.expose().to_owned());
        let openai = LlmConfig { provider: ProviderKind::OpenAi, ..LlmConfig::default() };
        assert_eq!(key(&openai).as_deref(), Some("sk-from-openai-env"));
        let named = LlmConfig { api_key_env: Some("MY_KEY".into()), ..openai.clone() };
        assert_eq!(key(&named).as_deref(), Some("sk-from-my-key"));
        let from_file = LlmConfig { api_key_file: Some(file.clone()), ..named.clone() };
        assert_eq!(key(&from_file).as_deref(), Some("sk-from-file"));
        let overridden = from_file.apply_env(vars(&[("KUBESAGE_LLM_API_KEY", "sk-from-kubesage-env")]));
        assert_eq!(overridden.ok().and_then(|c| key(&c)).as_deref(), Some("sk-from-kubesage-env"));
        // OPENAI_API_KEY is a fallback for openai only.
        let ollama = LlmConfig { provider: ProviderKind::Ollama, ..LlmConfig::default() };
        assert_eq!(key(&ollama), None);
        // A configured source that gives nothing is an error, not a fallback.
        let missing = LlmConfig { api_key_env: Some("UNSET".into()), ..openai.clone() };
        assert!(missing.resolve_api_key(&env).is_err());
        let no_file = LlmConfig { api_key_file: Some(file.with_extension("missing")), ..openai };
        assert!(matches!(no_file.resolve_api_key(&env), Err(Error::Io { .. })));
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let secret = "sk-live-very-secret-0123456789";
        let yaml = format!("provider: openai\nmodel: gpt-4o-mini\napi_key: {secret}\n");
        let config = LlmConfig::from_yaml(&yaml, "f").unwrap_or_default();
        assert_eq!(config.api_key.as_ref().map(ApiKey::expose), Some(secret));
        let provider = build_with_env(&config, &no_env).ok().flatten();
        assert!(provider.is_some());
        for shown in [format!("{config:?}"), format!("{provider:?}"), format!("{:?}", ApiKey::new(secret))] {
            assert!(!shown.contains(secret), "{shown}");
            assert!(shown.contains("***"), "{shown}");
        }
    }
}
