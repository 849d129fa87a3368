//! `kubesage plan fit`: will the planned pods fit the cluster's nodes? Per node, how many
//! pods it takes and why not more; exit code 3 when they do not all fit.
//!
//! The pods are either given (`--cpu 500m --memory 512Mi --replicas 3`) or planned from a
//! model as `plan model` plans them (`--model MODEL --rps N --p99-ms M`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use kubesage_core::{ResourceKind, SourceScope};
use kubesage_k8s::plan::fit::{FitReport, PodShape, fit};
use kubesage_k8s::plan::manifests::{Targets, size};
use kubesage_k8s::plan::resources::{format_cpu, parse_quantity};

use super::ClusterArgs;
use crate::cli::EXIT_FINDINGS;
use crate::error::{Error, Result};

/// Output formats of `plan fit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FitOutput {
    /// A table of nodes.
    Table,
    /// The report as JSON.
    Json,
}

/// Arguments of `plan fit`.
#[derive(Debug, Clone, Args)]
pub struct FitArgs {
    /// Plan the pods from this model (measured here, as `plan model` does).
    #[arg(long, value_name = "MODEL", requires_all = ["rps", "p99_ms"], conflicts_with_all = ["cpu", "memory", "replicas"])]
    pub model: Option<PathBuf>,
    /// With --model: requests per second.
    #[arg(long)]
    pub rps: Option<f64>,
    /// With --model: the p99 latency target, in milliseconds.
    #[arg(long = "p99-ms")]
    pub p99_ms: Option<f64>,
    /// CPU request per pod (`500m`, `2`).
    #[arg(long, requires_all = ["memory", "replicas"])]
    pub cpu: Option<String>,
    /// Memory request per pod (`512Mi`, `1G`).
    #[arg(long)]
    pub memory: Option<String>,
    /// Pods to place.
    #[arg(long)]
    pub replicas: Option<u32>,
    /// The pods' node selector, `key=value` (repeatable).
    #[arg(long = "node-selector", value_name = "KEY=VALUE")]
    pub node_selector: Vec<String>,
    /// A toleration, `key[=value][:effect]` (repeatable).
    #[arg(long = "toleration", value_name = "TOLERATION")]
    pub tolerations: Vec<String>,
    /// The cluster.
    #[command(flatten)]
    pub cluster: Box<ClusterArgs>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = FitOutput::Table)]
    pub output: FitOutput,
}

fn shape(args: &FitArgs, err: &mut dyn Write) -> Result<PodShape> {
    let mut node_selector = BTreeMap::new();
    for s in &args.node_selector {
        let (k, v) =
            s.split_once('=').ok_or_else(|| Error::Usage(format!("--node-selector {s:?}: expected KEY=VALUE")))?;
        node_selector.insert(k.to_owned(), v.to_owned());
    }
    let (cpu_millis, memory_bytes, replicas) = if let Some(model) = &args.model {
        let (rps, p99_ms) = (args.rps.unwrap_or_default(), args.p99_ms.unwrap_or_default());
        let name = model.file_stem().and_then(|s| s.to_str()).unwrap_or("model").to_owned();
        let profile = super::model::measure(model, &name, 1, 1000)?;
        let plan = size(&profile, &Targets { rps, p99_ms, max_replicas: None })?;
        for note in &plan.notes {
            writeln!(err, "plan: {note}").map_err(|e| Error::Output(e.to_string()))?;
        }
        (plan.cpu_request_millis, plan.memory_request_bytes, plan.replicas)
    } else {
        let (Some(cpu), Some(memory), Some(replicas)) = (&args.cpu, &args.memory, args.replicas) else {
            return Err(Error::Usage("give --model with --rps and --p99-ms, or --cpu, --memory and --replicas".into()));
        };
        let cpu = parse_quantity(cpu)
            .filter(|c| *c > 0.0)
            .ok_or_else(|| Error::Usage(format!("--cpu {cpu:?}: expected a quantity such as 500m")))?;
        let memory = parse_quantity(memory)
            .filter(|m| *m > 0.0)
            .ok_or_else(|| Error::Usage(format!("--memory {memory:?}: expected a quantity such as 512Mi")))?;
        ((cpu * 1000.0).ceil() as u64, memory.ceil() as u64, replicas)
    };
    Ok(PodShape { cpu_millis, memory_bytes, replicas, node_selector, tolerations: args.tolerations.clone() })
}

fn table(report: &FitReport, shape: &PodShape, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{} pods of {} CPU and {} MiB:",
        shape.replicas,
        format_cpu(shape.cpu_millis),
        shape.memory_bytes >> 20
    )?;
    writeln!(
        out,
        "{:<24} {:>5} {:>10} {:>12} {:>6}  why not more",
        "NODE", "PODS", "FREE CPU", "FREE MEMORY", "SLOTS"
    )?;
    for n in &report.nodes {
        writeln!(
            out,
            "{:<24} {:>5} {:>10} {:>10}Mi {:>6}  {}",
            n.node,
            n.pods,
            format!("{}m", n.free_cpu_millis),
            n.free_memory_bytes >> 20,
            n.free_pods,
            n.reasons.join("; ")
        )?;
    }
    if report.fits {
        writeln!(out, "fits: room for {} of the {} pods", report.capacity, report.replicas)
    } else {
        writeln!(
            out,
            "does not fit: room for {} of the {} pods; {} more need nodes with room",
            report.capacity,
            report.replicas,
            report.replicas - report.capacity
        )
    }
}

/// Runs `plan fit`.
pub fn run(_config: Option<&std::path::Path>, args: &FitArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8> {
    let shape = shape(args, err)?;
    let choice = args
        .cluster
        .choice(Duration::from_secs(30))
        .ok_or_else(|| Error::Usage("plan fit needs a cluster: --demo, --snapshot PATH or --live".into()))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)?;
    let scope = SourceScope { namespace: None, kinds: [ResourceKind::Node, ResourceKind::Pod].into_iter().collect() };
    let (cluster, _) = runtime.block_on(choice.load(&scope))?;
    if cluster.nodes.is_empty() {
        return Err(Error::Usage(
            "the cluster read has no nodes (a snapshot needs `kubectl get nodes -o json`)".into(),
        ));
    }
    let report = fit(&cluster, &shape);
    match args.output {
        FitOutput::Table => table(&report, &shape, out).map_err(|e| Error::Output(e.to_string()))?,
        FitOutput::Json => {
            serde_json::to_writer_pretty(&mut *out, &report).map_err(|e| Error::Output(e.to_string()))?;
            writeln!(out).map_err(|e| Error::Output(e.to_string()))?;
        }
    }
    Ok(if report.fits { 0 } else { EXIT_FINDINGS })
}
