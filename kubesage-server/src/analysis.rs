//! Keeping findings current: one analysis of a static source, or a loop that re-analyses a
//! watched cluster as it changes, re-running only the analyzers whose kinds changed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kubesage_core::{AnalysisContext, Cluster, Finding, ResourceKind, ScanOptions, assemble, select_analyzers};
use kubesage_k8s::WatchedCluster;
use kubesage_k8s::source::watch::Changes;

use crate::error::{Error, Result};
use crate::state::AppState;

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(0)
}

/// Analyses a cluster that will not change (the demo, snapshots) and publishes the findings.
pub fn analyze_once(state: &AppState, cluster: &Cluster, options: &ScanOptions) -> Result<()> {
    let started = Instant::now();
    let report = kubesage_core::scan(cluster, state.analyzers(), options)?;
    let n = select_analyzers(state.analyzers(), &options.analyzers)?.len();
    let now = cluster.observed_at.unwrap_or_else(unix_now);
    let source = state.with_findings(|f| f.source.clone());
    state.explainer().set_cluster(&source, cluster);
    state.metrics().record_analysis(started.elapsed().as_secs_f64(), n, None);
    state.publish(report, now);
    Ok(())
}

/// How the watch loop paces analyses.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    /// Quiet time after a change before analysing, so a burst (a rollout) is analysed once.
    pub debounce: Duration,
    /// Least time between analyses caused only by Events, which busy clusters emit constantly.
    pub events_interval: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing { debounce: Duration::from_millis(300), events_interval: Duration::from_secs(10) }
    }
}

fn merge(mut older: Changes, newer: Changes) -> Changes {
    older.dirty.extend(newer.dirty);
    Changes {
        cluster: newer.cluster,
        dirty: older.dirty,
        oldest_change: match (older.oldest_change, newer.oldest_change) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
    }
}

/// Re-analyses `view` whenever it changes, until the runtime stops. Findings of analyzers
/// that were not re-run are kept as they were; links between findings are rebuilt each time
/// because they span analyzers.
pub async fn watch_loop(state: AppState, view: WatchedCluster, options: ScanOptions, pacing: Pacing) -> Result<()> {
    let names: Vec<&'static str> =
        select_analyzers(state.analyzers(), &options.analyzers)?.iter().map(|a| a.name()).collect();
    let mut raw: BTreeMap<&'static str, Vec<Finding>> = BTreeMap::new();
    let mut last_run: Option<Instant> = None;
    loop {
        view.changed().await;
        tokio::time::sleep(pacing.debounce).await;
        if !view.is_synced() {
            continue;
        }
        let Some(mut changes) = view.take_changes() else { continue };
        let only_events = changes.dirty.iter().all(|k| *k == ResourceKind::Event);
        if let (true, Some(last)) = (only_events, last_run) {
            let wait = pacing.events_interval.saturating_sub(last.elapsed());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
                if let Some(more) = view.take_changes() {
                    changes = merge(changes, more);
                }
            }
        }
        let first = last_run.is_none();
        let worker_state = state.clone();
        let names_now = names.clone();
        let options_now = options.clone();
        let started = Instant::now();
        let task = tokio::task::spawn_blocking(move || {
            let Changes { cluster, dirty, oldest_change } = changes;
            let now = cluster.observed_at.unwrap_or_else(unix_now);
            let cx = AnalysisContext::new(&cluster, now);
            let mut ran = 0;
            for analyzer in worker_state.analyzers().iter().filter(|a| names_now.contains(&a.name())) {
                // Events are evidence on every analyzer's findings.
                let affected =
                    first || dirty.contains(&ResourceKind::Event) || analyzer.reads().iter().any(|k| dirty.contains(k));
                if affected {
                    let mut found = Vec::new();
                    analyzer.analyze(&cx, &mut found);
                    raw.insert(analyzer.name(), found);
                    ran += 1;
                }
            }
            let source = worker_state.with_findings(|f| f.source.clone());
            worker_state.explainer().set_cluster(&source, &cluster);
            let all: Vec<Finding> = raw.values().flatten().cloned().collect();
            let report = assemble(&cx, all, &options_now);
            (raw, report, now, ran, oldest_change)
        });
        let (returned, report, now, ran, oldest_change) =
            task.await.map_err(|e| Error::Internal(format!("analysis task: {e}")))?;
        raw = returned;
        // Metrics first: publishing makes the service ready, and a reader that sees it ready
        // must see this analysis counted.
        let lag = oldest_change.map(|t| t.elapsed().as_secs_f64());
        state.metrics().record_analysis(started.elapsed().as_secs_f64(), ran, lag);
        let change = state.publish(report, now);
        tracing::info!(analyzers = ran, new = change.new.len(), resolved = change.resolved.len(), "analysed");
        last_run = Some(Instant::now());
    }
}
