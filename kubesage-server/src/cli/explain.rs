//! `kubesage explain` (and `kubesage scan --explain`): why each finding happened and what to
//! do, grounded in the knowledge base, the user's runbooks and the finding's evidence.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use kubesage_core::{Cluster, Finding, Report};
use kubesage_ml::llm::{LlmConfig, Provider, build};
use kubesage_ml::rag::anonymize::Anonymizer;
use kubesage_ml::rag::answer::{AnswerCache, Answerer};
use kubesage_ml::rag::explain::{Explanation, offline, retrieve};
use kubesage_ml::rag::index::{PassageIndex, default_index_path};

use super::scan::{OutputFormat, ScanArgs, load_config, scan_report};
use crate::error::{Error, Result};

/// Passages given to each explanation.
const PASSAGES: usize = 4;

/// Arguments of `kubesage explain`.
#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// Where the findings come from, how to print, and which model explains (as for `scan`).
    #[command(flatten)]
    pub scan: ScanArgs,
    /// Explain only these findings (ids from `scan`); repeatable.
    #[arg(long = "finding", value_name = "ID")]
    pub findings: Vec<String>,
    /// Without `--finding`, explain the most severe N findings.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,
    /// The runbook index to search besides the built-in knowledge base (default as for `kb`).
    #[arg(long, value_name = "PATH")]
    pub index: Option<PathBuf>,
}

/// Which language model explains findings. With none configured, explanations are
/// assembled offline from the knowledge base and the evidence.
#[derive(Debug, Clone, Default, Args)]
pub struct LlmArgs {
    /// Language-model settings, YAML (`provider: openai|ollama`, `base_url`, `model`,
    /// `api_key_file`, `timeout_secs`, `max_retries`, `temperature`, `max_tokens`); `KUBESAGE_LLM_*`
    /// variables override its fields, or configure a model without a file.
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

/// The built-in knowledge base plus the user's index, when there is one.
pub(crate) fn knowledge(index: Option<&Path>) -> Result<PassageIndex> {
    let mut ix = match index.map(Path::to_path_buf).or_else(default_index_path) {
        Some(path) => PassageIndex::load(&path)?,
        None => PassageIndex::new(),
    };
    kubesage_ml::rag::kb::add_builtin(&mut ix);
    Ok(ix)
}

/// What the findings are about: where they were read, the cluster, the whole report.
pub(crate) struct ClusterContext<'a> {
    /// The source's description (`cluster at https://...`, `snapshot a.json`).
    pub source: &'a str,
    /// The objects read.
    pub cluster: &'a Cluster,
    /// Every finding of the scan.
    pub report: &'a Report,
}

impl ClusterContext<'_> {
    /// Tells clusters apart for the answer cache: the source, and the kube-system
    /// namespace's UID when it was read (two clusters behind one URL still differ).
    fn identity(&self) -> String {
        let uid = self.cluster.namespaces.iter().find(|n| n.metadata.name == "kube-system").map(|n| &n.metadata.uid);
        match uid {
            Some(uid) if !uid.is_empty() => format!("{} (kube-system {uid})", self.source),
            _ => self.source.to_owned(),
        }
    }

    /// An anonymizer that knows the cluster's names (see [`Anonymizer::register_cluster`])
    /// and every object a finding names or links to.
    fn anonymizer(&self) -> Anonymizer {
        let mut anonymizer = Anonymizer::new();
        anonymizer.register_cluster(self.cluster);
        for finding in &self.report.findings {
            anonymizer.register_object(&finding.object);
            for link in &finding.links {
                anonymizer.register_object(link);
            }
        }
        anonymizer
    }
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

