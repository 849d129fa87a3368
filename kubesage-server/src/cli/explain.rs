//! `kubesage explain` (and `kubesage scan --explain`): why each finding happened and what to
//! do, grounded in the knowledge base, the user's runbooks and the finding's evidence.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use kubesage_core::Finding;
use kubesage_ml::rag::explain::{Explanation, offline, retrieve};
use kubesage_ml::rag::index::{PassageIndex, default_index_path};

use super::scan::{OutputFormat, ScanArgs, load_config, scan_report};
use crate::error::{Error, Result};

/// Passages given to each explanation.
const PASSAGES: usize = 4;

/// Arguments of `kubesage explain`.
#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// Where the findings come from, and how to print (as for `scan`).
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

/// The built-in knowledge base plus the user's index, when there is one.
pub(crate) fn knowledge(index: Option<&Path>) -> Result<PassageIndex> {
    let mut ix = match index.map(Path::to_path_buf).or_else(default_index_path) {
        Some(path) => PassageIndex::load(&path)?,
        None => PassageIndex::new(),
    };
    kubesage_ml::rag::kb::add_builtin(&mut ix);
    Ok(ix)
}

/// Explanations of `findings`, in order.
pub(crate) fn explain_all(findings: &[&Finding], knowledge: &PassageIndex) -> Vec<Explanation> {
    findings.iter().map(|f| offline(f, &retrieve(f, knowledge, PASSAGES))).collect()
}

/// Runs `kubesage explain`.
pub fn run(config_path: Option<&Path>, args: &ExplainArgs, out: &mut dyn Write) -> Result<u8> {
    let config = load_config(config_path)?;
    let (report, _source) = scan_report(&config, &args.scan)?;
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
    let explanations = explain_all(&chosen, &knowledge(args.index.as_deref())?);
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
                writeln!(out, "{}\n", e.answer).map_err(output)?;
            }
            Ok(())
        }
    }
}
