//! The replicaset analyzer: pods the controller cannot create (quota, admission policy),
//! and ReplicaSets it must leave alone (healthy, scaled down, recovered).

mod common;

use common::*;
use kubesage_core::Severity;

/// A Deployment whose new ReplicaSet hits the namespace's quota.
const QUOTA: &str = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    creationTimestamp: "2026-04-10T10:00:00Z"
    generation: 2
    labels:
      app: report-api
    name: report-api
    namespace: reports
    uid: 1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d
  spec:
    replicas: 3
    selector:
      matchLabels:
        app: report-api
    template:
      metadata:
        labels:
          app: report-api
      spec:
        containers:
        - image: registry.example.com/reports/api:1.4.0
          name: api
          resources:
            limits:
              memory: 1Gi
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T11:00:00Z"
      lastUpdateTime: "2026-05-20T11:00:00Z"
      message: Deployment does not have minimum availability.
      reason: MinimumReplicasUnavailable
      status: "False"
      type: Available
    - lastTransitionTime: "2026-05-20T11:00:00Z"
      lastUpdateTime: "2026-05-20T11:00:00Z"
      message: 'pods "report-api-6c7d8e9f0a-" is forbidden: exceeded quota: compute-resources, requested: limits.memory=1Gi, used: limits.memory=4Gi, limited: limits.memory=4Gi'
      reason: FailedCreate
      status: "True"
      type: ReplicaFailure
    observedGeneration: 2
    unavailableReplicas: 3
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata:
    creationTimestamp: "2026-05-20T11:00:00Z"
    generation: 1
    labels:
      app: report-api
      pod-template-hash: 6c7d8e9f0a
    name: report-api-6c7d8e9f0a
    namespace: reports
    ownerReferences:
    - apiVersion: apps/v1
      blockOwnerDeletion: true
      controller: true
      kind: Deployment
      name: report-api
      uid: 1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d
    uid: 2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e
  spec:
    replicas: 3
    selector:
      matchLabels:
        app: report-api
        pod-template-hash: 6c7d8e9f0a
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T11:00:00Z"
      message: 'pods "report-api-6c7d8e9f0a-" is forbidden: exceeded quota: compute-resources, requested: limits.memory=1Gi, used: limits.memory=4Gi, limited: limits.memory=4Gi'
      reason: FailedCreate
      status: "True"
      type: ReplicaFailure
    observedGeneration: 1
    replicas: 0
- apiVersion: v1
  count: 17
  firstTimestamp: "2026-05-20T11:00:00Z"
  involvedObject:
    apiVersion: apps/v1
    kind: ReplicaSet
    name: report-api-6c7d8e9f0a
    namespace: reports
    uid: 2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e
  kind: Event
  lastTimestamp: "2026-05-20T11:58:00Z"
  message: 'Error creating: pods "report-api-6c7d8e9f0a-8x7c6" is forbidden: exceeded quota: compute-resources, requested: limits.memory=1Gi, used: limits.memory=4Gi, limited: limits.memory=4Gi'
  metadata:
    name: report-api-6c7d8e9f0a.17f0c7b8c9d0e1f2
    namespace: reports
  reason: FailedCreate
  source:
    component: replicaset-controller
  type: Warning
"#;

#[test]
fn quota_exceeded_is_reported_from_the_replica_failure_condition() {
    let report = scan_yaml(QUOTA, "replicaset");
    let f = finding(&report, "FailedCreate");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "ReplicaSet", "reports", "report-api-6c7d8e9f0a");
    assert_eq!(f.analyzer, "replicaset");
    assert!(
        f.summary.starts_with(
            "Cannot create pods: pods \"report-api-6c7d8e9f0a-\" is forbidden: exceeded quota: compute-resources"
        ),
        "{}",
        f.summary
    );
    assert_field(f, "spec.replicas", "3");
    assert_field(f, "status.replicas", "0");
    assert_condition(f, "ReplicaFailure", "True");
    assert_event(f, "FailedCreate", "exceeded quota");
    assert_step(f, "kubectl describe resourcequota -n reports");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn the_replicaset_failure_is_linked_to_its_deployment() {
    let report = scan_many(QUOTA, &["replicaset", "deployment"]);
    let rs = finding(&report, "FailedCreate");
    let deploy = finding(&report, "Unavailable");
    assert_object(deploy, "Deployment", "reports", "report-api");
    assert_related(rs, deploy);
    assert_evidence(deploy, "related: 1 ReplicaSet finding(s): FailedCreate (1)");
}

#[test]
fn admission_rejection_is_reported_from_events_alone() {
    // No ReplicaFailure condition in this capture, but the controller's events say why no
    // pod exists.
    let yaml = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  creationTimestamp: "2026-05-20T11:30:00Z"
  labels:
    app: debug-shell
    pod-template-hash: 57f8d9c6b4
  name: debug-shell-57f8d9c6b4
  namespace: payments
  ownerReferences:
  - apiVersion: apps/v1
    controller: true
    kind: Deployment
    name: debug-shell
    uid: 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f
  uid: 4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a
spec:
  replicas: 1
  selector:
    matchLabels:
      app: debug-shell
status:
  observedGeneration: 1
  replicas: 0
---
apiVersion: v1
count: 9
firstTimestamp: "2026-05-20T11:30:00Z"
involvedObject:
  apiVersion: apps/v1
  kind: ReplicaSet
  name: debug-shell-57f8d9c6b4
  namespace: payments
  uid: 4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a
kind: Event
lastTimestamp: "2026-05-20T11:45:00Z"
message: 'Error creating: pods "debug-shell-57f8d9c6b4-abcde" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), privileged (container "shell" must not set securityContext.privileged=true)'
metadata:
  name: debug-shell-57f8d9c6b4.17f0c8c9d0e1f2a3
  namespace: payments
reason: FailedCreate
source:
  component: replicaset-controller
type: Warning
"#;
    let report = scan_yaml(yaml, "replicaset");
    let f = finding(&report, "FailedCreate");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "ReplicaSet", "payments", "debug-shell-57f8d9c6b4");
    assert!(f.summary.contains("violates PodSecurity \"baseline:latest\""), "{}", f.summary);
    assert_event(f, "FailedCreate", "privileged");
    assert_step(f, "An admission policy rejected the pods");
}

