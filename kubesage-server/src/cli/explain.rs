//! `kubesage explain` (and `kubesage scan --explain`): why each finding happened and what to
//! do, grounded in the knowledge base, the user's runbooks and the finding's evidence.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use kubesage_core::{Cluster, Finding, Report};
use kubesage_ml::rag::explain::Explanation;

use super::scan::{OutputFormat, ScanArgs, load_config, scan_report};
use crate::error::{Error, Result};
use crate::explainer::{Explainer, LlmArgs, with_note};

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

/// Explanations of `findings` (from `report`, read from `cluster` described by `source`), in
/// order: by the configured model, or offline. When the model fails (unreachable, rate
/// limited, ...), a warning goes to `err` and that finding and the rest are explained
/// offline, each with a note saying why.
pub(crate) fn explain_all(
    findings: &[&Finding],
    index: Option<&Path>,
    llm: &LlmArgs,
    (source, cluster, report): (&str, &Cluster, &Report),
    err: &mut dyn Write,
) -> Result<Vec<Explanation>> {
    let explainer = Explainer::configured(index, llm)?;
    if explainer.llm_endpoint().is_none() {
        return Ok(findings.iter().map(|f| explainer.offline(f)).collect());
    }
    explainer.set_cluster(source, cluster);
    let all: Vec<&Finding> = report.findings.iter().collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)?;
    let mut failure: Option<String> = None;
    let mut explanations = Vec::with_capacity(findings.len());
    for finding in findings {
        if failure.is_none() {
            match runtime.block_on(explainer.ask(finding, &all)) {
                Some(Ok(explanation)) => {
                    explanations.push(explanation);
                    continue;
                }
                Some(Err(e)) => {
                    let reason = kubesage_core::error::display_chain(&e);
                    let _ = writeln!(err, "warning: {reason}; explaining offline");
                    failure = Some(reason);
                }
                None => {}
            }
        }
        let offline = explainer.offline(finding);
        explanations.push(match &failure {
            Some(reason) => with_note(offline, reason),
            None => offline,
        });
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
    let explanations = explain_all(&chosen, args.index.as_deref(), &args.scan.llm, (&source, &cluster, &report), err)?;
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
