//! `kubesage plan`: deployment planning — size and emit manifests for a model, check that
//! pods fit the cluster, recommend container resources from usage history.

mod fit;
mod model;
mod resources;

use std::io::Write;

use clap::{Args, Subcommand};

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
