//! Explanations of findings for the command line and the service: the knowledge base (the
//! built-in entries and the user's index), the configured language model if any, the answer
//! cache, and the names of the cluster being explained, for anonymization.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use kubesage_core::{Cluster, Finding};
use kubesage_ml::llm::{LlmConfig, Provider, build};
use kubesage_ml::rag::anonymize::{Anonymizer, IdentifierKind, cluster_names};
use kubesage_ml::rag::answer::{AnswerCache, Answerer, DEFAULT_MAX_TOKENS};
use kubesage_ml::rag::explain::{Explanation, offline, retrieve};
use kubesage_ml::rag::index::{Hit, PassageIndex, default_index_path};

use crate::error::{Error, Result};

/// Passages given to each explanation.
pub const PASSAGES: usize = 4;

/// Which language model explains findings. With none configured, explanations are
/// assembled offline from the knowledge base and the evidence.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LlmArgs {
    /// Language-model settings, YAML (`provider: openai|ollama`, `base_url`, `model`,
    /// `api_key_file`, `timeout_secs`, `max_retries`, `temperature`, `max_tokens`);
    /// `KUBESAGE_LLM_*` variables override its fields, or configure a model without a file.
    #[arg(long, value_name = "PATH", env = "KUBESAGE_LLM_CONFIG")]
    pub llm_config: Option<PathBuf>,
    /// Explain from the knowledge base only, even when a model is configured.
    #[arg(long)]
    pub offline: bool,
    /// Send object names, addresses and messages to the model as they are (by default they
    /// are replaced with placeholders before sending and restored in the answer).
    #[arg(long)]
    pub no_anonymize: bool,
    /// Ask the model again even when an answer is cached.
    #[arg(long)]
    pub no_cache: bool,
}

/// The configured model, if any: the `--llm-config` file, then `KUBESAGE_LLM_*` variables.
fn configured_llm(args: &LlmArgs) -> Result<Option<(Provider, LlmConfig)>> {
    if args.offline {
        return Ok(None);
    }
    let config = match &args.llm_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
            LlmConfig::from_yaml(&text, &path.display().to_string())?
        }
        None => LlmConfig::default(),
    };
    let config = config.apply_env(std::env::vars())?;
    Ok(build(&config)?.map(|provider| (provider, config)))
}

/// The built-in knowledge base plus the user's index (`index`, else the default one), when
/// there is one.
pub fn knowledge(index: Option<&Path>) -> Result<PassageIndex> {
    let mut ix = match index.map(Path::to_path_buf).or_else(default_index_path) {
        Some(path) => PassageIndex::load(&path)?,
        None => PassageIndex::new(),
    };
    kubesage_ml::rag::kb::add_builtin(&mut ix);
    Ok(ix)
}

/// What an [`Explainer`] knows of the cluster it explains.
#[derive(Debug, Default)]
struct ClusterView {
    /// Tells clusters apart in the answer cache.
    identity: String,
    /// Its names, registered in each request's anonymizer.
    names: Arc<Vec<(IdentifierKind, String)>>,
}

/// Knowledge, model, cache and the cluster's names: everything an explanation needs.
pub struct Explainer {
    knowledge: PassageIndex,
    llm: Option<(Provider, LlmConfig)>,
    cache: Option<AnswerCache>,
    anonymize: bool,
    cluster: RwLock<ClusterView>,
}

impl std::fmt::Debug for Explainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Explainer")
            .field("passages", &self.knowledge.len())
            .field("llm", &self.llm.as_ref().map(|(p, _)| p.endpoint()))
            .finish_non_exhaustive()
    }
}

impl Explainer {
    /// The built-in knowledge base alone, no model: what a service has unless told more.
    pub fn builtin() -> Self {
        let mut knowledge = PassageIndex::new();
        kubesage_ml::rag::kb::add_builtin(&mut knowledge);
        Explainer { knowledge, llm: None, cache: None, anonymize: true, cluster: RwLock::default() }
    }

