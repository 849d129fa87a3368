//! Lean typed views of the Kubernetes objects the analyzers read.
//!
//! These are not the full API types (`k8s-openapi` has those): each struct keeps only the
//! fields some analyzer looks at, and ignores the rest while parsing. That is a deliberate
//! trade: decoding a 10,000-pod snapshot is dominated by allocation, and most of a Pod's
//! JSON (managed fields, probes, annotations) is never read. Field names follow the API's
//! camelCase in JSON and its spelling in Rust (`type` becomes `type_`).
//!
//! Every field tolerates being absent or `null`, as real API answers and hand-written
//! snapshots both produce.

mod event;
mod network;
mod node;
mod pod;
mod policy;
mod storage;
mod workloads;

use std::collections::BTreeMap;

use compact_str::CompactString;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

pub use event::{Event, EventSeries, InvolvedObject};
pub use network::{
    EndpointAddress, EndpointConditions, EndpointSlice, EndpointSliceEndpoint, EndpointSubset, Endpoints, Ingress,
    IngressBackend, IngressClass, IngressHttp, IngressPath, IngressRule, IngressServiceBackend, IngressServicePort,
    IngressSpec, IngressTls, Service, ServicePort, ServiceSpec, TargetRef,
};
pub use node::{
    Namespace, Node, NodeSpec, NodeStatus, Taint, Webhook, WebhookClientConfig, WebhookConfiguration, WebhookServiceRef,
};
pub use pod::{
    ClaimRef, Container, ContainerPort, ContainerState, ContainerStatus, EnvFromSource, EnvVar, EnvVarSource, KeyRef,
    NameRef, Pod, PodSpec, PodStatus, PodTemplate, Probe, ProjectedSource, ProjectedVolume, ResourceRequirements,
    StateRunning, StateTerminated, StateWaiting, Volume,
};
pub use policy::{HorizontalPodAutoscaler, HpaMetric, PodDisruptionBudget, ScaleTargetRef};
pub use storage::{
    ConfigMap, PersistentVolume, PersistentVolumeClaim, PvClaimRef, PvSpec, PvStatus, PvcSpec, PvcStatus, Secret,
    StorageClass,
};
pub use workloads::{
    CronJob, CronJobSpec, CronJobStatus, DaemonSet, DaemonSetSpec, DaemonSetStatus, Deployment, DeploymentSpec,
    DeploymentStatus, Job, JobSpec, JobStatus, ReplicaSet, ReplicaSetSpec, ReplicaSetStatus, StatefulSet,
    StatefulSetSpec, StatefulSetStatus,
};

/// Turns JSON `null` into the type's default, so `"items": null` reads as an empty list.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// Annotations KubeSage reads. Others are skipped while parsing (some, such as
/// `kubectl.kubernetes.io/last-applied-configuration`, hold a whole copy of the object).
const KEPT_ANNOTATIONS: &[&str] = &[
    "kubernetes.io/ingress.class",
    "ingressclass.kubernetes.io/is-default-class",
    "storageclass.kubernetes.io/is-default-class",
    "deployment.kubernetes.io/revision",
];

fn kept_annotations<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<CompactString, CompactString>, D::Error> {
    struct Kept;
    impl<'de> Visitor<'de> for Kept {
        type Value = BTreeMap<CompactString, CompactString>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of annotations")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<CompactString>()? {
                if KEPT_ANNOTATIONS.contains(&key.as_str()) {
                    let value: Option<CompactString> = map.next_value()?;
                    out.insert(key, value.unwrap_or_default());
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(out)
        }
    }
    d.deserialize_any(Kept)
}

/// A map whose keys matter and whose values do not (ConfigMap and Secret data: KubeSage
/// checks that a referenced key exists, and never holds secret values in memory).
pub(crate) fn keys_only<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<CompactString>, D::Error> {
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<CompactString>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(key) = map.next_key::<CompactString>()? {
                map.next_value::<IgnoredAny>()?;
                out.push(key);
            }
            Ok(out)
        }
    }
    d.deserialize_any(Keys)
}

/// Standard object metadata (the fields KubeSage reads).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    /// The object's name.
    #[serde(deserialize_with = "nullable")]
    pub name: CompactString,
    /// The namespace; empty for cluster-scoped objects.
    #[serde(deserialize_with = "nullable")]
    pub namespace: CompactString,
    /// The object's UID.
    #[serde(deserialize_with = "nullable")]
    pub uid: CompactString,
    /// Labels.
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<CompactString, CompactString>,
    /// The few annotations KubeSage reads (see the module docs); others are dropped.
    #[serde(deserialize_with = "kept_annotations")]
    pub annotations: BTreeMap<CompactString, CompactString>,
    /// Controllers and other owners of this object.
    #[serde(deserialize_with = "nullable")]
    pub owner_references: Vec<OwnerReference>,
    /// When the object was created (RFC 3339).
    pub creation_timestamp: Option<CompactString>,
    /// When deletion was requested, if it was.
    pub deletion_timestamp: Option<CompactString>,
    /// The generation of the desired state.
    #[serde(deserialize_with = "nullable")]
    pub generation: i64,
}

impl ObjectMeta {
    /// The owner reference marked as controller, if any.
    pub fn controller(&self) -> Option<&OwnerReference> {
        self.owner_references.iter().find(|o| o.controller)
    }
}

