//! `kubesage plan resources`: CPU and memory requests and limits per container from usage
//! history (Prometheus or a file), by the VPA recommender's method and KRR's simple strategy.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use kubesage_core::{ResourceKind, SourceScope};
use kubesage_k8s::plan::resources::{
    self, ClusterWorkloads, PlanOptions, ResourceValues, ResourcesPlan, Strategy, UsageHistory, WorkloadPlan,
    format_cpu, format_memory,
};
use kubesage_k8s::prometheus::{PrometheusClient, parse_step, parse_time};

use super::ClusterArgs;
use crate::error::{Error, Result};

/// Which methods to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// The VPA recommender's method.
    Vpa,
    /// KRR's simple strategy.
    Simple,
    /// Both, side by side.
    Both,
}

/// Output formats of `plan resources`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResourcesOutput {
    /// Aligned columns, one row per container and method.
    Table,
    /// The whole plan as JSON.
    Json,
    /// Strategic merge patches (YAML), one document per workload, for `kubectl patch --type strategic`.
    Patch,
}

/// Arguments of `plan resources`.
#[derive(Debug, Clone, Args)]
pub struct ResourcesArgs {
    /// Read usage from this Prometheus (cAdvisor's container_cpu_usage_seconds_total and
    /// container_memory_working_set_bytes).
    #[arg(long, value_name = "URL", conflicts_with = "usage", required_unless_present = "usage")]
    pub prometheus: Option<String>,
    /// Read usage from a CSV (namespace,pod,container,timestamp,cpu_cores,memory_bytes) or
    /// JSON file; `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    pub usage: Option<PathBuf>,
    /// Only this namespace.
    #[arg(long, short = 'n', value_name = "NS")]
    pub namespace: Option<String>,
    /// How much history to read from Prometheus, back from --end: `7d`, `36h`.
    #[arg(long, value_name = "DURATION", default_value = "7d")]
    pub window: String,
    /// The end of the history read from Prometheus: Unix seconds, RFC 3339, `now`, `now-1h`.
    #[arg(long, value_name = "TIME", default_value = "now")]
    pub end: String,
    /// Resolution of the Prometheus history: `1m`, `5m`.
    #[arg(long, value_name = "STEP", default_value = "5m")]
    pub step: String,
    /// Which method: the VPA recommender's, KRR's simple strategy, or both.
    #[arg(long, value_enum, default_value = "both")]
    pub strategy: StrategyArg,
    /// Output format; patches use the VPA targets unless --strategy simple.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    pub output: ResourcesOutput,
    // Boxed so that the command enums stay small.
    /// Where pods' owners and current requests come from, if anywhere.
    #[command(flatten)]
    pub cluster: Box<ClusterArgs>,
    /// Seconds to wait for Prometheus or the API server.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
}

