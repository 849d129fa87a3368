//! Nodes: not ready, under pressure, network unavailable, or cordoned.

use kubesage_core::model::condition;
use kubesage_core::time::human_duration;
use kubesage_core::{AnalysisContext, Analyzer, Evidence, Finding, Resource, ResourceKind, Severity};

/// Finds unhealthy nodes.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeAnalyzer;

const NAME: &str = "node";

impl Analyzer for NodeAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn reads(&self) -> &'static [ResourceKind] {
        &[ResourceKind::Node, ResourceKind::Pod]
    }

    fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>) {
        for node in &cx.cluster.nodes {
            let me = node.object_ref();
            let name = node.metadata.name.as_str();
            let pods_here = cx.index.pods_on(name).iter().filter(|p| !p.is_finished()).count();
            if let Some(ready) = condition(&node.status.conditions, "Ready").filter(|c| c.status != "True") {
                let since = cx
                    .age(ready.last_transition_time.as_deref())
                    .map(|s| format!(" for {}", human_duration(s)))
                    .unwrap_or_default();
                let mut f = Finding::new(
                    NAME,
                    "NotReady",
                    Severity::Critical,
                    me.clone(),
                    format!(
                        "Node is not ready{since}: {}",
                        if ready.message.is_empty() { &ready.reason } else { &ready.message }
                    ),
                )
                .with_evidence(Evidence::condition(ready))
                .with_evidence(Evidence::message(format!("{pods_here} pod(s) are assigned to this node")));
                for t in node.spec.taints.iter().filter(|t| t.key.starts_with("node.kubernetes.io/")) {
                    f = f.with_evidence(Evidence::field("spec.taints[]", format!("{}:{}", t.key, t.effect)));
                }
                f = if ready.status == "Unknown" {
                    f.with_step("The kubelet stopped reporting: check the machine is up, the kubelet service, and its network path to the API server.")
                } else {
                    f.with_step(format!(
                        "kubectl describe node {name}; then check the kubelet and container runtime logs on the node."
                    ))
                };
                for p in cx.index.pods_on(name).iter().filter(|p| !p.is_ready() && !p.is_finished()) {
                    f = f.with_link(p.object_ref());
                }
                out.push(f);
            }
            for (cond, reason, step) in [
                (
                    "MemoryPressure",
                    "MemoryPressure",
                    "The kubelet evicts pods to reclaim memory: find the heaviest pods (kubectl top pods -A --sort-by=memory) and check their limits.",
                ),
                (
                    "DiskPressure",
                    "DiskPressure",
                    "The kubelet evicts pods and garbage-collects images: free disk on the node (logs, images, emptyDir volumes).",
                ),
                ("PIDPressure", "PIDPressure", "Processes are running out: look for a pod forking without bound."),
                (
                    "NetworkUnavailable",
                    "NetworkUnavailable",
                    "The node's network is not configured: check the CNI plugin's pod on this node.",
                ),
            ] {
                if let Some(c) = condition(&node.status.conditions, cond).filter(|c| c.status == "True") {
                    let severity = if cond == "NetworkUnavailable" { Severity::Critical } else { Severity::Warning };
                    out.push(
                        Finding::new(
                            NAME,
                            reason,
                            severity,
                            me.clone(),
                            format!(
                                "Node reports {cond}: {}",
                                if c.message.is_empty() { &c.reason } else { &c.message }
                            ),
                        )
                        .with_evidence(Evidence::condition(c))
                        .with_step(step),
                    );
                }
            }
            if node.spec.unschedulable {
                out.push(
                    Finding::new(
                        NAME,
                        "Cordoned",
                        Severity::Info,
                        me,
                        format!("Node is cordoned: no new pods are scheduled on it ({pods_here} still running)"),
                    )
                    .with_evidence(Evidence::field("spec.unschedulable", true))
                    .with_step(format!("When maintenance is done: kubectl uncordon {name}")),
                );
            }
        }
    }
}
