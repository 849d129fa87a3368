//! Jobs: failed runs (back-off limit, deadline) with the pods that failed.

use kubesage_core::model::condition;
use kubesage_core::{AnalysisContext, Analyzer, Evidence, Finding, ObjectRef, Resource, ResourceKind, Severity};

use super::{warning_events, with_events};

/// Finds failed Jobs.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobAnalyzer;

const NAME: &str = "job";

impl Analyzer for JobAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn reads(&self) -> &'static [ResourceKind] {
        &[ResourceKind::Job, ResourceKind::Pod]
    }

    fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>) {
        for job in &cx.cluster.jobs {
            let (ns, name) = (job.metadata.namespace.as_str(), job.metadata.name.as_str());
            let Some(failed) = condition(&job.status.conditions, "Failed").filter(|c| c.status == "True") else {
                continue;
            };
            let owner = job.metadata.controller();
            // A failed run of a CronJob is a warning: the next run may succeed.
            let severity =
                if owner.is_some_and(|o| o.kind == "CronJob") { Severity::Warning } else { Severity::Critical };
            let mut f = Finding::new(
                NAME,
                if failed.reason.is_empty() { "Failed" } else { failed.reason.as_str() },
                severity,
                job.object_ref(),
                format!(
                    "Job failed: {}",
                    if failed.message.is_empty() { failed.reason.as_str() } else { failed.message.as_str() }
                ),
            )
            .with_evidence(Evidence::condition(failed))
            .with_evidence(Evidence::field("status.failed", job.status.failed))
            .with_evidence(Evidence::field("status.succeeded", job.status.succeeded));
            if let Some(limit) = job.spec.backoff_limit {
                f = f.with_evidence(Evidence::field("spec.backoffLimit", limit));
            }
            if let Some(deadline) = job.spec.active_deadline_seconds {
                f = f.with_evidence(Evidence::field("spec.activeDeadlineSeconds", deadline));
            }
            for p in cx.index.pods_owned_by(&job.metadata.uid) {
                f = f.with_link(p.object_ref());
                for cs in p.all_container_statuses() {
                    if let Some(t) = cs.state.terminated.as_ref().filter(|t| t.exit_code != 0) {
                        f = f.with_evidence(Evidence::message(format!(
                            "pod {} container {} exited with code {} ({})",
                            p.metadata.name, cs.name, t.exit_code, t.reason
                        )));
                    }
                }
            }
            f = with_events(f, &warning_events(cx, "Job", ns, name, &[], 2));
            f = match failed.reason.as_str() {
                "DeadlineExceeded" => {
                    f.with_step("The Job ran past spec.activeDeadlineSeconds: make it faster or raise the deadline.")
                }
                _ => f.with_step(format!(
                    "kubectl logs -n {ns} job/{name}: the last failed pod's logs say why it exited non-zero."
                )),
            };
            if let Some(o) = owner {
                f = f.with_link(ObjectRef::new(o.kind.as_str(), ns, o.name.as_str()));
            }
            out.push(f);
        }
    }
}
