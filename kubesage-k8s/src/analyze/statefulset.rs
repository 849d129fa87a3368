//! StatefulSets: replicas not ready, missing governing Service or storage class, stale specs.

use kubesage_core::model::{Service, StatefulSet, StorageClass};
use kubesage_core::{AnalysisContext, Analyzer, Evidence, Finding, ObjectRef, Resource, ResourceKind, Severity};

/// Finds StatefulSets that cannot run their pods.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatefulSetAnalyzer;

const NAME: &str = "statefulset";

impl Analyzer for StatefulSetAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn reads(&self) -> &'static [ResourceKind] {
        &[ResourceKind::StatefulSet, ResourceKind::Service, ResourceKind::StorageClass]
    }

    fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>) {
        for s in &cx.cluster.stateful_sets {
            analyze(cx, s, out);
        }
    }
}

fn analyze<'a>(cx: &AnalysisContext<'a>, s: &'a StatefulSet, out: &mut Vec<Finding>) {
    let me = s.object_ref();
    let ns = s.metadata.namespace.as_str();
    let desired = s.desired();
    let st = &s.status;
    if desired > 0 && st.ready_replicas < desired {
        let severity = if st.ready_replicas == 0 { Severity::Critical } else { Severity::Warning };
        let mut f = Finding::new(NAME, "ReplicasNotReady", severity, me.clone(), format!("{} of {desired} replicas ready", st.ready_replicas))
            .with_evidence(Evidence::field("spec.replicas", desired))
            .with_evidence(Evidence::field("status.readyReplicas", st.ready_replicas))
            .with_evidence(Evidence::field("status.currentReplicas", st.current_replicas))
            .with_step("StatefulSet pods start in order: the first pod that is not ready blocks the ones after it. See the related Pod findings.");
        for p in cx.index.pods_owned_by(&s.metadata.uid) {
            f = f.with_link(p.object_ref());
        }
        for t in &s.spec.volume_claim_templates {
            for i in 0..desired {
                f = f.with_link(ObjectRef::new(
                    "PersistentVolumeClaim",
                    ns,
                    format!("{}-{}-{i}", t.metadata.name, s.metadata.name),
                ));
            }
        }
        out.push(f);
    }
    if !s.spec.service_name.is_empty()
        && cx.cluster.is_loaded(ResourceKind::Service)
        && cx.get::<Service>(ns, &s.spec.service_name).is_none()
    {
        out.push(
            Finding::new(
                NAME,
                "MissingGoverningService",
                Severity::Warning,
                me.clone(),
                format!("Governing Service {} does not exist; pods get no stable DNS names", s.spec.service_name),
            )
            .with_evidence(Evidence::field("spec.serviceName", &s.spec.service_name))
            .with_step(format!(
                "Create a headless Service (clusterIP: None) named {} selecting the pods.",
                s.spec.service_name
            )),
        );
    }
    if cx.cluster.is_loaded(ResourceKind::StorageClass) {
        for t in &s.spec.volume_claim_templates {
            let Some(class) = t.spec.storage_class_name.as_deref().filter(|c| !c.is_empty()) else { continue };
            if cx.get::<StorageClass>("", class).is_none() {
                out.push(
                    Finding::new(NAME, "MissingStorageClass", Severity::Critical, me.clone(), format!("Volume claim template {} asks for StorageClass {class}, which does not exist", t.metadata.name))
                        .with_evidence(Evidence::field(format!("spec.volumeClaimTemplates[{}].spec.storageClassName", t.metadata.name), class))
                        .with_step("New replicas cannot get volumes: fix the class name (kubectl get storageclass) or create the class. The template is immutable, so this means recreating the StatefulSet with --cascade=orphan."),
                );
            }
        }
    }
    if s.metadata.generation > 0 && st.observed_generation > 0 && st.observed_generation < s.metadata.generation {
        out.push(
            Finding::new(
                NAME,
                "GenerationNotObserved",
                Severity::Warning,
                me,
                format!(
                    "The controller has not acted on the latest spec (generation {}, observed {})",
                    s.metadata.generation, st.observed_generation
                ),
            )
            .with_evidence(Evidence::field("status.observedGeneration", st.observed_generation))
            .with_step("Check that kube-controller-manager is running and healthy."),
        );
    }
}
