//! HorizontalPodAutoscalers: missing targets, scaling that cannot work, and autoscalers
//! pinned at their maximum.

use kubesage_core::model::{Deployment, HorizontalPodAutoscaler, PodSpec, ReplicaSet, StatefulSet, condition};
use kubesage_core::{AnalysisContext, Analyzer, Evidence, Finding, ObjectRef, Resource, ResourceKind, Severity};

/// Finds autoscalers that cannot or do not scale.
#[derive(Debug, Clone, Copy, Default)]
pub struct HpaAnalyzer;

const NAME: &str = "hpa";

impl Analyzer for HpaAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn reads(&self) -> &'static [ResourceKind] {
        &[
            ResourceKind::HorizontalPodAutoscaler,
            ResourceKind::Deployment,
            ResourceKind::StatefulSet,
            ResourceKind::ReplicaSet,
        ]
    }

    fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>) {
        for hpa in &cx.cluster.horizontal_pod_autoscalers {
            analyze(cx, hpa, out);
        }
    }
}

fn analyze<'a>(cx: &AnalysisContext<'a>, hpa: &'a HorizontalPodAutoscaler, out: &mut Vec<Finding>) {
    let me = hpa.object_ref();
    let ns = hpa.metadata.namespace.as_str();
    let target = &hpa.spec.scale_target_ref;
    let target_ref = ObjectRef::new(target.kind.as_str(), ns, target.name.as_str());
    let start = out.len();

    // Resolve the target, where its kind was read.
    let (known, template): (bool, Option<&PodSpec>) = match target.kind.as_str() {
        "Deployment" => (
            cx.cluster.is_loaded(ResourceKind::Deployment),
            cx.get::<Deployment>(ns, &target.name).map(|d| &d.spec.template.spec),
        ),
        "StatefulSet" => (
            cx.cluster.is_loaded(ResourceKind::StatefulSet),
            cx.get::<StatefulSet>(ns, &target.name).map(|s| &s.spec.template.spec),
        ),
        "ReplicaSet" => (
            cx.cluster.is_loaded(ResourceKind::ReplicaSet),
            cx.get::<ReplicaSet>(ns, &target.name).map(|_| None).unwrap_or(None),
        ),
        _ => (false, None),
    };
    let exists =
        template.is_some() || (target.kind == "ReplicaSet" && cx.get::<ReplicaSet>(ns, &target.name).is_some());
    if known && !exists {
        let mut f = Finding::new(
            NAME,
            "TargetNotFound",
            Severity::Critical,
            me.clone(),
            format!("Scale target {} {} does not exist", target.kind, target.name),
        )
        .with_evidence(Evidence::field("spec.scaleTargetRef", format!("{}/{}", target.kind, target.name)));
        if let Some(c) = condition(&hpa.status.conditions, "AbleToScale").filter(|c| c.status == "False") {
            f = f.with_evidence(Evidence::condition(c));
        }
        out.push(f.with_step(
            "Point scaleTargetRef at the workload's real name, or delete the autoscaler if the workload is gone.",
        ));
        return;
    }

    if let Some(c) = condition(&hpa.status.conditions, "AbleToScale").filter(|c| c.status == "False") {
        out.push(
            Finding::new(
                NAME,
                "CannotScale",
                Severity::Critical,
                me.clone(),
                format!("Autoscaler cannot scale its target: {}", c.message),
            )
            .with_evidence(Evidence::condition(c))
            .with_step("Check that the target exists and has a scale subresource, and the controller's permissions."),
        );
    }

    if let Some(c) = condition(&hpa.status.conditions, "ScalingActive")
        .filter(|c| c.status == "False" && c.reason != "ScalingDisabled")
    {
        let mut f = Finding::new(
            NAME,
            "ScalingInactive",
            Severity::Warning,
            me.clone(),
            format!("Autoscaler cannot compute replicas: {}", c.reason),
        )
        .with_evidence(Evidence::condition(c));
        // Utilization targets need requests on every container.
        if let Some(spec) = template {
            for resource in hpa.resource_metrics() {
                for container in &spec.containers {
                    if !container.resources.requests.contains_key(resource) {
                        f = f.with_evidence(Evidence::message(format!(
                            "container {} of {} {} has no {resource} request, so {resource} utilization cannot be computed",
                            container.name, target.kind, target.name
                        )));
                    }
                }
            }
        }
        out.push(f.with_step(
            "Resource utilization needs requests on every container and a working metrics-server (kubectl top pods).",
        ));
    }

    let scaling_limited = condition(&hpa.status.conditions, "ScalingLimited");
    let limited = scaling_limited.is_some_and(|c| c.status == "True" && c.reason == "TooManyReplicas");
    let at_max = hpa.spec.max_replicas > 0 && hpa.status.current_replicas >= hpa.spec.max_replicas;
    // desiredReplicas is capped at the maximum, so it cannot say "wants more" on its own:
    // trust ScalingLimited when the controller reports it, fall back only without it (v1).
    let wants_more = limited || (scaling_limited.is_none() && hpa.status.desired_replicas >= hpa.spec.max_replicas);
    if at_max && wants_more && hpa.spec.max_replicas > hpa.spec.min_replicas.unwrap_or(1) {
        let mut f = Finding::new(
            NAME,
            "AtMaxReplicas",
            Severity::Warning,
            me.clone(),
            format!("Autoscaler is pinned at its maximum of {} replicas and wants more", hpa.spec.max_replicas),
        )
        .with_evidence(Evidence::field("spec.maxReplicas", hpa.spec.max_replicas))
        .with_evidence(Evidence::field("status.currentReplicas", hpa.status.current_replicas))
        .with_evidence(Evidence::field("status.desiredReplicas", hpa.status.desired_replicas));
        if let Some(c) = condition(&hpa.status.conditions, "ScalingLimited") {
            f = f.with_evidence(Evidence::condition(c));
        }
        out.push(f.with_step(
            "Load exceeds what maxReplicas allows: raise it if the cluster has room, or find why each pod is so busy.",
        ));
    }

    for f in &mut out[start..] {
        f.links.push(target_ref.clone());
    }
}
