//! The statefulset analyzer: replicas not ready, a missing governing Service or
//! StorageClass, and specs the controller has not acted on.

mod common;

use common::*;
use kubesage_core::{ResourceKind, Severity};

/// A healthy three-replica PostgreSQL StatefulSet with its headless Service, the
/// StorageClass its claims ask for, and one of its pods.
const HEALTHY: &str = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: apps/v1
  kind: StatefulSet
  metadata:
    creationTimestamp: "2026-04-05T10:00:00Z"
    generation: 3
    labels:
      app: postgres
    name: postgres
    namespace: data
    uid: 9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1b
  spec:
    persistentVolumeClaimRetentionPolicy:
      whenDeleted: Retain
      whenScaled: Retain
    podManagementPolicy: OrderedReady
    replicas: 3
    revisionHistoryLimit: 10
    selector:
      matchLabels:
        app: postgres
    serviceName: postgres-headless
    template:
      metadata:
        labels:
          app: postgres
      spec:
        containers:
        - image: docker.io/library/postgres:16.3
          name: postgres
          ports:
          - containerPort: 5432
            name: postgres
          volumeMounts:
          - mountPath: /var/lib/postgresql/data
            name: data
    updateStrategy:
      rollingUpdate:
        partition: 0
      type: RollingUpdate
    volumeClaimTemplates:
    - apiVersion: v1
      kind: PersistentVolumeClaim
      metadata:
        name: data
      spec:
        accessModes:
        - ReadWriteOnce
        resources:
          requests:
            storage: 50Gi
        storageClassName: fast-ssd
        volumeMode: Filesystem
      status:
        phase: Pending
  status:
    availableReplicas: 3
    collisionCount: 0
    currentReplicas: 3
    currentRevision: postgres-6c9f7d8b5
    observedGeneration: 3
    readyReplicas: 3
    replicas: 3
    updateRevision: postgres-6c9f7d8b5
    updatedReplicas: 3
- apiVersion: v1
  kind: Service
  metadata:
    creationTimestamp: "2026-04-05T10:00:00Z"
    labels:
      app: postgres
    name: postgres-headless
    namespace: data
    uid: 0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d
  spec:
    clusterIP: None
    clusterIPs:
    - None
    ports:
    - name: postgres
      port: 5432
      protocol: TCP
      targetPort: postgres
    publishNotReadyAddresses: true
    selector:
      app: postgres
    type: ClusterIP
  status:
    loadBalancer: {}
- apiVersion: storage.k8s.io/v1
  kind: StorageClass
  metadata:
    creationTimestamp: "2026-03-02T10:00:00Z"
    name: fast-ssd
    uid: 1b0a9c8d-7e6f-4a5b-8c4d-3e2f1a0b9c8d
  parameters:
    type: pd-ssd
  provisioner: pd.csi.storage.gke.io
  reclaimPolicy: Delete
  volumeBindingMode: WaitForFirstConsumer
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-20T09:00:00Z"
    labels:
      app: postgres
      apps.kubernetes.io/pod-index: "0"
      statefulset.kubernetes.io/pod-name: postgres-0
    name: postgres-0
    namespace: data
    ownerReferences:
    - apiVersion: apps/v1
      blockOwnerDeletion: true
      controller: true
      kind: StatefulSet
      name: postgres
      uid: 9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1b
    uid: 2c1b0a9d-8e7f-4a6b-9c5d-4e3f2a1b0c9d
  spec:
    containers:
    - image: docker.io/library/postgres:16.3
      name: postgres
    nodeName: node-a
    volumes:
    - name: data
      persistentVolumeClaim:
        claimName: data-postgres-0
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T09:00:30Z"
      status: "True"
      type: Ready
    phase: Running
"#;

#[test]
fn healthy_statefulset_with_its_service_and_class_has_no_findings() {
    assert_clean(&scan_yaml(HEALTHY, "statefulset"));
}

