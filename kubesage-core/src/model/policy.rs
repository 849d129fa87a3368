//! Scaling and disruption policy: HorizontalPodAutoscaler and PodDisruptionBudget.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use super::{Condition, IntOrString, LabelSelector, ObjectMeta, nullable};

/// A HorizontalPodAutoscaler (autoscaling/v2; v1's `targetCPUUtilizationPercentage` is read too).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct HorizontalPodAutoscaler {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(deserialize_with = "nullable")]
    pub spec: HpaSpec,
    /// Observed state.
    #[serde(deserialize_with = "nullable")]
    pub status: HpaStatus,
}

/// HPA spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HpaSpec {
    /// What it scales.
    #[serde(deserialize_with = "nullable")]
    pub scale_target_ref: ScaleTargetRef,
    /// Lower bound (default 1).
    pub min_replicas: Option<i64>,
    /// Upper bound.
    #[serde(deserialize_with = "nullable")]
    pub max_replicas: i64,
    /// Metrics (v2).
    #[serde(deserialize_with = "nullable")]
    pub metrics: Vec<HpaMetric>,
    /// CPU target (v1).
    pub target_cpu_utilization_percentage: Option<i64>,
}

/// The object an HPA scales.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScaleTargetRef {
    /// Kind.
    #[serde(deserialize_with = "nullable")]
    pub kind: CompactString,
    /// Name.
    #[serde(deserialize_with = "nullable")]
    pub name: CompactString,
}

/// One HPA metric.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct HpaMetric {
    /// `Resource`, `Pods`, `Object`, `External` or `ContainerResource`.
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub type_: CompactString,
    /// For `Resource` metrics.
    pub resource: Option<HpaResourceMetric>,
}

/// A resource metric.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct HpaResourceMetric {
    /// `cpu` or `memory`.
    #[serde(deserialize_with = "nullable")]
    pub name: CompactString,
}

/// HPA status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HpaStatus {
    /// Current replicas.
    #[serde(deserialize_with = "nullable")]
    pub current_replicas: i64,
    /// Replicas it wants.
    #[serde(deserialize_with = "nullable")]
    pub desired_replicas: i64,
    /// Conditions (`AbleToScale`, `ScalingActive`, `ScalingLimited`).
    #[serde(deserialize_with = "nullable")]
    pub conditions: Vec<Condition>,
}

impl HorizontalPodAutoscaler {
    /// Resource names the HPA scales on (`cpu`, `memory`).
    pub fn resource_metrics(&self) -> Vec<&str> {
        let mut out: Vec<&str> =
            self.spec.metrics.iter().filter_map(|m| m.resource.as_ref().map(|r| r.name.as_str())).collect();
        if self.spec.target_cpu_utilization_percentage.is_some() && !out.contains(&"cpu") {
            out.push("cpu");
        }
        out
    }
}

/// A PodDisruptionBudget.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct PodDisruptionBudget {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(deserialize_with = "nullable")]
    pub spec: PdbSpec,
    /// Observed state.
    #[serde(deserialize_with = "nullable")]
    pub status: PdbStatus,
}

/// PDB spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PdbSpec {
    /// Pods that must stay available.
    pub min_available: Option<IntOrString>,
    /// Pods that may be unavailable.
    pub max_unavailable: Option<IntOrString>,
    /// Which pods it protects.
    #[serde(deserialize_with = "nullable")]
    pub selector: LabelSelector,
}

/// PDB status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PdbStatus {
    /// Healthy pods now.
    #[serde(deserialize_with = "nullable")]
    pub current_healthy: i64,
    /// Healthy pods needed.
    #[serde(deserialize_with = "nullable")]
    pub desired_healthy: i64,
    /// Evictions allowed now.
    #[serde(deserialize_with = "nullable")]
    pub disruptions_allowed: i64,
    /// Pods it counts.
    #[serde(deserialize_with = "nullable")]
    pub expected_pods: i64,
    /// Conditions (`DisruptionAllowed`).
    #[serde(deserialize_with = "nullable")]
    pub conditions: Vec<Condition>,
}
