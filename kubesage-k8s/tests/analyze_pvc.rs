//! The pvc analyzer: claims pending on a missing class, on no default class, or on a
//! provisioner that fails; lost claims; and claims that are bound or simply waiting for
//! their first consumer.

mod common;

use common::*;
use kubesage_core::{ResourceKind, Severity};

/// Storage classes as a GKE cluster has them.
const CLASSES: &str = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- allowVolumeExpansion: true
  apiVersion: storage.k8s.io/v1
  kind: StorageClass
  metadata:
    annotations:
      storageclass.kubernetes.io/is-default-class: "true"
    creationTimestamp: "2026-03-02T10:00:00Z"
    name: standard-rwo
    uid: 3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6c
  parameters:
    type: pd-balanced
  provisioner: pd.csi.storage.gke.io
  reclaimPolicy: Delete
  volumeBindingMode: WaitForFirstConsumer
- allowVolumeExpansion: true
  apiVersion: storage.k8s.io/v1
  kind: StorageClass
  metadata:
    creationTimestamp: "2026-03-02T10:00:00Z"
    name: premium-rwo
    uid: 4f5a6b7c-8d9e-4f0a-9b1c-2d3e4f5a6b7d
  parameters:
    type: pd-ssd
  provisioner: pd.csi.storage.gke.io
  reclaimPolicy: Delete
  volumeBindingMode: WaitForFirstConsumer
"#;

/// A claim for a class that does not exist.
const TYPO_CLAIM: &str = r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  creationTimestamp: "2026-05-20T11:00:00Z"
  finalizers:
  - kubernetes.io/pvc-protection
  labels:
    app: elasticsearch
  name: data-elasticsearch-0
  namespace: search
  uid: 5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8e
spec:
  accessModes:
  - ReadWriteOnce
  resources:
    requests:
      storage: 100Gi
  storageClassName: fast-ssd
  volumeMode: Filesystem
status:
  phase: Pending
"#;

/// The pod waiting for that claim.
const CLAIM_USER: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-20T11:00:00Z"
  labels:
    app: elasticsearch
  name: elasticsearch-0
  namespace: search
  ownerReferences:
  - apiVersion: apps/v1
    controller: true
    kind: StatefulSet
    name: elasticsearch
    uid: 6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9f
  uid: 7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0a
spec:
  containers:
  - image: docker.elastic.co/elasticsearch/elasticsearch:8.14.1
    name: elasticsearch
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: data-elasticsearch-0
status:
  conditions:
  - lastProbeTime: null
    lastTransitionTime: "2026-05-20T11:00:00Z"
    message: '0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.'
    reason: Unschedulable
    status: "False"
    type: PodScheduled
  phase: Pending
"#;

#[test]
fn pending_claim_for_a_class_that_does_not_exist_lists_the_classes() {
    let report = scan_yaml(&docs(&[CLASSES, TYPO_CLAIM]), "pvc");
    let f = finding(&report, "Pending");
    assert_eq!(f.severity, Severity::Warning, "no pod uses it yet");
    assert_object(f, "PersistentVolumeClaim", "search", "data-elasticsearch-0");
    assert_eq!(f.analyzer, "pvc");
    assert_eq!(f.summary, "Claim is pending: StorageClass fast-ssd does not exist");
    assert_field(f, "status.phase", "Pending");
    assert_field(f, "spec.storageClassName", "fast-ssd");
    assert_evidence(f, "StorageClasses in the cluster: standard-rwo, premium-rwo");
    assert_step(f, "recreate the claim");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn a_pod_waiting_on_the_claim_makes_it_critical_and_links_them() {
    let yaml = docs(&[CLASSES, TYPO_CLAIM, CLAIM_USER]);
    let report = scan_yaml(&yaml, "pvc");
    let f = finding(&report, "Pending");
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.summary, "Claim is pending: StorageClass fast-ssd does not exist");

    let both = scan_many(&yaml, &["pvc", "pod"]);
    let claim = finding(&both, "Pending");
    let pod = finding(&both, "Unschedulable");
    assert_object(pod, "Pod", "search", "elasticsearch-0");
    assert_related(claim, pod);
}

#[test]
fn pending_claim_without_a_class_when_the_cluster_has_no_default() {
    let no_default =
        edit(CLASSES, &[("    annotations:\n      storageclass.kubernetes.io/is-default-class: \"true\"\n", "")]);
    let claim = edit(TYPO_CLAIM, &[("  storageClassName: fast-ssd\n", "")]);
    let report = scan_yaml(&docs(&[&no_default, &claim]), "pvc");
    let f = finding(&report, "Pending");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.summary, "Claim is pending: it names no StorageClass and the cluster has no default");
    assert_no_evidence(f, "spec.storageClassName");
}