/// A ReplicaSet that runs all its pods, with the controller's Normal events and a
/// FailedCreate warning left over from a quota squeeze that has since cleared.
const HEALTHY: &str = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata:
    annotations:
      deployment.kubernetes.io/desired-replicas: "3"
      deployment.kubernetes.io/max-replicas: "4"
      deployment.kubernetes.io/revision: "9"
    creationTimestamp: "2026-05-20T09:00:00Z"
    generation: 1
    labels:
      app: catalog
      pod-template-hash: 69d8c7b5f4
    name: catalog-69d8c7b5f4
    namespace: shop
    ownerReferences:
    - apiVersion: apps/v1
      blockOwnerDeletion: true
      controller: true
      kind: Deployment
      name: catalog
      uid: 7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f
    uid: 2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b
  spec:
    replicas: 3
    selector:
      matchLabels:
        app: catalog
        pod-template-hash: 69d8c7b5f4
  status:
    availableReplicas: 3
    fullyLabeledReplicas: 3
    observedGeneration: 1
    readyReplicas: 3
    replicas: 3
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata:
    annotations:
      deployment.kubernetes.io/revision: "8"
    creationTimestamp: "2026-05-01T09:00:00Z"
    generation: 4
    labels:
      app: catalog
      pod-template-hash: 5b8c9d7e6f
    name: catalog-5b8c9d7e6f
    namespace: shop
    ownerReferences:
    - apiVersion: apps/v1
      controller: true
      kind: Deployment
      name: catalog
      uid: 7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f
    uid: 3f4a5b6c-7d8e-4f9a-8b0c-1d2e3f4a5b6d
  spec:
    replicas: 0
    selector:
      matchLabels:
        app: catalog
        pod-template-hash: 5b8c9d7e6f
  status:
    observedGeneration: 4
    replicas: 0
- apiVersion: v1
  count: 3
  firstTimestamp: "2026-05-20T09:00:00Z"
  involvedObject:
    apiVersion: apps/v1
    kind: ReplicaSet
    name: catalog-69d8c7b5f4
    namespace: shop
  kind: Event
  lastTimestamp: "2026-05-20T09:20:00Z"
  message: 'Created pod: catalog-69d8c7b5f4-h2j3k'
  metadata:
    name: catalog-69d8c7b5f4.17f0b0a1b2c3d4e5
    namespace: shop
  reason: SuccessfulCreate
  source:
    component: replicaset-controller
  type: Normal
- apiVersion: v1
  count: 4
  firstTimestamp: "2026-05-20T09:00:00Z"
  involvedObject:
    apiVersion: apps/v1
    kind: ReplicaSet
    name: catalog-69d8c7b5f4
    namespace: shop
  kind: Event
  lastTimestamp: "2026-05-20T09:19:00Z"
  message: 'Error creating: pods "catalog-69d8c7b5f4-9z8y7" is forbidden: exceeded quota: compute-resources, requested: requests.cpu=200m, used: requests.cpu=3800m, limited: requests.cpu=4'
  metadata:
    name: catalog-69d8c7b5f4.17f0b0a1b2c3d4e6
    namespace: shop
  reason: FailedCreate
  source:
    component: replicaset-controller
  type: Warning
- apiVersion: v1
  count: 2
  firstTimestamp: "2026-05-01T09:00:00Z"
  involvedObject:
    apiVersion: apps/v1
    kind: ReplicaSet
    name: catalog-5b8c9d7e6f
    namespace: shop
  kind: Event
  lastTimestamp: "2026-05-20T09:10:00Z"
  message: 'Error creating: pods "catalog-5b8c9d7e6f-4d5f6" is forbidden: exceeded quota: compute-resources, requested: requests.cpu=200m, used: requests.cpu=4, limited: requests.cpu=4'
  metadata:
    name: catalog-5b8c9d7e6f.17f0b0a1b2c3d4e7
    namespace: shop
  reason: FailedCreate
  source:
    component: replicaset-controller
  type: Warning
"#;

#[test]
fn healthy_scaled_down_and_recovered_replicasets_have_no_findings() {
    assert_clean(&scan_yaml(HEALTHY, "replicaset"));
}

#[test]
fn the_same_old_events_are_reported_while_pods_are_still_missing() {
    // Control for the test above: the same warning, but the ReplicaSet still lacks pods.
    let yaml = edit(
        HEALTHY,
        &[(
            "    availableReplicas: 3\n    fullyLabeledReplicas: 3\n    observedGeneration: 1\n    readyReplicas: 3\n    replicas: 3\n",
            "    availableReplicas: 2\n    fullyLabeledReplicas: 2\n    observedGeneration: 1\n    readyReplicas: 2\n    replicas: 2\n",
        )],
    );
    let report = scan_yaml(&yaml, "replicaset");
    let f = finding(&report, "FailedCreate");
    assert_object(f, "ReplicaSet", "shop", "catalog-69d8c7b5f4");
    assert!(f.summary.contains("exceeded quota"), "{}", f.summary);
    assert_field(f, "status.replicas", "2");
}
