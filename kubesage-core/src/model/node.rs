//! Cluster-scoped objects: Nodes, Namespaces and admission webhook configurations.

use std::collections::BTreeMap;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use super::{Condition, ObjectMeta, nullable};

/// A Node.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct Node {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(deserialize_with = "nullable")]
    pub spec: NodeSpec,
    /// Observed state.
    #[serde(deserialize_with = "nullable")]
    pub status: NodeStatus,
}

/// Node spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct NodeSpec {
    /// Cordoned: no new pods are scheduled.
    #[serde(deserialize_with = "nullable")]
    pub unschedulable: bool,
    /// Taints.
    #[serde(deserialize_with = "nullable")]
    pub taints: Vec<Taint>,
}

/// A node taint.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct Taint {
    /// Key.
    #[serde(deserialize_with = "nullable")]
    pub key: CompactString,
    /// Value.
    #[serde(deserialize_with = "nullable")]
    pub value: CompactString,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    #[serde(deserialize_with = "nullable")]
    pub effect: CompactString,
}

/// Node status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct NodeStatus {
    /// Conditions (`Ready`, `MemoryPressure`, ...).
    #[serde(deserialize_with = "nullable")]
    pub conditions: Vec<Condition>,
    /// Resources available to pods, as quantities.
    #[serde(deserialize_with = "nullable")]
    pub allocatable: BTreeMap<CompactString, CompactString>,
}

/// A Namespace.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct Namespace {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Status (`phase: Terminating`).
    #[serde(deserialize_with = "nullable")]
    pub status: NamespaceStatus,
}

/// Namespace status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct NamespaceStatus {
    /// `Active` or `Terminating`.
    #[serde(deserialize_with = "nullable")]
    pub phase: CompactString,
}

/// A ValidatingWebhookConfiguration or MutatingWebhookConfiguration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct WebhookConfiguration {
    /// `ValidatingWebhookConfiguration` or `MutatingWebhookConfiguration`.
    #[serde(deserialize_with = "nullable")]
    pub kind: CompactString,
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// The webhooks.
    #[serde(deserialize_with = "nullable")]
    pub webhooks: Vec<Webhook>,
}

/// One admission webhook.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Webhook {
    /// The webhook's name.
    #[serde(deserialize_with = "nullable")]
    pub name: CompactString,
    /// Where it is called.
    #[serde(deserialize_with = "nullable")]
    pub client_config: WebhookClientConfig,
    /// `Fail` (the default) or `Ignore` when the call fails.
    pub failure_policy: Option<CompactString>,
}

/// How the API server reaches a webhook.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct WebhookClientConfig {
    /// An in-cluster Service.
    pub service: Option<WebhookServiceRef>,
    /// An external URL.
    pub url: Option<CompactString>,
}

/// The Service a webhook points at.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct WebhookServiceRef {
    /// Namespace.
    #[serde(deserialize_with = "nullable")]
    pub namespace: CompactString,
    /// Name.
    #[serde(deserialize_with = "nullable")]
    pub name: CompactString,
    /// Port (default 443).
    pub port: Option<i64>,
}

impl Webhook {
    /// Whether failures reject the request (the API default).
    pub fn fails_closed(&self) -> bool {
        self.failure_policy.as_deref().is_none_or(|p| p == "Fail")
    }
}
