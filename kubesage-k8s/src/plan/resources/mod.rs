//! CPU and memory requests and limits per container, recommended from usage history.
//!
//! Two methods, side by side, over the same samples:
//!
//! - [`vpa`]: the Vertical Pod Autoscaler recommender's — decaying histograms, percentiles
//!   for a target and bounds, a safety margin, a confidence that widens the bounds when the
//!   history is short, per-pod minimums.
//! - [`simple`]: KRR's `simple` strategy — the 95th percentile of CPU, the peak of memory
//!   plus 15%, nothing below 100 points.
//!
//! Samples come per container instance ([`UsageHistory`]): from Prometheus
//! ([`query_prometheus`]) or from a CSV or JSON file ([`UsageHistory::parse`]). Instances are
//! grouped into workloads by owner references when a cluster is given
//! ([`ClusterWorkloads`]), otherwise by their pod names ([`workload_from_pod_name`]);
//! recommendations are per workload and container name, across the workload's pods.
//!
//! Limits. VPA keeps a container's current limit-to-request ratio; where the current
//! request and limit are not both known, this recommends no CPU limit (throttling hurts more
//! than it protects) and a memory limit at the upper bound (a runaway container is stopped
//! before it takes the node's memory). KRR's strategy sets no CPU limit and a memory limit
//! equal to the request.
//!
//! Rounding: VPA's values are rounded up to the millicore and to the MiB, KRR's to the
//! millicore and to the megabyte, so printed quantities are short (`575m`, `288Mi`).

pub mod histogram;
mod quantity;
pub mod simple;
mod usage;
pub mod vpa;
mod workload;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::prometheus::PrometheusClient;

pub use quantity::{format_cpu, format_memory, parse_quantity};
pub use simple::SimpleSettings;
pub use usage::{CSV_COLUMNS, ContainerInstance, ContainerSeries, Resource, SkippedSamples, UsageHistory};
pub use vpa::VpaSettings;
pub use workload::{ClusterWorkloads, PodWorkload, ResourceValues, WorkloadRef, workload_from_pod_name};

/// Which methods to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// The VPA recommender's method.
    Vpa,
    /// KRR's simple strategy.
    Simple,
    /// Both.
    Both,
}

impl Strategy {
    fn vpa(self) -> bool {
        matches!(self, Strategy::Vpa | Strategy::Both)
    }
    fn simple(self) -> bool {
        matches!(self, Strategy::Simple | Strategy::Both)
    }
}

/// Settings of a recommendation run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanOptions {
    /// Which methods.
    pub strategy: Strategy,
    /// The VPA method's settings.
    pub vpa: VpaSettings,
    /// The simple strategy's settings.
    pub simple: SimpleSettings,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions { strategy: Strategy::Both, vpa: VpaSettings::default(), simple: SimpleSettings::default() }
    }
}

/// Differences between recommended and current values (recommended minus current), where
/// both are known: negative frees resources.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceChange {
    /// CPU request, millicores.
    pub cpu_request_millicores: Option<i64>,
    /// CPU limit, millicores.
    pub cpu_limit_millicores: Option<i64>,
    /// Memory request, bytes.
    pub memory_request_bytes: Option<i64>,
    /// Memory limit, bytes.
    pub memory_limit_bytes: Option<i64>,
}

impl ResourceChange {
    fn between(recommended: &ResourceValues, current: Option<&ResourceValues>) -> ResourceChange {
        let Some(current) = current else { return ResourceChange::default() };
        let diff = |r: Option<u64>, c: Option<u64>| Some(i64::try_from(r?).ok()? - i64::try_from(c?).ok()?);
        ResourceChange {
            cpu_request_millicores: diff(recommended.cpu_request_millicores, current.cpu_request_millicores),
            cpu_limit_millicores: diff(recommended.cpu_limit_millicores, current.cpu_limit_millicores),
            memory_request_bytes: diff(recommended.memory_request_bytes, current.memory_request_bytes),
            memory_limit_bytes: diff(recommended.memory_limit_bytes, current.memory_limit_bytes),
        }
    }
}

