//! Ingresses: missing backend Services or ports, missing TLS Secrets, unknown classes.

use kubesage_core::model::{Ingress, IngressClass, Secret, Service};
use kubesage_core::{AnalysisContext, Analyzer, Evidence, Finding, ObjectRef, Resource, ResourceKind, Severity};

/// Finds Ingresses that cannot route.
#[derive(Debug, Clone, Copy, Default)]
pub struct IngressAnalyzer;

const NAME: &str = "ingress";

impl Analyzer for IngressAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn reads(&self) -> &'static [ResourceKind] {
        &[ResourceKind::Ingress, ResourceKind::IngressClass, ResourceKind::Service, ResourceKind::Secret]
    }

    fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>) {
        for ing in &cx.cluster.ingresses {
            analyze(cx, ing, out);
        }
    }
}

fn analyze<'a>(cx: &AnalysisContext<'a>, ing: &'a Ingress, out: &mut Vec<Finding>) {
    let me = ing.object_ref();
    let ns = ing.metadata.namespace.as_str();

    // Class.
    if cx.cluster.is_loaded(ResourceKind::IngressClass) {
        let annotated = ing.metadata.annotations.get("kubernetes.io/ingress.class");
        match (&ing.spec.ingress_class_name, annotated) {
            (Some(class), _) if cx.get::<IngressClass>("", class).is_none() => {
                let known: Vec<&str> = cx.cluster.ingress_classes.iter().map(|c| c.metadata.name.as_str()).collect();
                out.push(
                    Finding::new(
                        NAME,
                        "MissingIngressClass",
                        Severity::Critical,
                        me.clone(),
                        format!("IngressClass {class} does not exist; no controller serves this Ingress"),
                    )
                    .with_evidence(Evidence::field("spec.ingressClassName", class))
                    .with_evidence(Evidence::message(format!(
                        "IngressClasses in the cluster: {}",
                        if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                    )))
                    .with_step(
                        "Set spec.ingressClassName to a class that exists, or install the controller for this class.",
                    ),
                );
            }
            (None, None) if !cx.cluster.ingress_classes.iter().any(IngressClass::is_default) => {
                out.push(
                    Finding::new(
                        NAME,
                        "NoIngressClass",
                        Severity::Warning,
                        me.clone(),
                        "No IngressClass is set and the cluster has no default class",
                    )
                    .with_evidence(Evidence::message(
                        "spec.ingressClassName is unset and no IngressClass is annotated as default",
                    ))
                    .with_step("Set spec.ingressClassName."),
                );
            }
            _ => {}
        }
    }

    // Backends.
    let mut missing = Vec::new();
    let mut bad_ports = Vec::new();
    let mut links = Vec::new();
    for (path, backend) in ing.service_backends() {
        if !cx.cluster.is_loaded(ResourceKind::Service) {
            break;
        }
        match cx.get::<Service>(ns, &backend.name) {
            None => missing.push((path, backend.name.as_str())),
            Some(svc) => {
                links.push(svc.object_ref());
                let port_ok = match (&backend.port.number, &backend.port.name) {
                    (Some(n), _) => svc.spec.ports.iter().any(|p| p.port == *n),
                    (None, Some(name)) => svc.spec.ports.iter().any(|p| p.name == name),
                    (None, None) => true,
                };
                if !port_ok {
                    let port = backend
                        .port
                        .number
                        .map(|n| n.to_string())
                        .or(backend.port.name.as_ref().map(|n| n.to_string()))
                        .unwrap_or_default();
                    bad_ports.push((path, backend.name.as_str(), port));
                }
            }
        }
    }
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|(_, n)| *n).collect();
        let mut f = Finding::new(
            NAME,
            "MissingBackendService",
            Severity::Critical,
            me.clone(),
            format!("Backend Service {} does not exist; those paths return 503", names.join(", ")),
        );
        for (path, name) in &missing {
            f = f.with_evidence(Evidence::field(format!("{path}.name"), name));
        }
        out.push(f.with_step(format!("kubectl get services -n {ns}: fix the backend name or create the Service.")));
    }
    for (path, svc, port) in bad_ports {
        out.push(
            Finding::new(
                NAME,
                "BackendPortNotFound",
                Severity::Critical,
                me.clone(),
                format!("Service {svc} has no port {port}"),
            )
            .with_evidence(Evidence::field(format!("{path}.port"), &port))
            .with_link(ObjectRef::new("Service", ns, svc))
            .with_step("Point the backend at a port the Service defines."),
        );
    }

    // TLS.
    if cx.cluster.is_loaded(ResourceKind::Secret) {
        for tls in &ing.spec.tls {
            let Some(secret_name) = tls.secret_name.as_deref().filter(|s| !s.is_empty()) else { continue };
            match cx.get::<Secret>(ns, secret_name) {
                None => out.push(
                    Finding::new(NAME, "MissingTLSSecret", Severity::Warning, me.clone(), format!("TLS Secret {secret_name} does not exist; {} served with the controller's default certificate", if tls.hosts.is_empty() { "hosts are".to_owned() } else { format!("{} is", tls.hosts.join(", ")) }))
                        .with_evidence(Evidence::field("spec.tls[].secretName", secret_name))
                        .with_step("Create the Secret (type kubernetes.io/tls), or check the certificate issuer (cert-manager Certificate status) that should create it."),
                ),
                Some(s) if !s.data_keys.is_empty() && !has_tls_keys(s) => out.push(
                    Finding::new(NAME, "InvalidTLSSecret", Severity::Warning, me.clone(), format!("Secret {secret_name} has no tls.crt and tls.key"))
                        .with_evidence(Evidence::field("type", &s.type_))
                        .with_step("A TLS Secret needs the keys tls.crt and tls.key."),
                ),
                Some(_) => {}
            }
        }
    }

    // Backends that exist but have nothing ready behind them answer 503.
    let mut dead = Vec::new();
    for (path, backend) in ing.service_backends() {
        let Some(svc) = cx.get::<Service>(ns, &backend.name) else { continue };
        if svc.spec.selector.as_ref().is_some_and(|s| !s.is_empty())
            && super::endpoint_counts(cx, ns, &svc.metadata.name).is_some_and(|(ready, _)| ready == 0)
        {
            dead.push((path, svc));
        }
    }
    if !dead.is_empty() {
        let names: Vec<&str> = dead.iter().map(|(_, s)| s.metadata.name.as_str()).collect();
        let mut f = Finding::new(
            NAME,
            "BackendUnavailable",
            Severity::Critical,
            me.clone(),
            format!("Backend Service {} has no ready endpoints; those paths return 503", names.join(", ")),
        );
        for (path, svc) in &dead {
            f = f.with_evidence(Evidence::field(format!("{path}.name"), &svc.metadata.name));
        }
        out.push(f.with_step("See the related Service and Pod findings."));
    }

    for f in out.iter_mut().rev().take_while(|f| f.object == me) {
        f.links.extend(links.iter().cloned());
    }
}

/// Whether a Secret holds a certificate and key (absent data means the snapshot left it out).
fn has_tls_keys(s: &Secret) -> bool {
    s.has_key("tls.crt") && s.has_key("tls.key")
}