/// Explanations of `findings`, in order: by the configured model, or offline. When the
/// model fails (unreachable, rate limited, ...), a warning goes to `err` and that finding
/// and the rest are explained offline, each with a note saying why.
pub(crate) fn explain_all(
    findings: &[&Finding],
    knowledge: &PassageIndex,
    llm: &LlmArgs,
    context: &ClusterContext<'_>,
    err: &mut dyn Write,
) -> Result<Vec<Explanation>> {
    let Some((provider, config)) = configured_llm(llm)? else {
        return Ok(findings.iter().map(|f| offline(f, &retrieve(f, knowledge, PASSAGES))).collect());
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)?;
    let cache = if llm.no_cache { None } else { AnswerCache::default_dir().map(AnswerCache::new) };
    let answerer = Answerer {
        cache,
        anonymize: !llm.no_anonymize,
        temperature: config.temperature.unwrap_or(0.0),
        max_tokens: config.max_tokens.unwrap_or(kubesage_ml::rag::answer::DEFAULT_MAX_TOKENS),
        ..Answerer::new(&provider, provider.endpoint(), context.identity())
    };
    let mut anonymizer = context.anonymizer();
    let mut failure: Option<String> = None;
    let mut explanations = Vec::with_capacity(findings.len());
    for finding in findings {
        let passages = retrieve(finding, knowledge, PASSAGES);
        if failure.is_none() {
            match runtime.block_on(answerer.explain(finding, &passages, &mut anonymizer)) {
                Ok(explanation) => {
                    explanations.push(explanation);
                    continue;
                }
                Err(e) => {
                    let reason = kubesage_core::error::display_chain(&e);
                    let _ = writeln!(err, "warning: {reason}; explaining offline");
                    failure = Some(reason);
                }
            }
        }
        let mut explanation = offline(finding, &passages);
        explanation.note = failure.as_ref().map(|reason| format!("offline explanation: the model failed ({reason})"));
        explanations.push(explanation);
    }
    Ok(explanations)
}

/// Runs `kubesage explain`.
pub fn run(config_path: Option<&Path>, args: &ExplainArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8> {
    let config = load_config(config_path)?;
    let (report, source, cluster) = scan_report(&config, &args.scan)?;
    let chosen: Vec<&Finding> = if args.findings.is_empty() {
        report.findings.iter().take(args.top).collect()
    } else {
        let mut chosen = Vec::new();
        for id in &args.findings {
            let f = report
                .findings
                .iter()
                .find(|f| f.id == *id)
                .ok_or_else(|| Error::Usage(format!("no finding with id {id:?} in this scan")))?;
            chosen.push(f);
        }
        chosen
    };
    let context = ClusterContext { source: &source, cluster: &cluster, report: &report };
    let knowledge = knowledge(args.index.as_deref())?;
    let explanations = explain_all(&chosen, &knowledge, &args.scan.llm, &context, err)?;
    write_explanations(&explanations, args.scan.output, out)?;
    Ok(0)
}

/// Prints explanations as Markdown (table and markdown output) or JSON/YAML.
pub(crate) fn write_explanations(
    explanations: &[Explanation],
    format: Option<OutputFormat>,
    out: &mut dyn Write,
) -> Result<()> {
    let output = |e: std::io::Error| Error::Output(e.to_string());
    match format {
        Some(OutputFormat::Json) => {
            let text = serde_json::to_string_pretty(&serde_json::json!({ "explanations": explanations }))
                .map_err(|e| Error::Output(e.to_string()))?;
            writeln!(out, "{text}").map_err(output)
        }
        Some(OutputFormat::Yaml) => {
            let text = serde_saphyr::to_string(&serde_json::json!({ "explanations": explanations }))
                .map_err(|e| Error::Output(e.to_string()))?;
            write!(out, "{text}").map_err(output)
        }
        _ => {
            if explanations.is_empty() {
                writeln!(out, "no findings to explain").map_err(output)?;
            }
            for e in explanations {
                if let Some(note) = &e.note {
                    writeln!(out, "> {note}\n").map_err(output)?;
                }
                writeln!(out, "{}\n", e.answer).map_err(output)?;
            }
            Ok(())
        }
    }
}