/// One value and its bounds (millicores or bytes); a bound is `None` when unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounds {
    /// The lower bound.
    pub lower: u64,
    /// The target.
    pub target: u64,
    /// The upper bound; `None` when there is too little history to bound it.
    pub upper: Option<u64>,
}

/// The VPA method's recommendation for one container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VpaRecommendation {
    /// Days of history, at one sample a minute (see [`vpa`]).
    pub confidence: f64,
    /// CPU in millicores; `None` without CPU samples.
    pub cpu: Option<Bounds>,
    /// Memory in bytes; `None` without memory samples.
    pub memory: Option<Bounds>,
    /// Requests (the targets) and limits.
    pub recommended: ResourceValues,
    /// Recommended minus current.
    pub change: ResourceChange,
}

/// KRR's simple strategy's recommendation for one container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimpleRecommendation {
    /// Requests and limits (no CPU limit; memory limit = request).
    pub recommended: ResourceValues,
    /// Recommended minus current.
    pub change: ResourceChange,
    /// Why a resource got no value (`cpu: not enough data (42 points, 100 needed)`).
    pub notes: Vec<String>,
}

/// The recommendations for one container name of a workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerPlan {
    /// The container's name.
    pub container: String,
    /// Pods of the workload this container was seen in.
    pub pods: usize,
    /// CPU samples.
    pub cpu_samples: usize,
    /// Memory samples.
    pub memory_samples: usize,
    /// The first sample's time (Unix seconds).
    pub first_sample: i64,
    /// The last sample's time.
    pub last_sample: i64,
    /// Seconds from the first sample to the last.
    pub history_secs: i64,
    /// Current requests and limits, when a cluster was given and holds them.
    pub current: Option<ResourceValues>,
    /// The VPA method's recommendation, when run.
    pub vpa: Option<VpaRecommendation>,
    /// The simple strategy's recommendation, when run.
    pub simple: Option<SimpleRecommendation>,
}

/// The recommendations for one workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadPlan {
    /// The workload.
    pub workload: WorkloadRef,
    /// How the workload was found: `owner` (a cluster's owner references) or `pod-name`.
    pub grouped_by: String,
    /// Its containers, by name.
    pub containers: Vec<ContainerPlan>,
}

/// A recommendation run's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourcesPlan {
    /// The methods run.
    pub strategy: Strategy,
    /// Per workload, sorted by namespace, kind and name.
    pub workloads: Vec<WorkloadPlan>,
    /// Samples left out, by reason.
    pub skipped: SkippedSamples,
}

/// Recommends requests and limits for every container in `history`. Pods are grouped by
/// `cluster`'s owner references where it holds them, by their names otherwise. An empty
/// history is an error.
pub fn recommend(
    history: &UsageHistory,
    cluster: Option<&ClusterWorkloads>,
    options: &PlanOptions,
) -> Result<ResourcesPlan> {
    if history.containers.values().all(|s| s.cpu.is_empty() && s.memory.is_empty()) {
        return Err(Error::UsageHistory {
            origin: "usage history".to_owned(),
            line: None,
            reason: "no usage samples".to_owned(),
        });
    }
    // workload -> container name -> instances' series
    type Grouped<'a> = BTreeMap<WorkloadRef, (bool, BTreeMap<String, Vec<(&'a str, &'a ContainerSeries)>>)>;
    let mut grouped: Grouped = BTreeMap::new();
    let mut current: BTreeMap<(WorkloadRef, String), ResourceValues> = BTreeMap::new();
    for (instance, series) in &history.containers {
        if series.cpu.is_empty() && series.memory.is_empty() {
            continue;
        }
        let known = cluster.and_then(|c| c.pod(&instance.namespace, &instance.pod));
        let workload = match known {
            Some(p) => p.workload.clone(),
            None => workload_from_pod_name(&instance.namespace, &instance.pod),
        };
        if let Some(values) = known.and_then(|p| p.containers.get(&instance.container)) {
            current.entry((workload.clone(), instance.container.clone())).or_insert(*values);
        }
        let entry = grouped.entry(workload).or_insert_with(|| (known.is_some(), BTreeMap::new()));
        entry.1.entry(instance.container.clone()).or_default().push((instance.pod.as_str(), series));
    }

    let mut workloads = Vec::with_capacity(grouped.len());
    for (workload, (by_owner, containers)) in grouped {
        let per_pod = containers.len();
        let mut plans = Vec::with_capacity(per_pod);
        for (name, instances) in containers {
            let now = current.get(&(workload.clone(), name.clone())).copied();
            plans.push(plan_container(&name, &instances, per_pod, now, options));
        }
        workloads.push(WorkloadPlan {
            workload,
            grouped_by: if by_owner { "owner" } else { "pod-name" }.to_owned(),
            containers: plans,
        });
    }
    Ok(ResourcesPlan { strategy: options.strategy, workloads, skipped: history.skipped })
}

