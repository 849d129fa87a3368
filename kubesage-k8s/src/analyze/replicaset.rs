//! ReplicaSets: pods the controller cannot create (quota, admission, security policy).

use kubesage_core::model::condition;
use kubesage_core::{AnalysisContext, Analyzer, Evidence, Finding, ObjectRef, Resource, ResourceKind, Severity};

use super::{warning_events, with_events};

/// Finds ReplicaSets that fail to create pods.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplicaSetAnalyzer;

const NAME: &str = "replicaset";

impl Analyzer for ReplicaSetAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn reads(&self) -> &'static [ResourceKind] {
        &[ResourceKind::ReplicaSet]
    }

    fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>) {
        for rs in &cx.cluster.replica_sets {
            let (ns, name) = (rs.metadata.namespace.as_str(), rs.metadata.name.as_str());
            let failure = condition(&rs.status.conditions, "ReplicaFailure").filter(|c| c.status == "True");
            let events = warning_events(cx, "ReplicaSet", ns, name, &["FailedCreate"], 2);
            if failure.is_none() && events.is_empty() {
                continue;
            }
            if rs.spec.replicas == Some(0) {
                continue;
            }
            // Events outlive the failure: with no ReplicaFailure condition and every pod
            // created, a FailedCreate warning is history.
            if failure.is_none() && rs.status.replicas >= rs.spec.replicas.unwrap_or(1) {
                continue;
            }
            let message =
                failure.map(|c| c.message.as_str()).or(events.first().map(|e| e.message.as_str())).unwrap_or_default();
            let mut f = Finding::new(
                NAME,
                "FailedCreate",
                Severity::Critical,
                rs.object_ref(),
                format!("Cannot create pods: {message}"),
            )
            .with_evidence(Evidence::field("spec.replicas", rs.spec.replicas.unwrap_or(1)))
            .with_evidence(Evidence::field("status.replicas", rs.status.replicas));
            if let Some(c) = failure {
                f = f.with_evidence(Evidence::condition(c));
            }
            f = with_events(f, &events);
            if message.contains("exceeded quota") {
                f = f.with_step(format!("The namespace's ResourceQuota is used up: kubectl describe resourcequota -n {ns}; raise it or lower the pods' requests and limits."));
            } else if message.contains("forbidden") {
                f = f.with_step(
                    "An admission policy rejected the pods: read the message for which policy and which field.",
                );
            } else {
                f = f.with_step(format!("kubectl describe replicaset -n {ns} {name}"));
            }
            if let Some(owner) = rs.metadata.controller() {
                f = f.with_link(ObjectRef::new(owner.kind.as_str(), ns, owner.name.as_str()));
            }
            out.push(f);
        }
    }
}
