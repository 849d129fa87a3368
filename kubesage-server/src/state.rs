//! What the service holds between requests: the tracked findings, received alerts, recent
//! anomalies, the token set and the settings. [`AppState`] is cheap to clone (one `Arc`).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kubesage_core::{Analyzer, Finding, FindingTracker, Severity, SkippedKind, TrackedFinding};
use kubesage_k8s::WatchedCluster;

use crate::alerts::AlertStore;
use crate::auth::TokenSet;
use crate::explainer::Explainer;
use crate::metrics::Metrics;

/// The service's settings, with the defaults `kubesage serve` uses.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// Largest request body accepted (413 above), model uploads aside.
    pub max_body_bytes: usize,
    /// Largest model upload accepted (413 above).
    pub max_model_bytes: usize,
    /// Requests taking longer are answered 503.
    pub request_timeout: Duration,
    /// `/v1` requests served at once; more are shed with 503 rather than queued.
    pub max_concurrency: usize,
    /// Origins allowed by CORS; empty turns CORS off (no CORS headers at all).
    pub cors_origins: Vec<String>,
    /// Resolved findings remembered.
    pub max_resolved: usize,
    /// Alerts remembered.
    pub max_alerts: usize,
    /// Anomaly findings remembered.
    pub max_anomalies: usize,
    /// Points accepted in one anomaly request, over all series.
    pub max_points: usize,
    /// A Prometheus to look up alert expressions in, for anomalies around each alert.
    pub prometheus: Option<kubesage_k8s::prometheus::PrometheusClient>,
    /// How far before an alert's start its expression is read.
    pub alert_lookback: Duration,
    /// The resolution it is read at.
    pub alert_step: Duration,
}

impl Default for ServeSettings {
    fn default() -> Self {
        ServeSettings {
            max_body_bytes: 16 << 20,
            max_model_bytes: 256 << 20,
            request_timeout: Duration::from_secs(30),
            max_concurrency: 64,
            cors_origins: Vec::new(),
            max_resolved: 10_000,
            max_alerts: 10_000,
            max_anomalies: 10_000,
            max_points: 2_000_000,
            prometheus: None,
            alert_lookback: Duration::from_secs(6 * 3600),
            alert_step: Duration::from_secs(60),
        }
    }
}

/// The findings as of the latest analysis.
#[derive(Debug)]
pub struct FindingsState {
    /// Active findings and resolved history.
    pub tracker: FindingTracker,
    /// Where the cluster state comes from.
    pub source: String,
    /// When the latest analysis looked (RFC 3339).
    pub observed_at: Option<String>,
    /// Kinds that could not be read.
    pub skipped: Vec<SkippedKind>,
}

/// Counts for `/metrics` and listings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FindingsSummary {
    /// Active critical findings.
    pub critical: usize,
    /// Active warnings.
    pub warning: usize,
    /// Active informational findings.
    pub info: usize,
    /// Resolved findings remembered.
    pub resolved: usize,
}

/// Anomaly findings reported by detection requests, for attaching to alerts.
#[derive(Debug, Default)]
pub struct AnomalyStore {
    by_id: HashMap<String, Finding>,
    order: VecDeque<String>,
}

impl AnomalyStore {
    /// Records (or refreshes) an anomaly finding, keeping at most `max`.
    pub fn record(&mut self, finding: Finding, max: usize) {
        let id = finding.id.clone();
        if self.by_id.insert(id.clone(), finding).is_some() {
            self.order.retain(|x| *x != id);
        }
        self.order.push_back(id);
        while self.order.len() > max {
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
        }
    }

    /// Every anomaly finding remembered, most recent last.
    pub fn iter(&self) -> impl Iterator<Item = &Finding> {
        self.order.iter().filter_map(|id| self.by_id.get(id))
    }
}

struct Shared {
    findings: RwLock<FindingsState>,
    ready: AtomicBool,
    shutting_down: AtomicBool,
    alerts: Mutex<AlertStore>,
    anomalies: Mutex<AnomalyStore>,
    metrics: Metrics,
    tokens: Option<TokenSet>,
    settings: ServeSettings,
    analyzers: Vec<Box<dyn Analyzer>>,
    watch: Mutex<Option<WatchedCluster>>,
    explainer: RwLock<Arc<Explainer>>,
    models: std::sync::OnceLock<Arc<kubesage_ml::model::repository::ModelRepository>>,
    /// The repository's models have been loaded once (at start).
    models_loaded: AtomicBool,
    /// No cluster is watched or analysed (a model server): readiness is the models'.
    models_only: AtomicBool,
}