fn plan_container(
    name: &str,
    instances: &[(&str, &ContainerSeries)],
    per_pod: usize,
    current: Option<ResourceValues>,
    options: &PlanOptions,
) -> ContainerPlan {
    let pods: BTreeSet<&str> = instances.iter().map(|(pod, _)| *pod).collect();
    let times = instances.iter().flat_map(|(_, s)| s.cpu.iter().chain(&s.memory).map(|p| p.0));
    let (first, last) = times.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let cpu_samples = instances.iter().map(|(_, s)| s.cpu.len()).sum();
    let memory_samples = instances.iter().map(|(_, s)| s.memory.len()).sum();

    let vpa = options.strategy.vpa().then(|| {
        let mut state = vpa::AggregateState::new(options.vpa);
        state.set_reference(first);
        for (_, s) in instances {
            state.add_cpu(&s.cpu);
            state.add_memory(&s.memory);
        }
        vpa_recommendation(&state, per_pod, current.as_ref())
    });
    let simple = options.strategy.simple().then(|| {
        let cpu: Vec<&[(i64, f64)]> =
            instances.iter().map(|(_, s)| s.cpu.as_slice()).filter(|s| !s.is_empty()).collect();
        let memory: Vec<&[(i64, f64)]> =
            instances.iter().map(|(_, s)| s.memory.as_slice()).filter(|s| !s.is_empty()).collect();
        simple_recommendation(&options.simple, &cpu, &memory, current.as_ref())
    });
    ContainerPlan {
        container: name.to_owned(),
        pods: pods.len(),
        cpu_samples,
        memory_samples,
        first_sample: first,
        last_sample: last,
        history_secs: last.saturating_sub(first).max(0),
        current,
        vpa,
        simple,
    }
}

/// Rounds up to a multiple of `unit`; infinities are `None`.
fn round_up(value: f64, unit: f64) -> Option<u64> {
    value.is_finite().then(|| ((value / unit - 1e-9).ceil().max(0.0) * unit) as u64)
}

