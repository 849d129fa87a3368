//! Services: selectors that match no pods, no ready endpoints, target ports no pod exposes.

use kubesage_core::model::{IntOrString, Service};
use kubesage_core::{AnalysisContext, Analyzer, Evidence, Finding, Resource, ResourceKind, Severity};

use super::{endpoint_counts, name_list, pods_matching};

/// Finds Services that route nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceAnalyzer;

const NAME: &str = "service";

impl Analyzer for ServiceAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn reads(&self) -> &'static [ResourceKind] {
        &[ResourceKind::Service, ResourceKind::Pod, ResourceKind::EndpointSlice]
    }

    fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>) {
        for svc in &cx.cluster.services {
            analyze(cx, svc, out);
        }
    }
}

fn analyze<'a>(cx: &AnalysisContext<'a>, svc: &'a Service, out: &mut Vec<Finding>) {
    if svc.spec.type_ == "ExternalName" {
        return;
    }
    let Some(selector) = svc.spec.selector.as_ref().filter(|s| !s.is_empty()) else {
        return; // endpoints are managed by hand or by another controller
    };
    let (ns, name) = (svc.metadata.namespace.as_str(), svc.metadata.name.as_str());
    let me = svc.object_ref();
    let selector_text: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let selector_text = selector_text.join(",");
    let pods: Vec<_> = pods_matching(cx, ns, selector).into_iter().filter(|p| !p.is_finished()).collect();

    if cx.cluster.is_loaded(ResourceKind::Pod) && pods.is_empty() {
        out.push(
            Finding::new(
                NAME,
                "NoMatchingPods",
                Severity::Warning,
                me,
                format!("Selector {selector_text} matches no pods; the Service routes nowhere"),
            )
            .with_evidence(Evidence::field("spec.selector", &selector_text))
            .with_evidence(Evidence::message(format!("no running pod in namespace {ns} has labels {selector_text}")))
            .with_step(format!("Compare with the pods' labels: kubectl get pods -n {ns} --show-labels"))
            .with_step("If the workload was removed on purpose, delete the Service too."),
        );
        return;
    }

    let (ready, not_ready) = match endpoint_counts(cx, ns, name) {
        Some(counts) => counts,
        None => {
            let r = pods.iter().filter(|p| p.is_ready()).count();
            (r, pods.len() - r)
        }
    };
    if ready == 0 && !pods.is_empty() {
        let mut f = Finding::new(
            NAME,
            "NoReadyEndpoints",
            Severity::Critical,
            me.clone(),
            format!("No ready endpoints: {} selected pod(s), none ready; requests to {name} fail", pods.len()),
        )
        .with_evidence(Evidence::field("spec.selector", &selector_text))
        .with_evidence(Evidence::message(format!("{ready} ready and {not_ready} not-ready endpoints")))
        .with_evidence(Evidence::message(format!(
            "selected pods: {}",
            name_list(pods.iter().map(|p| p.metadata.name.as_str()), 5)
        )));
        for p in &pods {
            f = f.with_link(p.object_ref());
        }
        out.push(f.with_step("The pods behind the Service are not ready: see the related Pod findings."));
    }

    // Named target ports must exist on the selected pods.
    for port in &svc.spec.ports {
        let Some(IntOrString::String(target)) = &port.target_port else { continue };
        let exposed = pods.iter().any(|p| p.spec.containers.iter().any(|c| c.ports.iter().any(|cp| cp.name == target)));
        if !pods.is_empty() && !exposed {
            out.push(
                Finding::new(
                    NAME,
                    "TargetPortNotFound",
                    Severity::Critical,
                    me.clone(),
                    format!("Port {} targets container port {target:?}, which no selected pod declares", port.port),
                )
                .with_evidence(Evidence::field(format!("spec.ports[{}].targetPort", port.port), target))
                .with_step("Name the container port in the pod template, or target the port by number."),
            );
        }
    }
}
