//! DaemonSets: nodes without an available daemon pod, and pods on nodes they should not be on.

use kubesage_core::{AnalysisContext, Analyzer, Evidence, Finding, ObjectRef, Resource, ResourceKind, Severity};

use super::name_list;

/// Finds DaemonSets missing from nodes.
#[derive(Debug, Clone, Copy, Default)]
pub struct DaemonSetAnalyzer;

const NAME: &str = "daemonset";

impl Analyzer for DaemonSetAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn reads(&self) -> &'static [ResourceKind] {
        &[ResourceKind::DaemonSet, ResourceKind::Pod]
    }

    fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>) {
        for ds in &cx.cluster.daemon_sets {
            let st = &ds.status;
            let me = ds.object_ref();
            let unavailable = st.number_unavailable.max(st.desired_number_scheduled - st.number_available).max(0);
            if st.desired_number_scheduled > 0 && unavailable > 0 {
                let severity = if st.number_available == 0 { Severity::Critical } else { Severity::Warning };
                let pods = cx.index.pods_owned_by(&ds.metadata.uid);
                let bad: Vec<_> = pods.iter().filter(|p| !p.is_ready()).collect();
                let mut f = Finding::new(
                    NAME,
                    "PodsUnavailable",
                    severity,
                    me.clone(),
                    format!("{unavailable} of {} nodes have no available daemon pod", st.desired_number_scheduled),
                )
                .with_evidence(Evidence::field("status.desiredNumberScheduled", st.desired_number_scheduled))
                .with_evidence(Evidence::field("status.numberAvailable", st.number_available))
                .with_evidence(Evidence::field("status.numberUnavailable", st.number_unavailable));
                if !bad.is_empty() {
                    let nodes = name_list(bad.iter().map(|p| p.spec.node_name.as_str()).filter(|n| !n.is_empty()), 5);
                    f = f.with_evidence(Evidence::message(format!("pods not ready on nodes: {nodes}")));
                }
                for p in &bad {
                    f = f.with_link(p.object_ref());
                    if !p.spec.node_name.is_empty() {
                        f = f.with_link(ObjectRef::new("Node", "", p.spec.node_name.as_str()));
                    }
                }
                out.push(f.with_step(
                    "A daemon pod that is not ready often means its node is unhealthy: see the related Node findings.",
                ));
            }
            if st.number_misscheduled > 0 {
                out.push(
                    Finding::new(NAME, "Misscheduled", Severity::Warning, me, format!("{} daemon pods run on nodes they should not", st.number_misscheduled))
                        .with_evidence(Evidence::field("status.numberMisscheduled", st.number_misscheduled))
                        .with_step("Node labels or taints changed under running pods: check the DaemonSet's nodeSelector and tolerations."),
                );
            }
        }
    }
}
