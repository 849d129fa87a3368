//! PersistentVolumes: failed volumes and released volumes that still hold data.

use kubesage_core::{AnalysisContext, Analyzer, Evidence, Finding, Resource, ResourceKind, Severity};

/// Finds volumes that failed or were left behind.
#[derive(Debug, Clone, Copy, Default)]
pub struct PvAnalyzer;

const NAME: &str = "pv";

impl Analyzer for PvAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn reads(&self) -> &'static [ResourceKind] {
        &[ResourceKind::PersistentVolume]
    }

    fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>) {
        for pv in &cx.cluster.persistent_volumes {
            let me = pv.object_ref();
            let claim = pv.spec.claim_ref.as_ref().map(|c| format!("{}/{}", c.namespace, c.name)).unwrap_or_default();
            match pv.status.phase.as_str() {
                "Failed" => out.push(
                    Finding::new(NAME, "Failed", Severity::Warning, me, format!("Volume failed: {}", if pv.status.message.is_empty() { "reclamation failed" } else { &pv.status.message }))
                        .with_evidence(Evidence::field("status.phase", "Failed"))
                        .with_evidence(Evidence::field("status.message", &pv.status.message))
                        .with_evidence(Evidence::field("spec.persistentVolumeReclaimPolicy", &pv.spec.persistent_volume_reclaim_policy))
                        .with_step("Clean up the backing storage by hand, then delete the PersistentVolume."),
                ),
                "Released" => out.push(
                    Finding::new(NAME, "Released", Severity::Info, me, format!("Volume is released from claim {claim} and keeps its data, but cannot be bound again"))
                        .with_evidence(Evidence::field("status.phase", "Released"))
                        .with_evidence(Evidence::field("spec.persistentVolumeReclaimPolicy", &pv.spec.persistent_volume_reclaim_policy))
                        .with_evidence(Evidence::field("spec.claimRef", &claim))
                        .with_step("Back up or delete the data, then delete the volume; or clear spec.claimRef to make it Available again."),
                ),
                _ => {}
            }
        }
    }
}
