//! Command-line parsing and dispatch.
//!
//! Exit codes: 0 success; 1 an error (message on stderr); 2 a usage error; 3 findings at
//! or above `--fail-on` were found.

mod anomaly;
mod explain;
mod kb;
mod plan;
mod scan;
mod serve;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use anomaly::AnomalyArgs;
pub use explain::ExplainArgs;
pub use kb::KbArgs;
pub use plan::PlanArgs;
pub use scan::{OutputFormat, ScanArgs, run_scan};
pub use serve::ServeArgs;

/// Exit code when findings at or above `--fail-on` exist.
pub const EXIT_FINDINGS: u8 = 3;

/// KubeSage: find what is broken in a Kubernetes cluster, and why.
#[derive(Debug, Parser)]
#[command(name = "kubesage", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (YAML); `KUBESAGE_*` variables and flags override it.
    #[arg(long, global = true, env = "KUBESAGE_CONFIG", value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan a cluster, a snapshot or the demo cluster for broken workloads.
    Scan(ScanArgs),
    /// List the analyzers and what each looks at.
    Analyzers,
    /// Anomaly detection on metric series (CSV, Prometheus) and NAB evaluation.
    Anomaly(AnomalyArgs),
    /// Explain findings: why they happen and what to do, from the knowledge base and evidence.
    Explain(ExplainArgs),
    /// The knowledge base of runbooks: ingest Markdown, search it with the built-in entries.
    Kb(KbArgs),
    /// Deployment planning: size and emit manifests for a model, check fit, recommend resources.
    Plan(PlanArgs),
    /// Run the HTTP service: findings kept current by watching the cluster, anomaly
    /// detection, an Alertmanager webhook, metrics.
    Serve(ServeArgs),
}

/// Parses the process arguments, runs, and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    // Unlocked handles: `serve` logs to stderr from worker threads, which would wait forever
    // on a lock held by this thread for the whole run.
    let code = run(std::env::args_os(), &mut std::io::stdout(), &mut std::io::stderr());
    ExitCode::from(code)
}

/// Runs a command line, writing results to `out` and diagnostics to `err`; returns the exit code.
pub fn run(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let text = e.render().to_string();
            let _ = if code == 0 { out.write_all(text.as_bytes()) } else { err.write_all(text.as_bytes()) };
            return code;
        }
    };
    let result = match &cli.command {
        Command::Scan(args) => run_scan(cli.config.as_deref(), args, out, err),
        Command::Analyzers => list_analyzers(out),
        Command::Anomaly(args) => anomaly::run(args, out),
        Command::Kb(args) => kb::run(args, out),
        Command::Plan(args) => plan::run(cli.config.as_deref(), args, out, err),
        Command::Explain(args) => explain::run(cli.config.as_deref(), args, out, err),
        Command::Serve(args) => serve::run(cli.config.as_deref(), args, out),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "error: {}", kubesage_core::error::display_chain(&e));
            1
        }
    }
}

fn list_analyzers(out: &mut dyn Write) -> crate::Result<u8> {
    for a in kubesage_k8s::analyze::all() {
        let kinds: Vec<&str> = a.reads().iter().map(|k| k.name()).collect();
        writeln!(out, "{:<12} reads {}", a.name(), kinds.join(", "))
            .map_err(|e| crate::Error::Output(e.to_string()))?;
    }
    Ok(0)
}