fn vpa_recommendation(
    state: &vpa::AggregateState,
    per_pod: usize,
    current: Option<&ResourceValues>,
) -> VpaRecommendation {
    const MIB: f64 = 1024.0 * 1024.0;
    let bounds = |e: vpa::Estimate, unit: f64, scale: f64| {
        Some(Bounds {
            lower: round_up(e.lower_bound * scale, unit)?,
            target: round_up(e.target * scale, unit)?,
            upper: round_up(e.upper_bound * scale, unit),
        })
    };
    let cpu = state.cpu_estimate(per_pod).and_then(|e| bounds(e, 1.0, 1000.0));
    let memory = state.memory_estimate(per_pod).and_then(|e| bounds(e, MIB, 1.0));
    // Keep the current limit:request ratio where both are known.
    let ratio = |request: Option<u64>, limit: Option<u64>| match (request, limit) {
        (Some(r), Some(l)) if r > 0 => Some(l as f64 / r as f64),
        _ => None,
    };
    let cpu_ratio = current.and_then(|c| ratio(c.cpu_request_millicores, c.cpu_limit_millicores));
    let memory_ratio = current.and_then(|c| ratio(c.memory_request_bytes, c.memory_limit_bytes));
    let recommended = ResourceValues {
        cpu_request_millicores: cpu.map(|b| b.target),
        cpu_limit_millicores: cpu.zip(cpu_ratio).and_then(|(b, r)| round_up(b.target as f64 * r, 1.0)),
        memory_request_bytes: memory.map(|b| b.target),
        memory_limit_bytes: memory.and_then(|b| match memory_ratio {
            Some(r) => round_up(b.target as f64 * r, MIB),
            None => b.upper,
        }),
    };
    VpaRecommendation {
        confidence: state.confidence(),
        cpu,
        memory,
        change: ResourceChange::between(&recommended, current),
        recommended,
    }
}

fn simple_recommendation(
    settings: &SimpleSettings,
    cpu: &[&[(i64, f64)]],
    memory: &[&[(i64, f64)]],
    current: Option<&ResourceValues>,
) -> SimpleRecommendation {
    let mut notes = Vec::new();
    let mut value = |resource: &str, proposal: simple::Proposal| match proposal {
        simple::Proposal::Value(v) => Some(v),
        simple::Proposal::NotEnoughData { points } => {
            notes.push(format!("{resource}: not enough data ({points} points, {} needed)", settings.points_required));
            None
        }
    };
    let cpu_request = value("cpu", simple::cpu_request(settings, cpu));
    let memory = value("memory", simple::memory_request(settings, memory));
    let recommended = ResourceValues {
        cpu_request_millicores: cpu_request,
        cpu_limit_millicores: None,
        memory_request_bytes: memory,
        memory_limit_bytes: memory,
    };
    SimpleRecommendation { change: ResourceChange::between(&recommended, current), recommended, notes }
}

/// The PromQL for CPU usage in cores per container: the rate of
/// `container_cpu_usage_seconds_total` over `rate_window_secs`, without the pause container
/// and pod-level series, one series per namespace, pod and container.
pub fn cpu_query(namespace: Option<&str>, rate_window_secs: u64) -> String {
    format!(
        "max by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{{{}}}[{rate_window_secs}s]))",
        selector(namespace)
    )
}

/// The PromQL for the memory working set in bytes per container.
pub fn memory_query(namespace: Option<&str>) -> String {
    format!("max by (namespace, pod, container) (container_memory_working_set_bytes{{{}}})", selector(namespace))
}

fn selector(namespace: Option<&str>) -> String {
    let mut s = r#"container!="",container!="POD""#.to_owned();
    if let Some(ns) = namespace {
        s.push_str(&format!(r#",namespace="{}""#, ns.replace('\\', "\\\\").replace('"', "\\\"")));
    }
    s
}

/// Reads CPU and memory usage over `[start, end]` at `step_secs` from Prometheus (cAdvisor's
/// `container_cpu_usage_seconds_total` and `container_memory_working_set_bytes`). The CPU
/// rate is taken over the step, and over at least 5 minutes so that scrapes 15 to 60
/// seconds apart still give a rate.
pub async fn query_prometheus(
    client: &PrometheusClient,
    namespace: Option<&str>,
    start: i64,
    end: i64,
    step_secs: u64,
) -> Result<UsageHistory> {
    let cpu = client.query_range(&cpu_query(namespace, step_secs.max(300)), start, end, step_secs).await?;
    let memory = client.query_range(&memory_query(namespace), start, end, step_secs).await?;
    Ok(UsageHistory::from_prometheus(&cpu, &memory))
}

/// A strategic merge patch setting containers' resources in a workload's pod template:
/// `spec.template.spec.containers`, or `spec.jobTemplate.spec.template.spec.containers` for
/// a CronJob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadPatch {
    /// `spec`.
    pub spec: PatchSpec,
}

/// `spec` of a [`WorkloadPatch`]: one of the two fields is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchSpec {
    /// `template` (Deployments, StatefulSets, DaemonSets, ReplicaSets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<PatchTemplate>,
    /// `jobTemplate` (CronJobs).
    #[serde(default, rename = "jobTemplate", skip_serializing_if = "Option::is_none")]
    pub job_template: Option<PatchJobTemplate>,
}

