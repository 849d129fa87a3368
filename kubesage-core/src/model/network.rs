//! Services, their endpoints, and Ingresses.

use std::collections::BTreeMap;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use super::{IntOrString, ObjectMeta, nullable};

/// A Service.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct Service {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(deserialize_with = "nullable")]
    pub spec: ServiceSpec,
}

/// Service spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceSpec {
    /// `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`.
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub type_: CompactString,
    /// The pod selector; `None` means endpoints are managed by hand.
    pub selector: Option<BTreeMap<CompactString, CompactString>>,
    /// Ports.
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<ServicePort>,
}

/// A Service port.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServicePort {
    /// The port's name.
    #[serde(deserialize_with = "nullable")]
    pub name: CompactString,
    /// The Service's port number.
    pub port: i64,
    /// The pods' port, by number or name (defaults to `port`).
    pub target_port: Option<IntOrString>,
}

/// Legacy core/v1 Endpoints.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct Endpoints {
    /// Metadata (same name as the Service).
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Address sets.
    #[serde(deserialize_with = "nullable")]
    pub subsets: Vec<EndpointSubset>,
}

/// One subset of Endpoints.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointSubset {
    /// Ready addresses.
    #[serde(deserialize_with = "nullable")]
    pub addresses: Vec<EndpointAddress>,
    /// Addresses not ready.
    #[serde(deserialize_with = "nullable")]
    pub not_ready_addresses: Vec<EndpointAddress>,
}

/// An endpoint address.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointAddress {
    /// The IP.
    #[serde(deserialize_with = "nullable")]
    pub ip: CompactString,
    /// The pod behind it.
    pub target_ref: Option<TargetRef>,
}

/// A reference to the object behind an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct TargetRef {
    /// Kind (usually `Pod`).
    #[serde(deserialize_with = "nullable")]
    pub kind: CompactString,
    /// Name.
    #[serde(deserialize_with = "nullable")]
    pub name: CompactString,
    /// Namespace.
    #[serde(deserialize_with = "nullable")]
    pub namespace: CompactString,
}

/// A discovery.k8s.io/v1 EndpointSlice.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct EndpointSlice {
    /// Metadata (label `kubernetes.io/service-name` names the Service).
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Endpoints.
    #[serde(deserialize_with = "nullable")]
    pub endpoints: Vec<EndpointSliceEndpoint>,
}

/// One endpoint of a slice.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointSliceEndpoint {
    /// Readiness conditions.
    #[serde(deserialize_with = "nullable")]
    pub conditions: EndpointConditions,
    /// The pod behind it.
    pub target_ref: Option<TargetRef>,
}

/// Endpoint conditions; an absent `ready` means ready, per the API.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct EndpointConditions {
    /// Ready to receive traffic.
    pub ready: Option<bool>,
}

impl EndpointSlice {
    /// The Service this slice belongs to.
    pub fn service_name(&self) -> Option<&str> {
        self.metadata.labels.get("kubernetes.io/service-name").map(CompactString::as_str)
    }
}

/// An Ingress (networking.k8s.io/v1).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct Ingress {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(deserialize_with = "nullable")]
    pub spec: IngressSpec,
}

/// Ingress spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IngressSpec {
    /// The IngressClass to use.
    pub ingress_class_name: Option<CompactString>,
    /// The backend for requests no rule matches.
    pub default_backend: Option<IngressBackend>,
    /// Host and path rules.
    #[serde(deserialize_with = "nullable")]
    pub rules: Vec<IngressRule>,
    /// TLS settings.
    #[serde(deserialize_with = "nullable")]
    pub tls: Vec<IngressTls>,
}

/// An Ingress rule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct IngressRule {
    /// The host, if any.
    #[serde(deserialize_with = "nullable")]
    pub host: CompactString,
    /// HTTP paths.
    pub http: Option<IngressHttp>,
}

/// The HTTP part of a rule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct IngressHttp {
    /// Paths.
    #[serde(deserialize_with = "nullable")]
    pub paths: Vec<IngressPath>,
}

/// One path of a rule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct IngressPath {
    /// The path.
    #[serde(deserialize_with = "nullable")]
    pub path: CompactString,
    /// Where it goes.
    #[serde(deserialize_with = "nullable")]
    pub backend: IngressBackend,
}

/// An Ingress backend.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct IngressBackend {
    /// A Service backend.
    pub service: Option<IngressServiceBackend>,
}

/// A Service backend.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct IngressServiceBackend {
    /// The Service's name.
    #[serde(deserialize_with = "nullable")]
    pub name: CompactString,
    /// The port, by number or name.
    #[serde(deserialize_with = "nullable")]
    pub port: IngressServicePort,
}

/// An Ingress backend port.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct IngressServicePort {
    /// By number.
    pub number: Option<i64>,
    /// By name.
    pub name: Option<CompactString>,
}

/// TLS settings of an Ingress.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IngressTls {
    /// Hosts covered.
    #[serde(deserialize_with = "nullable")]
    pub hosts: Vec<CompactString>,
    /// The Secret holding the certificate.
    pub secret_name: Option<CompactString>,
}

impl Ingress {
    /// Every Service backend with where it appears (`spec.defaultBackend`,
    /// `spec.rules[0].http.paths[1].backend`).
    pub fn service_backends(&self) -> Vec<(String, &IngressServiceBackend)> {
        let mut out = Vec::new();
        if let Some(svc) = self.spec.default_backend.as_ref().and_then(|b| b.service.as_ref()) {
            out.push(("spec.defaultBackend.service".to_owned(), svc));
        }
        for (r, rule) in self.spec.rules.iter().enumerate() {
            for (p, path) in rule.http.iter().flat_map(|h| h.paths.iter()).enumerate() {
                if let Some(svc) = &path.backend.service {
                    out.push((format!("spec.rules[{r}].http.paths[{p}].backend.service"), svc));
                }
            }
        }
        out
    }
}

/// An IngressClass.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct IngressClass {
    /// Metadata (the default class is marked by an annotation).
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
}

impl IngressClass {
    /// Whether this class is the cluster default.
    pub fn is_default(&self) -> bool {
        self.metadata.annotations.get("ingressclass.kubernetes.io/is-default-class").map(CompactString::as_str)
            == Some("true")
    }
}
