//! Scan a cluster from Rust: the embedded demo, a snapshot file, or a live cluster.
//!
//! `cargo run -p kubesage-examples --example scan_demo [SNAPSHOT.json|yaml]`

use kubesage_core::{ClusterSource, ScanOptions, Severity, SourceScope, scan};
use kubesage_k8s::SnapshotSource;
use kubesage_k8s::source::demo::DemoSource;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let analyzers = kubesage_k8s::analyze::all();
    let scope = SourceScope::default();
    // Any ClusterSource works here; LiveSource::connect(&LiveOptions::default()) reads a real cluster.
    let cluster = match std::env::args().nth(1) {
        Some(path) => SnapshotSource::new([path]).load(&scope).await?,
        None => DemoSource.load(&scope).await?,
    };
    let report = scan(&cluster, &analyzers, &ScanOptions::default())?;

    for f in report.findings.iter().filter(|f| f.severity == Severity::Critical) {
        println!("{} {}: {}", f.object, f.reason, f.summary);
        if let Some(e) = f.evidence.first() {
            println!("    {e}");
        }
    }
    println!("{} critical, {} warning, {} info", report.summary.critical, report.summary.warning, report.summary.info);
    Ok(())
}