#[test]
fn provisioning_failure_is_quoted_from_the_events() {
    let claim = edit(TYPO_CLAIM, &[("  storageClassName: fast-ssd\n", "  storageClassName: premium-rwo\n")]);
    let event = r#"
apiVersion: v1
count: 23
firstTimestamp: "2026-05-20T11:00:05Z"
involvedObject:
  apiVersion: v1
  kind: PersistentVolumeClaim
  name: data-elasticsearch-0
  namespace: search
  uid: 5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8e
kind: Event
lastTimestamp: "2026-05-20T11:58:00Z"
message: 'failed to provision volume with StorageClass "premium-rwo": rpc error: code = ResourceExhausted desc = Quota SSD_TOTAL_GB exceeded. Limit: 500.0 in region europe-west1.'
metadata:
  name: data-elasticsearch-0.17f0cbc2d3e4f5a6
  namespace: search
reason: ProvisioningFailed
source:
  component: pd.csi.storage.gke.io_gke-csi-controller
type: Warning
"#;
    let report = scan_yaml(&docs(&[CLASSES, &claim, event, CLAIM_USER]), "pvc");
    let f = finding(&report, "Pending");
    assert_eq!(f.severity, Severity::Critical);
    assert!(
        f.summary.starts_with("Claim is pending: failed to provision volume with StorageClass \"premium-rwo\""),
        "{}",
        f.summary
    );
    assert_event(f, "ProvisioningFailed", "Quota SSD_TOTAL_GB exceeded");
    assert_step(f, "kubectl describe pvc -n search data-elasticsearch-0");
}

#[test]
fn lost_claim_is_critical() {
    let yaml = r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  annotations:
    pv.kubernetes.io/bind-completed: "yes"
  creationTimestamp: "2026-02-10T10:00:00Z"
  name: uploads
  namespace: media
  uid: 8d9e0f1a-2b3c-4d4e-9f5a-6b7c8d9e0f1b
spec:
  accessModes:
  - ReadWriteMany
  resources:
    requests:
      storage: 200Gi
  storageClassName: filestore
  volumeMode: Filesystem
  volumeName: pvc-8d9e0f1a-2b3c-4d4e-9f5a-6b7c8d9e0f1b
status:
  phase: Lost
"#;
    let report = scan_yaml(yaml, "pvc");
    let f = finding(&report, "Lost");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "PersistentVolumeClaim", "media", "uploads");
    assert_field(f, "status.phase", "Lost");
    assert_field(f, "spec.volumeName", "pvc-8d9e0f1a-2b3c-4d4e-9f5a-6b7c8d9e0f1b");
}

#[test]
fn bound_claims_and_claims_waiting_for_their_first_consumer_have_no_findings() {
    let bound = r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  annotations:
    pv.kubernetes.io/bind-completed: "yes"
    pv.kubernetes.io/bound-by-controller: "yes"
    volume.beta.kubernetes.io/storage-provisioner: pd.csi.storage.gke.io
  creationTimestamp: "2026-04-05T10:00:00Z"
  name: data-postgres-0
  namespace: data
  uid: 9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2c
spec:
  accessModes:
  - ReadWriteOnce
  resources:
    requests:
      storage: 50Gi
  storageClassName: premium-rwo
  volumeMode: Filesystem
  volumeName: pvc-9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2c
status:
  accessModes:
  - ReadWriteOnce
  capacity:
    storage: 50Gi
  phase: Bound
"#;
    // WaitForFirstConsumer: pending until a pod uses it, with a Normal event saying so.
    let waiting = r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  creationTimestamp: "2026-05-20T11:30:00Z"
  name: scratch
  namespace: data
  uid: 0f1a2b3c-4d5e-4f6a-9b7c-8d9e0f1a2b3d
spec:
  accessModes:
  - ReadWriteOnce
  resources:
    requests:
      storage: 5Gi
  storageClassName: standard-rwo
  volumeMode: Filesystem
status:
  phase: Pending
---
apiVersion: v1
count: 120
firstTimestamp: "2026-05-20T11:30:00Z"
involvedObject:
  apiVersion: v1
  kind: PersistentVolumeClaim
  name: scratch
  namespace: data
kind: Event
lastTimestamp: "2026-05-20T11:59:45Z"
message: waiting for first consumer to be created before binding
metadata:
  name: scratch.17f0cc1a2b3c4d5e
  namespace: data
reason: WaitForFirstConsumer
source:
  component: persistentvolume-controller
type: Normal
"#;
    assert_clean(&scan_yaml(&docs(&[CLASSES, bound, waiting]), "pvc"));
}

#[test]
fn classes_are_not_claimed_missing_when_storage_classes_were_not_read() {
    // No StorageClass in the snapshot: fast-ssd may well exist.
    let decoded = cluster(TYPO_CLAIM);
    assert!(!decoded.is_loaded(ResourceKind::StorageClass));
    assert_clean(&scan_yaml(TYPO_CLAIM, "pvc"));

    // With a pod waiting on it the claim is still worth reporting, but not as a missing class.
    let report = scan_yaml(&docs(&[TYPO_CLAIM, CLAIM_USER]), "pvc");
    let f = finding(&report, "Pending");
    assert_eq!(f.summary, "Claim is pending and a pod is waiting for it");
    assert_no_evidence(f, "StorageClasses in the cluster");
    assert!(!f.summary.contains("does not exist"));

    // Nor is "no default class" claimed for a claim without a class.
    let classless = edit(TYPO_CLAIM, &[("  storageClassName: fast-ssd\n", "")]);
    assert_clean(&scan_yaml(&classless, "pvc"));
}
