//! PodDisruptionBudgets: budgets that block every voluntary disruption (node drains hang).

use kubesage_core::model::PodDisruptionBudget;
use kubesage_core::{AnalysisContext, Analyzer, Evidence, Finding, Resource, ResourceKind, Severity};

use super::{controllers_of, pods_selected};

/// Finds budgets that block drains.
#[derive(Debug, Clone, Copy, Default)]
pub struct PdbAnalyzer;

const NAME: &str = "pdb";

impl Analyzer for PdbAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn reads(&self) -> &'static [ResourceKind] {
        &[ResourceKind::PodDisruptionBudget, ResourceKind::Pod]
    }

    fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>) {
        for pdb in &cx.cluster.pod_disruption_budgets {
            analyze(cx, pdb, out);
        }
    }
}

fn analyze<'a>(cx: &AnalysisContext<'a>, pdb: &'a PodDisruptionBudget, out: &mut Vec<Finding>) {
    let me = pdb.object_ref();
    let ns = pdb.metadata.namespace.as_str();
    let pods: Vec<_> = pods_selected(cx, ns, &pdb.spec.selector).into_iter().filter(|p| !p.is_finished()).collect();
    let expected = if pdb.status.expected_pods > 0 {
        pdb.status.expected_pods
    } else {
        i64::try_from(pods.len()).unwrap_or(i64::MAX)
    };
    if expected == 0 {
        if cx.cluster.is_loaded(ResourceKind::Pod) {
            out.push(
                Finding::new(NAME, "NoMatchingPods", Severity::Info, me, "Budget selects no pods; it protects nothing")
                    .with_step("Fix the selector, or delete the budget if its workload is gone."),
            );
        }
        return;
    }
    // What the spec allows when every pod is healthy.
    let allowed_when_healthy = match (&pdb.spec.max_unavailable, &pdb.spec.min_available) {
        (Some(max), _) => max.resolve(expected, true),
        (None, Some(min)) => min.resolve(expected, true).map(|m| expected - m),
        (None, None) => None,
    };
    let healthy = pdb.status.current_healthy;
    let mut f = if allowed_when_healthy.is_some_and(|a| a <= 0) {
        let spec = match (&pdb.spec.max_unavailable, &pdb.spec.min_available) {
            (Some(max), _) => format!("maxUnavailable: {max}"),
            (_, Some(min)) => format!("minAvailable: {min} of {expected} pods"),
            _ => String::new(),
        };
        Finding::new(NAME, "BlocksAllDisruption", Severity::Warning, me, format!("Budget allows no disruption even when every pod is healthy ({spec}); node drains will hang"))
            .with_evidence(Evidence::field(if pdb.spec.max_unavailable.is_some() { "spec.maxUnavailable" } else { "spec.minAvailable" }, spec))
            .with_evidence(Evidence::field("status.disruptionsAllowed", pdb.status.disruptions_allowed))
            .with_step("Allow at least one disruption (maxUnavailable: 1, or minAvailable below the replica count), and run more replicas if one is too few.")
    } else if pdb.status.disruptions_allowed == 0 && healthy < pdb.status.desired_healthy {
        Finding::new(
            NAME,
            "InsufficientHealthyPods",
            Severity::Warning,
            me,
            format!("Budget blocks disruption: {healthy} healthy pods, {} required", pdb.status.desired_healthy),
        )
        .with_evidence(Evidence::field("status.currentHealthy", healthy))
        .with_evidence(Evidence::field("status.desiredHealthy", pdb.status.desired_healthy))
        .with_evidence(Evidence::field("status.disruptionsAllowed", 0))
        .with_step("Drains wait until the unhealthy pods recover: see the related Pod findings.")
    } else {
        return;
    };
    f = f.with_evidence(Evidence::field("status.expectedPods", expected));
    for p in &pods {
        if !p.is_ready() {
            f = f.with_link(p.object_ref());
        }
        for c in controllers_of(cx, p) {
            f = f.with_link(c);
        }
    }
    out.push(f);
}
