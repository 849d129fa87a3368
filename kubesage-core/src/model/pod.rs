//! Pods and the pod template that workload controllers stamp them from.

use std::collections::BTreeMap;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use super::{Condition, ObjectMeta, nullable};

/// A Pod.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct Pod {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(deserialize_with = "nullable")]
    pub spec: PodSpec,
    /// Observed state.
    #[serde(deserialize_with = "nullable")]
    pub status: PodStatus,
}

/// A pod template (in Deployments, StatefulSets, DaemonSets, Jobs).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct PodTemplate {
    /// The template's metadata (labels the pods will carry).
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// The pod spec.
    #[serde(deserialize_with = "nullable")]
    pub spec: PodSpec,
}

/// The parts of a pod spec KubeSage reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSpec {
    /// The node the pod is bound to, once scheduled.
    #[serde(deserialize_with = "nullable")]
    pub node_name: CompactString,
    /// Node labels the pod requires.
    #[serde(deserialize_with = "nullable")]
    pub node_selector: BTreeMap<CompactString, CompactString>,
    /// App containers.
    #[serde(deserialize_with = "nullable")]
    pub containers: Vec<Container>,
    /// Init containers.
    #[serde(deserialize_with = "nullable")]
    pub init_containers: Vec<Container>,
    /// Volumes.
    #[serde(deserialize_with = "nullable")]
    pub volumes: Vec<Volume>,
    /// The service account the pod runs as.
    #[serde(deserialize_with = "nullable")]
    pub service_account_name: CompactString,
}

/// A container in a pod spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Container {
    /// The container name.
    pub name: CompactString,
    /// The image reference.
    #[serde(deserialize_with = "nullable")]
    pub image: CompactString,
    /// Environment variables.
    #[serde(deserialize_with = "nullable")]
    pub env: Vec<EnvVar>,
    /// Whole ConfigMaps or Secrets loaded as environment.
    #[serde(deserialize_with = "nullable")]
    pub env_from: Vec<EnvFromSource>,
    /// Ports the container exposes.
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<ContainerPort>,
    /// Resource requests and limits, as quantities (`250m`, `512Mi`).
    #[serde(deserialize_with = "nullable")]
    pub resources: ResourceRequirements,
    /// The liveness probe, if any.
    pub liveness_probe: Option<Probe>,
    /// The readiness probe, if any.
    pub readiness_probe: Option<Probe>,
}

/// A probe; KubeSage only records that one exists and where it points.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Probe {
    /// Seconds after start before the first probe.
    #[serde(deserialize_with = "nullable")]
    pub initial_delay_seconds: i64,
    /// Consecutive failures before the probe is considered failed.
    #[serde(deserialize_with = "nullable")]
    pub failure_threshold: i64,
}

/// A named container port.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerPort {
    /// The port's name (a Service may target it by name).
    #[serde(deserialize_with = "nullable")]
    pub name: CompactString,
    /// The port number.
    pub container_port: i64,
}

/// Requests and limits.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct ResourceRequirements {
    /// Requested resources.
    #[serde(deserialize_with = "nullable")]
    pub requests: BTreeMap<CompactString, CompactString>,
    /// Resource limits.
    #[serde(deserialize_with = "nullable")]
    pub limits: BTreeMap<CompactString, CompactString>,
}

/// An environment variable; only references to other objects matter here.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvVar {
    /// The variable's name.
    pub name: CompactString,
    /// Where its value comes from, if not literal.
    pub value_from: Option<EnvVarSource>,
}

/// The source of an environment variable's value.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvVarSource {
    /// A key of a ConfigMap.
    pub config_map_key_ref: Option<KeyRef>,
    /// A key of a Secret.
    pub secret_key_ref: Option<KeyRef>,
}

/// A reference to one key of a ConfigMap or Secret.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct KeyRef {
    /// The object's name.
    #[serde(deserialize_with = "nullable")]
    pub name: CompactString,
    /// The key.
    #[serde(deserialize_with = "nullable")]
    pub key: CompactString,
    /// Whether the pod may start without it.
    #[serde(deserialize_with = "nullable")]
    pub optional: bool,
}

/// A reference to a whole ConfigMap or Secret.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NameRef {
    /// The name (`secretName` for secret volumes is read into this too).
    #[serde(deserialize_with = "nullable", alias = "secretName")]
    pub name: CompactString,
    /// Whether the pod may start without it.
    #[serde(deserialize_with = "nullable")]
    pub optional: bool,
}

