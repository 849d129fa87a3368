//! `kubesage plan`: deployment planning — size and emit manifests for a model, check that
//! pods fit the cluster, recommend container resources from usage history.

mod fit;
mod model;
mod resources;

use std::io::Write;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use kubesage_k8s::source::SourceChoice;

use crate::error::Result;

pub use fit::FitArgs;
pub use model::ModelArgs;
pub use resources::ResourcesArgs;

/// `kubesage plan ...`.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// What to plan.
    #[command(subcommand)]
    pub command: PlanCommand,
}

/// The planning commands.
#[derive(Debug, Clone, Subcommand)]
pub enum PlanCommand {
    /// Measure a model, size its pods for a request rate and latency, and emit the manifests
    /// that serve it with `kubesage serve` (Deployment, Service, HPA, PDB); `--apply` applies them.
    Model(ModelArgs),
    /// Check whether planned pods fit the cluster's nodes, and say which nodes and why not.
    Fit(FitArgs),
    /// Recommend CPU and memory requests and limits per container from usage history.
    Resources(ResourcesArgs),
}

/// Runs `kubesage plan`.
pub fn run(config: Option<&std::path::Path>, args: &PlanArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8> {
    match &args.command {
        PlanCommand::Model(a) => model::run(config, a, out, err),
        PlanCommand::Fit(a) => fit::run(config, a, out, err),
        PlanCommand::Resources(a) => resources::run(config, a, out, err),
    }
}

/// The cluster a plan reads: its pods (grouped by owner, their requests) and nodes.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// The demo cluster embedded in the binary.
    #[arg(long, conflicts_with_all = ["snapshot", "live"])]
    pub demo: bool,
    /// Snapshot files or folders (`kubectl get -o json|yaml`).
    #[arg(long, num_args = 1.., value_name = "PATH", conflicts_with = "live")]
    pub snapshot: Vec<PathBuf>,
    /// The live cluster (see --kubeconfig and --context).
    #[arg(long)]
    pub live: bool,
    /// Kubeconfig for --live.
    #[arg(long, value_name = "PATH", requires = "live")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context for --live.
    #[arg(long, value_name = "NAME", requires = "live")]
    pub context: Option<String>,
}

impl ClusterArgs {
    /// The source the flags name, if any.
    pub fn choice(&self, timeout: Duration) -> Option<SourceChoice> {
        if self.demo {
            Some(SourceChoice::Demo)
        } else if !self.snapshot.is_empty() {
            Some(SourceChoice::Snapshot(self.snapshot.clone()))
        } else if self.live {
            Some(SourceChoice::Live(kubesage_k8s::LiveOptions {
                kubeconfig: self.kubeconfig.clone(),
                context: self.context.clone(),
                timeout,
                ..Default::default()
            }))
        } else {
            None
        }
    }
}