/// A reference from an object to its owner.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OwnerReference {
    /// The owner's kind.
    pub kind: CompactString,
    /// The owner's name (same namespace as the owned object).
    pub name: CompactString,
    /// The owner's UID.
    pub uid: CompactString,
    /// Whether this owner is the managing controller.
    #[serde(deserialize_with = "nullable")]
    pub controller: bool,
}

/// A status condition, as used by most kinds.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Condition {
    /// The condition type (`Ready`, `Available`, `PodScheduled`).
    #[serde(rename = "type")]
    pub type_: CompactString,
    /// `True`, `False` or `Unknown`.
    pub status: CompactString,
    /// The machine-readable reason.
    #[serde(deserialize_with = "nullable")]
    pub reason: CompactString,
    /// The human-readable message.
    #[serde(deserialize_with = "nullable")]
    pub message: CompactString,
    /// When the status last changed.
    pub last_transition_time: Option<CompactString>,
}

/// Finds a condition by type.
pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// A label selector as objects carry it (`matchLabels` and `matchExpressions`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LabelSelector {
    /// Labels that must be equal.
    #[serde(deserialize_with = "nullable")]
    pub match_labels: BTreeMap<CompactString, CompactString>,
    /// Set-based requirements.
    #[serde(deserialize_with = "nullable")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One set-based requirement of a [`LabelSelector`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: CompactString,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: CompactString,
    /// The values for `In` and `NotIn`.
    #[serde(deserialize_with = "nullable")]
    pub values: Vec<CompactString>,
}

impl LabelSelector {
    /// Whether the selector matches the labels. An empty selector matches everything,
    /// as the API defines; an unknown operator matches nothing.
    pub fn matches(&self, labels: &BTreeMap<CompactString, CompactString>) -> bool {
        self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator.as_str() {
                    "In" => value.is_some_and(|v| r.values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !r.values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }

    /// Whether the selector has no requirements at all.
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }
}

/// A value that is either a number or a string (`targetPort: 8080` or `targetPort: http`,
/// `minAvailable: 2` or `minAvailable: "50%"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum IntOrString {
    /// A number.
    Int(i64),
    /// A string (a port name or a percentage).
    String(CompactString),
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an integer or a string")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<IntOrString, E> {
                Ok(IntOrString::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<IntOrString, E> {
                i64::try_from(v).map(IntOrString::Int).map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::String(v.into()))
            }
        }
        d.deserialize_any(V)
    }
}

impl IntOrString {
    /// Resolves the value against a total: a number as is, `"50%"` as a share of `total`
    /// (rounded up, as the disruption controller does for `minAvailable`), a numeric
    /// string as its number. `None` for anything else.
    pub fn resolve(&self, total: i64, round_up: bool) -> Option<i64> {
        match self {
            IntOrString::Int(v) => Some(*v),
            IntOrString::String(s) => match s.strip_suffix('%') {
                Some(p) => {
                    let p: i64 = p.trim().parse().ok()?;
                    let scaled = total * p;
                    Some(if round_up { (scaled + 99) / 100 } else { scaled / 100 })
                }
                None => s.trim().parse().ok(),
            },
        }
    }
}

impl std::fmt::Display for IntOrString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IntOrString::Int(v) => write!(f, "{v}"),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<CompactString, CompactString> {
        pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn selector_semantics() {
        let sel: LabelSelector = serde_json::from_str(
            r#"{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["a","b"]},{"key":"canary","operator":"DoesNotExist"}]}"#,
        )
        .unwrap_or_default();
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "a")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "c")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "a"), ("canary", "1")])));
        assert!(!sel.matches(&labels(&[("tier", "a")])));
        assert!(LabelSelector::default().matches(&labels(&[])));
        let bogus = LabelSelector {
            match_expressions: vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Near".into(),
                values: vec![],
            }],
            ..Default::default()
        };
        assert!(!bogus.matches(&labels(&[("a", "1")])));
    }

    #[test]
    fn metadata_tolerates_nulls_and_drops_annotations() {
        let meta: ObjectMeta = serde_json::from_str(
            r#"{"name":"x","labels":null,"ownerReferences":null,"creationTimestamp":null,
                "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"huge\":1}","kubernetes.io/ingress.class":"nginx"}}"#,
        )
        .unwrap_or_default();
        assert_eq!(meta.name, "x");
        assert!(meta.labels.is_empty());
        assert_eq!(meta.annotations.len(), 1);
        assert_eq!(meta.annotations.get("kubernetes.io/ingress.class").map(CompactString::as_str), Some("nginx"));
    }

    #[test]
    fn int_or_string_resolves() {
        let v: Vec<IntOrString> = serde_json::from_str(r#"[3, "50%", "http", "7"]"#).unwrap_or_default();
        assert_eq!(v[0].resolve(10, true), Some(3));
        assert_eq!(v[1].resolve(5, true), Some(3));
        assert_eq!(v[1].resolve(5, false), Some(2));
        assert_eq!(v[2].resolve(5, true), None);
        assert_eq!(v[3].resolve(5, true), Some(7));
        assert!(serde_json::from_str::<IntOrString>("true").is_err());
    }
}