/// The service's state, shared by every request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("settings", &self.0.settings).finish_non_exhaustive()
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AppState {
    /// A state with no findings yet (not ready until [`AppState::publish`] is called).
    pub fn new(settings: ServeSettings, tokens: Option<TokenSet>, source: impl Into<String>) -> Self {
        let findings = FindingsState {
            tracker: FindingTracker::new(settings.max_resolved),
            source: source.into(),
            observed_at: None,
            skipped: Vec::new(),
        };
        AppState(Arc::new(Shared {
            findings: RwLock::new(findings),
            ready: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            alerts: Mutex::new(AlertStore::default()),
            anomalies: Mutex::new(AnomalyStore::default()),
            metrics: Metrics::default(),
            tokens,
            settings,
            analyzers: kubesage_k8s::analyze::all(),
            watch: Mutex::new(None),
            explainer: RwLock::new(Arc::new(Explainer::builtin())),
            models: std::sync::OnceLock::new(),
            models_loaded: AtomicBool::new(false),
            models_only: AtomicBool::new(false),
        }))
    }

    /// The settings.
    pub fn settings(&self) -> &ServeSettings {
        &self.0.settings
    }

    /// The accepted tokens; `None` means the API is open.
    pub fn tokens(&self) -> Option<&TokenSet> {
        self.0.tokens.as_ref()
    }

    /// Every analyzer (for scans of posted snapshots).
    pub fn analyzers(&self) -> &[Box<dyn Analyzer>] {
        &self.0.analyzers
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// What explains findings and searches the knowledge base.
    pub fn explainer(&self) -> Arc<Explainer> {
        Arc::clone(&read(&self.0.explainer))
    }

    /// Replaces the explainer (the default one knows the built-in knowledge base only).
    pub fn set_explainer(&self, explainer: Explainer) {
        *write(&self.0.explainer) = Arc::new(explainer);
    }

    /// The watched cluster, when the source is live.
    pub fn watch(&self) -> Option<WatchedCluster> {
        lock(&self.0.watch).clone()
    }

    /// Attaches the watched cluster (for readiness and metrics).
    pub fn set_watch(&self, view: WatchedCluster) {
        *lock(&self.0.watch) = Some(view);
    }

    /// Records a new analysis: updates first/last seen and resolutions, and makes the
    /// service ready. Returns the ids of new and resolved findings.
    pub fn publish(&self, report: kubesage_core::Report, now: i64) -> kubesage_core::tracking::TrackerUpdate {
        let mut f = write(&self.0.findings);
        let change = f.tracker.update(report.findings, now);
        f.observed_at = report.observed_at;
        f.skipped = report.skipped;
        drop(f);
        self.0.ready.store(true, Ordering::Release);
        change
    }

    /// Reads the findings under a shared lock.
    pub fn with_findings<R>(&self, f: impl FnOnce(&FindingsState) -> R) -> R {
        f(&read(&self.0.findings))
    }

    /// Counts of active findings by severity, and of resolved ones.
    pub fn findings_summary(&self) -> FindingsSummary {
        self.with_findings(|f| {
            let mut s = FindingsSummary { resolved: f.tracker.resolved().len(), ..FindingsSummary::default() };
            for t in f.tracker.active() {
                match t.finding.severity {
                    Severity::Critical => s.critical += 1,
                    Severity::Warning => s.warning += 1,
                    Severity::Info => s.info += 1,
                }
            }
            s
        })
    }

    /// Active findings matching `keep`, cloned.
    pub fn active_findings(&self, mut keep: impl FnMut(&TrackedFinding) -> bool) -> Vec<TrackedFinding> {
        self.with_findings(|f| f.tracker.active().iter().filter(|t| keep(t)).cloned().collect())
    }

    /// Whether the service takes traffic: not shutting down, and the first analysis done
    /// (with a cluster) or every model loaded (a model server without one).
    pub fn is_ready(&self) -> bool {
        if self.0.shutting_down.load(Ordering::Acquire) {
            return false;
        }
        if self.0.models_only.load(Ordering::Acquire) {
            return self.models_ready();
        }
        self.0.ready.load(Ordering::Acquire)
    }

    /// Whether the model repository (if any) has loaded and serves every model it loaded:
    /// a version that failed to load keeps a model server out of traffic.
    pub fn models_ready(&self) -> bool {
        if self.0.shutting_down.load(Ordering::Acquire) {
            return false;
        }
        match self.0.models.get() {
            None => true,
            Some(m) => self.0.models_loaded.load(Ordering::Acquire) && m.all_ready(),
        }
    }

    /// Records that the repository's models have been loaded at start (whatever the outcome:
    /// a failed version shows in [`AppState::models_ready`]).
    pub fn set_models_loaded(&self) {
        self.0.models_loaded.store(true, Ordering::Release);
    }

    /// Attaches the model repository served under `/v2` (once; later calls are ignored).
    pub fn set_models(&self, repository: Arc<kubesage_ml::model::repository::ModelRepository>) {
        let _ = self.0.models.set(repository);
    }

    /// The model repository, when the service serves models.
    pub fn models(&self) -> Option<&Arc<kubesage_ml::model::repository::ModelRepository>> {
        self.0.models.get()
    }

    /// Serves without a cluster: readiness follows the models alone.
    pub fn set_models_only(&self) {
        self.0.models_only.store(true, Ordering::Release);
    }

    /// Marks the service as shutting down: `/readyz` fails so traffic drains away.
    pub fn begin_shutdown(&self) {
        self.0.shutting_down.store(true, Ordering::Release);
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.0.shutting_down.load(Ordering::Acquire)
    }

    /// The alert store.
    pub fn alerts(&self) -> std::sync::MutexGuard<'_, AlertStore> {
        lock(&self.0.alerts)
    }

    /// The anomaly store.
    pub fn anomalies(&self) -> std::sync::MutexGuard<'_, AnomalyStore> {
        lock(&self.0.anomalies)
    }
}
