//! Deployments: unavailable replicas, stalled rollouts, and specs the controller has not acted on.

use kubesage_core::model::{Deployment, condition};
use kubesage_core::{AnalysisContext, Analyzer, Evidence, Finding, ObjectRef, Resource, ResourceKind, Severity};

/// Finds Deployments that do not deliver their replicas.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeploymentAnalyzer;

const NAME: &str = "deployment";

impl Analyzer for DeploymentAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn reads(&self) -> &'static [ResourceKind] {
        &[ResourceKind::Deployment, ResourceKind::ReplicaSet]
    }

    fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>) {
        for d in &cx.cluster.deployments {
            analyze(cx, d, out);
        }
    }
}

fn analyze<'a>(cx: &AnalysisContext<'a>, d: &'a Deployment, out: &mut Vec<Finding>) {
    let me = d.object_ref();
    let (ns, name) = (d.metadata.namespace.as_str(), d.metadata.name.as_str());
    let desired = d.desired();
    let s = &d.status;
    let replica_sets: Vec<ObjectRef> =
        cx.index.replica_sets_owned_by(&d.metadata.uid).iter().map(|rs| rs.object_ref()).collect();
    let start = out.len();

    if desired > 0 && s.available_replicas < desired {
        let (severity, reason) = if s.available_replicas == 0 {
            (Severity::Critical, "Unavailable")
        } else {
            (Severity::Warning, "ReplicasUnavailable")
        };
        let mut f = Finding::new(
            NAME,
            reason,
            severity,
            me.clone(),
            format!("{} of {desired} replicas available", s.available_replicas),
        )
        .with_evidence(Evidence::field("spec.replicas", desired))
        .with_evidence(Evidence::field("status.availableReplicas", s.available_replicas))
        .with_evidence(Evidence::field("status.readyReplicas", s.ready_replicas));
        if s.unavailable_replicas > 0 {
            f = f.with_evidence(Evidence::field("status.unavailableReplicas", s.unavailable_replicas));
        }
        if let Some(c) = condition(&s.conditions, "Available").filter(|c| c.status != "True") {
            f = f.with_evidence(Evidence::condition(c));
        }
        out.push(
            f.with_step("See the related Pod and ReplicaSet findings for why the pods are not available.")
                .with_step(format!("kubectl rollout status -n {ns} deployment/{name}")),
        );
    }

    if let Some(c) = condition(&s.conditions, "Progressing")
        .filter(|c| c.status == "False" && c.reason == "ProgressDeadlineExceeded")
    {
        out.push(
            Finding::new(NAME, "ProgressDeadlineExceeded", Severity::Critical, me.clone(), format!("Rollout is stuck: {}", c.message))
                .with_evidence(Evidence::condition(c))
                .with_evidence(Evidence::field("status.updatedReplicas", s.updated_replicas))
                .with_step("The new ReplicaSet's pods never became available: fix the cause in the related findings, or roll back.")
                .with_step(format!("kubectl rollout undo -n {ns} deployment/{name}")),
        );
    }

    if d.metadata.generation > 0 && s.observed_generation > 0 && s.observed_generation < d.metadata.generation {
        out.push(
            Finding::new(
                NAME,
                "GenerationNotObserved",
                Severity::Warning,
                me.clone(),
                format!(
                    "The deployment controller has not acted on the latest spec (generation {}, observed {})",
                    d.metadata.generation, s.observed_generation
                ),
            )
            .with_evidence(Evidence::field("metadata.generation", d.metadata.generation))
            .with_evidence(Evidence::field("status.observedGeneration", s.observed_generation))
            .with_step("Check that kube-controller-manager is running and healthy."),
        );
    }

    if d.spec.paused && out.len() > start {
        let last = out.len() - 1;
        out[last].evidence.push(Evidence::field("spec.paused", true));
    }
    for f in &mut out[start..] {
        f.links.extend(replica_sets.iter().cloned());
    }
}
