//! The analyzers: one file per kind of object, each a small [`Analyzer`].
//!
//! Every analyzer reads the cluster through [`AnalysisContext`] (indexed lookups, events
//! joined to their objects) and reports [`Finding`]s with the evidence a person would look
//! for: status fields, conditions, events, and cross-object facts such as a Secret that does
//! not exist. Analyzers declare links to the objects that share a cause (a Pod to its
//! Deployment, a Service to its Pods) and the core's orchestration turns those into
//! `related` ids, so one root cause reads as one story, not a pile of unrelated lines.
//!
//! Absence is only claimed for kinds the source actually read ([`Cluster::is_loaded`]):
//! when a scan could not list Secrets, a Pod's Secret reference is not reported missing.
//!
//! [`Cluster::is_loaded`]: kubesage_core::Cluster::is_loaded

mod cronjob;
mod daemonset;
mod deployment;
mod hpa;
mod ingress;
mod job;
mod node;
mod pdb;
mod pod;
mod pv;
mod pvc;
mod replicaset;
mod service;
mod statefulset;
mod webhook;

use std::collections::BTreeMap;

use kubesage_core::CompactString;
use kubesage_core::model::{Event, LabelSelector, Pod};
use kubesage_core::{AnalysisContext, Analyzer, Evidence, Finding, ObjectRef, ResourceKind};

pub use cronjob::CronJobAnalyzer;
pub use daemonset::DaemonSetAnalyzer;
pub use deployment::DeploymentAnalyzer;
pub use hpa::HpaAnalyzer;
pub use ingress::IngressAnalyzer;
pub use job::JobAnalyzer;
pub use node::NodeAnalyzer;
pub use pdb::PdbAnalyzer;
pub use pod::PodAnalyzer;
pub use pv::PvAnalyzer;
pub use pvc::PvcAnalyzer;
pub use replicaset::ReplicaSetAnalyzer;
pub use service::ServiceAnalyzer;
pub use statefulset::StatefulSetAnalyzer;
pub use webhook::WebhookAnalyzer;

/// Every analyzer, in the order they report.
pub fn all() -> Vec<Box<dyn Analyzer>> {
    vec![
        Box::new(PodAnalyzer),
        Box::new(DeploymentAnalyzer),
        Box::new(ReplicaSetAnalyzer),
        Box::new(StatefulSetAnalyzer),
        Box::new(DaemonSetAnalyzer),
        Box::new(JobAnalyzer),
        Box::new(CronJobAnalyzer),
        Box::new(ServiceAnalyzer),
        Box::new(IngressAnalyzer),
        Box::new(PvcAnalyzer),
        Box::new(PvAnalyzer),
        Box::new(NodeAnalyzer),
        Box::new(HpaAnalyzer),
        Box::new(PdbAnalyzer),
        Box::new(WebhookAnalyzer),
    ]
}

/// The names of every analyzer.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|a| a.name()).collect()
}

/// The most recent `Warning` events about an object, at most `limit`, optionally only those
/// whose reason is in `reasons`.
pub(crate) fn warning_events<'a>(
    cx: &AnalysisContext<'a>,
    kind: &'a str,
    namespace: &'a str,
    name: &'a str,
    reasons: &[&str],
    limit: usize,
) -> Vec<&'a Event> {
    cx.index
        .events(kind, namespace, name)
        .iter()
        .copied()
        .filter(|e| e.is_warning() && (reasons.is_empty() || reasons.contains(&e.reason.as_str())))
        .take(limit)
        .collect()
}

/// Adds events as evidence.
pub(crate) fn with_events(mut finding: Finding, events: &[&Event]) -> Finding {
    for e in events {
        finding.evidence.push(Evidence::event(e));
    }
    finding
}

/// The controllers above a pod: its ReplicaSet and that ReplicaSet's Deployment, its
/// StatefulSet, DaemonSet, or Job and that Job's CronJob.
pub(crate) fn controllers_of<'a>(cx: &AnalysisContext<'a>, pod: &'a Pod) -> Vec<ObjectRef> {
    let ns = pod.metadata.namespace.as_str();
    let mut out = Vec::new();
    let Some(owner) = pod.metadata.controller() else { return out };
    out.push(ObjectRef::new(owner.kind.as_str(), ns, owner.name.as_str()));
    let grand = match owner.kind.as_str() {
        "ReplicaSet" => {
            cx.get::<kubesage_core::model::ReplicaSet>(ns, &owner.name).and_then(|rs| rs.metadata.controller())
        }
        "Job" => cx.get::<kubesage_core::model::Job>(ns, &owner.name).and_then(|j| j.metadata.controller()),
        _ => None,
    };
    if let Some(g) = grand {
        out.push(ObjectRef::new(g.kind.as_str(), ns, g.name.as_str()));
    }
    out
}

/// Pods in a namespace that a selector picks (an empty selector picks none, as
/// controllers and budgets treat it).
pub(crate) fn pods_selected<'a>(
    cx: &AnalysisContext<'a>,
    namespace: &'a str,
    selector: &LabelSelector,
) -> Vec<&'a Pod> {
    if selector.is_empty() {
        return Vec::new();
    }
    cx.index.pods_in(namespace).iter().copied().filter(|p| selector.matches(&p.metadata.labels)).collect()
}

/// Pods in a namespace whose labels include every pair of a Service-style selector map.
pub(crate) fn pods_matching<'a>(
    cx: &AnalysisContext<'a>,
    namespace: &'a str,
    selector: &BTreeMap<CompactString, CompactString>,
) -> Vec<&'a Pod> {
    if selector.is_empty() {
        return Vec::new();
    }
    cx.index
        .pods_in(namespace)
        .iter()
        .copied()
        .filter(|p| selector.iter().all(|(k, v)| p.metadata.labels.get(k) == Some(v)))
        .collect()
}

/// Ready and not-ready endpoint counts of a Service, from EndpointSlices when they were
/// read, else from Endpoints; `None` when neither kind was read.
pub(crate) fn endpoint_counts<'a>(
    cx: &AnalysisContext<'a>,
    namespace: &'a str,
    service: &'a str,
) -> Option<(usize, usize)> {
    if cx.cluster.is_loaded(ResourceKind::EndpointSlice) {
        let (mut ready, mut not_ready) = (0, 0);
        for slice in cx.index.slices_of(namespace, service) {
            for ep in &slice.endpoints {
                if ep.conditions.ready.unwrap_or(true) {
                    ready += 1;
                } else {
                    not_ready += 1;
                }
            }
        }
        if ready + not_ready > 0 || !cx.cluster.is_loaded(ResourceKind::Endpoints) {
            return Some((ready, not_ready));
        }
    }
    if cx.cluster.is_loaded(ResourceKind::Endpoints) {
        let ep = cx.get::<kubesage_core::model::Endpoints>(namespace, service)?;
        let ready = ep.subsets.iter().map(|s| s.addresses.len()).sum();
        let not_ready = ep.subsets.iter().map(|s| s.not_ready_addresses.len()).sum();
        return Some((ready, not_ready));
    }
    None
}

/// `"a, b and 3 more"`, for evidence that names many objects.
pub(crate) fn name_list<'s>(names: impl IntoIterator<Item = &'s str>, max: usize) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    if names.len() <= max {
        names.join(", ")
    } else {
        format!("{} and {} more", names[..max].join(", "), names.len() - max)
    }
}