/// `spec.jobTemplate` of a CronJob's [`WorkloadPatch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchJobTemplate {
    /// `spec`, holding the pod `template`.
    pub spec: PatchJobSpec,
}

/// `spec.jobTemplate.spec` of a CronJob's [`WorkloadPatch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchJobSpec {
    /// The pod template.
    pub template: PatchTemplate,
}

/// `spec.template` of a [`WorkloadPatch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchTemplate {
    /// `spec`.
    pub spec: PatchPodSpec,
}

/// `spec.template.spec` of a [`WorkloadPatch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchPodSpec {
    /// The containers, merged by name.
    pub containers: Vec<PatchContainer>,
}

/// One container of a [`WorkloadPatch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchContainer {
    /// The container's name (the merge key).
    pub name: String,
    /// The resources to set.
    pub resources: PatchResources,
}

/// Requests and limits as quantities (`cpu: 250m`, `memory: 512Mi`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchResources {
    /// Requests.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, String>,
    /// Limits.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, String>,
}

impl PatchResources {
    /// The quantities of `values`; unset values are left out of the patch.
    pub fn of(values: &ResourceValues) -> PatchResources {
        let mut r = PatchResources::default();
        if let Some(v) = values.cpu_request_millicores {
            r.requests.insert("cpu".into(), format_cpu(v));
        }
        if let Some(v) = values.memory_request_bytes {
            r.requests.insert("memory".into(), format_memory(v));
        }
        if let Some(v) = values.cpu_limit_millicores {
            r.limits.insert("cpu".into(), format_cpu(v));
        }
        if let Some(v) = values.memory_limit_bytes {
            r.limits.insert("memory".into(), format_memory(v));
        }
        r
    }
}

impl WorkloadPlan {
    /// Whether a patch can change this workload's pods: not for a Job (its pod template is
    /// immutable) or a bare Pod (its resources are, outside in-place resizing).
    pub fn patchable(&self) -> bool {
        !matches!(self.workload.kind.as_deref(), Some("Job" | "Pod"))
    }

