//! PersistentVolumeClaims: claims stuck pending (missing class, provisioning failures) or lost.

use kubesage_core::model::StorageClass;
use kubesage_core::{AnalysisContext, Analyzer, Evidence, Finding, Resource, ResourceKind, Severity};

use super::{warning_events, with_events};

/// Finds claims that give their pods no storage.
#[derive(Debug, Clone, Copy, Default)]
pub struct PvcAnalyzer;

const NAME: &str = "pvc";

impl Analyzer for PvcAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn reads(&self) -> &'static [ResourceKind] {
        &[ResourceKind::PersistentVolumeClaim, ResourceKind::StorageClass, ResourceKind::Pod]
    }

    fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>) {
        for pvc in &cx.cluster.persistent_volume_claims {
            let (ns, name) = (pvc.metadata.namespace.as_str(), pvc.metadata.name.as_str());
            let users: Vec<_> = cx
                .index
                .pods_in(ns)
                .iter()
                .filter(|p| {
                    p.spec
                        .volumes
                        .iter()
                        .any(|v| v.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name == name))
                })
                .collect();
            let me = pvc.object_ref();
            let mut f = match pvc.status.phase.as_str() {
                "Lost" => Finding::new(
                    NAME,
                    "Lost",
                    Severity::Critical,
                    me,
                    "Claim lost its PersistentVolume; the data behind it is unreachable",
                )
                .with_evidence(Evidence::field("status.phase", "Lost"))
                .with_evidence(Evidence::field("spec.volumeName", &pvc.spec.volume_name))
                .with_step("The bound PersistentVolume was deleted: restore it from backup or recreate the claim."),
                "Pending" => {
                    let events = warning_events(cx, "PersistentVolumeClaim", ns, name, &[], 2);
                    let class = pvc.spec.storage_class_name.as_deref();
                    let class_missing = class.filter(|c| !c.is_empty()).is_some_and(|c| {
                        cx.cluster.is_loaded(ResourceKind::StorageClass) && cx.get::<StorageClass>("", c).is_none()
                    });
                    let no_default = class.is_none()
                        && cx.cluster.is_loaded(ResourceKind::StorageClass)
                        && !cx.cluster.storage_classes.iter().any(StorageClass::is_default);
                    if events.is_empty() && !class_missing && !no_default && users.is_empty() {
                        // Waiting for a first consumer, as WaitForFirstConsumer classes do.
                        continue;
                    }
                    let summary = if class_missing {
                        format!("Claim is pending: StorageClass {} does not exist", class.unwrap_or_default())
                    } else if no_default {
                        "Claim is pending: it names no StorageClass and the cluster has no default".to_owned()
                    } else if let Some(e) = events.first() {
                        format!("Claim is pending: {}", e.message)
                    } else {
                        "Claim is pending and a pod is waiting for it".to_owned()
                    };
                    let severity = if users.is_empty() { Severity::Warning } else { Severity::Critical };
                    let mut f = Finding::new(NAME, "Pending", severity, me, summary)
                        .with_evidence(Evidence::field("status.phase", "Pending"));
                    if let Some(c) = class {
                        f = f.with_evidence(Evidence::field("spec.storageClassName", c));
                    }
                    if class_missing {
                        let known: Vec<&str> =
                            cx.cluster.storage_classes.iter().map(|s| s.metadata.name.as_str()).collect();
                        f = f.with_evidence(Evidence::message(format!(
                            "StorageClasses in the cluster: {}",
                            known.join(", ")
                        )));
                        f = f.with_step("Use an existing StorageClass or create this one; a claim's class cannot be changed, so recreate the claim.");
                    } else {
                        f = f.with_step(format!(
                            "kubectl describe pvc -n {ns} {name}: the provisioner's events say why no volume was made."
                        ));
                    }
                    with_events(f, &events)
                }
                _ => continue,
            };
            for p in users {
                f = f.with_link(p.object_ref());
            }
            out.push(f);
        }
    }
}