#[test]
fn no_ready_replica_is_critical_and_links_pods_and_claims() {
    let yaml = edit(
        HEALTHY,
        &[
            ("    availableReplicas: 3\n", "    availableReplicas: 0\n"),
            ("    readyReplicas: 3\n", "    readyReplicas: 0\n"),
            ("    currentReplicas: 3\n", "    currentReplicas: 1\n"),
            ("    replicas: 3\n    updateRevision", "    replicas: 1\n    updateRevision"),
        ],
    );
    let report = scan_yaml(&yaml, "statefulset");
    let f = finding(&report, "ReplicasNotReady");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "StatefulSet", "data", "postgres");
    assert_eq!(f.analyzer, "statefulset");
    assert_eq!(f.summary, "0 of 3 replicas ready");
    assert_field(f, "spec.replicas", "3");
    assert_field(f, "status.readyReplicas", "0");
    assert_field(f, "status.currentReplicas", "1");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn one_replica_short_is_a_warning_linked_to_its_pending_claim() {
    let yaml = docs(&[
        &edit(HEALTHY, &[("    readyReplicas: 3\n", "    readyReplicas: 2\n")]),
        r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  creationTimestamp: "2026-05-20T11:00:00Z"
  labels:
    app: postgres
  name: data-postgres-2
  namespace: data
  uid: 3d2c1b0a-9e8f-4a7b-8c6d-5e4f3a2b1c0d
spec:
  accessModes:
  - ReadWriteOnce
  resources:
    requests:
      storage: 50Gi
  storageClassName: fast-ssd
  volumeMode: Filesystem
status:
  phase: Pending
---
apiVersion: v1
count: 14
firstTimestamp: "2026-05-20T11:00:00Z"
involvedObject:
  apiVersion: v1
  kind: PersistentVolumeClaim
  name: data-postgres-2
  namespace: data
kind: Event
lastTimestamp: "2026-05-20T11:59:00Z"
message: 'failed to provision volume with StorageClass "fast-ssd": rpc error: code = ResourceExhausted desc = Quota SSD_TOTAL_GB exceeded. Limit: 500.0 in region europe-west1.'
metadata:
  name: data-postgres-2.17f0c9d0e1f2a3b4
  namespace: data
reason: ProvisioningFailed
source:
  component: pd.csi.storage.gke.io_csi-controller
type: Warning
"#,
    ]);
    let report = scan_many(&yaml, &["statefulset", "pvc"]);
    let sts = finding(&report, "ReplicasNotReady");
    assert_eq!(sts.severity, Severity::Warning);
    assert_eq!(sts.summary, "2 of 3 replicas ready");
    let claim = finding(&report, "Pending");
    assert_object(claim, "PersistentVolumeClaim", "data", "data-postgres-2");
    // Claim names follow <template>-<statefulset>-<ordinal>: the StatefulSet finding is
    // tied to the claim that holds its third replica back.
    assert_related(sts, claim);
}

#[test]
fn missing_governing_service_is_reported_when_services_were_read() {
    let yaml = edit(HEALTHY, &[("    serviceName: postgres-headless\n", "    serviceName: postgres-hl\n")]);
    let report = scan_yaml(&yaml, "statefulset");
    let f = finding(&report, "MissingGoverningService");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "StatefulSet", "data", "postgres");
    assert_eq!(f.summary, "Governing Service postgres-hl does not exist; pods get no stable DNS names");
    assert_field(f, "spec.serviceName", "postgres-hl");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn missing_storage_class_is_reported_when_classes_were_read() {
    let yaml = edit(HEALTHY, &[("        storageClassName: fast-ssd\n", "        storageClassName: premium-rwo\n")]);
    let report = scan_yaml(&yaml, "statefulset");
    let f = finding(&report, "MissingStorageClass");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "StatefulSet", "data", "postgres");
    assert_eq!(f.summary, "Volume claim template data asks for StorageClass premium-rwo, which does not exist");
    assert_field(f, "spec.volumeClaimTemplates[data].spec.storageClassName", "premium-rwo");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn service_and_class_are_not_claimed_missing_when_their_kinds_were_not_read() {
    // Only the StatefulSet and its pod were captured: the names do not resolve, but
    // Services and StorageClasses were never listed.
    let yaml = edit(
        &list_without(HEALTHY, &["Service", "StorageClass"]),
        &[
            ("    serviceName: postgres-headless\n", "    serviceName: postgres-hl\n"),
            ("        storageClassName: fast-ssd\n", "        storageClassName: premium-rwo\n"),
        ],
    );
    let decoded = cluster(&yaml);
    assert!(!decoded.is_loaded(ResourceKind::Service));
    assert!(!decoded.is_loaded(ResourceKind::StorageClass));
    assert_clean(&scan_yaml(&yaml, "statefulset"));
}

#[test]
fn spec_the_controller_has_not_observed_is_reported() {
    let yaml = edit(HEALTHY, &[("    generation: 3\n", "    generation: 4\n")]);
    let report = scan_yaml(&yaml, "statefulset");
    let f = finding(&report, "GenerationNotObserved");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "StatefulSet", "data", "postgres");
    assert_eq!(f.summary, "The controller has not acted on the latest spec (generation 4, observed 3)");
    assert_field(f, "status.observedGeneration", "3");
}

#[test]
fn a_statefulset_scaled_to_zero_is_not_reported() {
    let yaml = edit(
        HEALTHY,
        &[
            ("    replicas: 3\n    revisionHistoryLimit", "    replicas: 0\n    revisionHistoryLimit"),
            ("    availableReplicas: 3\n", ""),
            ("    readyReplicas: 3\n", ""),
            ("    currentReplicas: 3\n", ""),
            ("    replicas: 3\n    updateRevision", "    replicas: 0\n    updateRevision"),
        ],
    );
    assert_clean(&scan_yaml(&yaml, "statefulset"));
}