/// Runs `plan resources`.
pub fn run(
    _config: Option<&std::path::Path>,
    args: &ResourcesArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8> {
    let strategy = match args.strategy {
        StrategyArg::Vpa => Strategy::Vpa,
        StrategyArg::Simple => Strategy::Simple,
        StrategyArg::Both => Strategy::Both,
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(Error::Runtime)?;
    let mut history = match (&args.usage, &args.prometheus) {
        (Some(path), _) => read_usage_file(path)?,
        (None, Some(url)) => runtime.block_on(read_prometheus(args, url))?,
        (None, None) => return Err(Error::Usage("give --usage FILE or --prometheus URL".into())),
    };
    if let Some(ns) = &args.namespace {
        history.retain_namespace(ns);
    }
    if history.sample_count() == 0 {
        let scope = args.namespace.as_deref().map(|ns| format!(" in namespace {ns}")).unwrap_or_default();
        return Err(Error::Usage(format!("no CPU or memory samples{scope}; nothing to recommend")));
    }
    let cluster = runtime.block_on(load_cluster(args))?;
    if let Some(c) = &cluster {
        let unknown: BTreeSet<String> = history
            .containers
            .keys()
            .filter(|i| c.pod(&i.namespace, &i.pod).is_none())
            .map(|i| format!("{}/{}", i.namespace, i.pod))
            .collect();
        if !unknown.is_empty() {
            let _ = writeln!(
                err,
                "warning: {} pod(s) are not in the cluster read and are grouped by name: {}",
                unknown.len(),
                unknown.into_iter().take(5).collect::<Vec<_>>().join(", ")
            );
        }
    }
    let skipped = history.skipped;
    if skipped.missing + skipped.invalid + skipped.unlabelled_points > 0 {
        let _ = writeln!(
            err,
            "note: left out {} missing (NaN or empty) and {} impossible (negative or infinite) samples, \
             and {} points of series without namespace/pod/container labels",
            skipped.missing, skipped.invalid, skipped.unlabelled_points
        );
    }
    let options = PlanOptions { strategy, ..PlanOptions::default() };
    let plan = resources::recommend(&history, cluster.as_ref(), &options)?;
    let text = match args.output {
        ResourcesOutput::Json => {
            let mut s = serde_json::to_string_pretty(&plan).map_err(|e| Error::Output(e.to_string()))?;
            s.push('\n');
            s
        }
        ResourcesOutput::Table => table(&plan),
        ResourcesOutput::Patch => patches(&plan, strategy)?,
    };
    out.write_all(text.as_bytes()).map_err(|e| Error::Output(e.to_string()))?;
    Ok(0)
}

fn read_usage_file(path: &std::path::Path) -> Result<UsageHistory> {
    let (text, origin) = if path.as_os_str() == "-" {
        let text =
            std::io::read_to_string(std::io::stdin()).map_err(|source| Error::Io { path: "stdin".into(), source })?;
        (text, "stdin".to_owned())
    } else {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        (text, path.display().to_string())
    };
    Ok(UsageHistory::parse(&text, &origin)?)
}

async fn read_prometheus(args: &ResourcesArgs, url: &str) -> Result<UsageHistory> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let end = parse_time(&args.end, now).ok_or_else(|| Error::Usage(format!("--end {:?} is not a time", args.end)))?;
    let window = parse_step(&args.window)
        .and_then(|w| i64::try_from(w).ok())
        .ok_or_else(|| Error::Usage(format!("--window {:?} is not a duration such as 7d or 36h", args.window)))?;
    let step = parse_step(&args.step)
        .ok_or_else(|| Error::Usage(format!("--step {:?} is not a step such as 5m", args.step)))?;
    let client = PrometheusClient::new(url, Duration::from_secs(args.timeout))?;
    Ok(resources::query_prometheus(&client, args.namespace.as_deref(), end.saturating_sub(window), end, step).await?)
}

async fn load_cluster(args: &ResourcesArgs) -> Result<Option<ClusterWorkloads>> {
    let Some(choice) = args.cluster.choice(Duration::from_secs(args.timeout)) else {
        return Ok(None);
    };
    let kinds = [
        ResourceKind::Pod,
        ResourceKind::ReplicaSet,
        ResourceKind::Deployment,
        ResourceKind::StatefulSet,
        ResourceKind::DaemonSet,
        ResourceKind::Job,
    ];
    let scope = SourceScope { namespace: args.namespace.clone(), kinds: kinds.into_iter().collect() };
    let (cluster, _) = choice.load(&scope).await?;
    Ok(Some(ClusterWorkloads::from_cluster(&cluster)))
}

fn workload_name(w: &WorkloadPlan) -> String {
    match &w.workload.kind {
        Some(kind) => format!("{kind}/{}", w.workload.name),
        None => w.workload.name.clone(),
    }
}

/// `250m`, or `1 -> 250m` when the current value is known and differs.
fn cell(recommended: Option<u64>, current: Option<u64>, format: fn(u64) -> String) -> String {
    match (recommended, current) {
        (None, _) => "-".to_owned(),
        (Some(r), Some(c)) if r != c => format!("{} -> {}", format(c), format(r)),
        (Some(r), _) => format(r),
    }
}

fn row_cells(values: &ResourceValues, current: Option<&ResourceValues>) -> [String; 4] {
    let c = current.copied().unwrap_or_default();
    [
        cell(values.cpu_request_millicores, c.cpu_request_millicores, format_cpu),
        cell(values.cpu_limit_millicores, c.cpu_limit_millicores, format_cpu),
        cell(values.memory_request_bytes, c.memory_request_bytes, format_memory),
        cell(values.memory_limit_bytes, c.memory_limit_bytes, format_memory),
    ]
}

/// One row per container and method, columns aligned; notes below.
fn table(plan: &ResourcesPlan) -> String {
    let header = [
        "NAMESPACE",
        "WORKLOAD",
        "CONTAINER",
        "PODS",
        "HISTORY",
        "STRATEGY",
        "CPU REQUEST",
        "CPU LIMIT",
        "MEMORY REQUEST",
        "MEMORY LIMIT",
        "CONFIDENCE",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| (*s).to_owned()).collect()];
    let mut notes = Vec::new();
    for w in &plan.workloads {
        for c in &w.containers {
            let lead = [
                w.workload.namespace.clone(),
                workload_name(w),
                c.container.clone(),
                c.pods.to_string(),
                kubesage_core::time::human_duration(c.history_secs),
            ];
            if let Some(v) = &c.vpa {
                let mut row = lead.to_vec();
                row.push("vpa".into());
                row.extend(row_cells(&v.recommended, c.current.as_ref()));
                row.push(format!("{:.2}", v.confidence));
                rows.push(row);
            }
            if let Some(s) = &c.simple {
                let mut row = lead.to_vec();
                row.push("simple".into());
                row.extend(row_cells(&s.recommended, c.current.as_ref()));
                row.push("-".into());
                rows.push(row);
                for n in &s.notes {
                    notes.push(format!("{}/{} {}: simple: {n}", w.workload.namespace, workload_name(w), c.container));
                }
            }
        }
    }
    let widths: Vec<usize> =
        (0..header.len()).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut text = String::new();
    for row in &rows {
        let line: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    let guessed: Vec<String> =
        plan.workloads.iter().filter(|w| w.grouped_by == "pod-name").map(workload_name).collect();
    if !guessed.is_empty() {
        notes.push(format!(
            "guessed from pod names (no cluster given, or its pods are not in it): {}",
            guessed.join(", ")
        ));
    }
    for n in notes {
        text.push_str(&format!("note: {n}\n"));
    }
    text
}

/// One YAML document per workload with a value to set, each after a comment saying how to
/// apply it.
fn patches(plan: &ResourcesPlan, strategy: Strategy) -> Result<String> {
    let mut text = String::new();
    for w in &plan.workloads {
        if !w.patchable() {
            text.push_str(&format!(
                "# {}/{}: not patched: a {}'s pod resources cannot be changed in place; set them where it is created\n",
                w.workload.namespace,
                workload_name(w),
                w.workload.kind.as_deref().unwrap_or("workload")
            ));
            continue;
        }
        let Some(patch) = w.patch(strategy) else { continue };
        let target = match &w.workload.kind {
            Some(kind) => format!("{} {}", kind.to_lowercase(), w.workload.name),
            None => format!("<daemonset|job> {}", w.workload.name),
        };
        text.push_str("---\n");
        text.push_str(&format!(
            "# kubectl patch {target} -n {} --type strategic --patch-file <this document>\n",
            w.workload.namespace
        ));
        text.push_str(&serde_saphyr::to_string(&patch).map_err(|e| Error::Output(e.to_string()))?);
    }
    Ok(text)
}