/// `envFrom` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvFromSource {
    /// A whole ConfigMap.
    pub config_map_ref: Option<NameRef>,
    /// A whole Secret.
    pub secret_ref: Option<NameRef>,
}

/// A pod volume; only the kinds that reference other objects are read.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Volume {
    /// The volume name.
    pub name: CompactString,
    /// A ConfigMap volume.
    pub config_map: Option<NameRef>,
    /// A Secret volume.
    pub secret: Option<NameRef>,
    /// A PersistentVolumeClaim volume.
    pub persistent_volume_claim: Option<ClaimRef>,
    /// A projected volume combining ConfigMaps and Secrets.
    pub projected: Option<ProjectedVolume>,
}

/// A claim reference in a volume.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClaimRef {
    /// The claim's name.
    pub claim_name: CompactString,
}

/// A projected volume.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct ProjectedVolume {
    /// Its sources.
    #[serde(deserialize_with = "nullable")]
    pub sources: Vec<ProjectedSource>,
}

/// One source of a projected volume.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProjectedSource {
    /// A ConfigMap.
    pub config_map: Option<NameRef>,
    /// A Secret.
    pub secret: Option<NameRef>,
}

/// Observed pod state.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodStatus {
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    #[serde(deserialize_with = "nullable")]
    pub phase: CompactString,
    /// A reason for the phase (`Evicted`).
    #[serde(deserialize_with = "nullable")]
    pub reason: CompactString,
    /// A message for the phase.
    #[serde(deserialize_with = "nullable")]
    pub message: CompactString,
    /// Conditions (`PodScheduled`, `Ready`, ...).
    #[serde(deserialize_with = "nullable")]
    pub conditions: Vec<Condition>,
    /// App container statuses.
    #[serde(deserialize_with = "nullable")]
    pub container_statuses: Vec<ContainerStatus>,
    /// Init container statuses.
    #[serde(deserialize_with = "nullable")]
    pub init_container_statuses: Vec<ContainerStatus>,
    /// When the kubelet started the pod.
    pub start_time: Option<CompactString>,
}

/// The state of one container.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerStatus {
    /// The container name.
    pub name: CompactString,
    /// Whether it passes its readiness probe.
    #[serde(deserialize_with = "nullable")]
    pub ready: bool,
    /// How many times it restarted.
    #[serde(deserialize_with = "nullable")]
    pub restart_count: i64,
    /// The image it runs.
    #[serde(deserialize_with = "nullable")]
    pub image: CompactString,
    /// Its current state.
    #[serde(deserialize_with = "nullable")]
    pub state: ContainerState,
    /// Its previous state (how the last run ended).
    #[serde(deserialize_with = "nullable")]
    pub last_state: ContainerState,
}

/// One of waiting, running or terminated.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct ContainerState {
    /// Waiting to start (`CrashLoopBackOff`, `ImagePullBackOff`).
    pub waiting: Option<StateWaiting>,
    /// Running.
    pub running: Option<StateRunning>,
    /// Finished.
    pub terminated: Option<StateTerminated>,
}

/// A waiting container.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct StateWaiting {
    /// Why it waits.
    #[serde(deserialize_with = "nullable")]
    pub reason: CompactString,
    /// Details.
    #[serde(deserialize_with = "nullable")]
    pub message: CompactString,
}

/// A running container.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StateRunning {
    /// When it started.
    pub started_at: Option<CompactString>,
}

/// A terminated container.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StateTerminated {
    /// The exit code.
    #[serde(deserialize_with = "nullable")]
    pub exit_code: i64,
    /// The signal that ended it, if any.
    #[serde(deserialize_with = "nullable")]
    pub signal: i64,
    /// `OOMKilled`, `Error`, `Completed`, ...
    #[serde(deserialize_with = "nullable")]
    pub reason: CompactString,
    /// Details (often the tail of the termination log).
    #[serde(deserialize_with = "nullable")]
    pub message: CompactString,
    /// When it finished.
    pub finished_at: Option<CompactString>,
}

impl Pod {
    /// All container statuses, init containers first.
    pub fn all_container_statuses(&self) -> impl Iterator<Item = &ContainerStatus> {
        self.status.init_container_statuses.iter().chain(&self.status.container_statuses)
    }

    /// Whether the pod's `Ready` condition is `True`.
    pub fn is_ready(&self) -> bool {
        super::condition(&self.status.conditions, "Ready").is_some_and(|c| c.status == "True")
    }

    /// Whether the pod has finished (`Succeeded` or `Failed`) and will not run again.
    pub fn is_finished(&self) -> bool {
        matches!(self.status.phase.as_str(), "Succeeded" | "Failed")
    }
}