    /// The knowledge base with the user's index and the model `args` configure (the answer
    /// cache in its default place unless `--no-cache`).
    pub fn configured(index: Option<&Path>, args: &LlmArgs) -> Result<Self> {
        let cache = if args.no_cache { None } else { AnswerCache::default_dir().map(AnswerCache::new) };
        Ok(Explainer {
            knowledge: knowledge(index)?,
            llm: configured_llm(args)?,
            cache,
            anonymize: !args.no_anonymize,
            cluster: RwLock::default(),
        })
    }

    /// The model's endpoint, when one is configured.
    pub fn llm_endpoint(&self) -> Option<&str> {
        self.llm.as_ref().map(|(p, _)| p.endpoint())
    }

    /// Learns the cluster being explained: `source` describes where it was read, and the
    /// kube-system namespace's UID, when read, tells apart two clusters behind one address.
    pub fn set_cluster(&self, source: &str, cluster: &Cluster) {
        let uid = cluster.namespaces.iter().find(|n| n.metadata.name == "kube-system").map(|n| &n.metadata.uid);
        let identity = match uid {
            Some(uid) if !uid.is_empty() => format!("{source} (kube-system {uid})"),
            _ => source.to_owned(),
        };
        let names = if self.llm.is_some() { cluster_names(cluster) } else { Vec::new() };
        let view = ClusterView { identity, names: Arc::new(names) };
        *self.cluster.write().unwrap_or_else(std::sync::PoisonError::into_inner) = view;
    }

    /// The best `k` passages for `query` from the built-in entries and the user's index.
    pub fn search(&self, query: &str, k: usize) -> Vec<Hit> {
        self.knowledge.search(query, k)
    }

    /// The explanation assembled from the knowledge base and the evidence, no model.
    pub fn offline(&self, finding: &Finding) -> Explanation {
        offline(finding, &retrieve(finding, &self.knowledge, PASSAGES))
    }

    /// The model's explanation of `finding`; `None` when no model is configured. `others`
    /// are the other findings of the scan, whose objects are anonymized too.
    pub async fn ask(&self, finding: &Finding, others: &[&Finding]) -> Option<Result<Explanation>> {
        let (provider, config) = self.llm.as_ref()?;
        let (identity, names) = {
            let view = self.cluster.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            (view.identity.clone(), Arc::clone(&view.names))
        };
        let answerer = Answerer {
            cache: self.cache.clone(),
            anonymize: self.anonymize,
            temperature: config.temperature.unwrap_or(0.0),
            max_tokens: config.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            ..Answerer::new(provider, provider.endpoint(), identity)
        };
        let mut anonymizer = Anonymizer::new();
        if self.anonymize {
            anonymizer.register_all(names.iter());
            for f in others {
                anonymizer.register_object(&f.object);
                for link in &f.links {
                    anonymizer.register_object(link);
                }
            }
        }
        let passages = retrieve(finding, &self.knowledge, PASSAGES);
        Some(answerer.explain(finding, &passages, &mut anonymizer).await.map_err(Error::from))
    }

    /// The model's explanation, or the offline one when there is no model, or with a note
    /// saying why when the model failed.
    pub async fn explain(&self, finding: &Finding, others: &[&Finding]) -> Explanation {
        match self.ask(finding, others).await {
            None => self.offline(finding),
            Some(Ok(explanation)) => explanation,
            Some(Err(e)) => {
                let reason = kubesage_core::error::display_chain(&e);
                tracing::warn!(error = %reason, finding = %finding.id, "the model failed; explaining offline");
                with_note(self.offline(finding), &reason)
            }
        }
    }
}

/// `explanation` with a note that the model failed for `reason`.
pub fn with_note(mut explanation: Explanation, reason: &str) -> Explanation {
    explanation.note = Some(format!("offline explanation: the model failed ({reason})"));
    explanation
}