    /// The patch setting this workload's containers to one method's recommendation (`vpa`
    /// unless it was not run, or `prefer` is [`Strategy::Simple`]). `None` when no container
    /// has a value to set, or the workload is not [`patchable`](Self::patchable).
    pub fn patch(&self, prefer: Strategy) -> Option<WorkloadPatch> {
        if !self.patchable() {
            return None;
        }
        let containers: Vec<PatchContainer> = self
            .containers
            .iter()
            .filter_map(|c| {
                let values = match (prefer, &c.vpa, &c.simple) {
                    (Strategy::Simple, _, Some(s)) | (_, None, Some(s)) => s.recommended,
                    (_, Some(v), _) => v.recommended,
                    (_, None, None) => return None,
                };
                let resources = PatchResources::of(&values);
                (!resources.requests.is_empty() || !resources.limits.is_empty())
                    .then(|| PatchContainer { name: c.container.clone(), resources })
            })
            .collect();
        if containers.is_empty() {
            return None;
        }
        let template = PatchTemplate { spec: PatchPodSpec { containers } };
        let spec = if self.workload.kind.as_deref() == Some("CronJob") {
            PatchSpec { template: None, job_template: Some(PatchJobTemplate { spec: PatchJobSpec { template } }) }
        } else {
            PatchSpec { template: Some(template), job_template: None }
        };
        Some(WorkloadPatch { spec })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(pod: &str, container: &str) -> ContainerInstance {
        ContainerInstance { namespace: "shop".into(), pod: pod.into(), container: container.into() }
    }

    fn history(pods: &[&str], container: &str, cpu: f64, memory: f64, minutes: i64) -> UsageHistory {
        let mut h = UsageHistory::new();
        for pod in pods {
            for i in 0..minutes {
                h.add(&instance(pod, container), Resource::Cpu, i * 60, cpu);
                h.add(&instance(pod, container), Resource::Memory, i * 60, memory);
            }
        }
        h
    }

    #[test]
    fn pods_of_one_deployment_make_one_workload() {
        let h = history(&["web-7d4b9c8f6d-x2x9k", "web-7d4b9c8f6d-b2c4d"], "web", 0.5, 300e6, 3 * 1440);
        let plan = recommend(&h, None, &PlanOptions::default()).expect("plan");
        assert_eq!(plan.workloads.len(), 1);
        let w = &plan.workloads[0];
        assert_eq!(
            (w.workload.kind.as_deref(), w.workload.name.as_str(), w.grouped_by.as_str()),
            (Some("Deployment"), "web", "pod-name")
        );
        let c = &w.containers[0];
        assert_eq!((c.pods, c.cpu_samples, c.history_secs), (2, 2 * 3 * 1440, (3 * 1440 - 1) * 60));
        let vpa = c.vpa.as_ref().expect("vpa");
        let cpu = vpa.cpu.expect("cpu");
        // Constant 0.5 cores: the end of 0.5's bucket plus 15%, in millicores rounded up.
        let b = vpa::cpu_buckets();
        let expected = (b.start(b.bucket_of(0.5) + 1) * 1.15 * 1000.0 - 1e-9).ceil() as u64;
        assert_eq!(cpu.target, expected);
        assert_eq!(vpa.recommended.cpu_limit_millicores, None, "no CPU limit without a current ratio");
        assert_eq!(vpa.recommended.memory_limit_bytes, vpa.memory.and_then(|m| m.upper));
        // Two pods' samples in three days: confidence is the span, not the doubled count.
        assert!((vpa.confidence - (3.0 * 1440.0 - 1.0) / 1440.0).abs() < 1e-9);
        let simple = c.simple.as_ref().expect("simple");
        assert_eq!(simple.recommended.cpu_request_millicores, Some(500));
        assert_eq!(simple.recommended.memory_request_bytes, Some(345_000_000));
        assert_eq!(simple.recommended.memory_limit_bytes, Some(345_000_000));
        assert_eq!(simple.recommended.cpu_limit_millicores, None);
    }

    #[test]
    fn the_current_ratio_is_kept_and_the_change_reported() {
        let h = history(&["api-0"], "api", 0.5, 300e6, 2 * 1440);
        let mut cluster = kubesage_core::Cluster::default();
        let pod: kubesage_core::model::Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "api-0", "namespace": "shop",
                         "ownerReferences": [{"kind": "StatefulSet", "name": "api", "uid": "1", "controller": true}]},
            "spec": {"containers": [{"name": "api", "resources": {
                "requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}}}]}
        }))
        .expect("pod");
        cluster.pods.push(pod);
        let workloads = ClusterWorkloads::from_cluster(&cluster);
        let plan = recommend(&h, Some(&workloads), &PlanOptions::default()).expect("plan");
        let w = &plan.workloads[0];
        assert_eq!((w.workload.kind.as_deref(), w.grouped_by.as_str()), (Some("StatefulSet"), "owner"));
        let c = &w.containers[0];
        let vpa = c.vpa.as_ref().expect("vpa");
        let target = vpa.recommended.cpu_request_millicores.expect("cpu");
        assert_eq!(vpa.recommended.cpu_limit_millicores, Some(2 * target), "limit:request 2:1 kept");
        assert_eq!(vpa.recommended.memory_limit_bytes, vpa.recommended.memory_request_bytes, "1:1 kept");
        assert_eq!(vpa.change.cpu_request_millicores, Some(target as i64 - 1000));
        let simple = c.simple.as_ref().expect("simple");
        assert_eq!(simple.change.memory_request_bytes, Some(345_000_000 - (1 << 30)));
        assert_eq!(simple.change.cpu_limit_millicores, None, "no limit recommended: no change to report");
    }

    #[test]
    fn patches_carry_kubernetes_quantities() {
        let h = history(&["web-7d4b9c8f6d-x2x9k"], "web", 0.5, 300e6, 2 * 1440);
        let plan =
            recommend(&h, None, &PlanOptions { strategy: Strategy::Simple, ..Default::default() }).expect("plan");
        let patch = plan.workloads[0].patch(Strategy::Simple).expect("a patch");
        let c = &patch.spec.template.as_ref().expect("a pod template").spec.containers[0];
        assert_eq!(c.name, "web");
        assert_eq!(c.resources.requests.get("cpu").map(String::as_str), Some("500m"));
        assert_eq!(c.resources.requests.get("memory").map(String::as_str), Some("345M"));
        assert_eq!(c.resources.limits.get("memory").map(String::as_str), Some("345M"));
        assert!(!c.resources.limits.contains_key("cpu"));
        assert!(plan.workloads[0].containers[0].vpa.is_none(), "vpa not run");
    }

    #[test]
    fn cronjobs_are_patched_in_their_job_template_and_jobs_not_at_all() {
        let h = history(&["backup-29918970-bcdfg"], "backup", 0.5, 300e6, 2 * 1440);
        let plan = recommend(&h, None, &PlanOptions::default()).expect("plan");
        let mut w = plan.workloads[0].clone();
        w.workload.kind = Some("CronJob".into());
        let patch = w.patch(Strategy::Vpa).expect("a patch");
        assert!(patch.spec.template.is_none());
        let job = patch.spec.job_template.expect("spec.jobTemplate");
        assert_eq!(job.spec.template.spec.containers[0].name, "backup");
        let yaml =
            serde_saphyr::to_string(&WorkloadPatch { spec: PatchSpec { template: None, job_template: Some(job) } })
                .expect("yaml");
        assert!(yaml.starts_with("spec:\n  jobTemplate:\n    spec:\n      template:\n"), "{yaml}");
        for kind in ["Job", "Pod"] {
            w.workload.kind = Some(kind.into());
            assert!(!w.patchable() && w.patch(Strategy::Vpa).is_none(), "{kind}");
        }
    }

    #[test]
    fn an_empty_history_is_an_error_and_short_ones_say_why() {
        assert!(matches!(
            recommend(&UsageHistory::new(), None, &PlanOptions::default()),
            Err(Error::UsageHistory { .. })
        ));
        let h = history(&["job-bcdfg"], "main", 0.2, 1e8, 10);
        let plan = recommend(&h, None, &PlanOptions::default()).expect("plan");
        let c = &plan.workloads[0].containers[0];
        let simple = c.simple.as_ref().expect("simple");
        assert_eq!(simple.recommended, ResourceValues::default());
        assert_eq!(simple.notes.len(), 2, "{:?}", simple.notes);
        assert!(simple.notes[0].contains("10 points"));
        // Ten minutes of history: VPA recommends, with a wide upper bound.
        let vpa = c.vpa.as_ref().expect("vpa");
        let cpu = vpa.cpu.expect("cpu");
        assert!(cpu.upper.is_some_and(|u| u > 100 * cpu.target), "{cpu:?}");
    }

    #[test]
    fn queries_select_containers_and_escape_the_namespace() {
        assert_eq!(
            cpu_query(Some("a\"b"), 300),
            r#"max by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{container!="",container!="POD",namespace="a\"b"}[300s]))"#
        );
        assert!(memory_query(None).contains(r#"container_memory_working_set_bytes{container!="",container!="POD"}"#));
    }
}
