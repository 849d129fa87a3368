//! Workload controllers: Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use super::{Condition, LabelSelector, ObjectMeta, PodTemplate, nullable};

/// A Deployment.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct Deployment {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(deserialize_with = "nullable")]
    pub spec: DeploymentSpec,
    /// Observed state.
    #[serde(deserialize_with = "nullable")]
    pub status: DeploymentStatus,
}

/// Deployment spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentSpec {
    /// Desired replicas (the API defaults an absent value to 1).
    pub replicas: Option<i64>,
    /// Which pods belong to it.
    #[serde(deserialize_with = "nullable")]
    pub selector: LabelSelector,
    /// The pod template.
    #[serde(deserialize_with = "nullable")]
    pub template: PodTemplate,
    /// Whether rollouts are paused.
    #[serde(deserialize_with = "nullable")]
    pub paused: bool,
    /// Seconds before a stalled rollout is reported as failed.
    pub progress_deadline_seconds: Option<i64>,
}

/// Deployment status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentStatus {
    /// The generation the controller last acted on.
    #[serde(deserialize_with = "nullable")]
    pub observed_generation: i64,
    /// Pods targeted.
    #[serde(deserialize_with = "nullable")]
    pub replicas: i64,
    /// Pods on the newest template.
    #[serde(deserialize_with = "nullable")]
    pub updated_replicas: i64,
    /// Ready pods.
    #[serde(deserialize_with = "nullable")]
    pub ready_replicas: i64,
    /// Available pods.
    #[serde(deserialize_with = "nullable")]
    pub available_replicas: i64,
    /// Unavailable pods.
    #[serde(deserialize_with = "nullable")]
    pub unavailable_replicas: i64,
    /// Conditions (`Available`, `Progressing`, `ReplicaFailure`).
    #[serde(deserialize_with = "nullable")]
    pub conditions: Vec<Condition>,
}

impl Deployment {
    /// Desired replicas, with the API default of 1.
    pub fn desired(&self) -> i64 {
        self.spec.replicas.unwrap_or(1)
    }
}

/// A ReplicaSet.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct ReplicaSet {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(deserialize_with = "nullable")]
    pub spec: ReplicaSetSpec,
    /// Observed state.
    #[serde(deserialize_with = "nullable")]
    pub status: ReplicaSetStatus,
}

/// ReplicaSet spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct ReplicaSetSpec {
    /// Desired replicas (default 1).
    pub replicas: Option<i64>,
    /// Which pods belong to it.
    #[serde(deserialize_with = "nullable")]
    pub selector: LabelSelector,
}

/// ReplicaSet status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReplicaSetStatus {
    /// Pods it has.
    #[serde(deserialize_with = "nullable")]
    pub replicas: i64,
    /// Ready pods.
    #[serde(deserialize_with = "nullable")]
    pub ready_replicas: i64,
    /// Available pods.
    #[serde(deserialize_with = "nullable")]
    pub available_replicas: i64,
    /// Conditions (`ReplicaFailure`).
    #[serde(deserialize_with = "nullable")]
    pub conditions: Vec<Condition>,
}

/// A StatefulSet.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct StatefulSet {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(deserialize_with = "nullable")]
    pub spec: StatefulSetSpec,
    /// Observed state.
    #[serde(deserialize_with = "nullable")]
    pub status: StatefulSetStatus,
}

/// StatefulSet spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StatefulSetSpec {
    /// Desired replicas (default 1).
    pub replicas: Option<i64>,
    /// The governing headless Service.
    #[serde(deserialize_with = "nullable")]
    pub service_name: CompactString,
    /// Which pods belong to it.
    #[serde(deserialize_with = "nullable")]
    pub selector: LabelSelector,
    /// The pod template.
    #[serde(deserialize_with = "nullable")]
    pub template: PodTemplate,
    /// Claims stamped per pod.
    #[serde(deserialize_with = "nullable")]
    pub volume_claim_templates: Vec<super::PersistentVolumeClaim>,
}

