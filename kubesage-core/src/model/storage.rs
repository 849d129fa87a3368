//! Storage and configuration objects: claims, volumes, classes, ConfigMaps and Secrets.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use super::{Condition, ObjectMeta, keys_only, nullable};

/// A PersistentVolumeClaim.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct PersistentVolumeClaim {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(deserialize_with = "nullable")]
    pub spec: PvcSpec,
    /// Observed state.
    #[serde(deserialize_with = "nullable")]
    pub status: PvcStatus,
}

/// Claim spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PvcSpec {
    /// The class asked for; `None` means the default class.
    pub storage_class_name: Option<CompactString>,
    /// The bound volume.
    #[serde(deserialize_with = "nullable")]
    pub volume_name: CompactString,
}

/// Claim status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct PvcStatus {
    /// `Pending`, `Bound` or `Lost`.
    #[serde(deserialize_with = "nullable")]
    pub phase: CompactString,
    /// Conditions (resizing).
    #[serde(deserialize_with = "nullable")]
    pub conditions: Vec<Condition>,
}

/// A PersistentVolume.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct PersistentVolume {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(deserialize_with = "nullable")]
    pub spec: PvSpec,
    /// Observed state.
    #[serde(deserialize_with = "nullable")]
    pub status: PvStatus,
}

/// Volume spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PvSpec {
    /// The class.
    #[serde(deserialize_with = "nullable")]
    pub storage_class_name: CompactString,
    /// `Retain`, `Delete` or `Recycle`.
    #[serde(deserialize_with = "nullable")]
    pub persistent_volume_reclaim_policy: CompactString,
    /// The claim it is bound to.
    pub claim_ref: Option<PvClaimRef>,
}

/// The claim a volume is bound to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct PvClaimRef {
    /// Claim namespace.
    #[serde(deserialize_with = "nullable")]
    pub namespace: CompactString,
    /// Claim name.
    #[serde(deserialize_with = "nullable")]
    pub name: CompactString,
}

/// Volume status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct PvStatus {
    /// `Available`, `Bound`, `Released` or `Failed`.
    #[serde(deserialize_with = "nullable")]
    pub phase: CompactString,
    /// Why it is in that phase.
    #[serde(deserialize_with = "nullable")]
    pub reason: CompactString,
    /// Details.
    #[serde(deserialize_with = "nullable")]
    pub message: CompactString,
}

/// A StorageClass.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct StorageClass {
    /// Metadata (the default class is marked by an annotation).
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// The provisioner.
    #[serde(deserialize_with = "nullable")]
    pub provisioner: CompactString,
}

impl StorageClass {
    /// Whether this class is the cluster default.
    pub fn is_default(&self) -> bool {
        self.metadata.annotations.get("storageclass.kubernetes.io/is-default-class").map(CompactString::as_str)
            == Some("true")
    }
}

/// A ConfigMap; only its keys are kept.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConfigMap {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Keys of `data`.
    #[serde(rename = "data", deserialize_with = "keys_only")]
    pub data_keys: Vec<CompactString>,
    /// Keys of `binaryData`.
    #[serde(rename = "binaryData", deserialize_with = "keys_only")]
    pub binary_data_keys: Vec<CompactString>,
}

/// A Secret; only its keys are kept, never its values.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Secret {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// The secret type (`kubernetes.io/tls`).
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub type_: CompactString,
    /// Keys of `data`.
    #[serde(rename = "data", deserialize_with = "keys_only")]
    pub data_keys: Vec<CompactString>,
    /// Keys of `stringData`.
    #[serde(rename = "stringData", deserialize_with = "keys_only")]
    pub string_data_keys: Vec<CompactString>,
}

impl ConfigMap {
    /// Whether the ConfigMap has the key.
    pub fn has_key(&self, key: &str) -> bool {
        self.data_keys.iter().chain(&self.binary_data_keys).any(|k| k == key)
    }
}

impl Secret {
    /// Whether the Secret has the key.
    pub fn has_key(&self, key: &str) -> bool {
        self.data_keys.iter().chain(&self.string_data_keys).any(|k| k == key)
    }
}
