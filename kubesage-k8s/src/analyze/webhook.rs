//! Admission webhooks whose Service is missing or has no ready endpoints. A webhook that
//! fails closed then rejects every matching API request, which breaks unrelated rollouts.

use kubesage_core::model::{Service, WebhookConfiguration};
use kubesage_core::{AnalysisContext, Analyzer, Evidence, Finding, ObjectRef, ResourceKind, Severity};

use super::endpoint_counts;

/// Finds admission webhooks nothing answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookAnalyzer;

const NAME: &str = "webhook";

impl Analyzer for WebhookAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn reads(&self) -> &'static [ResourceKind] {
        &[
            ResourceKind::ValidatingWebhookConfiguration,
            ResourceKind::MutatingWebhookConfiguration,
            ResourceKind::Service,
            ResourceKind::EndpointSlice,
        ]
    }

    fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>) {
        for config in cx.cluster.validating_webhooks.iter().chain(&cx.cluster.mutating_webhooks) {
            analyze(cx, config, out);
        }
    }
}

fn analyze<'a>(cx: &AnalysisContext<'a>, config: &'a WebhookConfiguration, out: &mut Vec<Finding>) {
    if !cx.cluster.is_loaded(ResourceKind::Service) {
        return;
    }
    let me = ObjectRef::new(config.kind.as_str(), "", config.metadata.name.as_str());
    let start = out.len();
    for hook in &config.webhooks {
        let Some(svc_ref) = &hook.client_config.service else { continue };
        let (ns, name) = (svc_ref.namespace.as_str(), svc_ref.name.as_str());
        let severity = if hook.fails_closed() { Severity::Critical } else { Severity::Warning };
        let consequence = if hook.fails_closed() {
            "matching API requests are rejected (failurePolicy Fail)"
        } else {
            "the webhook is skipped (failurePolicy Ignore), so its policy is not enforced"
        };
        let svc_obj = ObjectRef::new("Service", ns, name);
        let finding = match cx.get::<Service>(ns, name) {
            None => Finding::new(
                NAME,
                "ServiceNotFound",
                severity,
                me.clone(),
                format!("Webhook {} calls Service {ns}/{name}, which does not exist; {consequence}", hook.name),
            ),
            Some(_) => match endpoint_counts(cx, ns, name) {
                Some((0, _)) => Finding::new(
                    NAME,
                    "NoReadyEndpoints",
                    severity,
                    me.clone(),
                    format!(
                        "Webhook {} calls Service {ns}/{name}, which has no ready endpoints; {consequence}",
                        hook.name
                    ),
                ),
                _ => continue,
            },
        };
        let finding = finding
            .with_evidence(Evidence::field(format!("webhooks[{}].clientConfig.service", hook.name), format!("{ns}/{name}:{}", svc_ref.port.unwrap_or(443))))
            .with_evidence(Evidence::field(format!("webhooks[{}].failurePolicy", hook.name), hook.failure_policy.as_deref().unwrap_or("Fail (default)")))
            .with_link(svc_obj)
            .with_step(format!("Bring the webhook's pods back (kubectl get pods -n {ns}), or, if the webhook is retired, delete the {}.", config.kind));
        // Webhooks of one configuration with the same problem share an id: make them one
        // finding, as severe as the worst of them, with every webhook's evidence.
        match out[start..].iter_mut().find(|f| f.id == finding.id) {
            Some(same) => {
                if finding.severity > same.severity {
                    same.severity = finding.severity;
                    same.summary = finding.summary;
                }
                same.evidence.extend(finding.evidence);
                for link in finding.links {
                    if !same.links.contains(&link) {
                        same.links.push(link);
                    }
                }
            }
            None => out.push(finding),
        }
    }
}