/// StatefulSet status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StatefulSetStatus {
    /// The generation the controller last acted on.
    #[serde(deserialize_with = "nullable")]
    pub observed_generation: i64,
    /// Pods it has.
    #[serde(deserialize_with = "nullable")]
    pub replicas: i64,
    /// Ready pods.
    #[serde(deserialize_with = "nullable")]
    pub ready_replicas: i64,
    /// Pods on the current revision.
    #[serde(deserialize_with = "nullable")]
    pub current_replicas: i64,
    /// Pods on the update revision.
    #[serde(deserialize_with = "nullable")]
    pub updated_replicas: i64,
    /// The revision pods are being moved from.
    #[serde(deserialize_with = "nullable")]
    pub current_revision: CompactString,
    /// The revision pods are being moved to.
    #[serde(deserialize_with = "nullable")]
    pub update_revision: CompactString,
}

impl StatefulSet {
    /// Desired replicas, with the API default of 1.
    pub fn desired(&self) -> i64 {
        self.spec.replicas.unwrap_or(1)
    }
}

/// A DaemonSet.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct DaemonSet {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(deserialize_with = "nullable")]
    pub spec: DaemonSetSpec,
    /// Observed state.
    #[serde(deserialize_with = "nullable")]
    pub status: DaemonSetStatus,
}

/// DaemonSet spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct DaemonSetSpec {
    /// Which pods belong to it.
    #[serde(deserialize_with = "nullable")]
    pub selector: LabelSelector,
    /// The pod template.
    #[serde(deserialize_with = "nullable")]
    pub template: PodTemplate,
}

/// DaemonSet status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DaemonSetStatus {
    /// The generation the controller last acted on.
    #[serde(deserialize_with = "nullable")]
    pub observed_generation: i64,
    /// Nodes that should run the daemon pod.
    #[serde(deserialize_with = "nullable")]
    pub desired_number_scheduled: i64,
    /// Nodes running at least one daemon pod.
    #[serde(deserialize_with = "nullable")]
    pub current_number_scheduled: i64,
    /// Nodes with a ready daemon pod.
    #[serde(deserialize_with = "nullable")]
    pub number_ready: i64,
    /// Nodes with an available daemon pod.
    #[serde(deserialize_with = "nullable")]
    pub number_available: i64,
    /// Nodes that should run the pod but have none available.
    #[serde(deserialize_with = "nullable")]
    pub number_unavailable: i64,
    /// Nodes running the pod that should not.
    #[serde(deserialize_with = "nullable")]
    pub number_misscheduled: i64,
}

/// A Job.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct Job {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(deserialize_with = "nullable")]
    pub spec: JobSpec,
    /// Observed state.
    #[serde(deserialize_with = "nullable")]
    pub status: JobStatus,
}

/// Job spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JobSpec {
    /// Successful pods needed.
    pub completions: Option<i64>,
    /// Retries before the Job fails (default 6).
    pub backoff_limit: Option<i64>,
    /// A deadline for the whole Job.
    pub active_deadline_seconds: Option<i64>,
    /// Whether the Job is suspended.
    #[serde(deserialize_with = "nullable")]
    pub suspend: bool,
}

/// Job status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JobStatus {
    /// Running pods.
    #[serde(deserialize_with = "nullable")]
    pub active: i64,
    /// Succeeded pods.
    #[serde(deserialize_with = "nullable")]
    pub succeeded: i64,
    /// Failed pods.
    #[serde(deserialize_with = "nullable")]
    pub failed: i64,
    /// Conditions (`Complete`, `Failed`, `Suspended`).
    #[serde(deserialize_with = "nullable")]
    pub conditions: Vec<Condition>,
    /// When the Job started.
    pub start_time: Option<CompactString>,
    /// When the Job completed.
    pub completion_time: Option<CompactString>,
}

/// A CronJob.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct CronJob {
    /// Metadata.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(deserialize_with = "nullable")]
    pub spec: CronJobSpec,
    /// Observed state.
    #[serde(deserialize_with = "nullable")]
    pub status: CronJobStatus,
}

/// CronJob spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CronJobSpec {
    /// The cron schedule.
    #[serde(deserialize_with = "nullable")]
    pub schedule: CompactString,
    /// Whether scheduling is suspended.
    #[serde(deserialize_with = "nullable")]
    pub suspend: bool,
    /// A missed run older than this is skipped.
    pub starting_deadline_seconds: Option<i64>,
}

/// CronJob status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CronJobStatus {
    /// When a Job was last scheduled.
    pub last_schedule_time: Option<CompactString>,
    /// When a Job last succeeded.
    pub last_successful_time: Option<CompactString>,
}
