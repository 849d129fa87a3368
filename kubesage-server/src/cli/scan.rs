//! `kubesage scan`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use kubesage_core::{Config, ScanOptions, Selector, Severity, SourceScope, kinds_read, select_analyzers};
use kubesage_k8s::LiveOptions;
use kubesage_k8s::source::SourceChoice;

use crate::error::{Error, Result};
use crate::render;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for a terminal.
    Table,
    /// One JSON object.
    Json,
    /// The same object as YAML.
    Yaml,
    /// A Markdown report with evidence and next steps.
    Markdown,
}

/// Severity thresholds for `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Fail on critical findings.
    Critical,
    /// Fail on warnings or worse.
    Warning,
    /// Fail on any finding.
    Info,
}

impl From<FailOn> for Severity {
    fn from(f: FailOn) -> Severity {
        match f {
            FailOn::Critical => Severity::Critical,
            FailOn::Warning => Severity::Warning,
            FailOn::Info => Severity::Info,
        }
    }
}

/// Arguments of `kubesage scan`.
#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    /// Scan the realistic broken cluster embedded in the binary.
    #[arg(long, conflicts_with_all = ["snapshot", "kubeconfig", "context"])]
    pub demo: bool,
    /// Scan snapshot files or folders (`kubectl get ... -o json|yaml`); `-` reads stdin.
    #[arg(long, num_args = 1.., value_name = "PATH", conflicts_with_all = ["kubeconfig", "context"])]
    pub snapshot: Vec<PathBuf>,
    /// Kubeconfig for a live cluster (default: $KUBECONFIG, ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Only report objects in this namespace (a live scan lists only this namespace).
    #[arg(long, short = 'n', value_name = "NS")]
    pub namespace: Option<String>,
    /// Only report objects whose labels match (`app=web,tier!=db`).
    #[arg(long, short = 'l', value_name = "LABELS")]
    pub selector: Option<String>,
    /// Run only these analyzers (see `kubesage analyzers`).
    #[arg(long = "analyzer", short = 'a', value_name = "NAME", num_args = 1.., value_delimiter = ',')]
    pub analyzers: Vec<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<OutputFormat>,
    /// In table output, show evidence and next steps under each finding.
    #[arg(long)]
    pub details: bool,
    /// Exit with code 3 when findings at or above this severity exist.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// Objects per page when listing a live cluster.
    #[arg(long, value_name = "N")]
    pub page_size: Option<u32>,
    /// Seconds to wait for the API server.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// After the report, explain the most severe findings (see `kubesage explain`).
    #[arg(long)]
    pub explain: bool,
    /// Which language model explains findings, if any.
    #[command(flatten)]
    pub llm: crate::explainer::LlmArgs,
}

/// Findings `scan --explain` explains: the most severe ones.
const EXPLAIN_TOP: usize = 5;

/// Runs a scan and renders it; returns the exit code.
pub fn run_scan(config_path: Option<&Path>, args: &ScanArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8> {
    let config = load_config(config_path)?;
    let (report, source, cluster) = scan_report(&config, args)?;
    for s in &report.skipped {
        let _ = writeln!(err, "warning: skipped {}: {}", s.kind, s.reason);
    }

    let format = args.output.map_or_else(|| parse_format(&config.output), Ok)?;
    let text = match format {
        OutputFormat::Table => render::table(&report, &source, args.details),
        OutputFormat::Json => render::json(&report, &source)?,
        OutputFormat::Yaml => render::yaml(&report, &source)?,
        OutputFormat::Markdown => render::markdown(&report, &source),
    };
    if args.explain {
        let top: Vec<&kubesage_core::Finding> = report.findings.iter().take(EXPLAIN_TOP).collect();
        let explanations = super::explain::explain_all(&top, None, &args.llm, (&source, &cluster, &report), err)?;
        if format == OutputFormat::Json {
            // One JSON document: the report with its explanations.
            let mut value: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Output(e.to_string()))?;
            value["explanations"] = serde_json::to_value(&explanations).map_err(|e| Error::Output(e.to_string()))?;
            let text = serde_json::to_string_pretty(&value).map_err(|e| Error::Output(e.to_string()))?;
            writeln!(out, "{text}").map_err(|e| Error::Output(e.to_string()))?;
        } else {
            out.write_all(text.as_bytes()).map_err(|e| Error::Output(e.to_string()))?;
            writeln!(out, "\n## Explanations\n").map_err(|e| Error::Output(e.to_string()))?;
            super::explain::write_explanations(&explanations, Some(OutputFormat::Markdown), out)?;
        }
    } else {
        out.write_all(text.as_bytes()).map_err(|e| Error::Output(e.to_string()))?;
    }

    let fail_on = args.fail_on.map(Severity::from).or(config.fail_on);
    Ok(match fail_on {
        Some(threshold) if report.has_at_least(threshold) => super::EXIT_FINDINGS,
        _ => 0,
    })
}

/// Reads the source `args` name and scans it; returns the report and where it came from.
pub(crate) fn scan_report(
    config: &Config,
    args: &ScanArgs,
) -> Result<(kubesage_core::Report, String, kubesage_core::Cluster)> {
    let analyzers = kubesage_k8s::analyze::all();
    let names = if args.analyzers.is_empty() { config.analyzers.clone() } else { args.analyzers.clone() };
    let selected = select_analyzers(&analyzers, &names)?;
    let namespace = args.namespace.clone().or(config.namespace.clone());
    let selector = args.selector.as_deref().map(Selector::parse).transpose()?;
    let scope = SourceScope { namespace: namespace.clone(), kinds: kinds_read(&selected) };

    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(Error::Runtime)?;
    let choice = if args.demo {
        SourceChoice::Demo
    } else if !args.snapshot.is_empty() {
        SourceChoice::Snapshot(args.snapshot.clone())
    } else {
        SourceChoice::Live(LiveOptions {
            kubeconfig: args.kubeconfig.clone().or(config.kubeconfig.as_ref().map(PathBuf::from)),
            context: args.context.clone().or(config.context.clone()),
            page_size: args.page_size.unwrap_or(config.page_size),
            timeout: Duration::from_secs(args.timeout.unwrap_or(config.request_timeout_secs)),
            ..LiveOptions::default()
        })
    };
    let (cluster, source) = runtime.block_on(choice.load(&scope))?;
    let options = ScanOptions { namespace, selector, analyzers: names, now: None };
    let report = kubesage_core::scan(&cluster, &analyzers, &options)?;
    Ok((report, source, cluster))
}

fn parse_format(name: &str) -> Result<OutputFormat> {
    OutputFormat::from_str(name, true).map_err(|_| {
        Error::Core(kubesage_core::Error::Config {
            origin: "output".into(),
            reason: format!("unknown output format {name:?}; expected table, json, yaml or markdown"),
        })
    })
}

pub(crate) fn load_config(path: Option<&Path>) -> Result<Config> {
    let config = match path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).map_err(|source| Error::Io { path: p.display().to_string(), source })?;
            Config::from_yaml(&text, &p.display().to_string())?
        }
        None => Config::default(),
    };
    Ok(config.apply_env(std::env::vars())?)
}
