//! The deployment analyzer: unavailable replicas, stalled rollouts, specs the controller has
//! not acted on, and the root-cause link between a Deployment and its crashing pods.

mod common;

use common::*;
use kubesage_core::Severity;

/// A Deployment of 3 with no available replica, its ReplicaSet, and two crash-looping pods.
const CRASHING_ROLLOUT: &str = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    annotations:
      deployment.kubernetes.io/revision: "4"
    creationTimestamp: "2026-03-25T10:00:00Z"
    generation: 6
    labels:
      app: checkout-api
    name: checkout-api
    namespace: shop
    resourceVersion: "48213390"
    uid: 5a1f0c3e-2b4d-4e6f-8a9b-0c1d2e3f4a5b
  spec:
    progressDeadlineSeconds: 600
    replicas: 3
    revisionHistoryLimit: 10
    selector:
      matchLabels:
        app: checkout-api
    strategy:
      rollingUpdate:
        maxSurge: 25%
        maxUnavailable: 25%
      type: RollingUpdate
    template:
      metadata:
        labels:
          app: checkout-api
      spec:
        containers:
        - image: registry.example.com/shop/checkout-api:2.14.0
          name: api
          ports:
          - containerPort: 8080
            name: http
            protocol: TCP
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T10:00:00Z"
      lastUpdateTime: "2026-05-20T10:00:00Z"
      message: Deployment does not have minimum availability.
      reason: MinimumReplicasUnavailable
      status: "False"
      type: Available
    - lastTransitionTime: "2026-05-20T10:10:00Z"
      lastUpdateTime: "2026-05-20T10:10:00Z"
      message: ReplicaSet "checkout-api-7d9f8b6c5" has timed out progressing.
      reason: ProgressDeadlineExceeded
      status: "False"
      type: Progressing
    observedGeneration: 6
    replicas: 3
    unavailableReplicas: 3
    updatedReplicas: 3
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata:
    annotations:
      deployment.kubernetes.io/desired-replicas: "3"
      deployment.kubernetes.io/max-replicas: "4"
      deployment.kubernetes.io/revision: "4"
    creationTimestamp: "2026-05-20T10:00:00Z"
    generation: 1
    labels:
      app: checkout-api
      pod-template-hash: 7d9f8b6c5
    name: checkout-api-7d9f8b6c5
    namespace: shop
    ownerReferences:
    - apiVersion: apps/v1
      blockOwnerDeletion: true
      controller: true
      kind: Deployment
      name: checkout-api
      uid: 5a1f0c3e-2b4d-4e6f-8a9b-0c1d2e3f4a5b
    uid: 0b6f2a53-5f1e-4a8e-9a43-3c9d2d7f1a10
  spec:
    replicas: 3
    selector:
      matchLabels:
        app: checkout-api
        pod-template-hash: 7d9f8b6c5
  status:
    fullyLabeledReplicas: 3
    observedGeneration: 1
    replicas: 3
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-20T10:00:00Z"
    labels:
      app: checkout-api
      pod-template-hash: 7d9f8b6c5
    name: checkout-api-7d9f8b6c5-x2x9k
    namespace: shop
    ownerReferences:
    - apiVersion: apps/v1
      blockOwnerDeletion: true
      controller: true
      kind: ReplicaSet
      name: checkout-api-7d9f8b6c5
      uid: 0b6f2a53-5f1e-4a8e-9a43-3c9d2d7f1a10
    uid: 8c1d6b2e-3f4a-4b5c-9d6e-7f8091a2b3c4
  spec:
    containers:
    - image: registry.example.com/shop/checkout-api:2.14.0
      name: api
    nodeName: node-b
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T10:00:05Z"
      message: 'containers with unready status: [api]'
      reason: ContainersNotReady
      status: "False"
      type: Ready
    containerStatuses:
    - image: registry.example.com/shop/checkout-api:2.14.0
      lastState:
        terminated:
          exitCode: 1
          finishedAt: "2026-05-20T11:55:12Z"
          reason: Error
      name: api
      ready: false
      restartCount: 7
      state:
        waiting:
          message: back-off 5m0s restarting failed container=api pod=checkout-api-7d9f8b6c5-x2x9k_shop(8c1d6b2e-3f4a-4b5c-9d6e-7f8091a2b3c4)
          reason: CrashLoopBackOff
    phase: Running
    startTime: "2026-05-20T10:00:00Z"
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-20T10:00:00Z"
    labels:
      app: checkout-api
      pod-template-hash: 7d9f8b6c5
    name: checkout-api-7d9f8b6c5-q4w5e
    namespace: shop
    ownerReferences:
    - apiVersion: apps/v1
      blockOwnerDeletion: true
      controller: true
      kind: ReplicaSet
      name: checkout-api-7d9f8b6c5
      uid: 0b6f2a53-5f1e-4a8e-9a43-3c9d2d7f1a10
    uid: 1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5c
  spec:
    containers:
    - image: registry.example.com/shop/checkout-api:2.14.0
      name: api
    nodeName: node-a
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T10:00:05Z"
      message: 'containers with unready status: [api]'
      reason: ContainersNotReady
      status: "False"
      type: Ready
    containerStatuses:
    - image: registry.example.com/shop/checkout-api:2.14.0
      lastState:
        terminated:
          exitCode: 1
          finishedAt: "2026-05-20T11:56:40Z"
          reason: Error
      name: api
      ready: false
      restartCount: 8
      state:
        waiting:
          message: back-off 5m0s restarting failed container=api pod=checkout-api-7d9f8b6c5-q4w5e_shop(1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5c)
          reason: CrashLoopBackOff
    phase: Running
    startTime: "2026-05-20T10:00:00Z"
"#;

#[test]
fn deployment_with_no_available_replica_is_critical() {
    let report = scan_yaml(CRASHING_ROLLOUT, "deployment");
    let f = finding(&report, "Unavailable");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Deployment", "shop", "checkout-api");
    assert_eq!(f.analyzer, "deployment");
    assert_eq!(f.summary, "0 of 3 replicas available");
    assert_field(f, "spec.replicas", "3");
    assert_field(f, "status.availableReplicas", "0");
    assert_field(f, "status.unavailableReplicas", "3");
    assert_condition(f, "Available", "False");
    assert_evidence(f, "MinimumReplicasUnavailable");
}

#[test]
fn stalled_rollout_reports_progress_deadline_exceeded() {
    let report = scan_yaml(CRASHING_ROLLOUT, "deployment");
    let f = finding(&report, "ProgressDeadlineExceeded");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Deployment", "shop", "checkout-api");
    assert_eq!(f.summary, "Rollout is stuck: ReplicaSet \"checkout-api-7d9f8b6c5\" has timed out progressing.");
    assert_condition(f, "Progressing", "False");
    assert_field(f, "status.updatedReplicas", "3");
    assert_step(f, "kubectl rollout undo -n shop deployment/checkout-api");
    assert_eq!(reasons(&report).len(), 2, "{}", describe(&report));
}

#[test]
fn crashing_pods_and_their_deployment_are_linked_both_ways() {
    let report = scan_many(CRASHING_ROLLOUT, &["pod", "deployment"]);
    let deploy = finding(&report, "Unavailable");
    let stuck = finding(&report, "ProgressDeadlineExceeded");
    let crashes = all_with(&report, "CrashLoopBackOff");
    assert_eq!(crashes.len(), 2, "{}", describe(&report));
    for pod in &crashes {
        assert_eq!(pod.object.kind, "Pod");
        assert_related(pod, deploy);
        assert_related(pod, stuck);
    }
    // The Deployment's findings sum up what their pods report.
    assert_evidence(deploy, "related: 2 Pod finding(s): CrashLoopBackOff (2)");
    // And a pod finding says which Deployment findings share its cause.
    assert_evidence(crashes[0], "related: 2 Deployment finding(s): ProgressDeadlineExceeded (1), Unavailable (1)");
    // Pods of the same Deployment are not related to each other directly.
    assert!(!crashes[0].related.contains(&crashes[1].id));
}

#[test]
fn without_the_replicaset_the_pods_cannot_be_traced_to_the_deployment() {
    // The pod's owner is the ReplicaSet; only the ReplicaSet names the Deployment. With the
    // ReplicaSet missing from the snapshot, no link is invented.
    let yaml = list_without(CRASHING_ROLLOUT, &["ReplicaSet"]);
    let report = scan_many(&yaml, &["pod", "deployment"]);
    let deploy = finding(&report, "Unavailable");
    assert!(deploy.related.is_empty(), "{:?}", deploy.related);
    for pod in all_with(&report, "CrashLoopBackOff") {
        assert!(pod.related.is_empty(), "{:?}", pod.related);
    }
}

const PARTIAL: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  creationTimestamp: "2026-04-02T08:00:00Z"
  generation: 12
  labels:
    app: search-api
  name: search-api
  namespace: search
  uid: 6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e
spec:
  paused: true
  progressDeadlineSeconds: 600
  replicas: 4
  selector:
    matchLabels:
      app: search-api
  template:
    metadata:
      labels:
        app: search-api
    spec:
      containers:
      - image: registry.example.com/search/api:6.2.0
        name: api
status:
  availableReplicas: 3
  conditions:
  - lastTransitionTime: "2026-05-20T11:20:00Z"
    lastUpdateTime: "2026-05-20T11:20:00Z"
    message: Deployment does not have minimum availability.
    reason: MinimumReplicasUnavailable
    status: "False"
    type: Available
  - lastTransitionTime: "2026-05-20T11:20:00Z"
    lastUpdateTime: "2026-05-20T11:20:00Z"
    message: Deployment is paused
    reason: DeploymentPaused
    status: Unknown
    type: Progressing
  observedGeneration: 12
  readyReplicas: 3
  replicas: 4
  unavailableReplicas: 1
  updatedReplicas: 4
"#;

#[test]
fn partially_available_deployment_is_a_warning_and_notes_it_is_paused() {
    let report = scan_yaml(PARTIAL, "deployment");
    let f = finding(&report, "ReplicasUnavailable");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "Deployment", "search", "search-api");
    assert_eq!(f.summary, "3 of 4 replicas available");
    assert_field(f, "status.readyReplicas", "3");
    assert_field(f, "status.unavailableReplicas", "1");
    assert_field(f, "spec.paused", "true");
    // A paused rollout is not a stalled one.
    assert_no(&report, "ProgressDeadlineExceeded");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn spec_the_controller_has_not_observed_is_reported() {
    let yaml = edit(
        PARTIAL,
        &[
            ("  paused: true\n", ""),
            ("  availableReplicas: 3\n", "  availableReplicas: 4\n"),
            ("  readyReplicas: 3\n", "  readyReplicas: 4\n"),
            ("  unavailableReplicas: 1\n", ""),
            ("  observedGeneration: 12\n", "  observedGeneration: 11\n"),
            (
                "    message: Deployment does not have minimum availability.\n    reason: MinimumReplicasUnavailable\n    status: \"False\"",
                "    message: Deployment has minimum availability.\n    reason: MinimumReplicasAvailable\n    status: \"True\"",
            ),
        ],
    );
    let report = scan_yaml(&yaml, "deployment");
    let f = finding(&report, "GenerationNotObserved");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "Deployment", "search", "search-api");
    assert_eq!(f.summary, "The deployment controller has not acted on the latest spec (generation 12, observed 11)");
    assert_field(f, "metadata.generation", "12");
    assert_field(f, "status.observedGeneration", "11");
    assert_no_evidence(f, "spec.paused");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn healthy_and_scaled_to_zero_deployments_have_no_findings() {
    let yaml = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    annotations:
      deployment.kubernetes.io/revision: "9"
    creationTimestamp: "2026-03-25T10:00:00Z"
    generation: 9
    labels:
      app: catalog
    name: catalog
    namespace: shop
    uid: 7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f
  spec:
    progressDeadlineSeconds: 600
    replicas: 3
    revisionHistoryLimit: 10
    selector:
      matchLabels:
        app: catalog
    strategy:
      rollingUpdate:
        maxSurge: 25%
        maxUnavailable: 25%
      type: RollingUpdate
    template:
      metadata:
        labels:
          app: catalog
      spec:
        containers:
        - image: registry.example.com/shop/catalog:3.9.2
          name: catalog
  status:
    availableReplicas: 3
    conditions:
    - lastTransitionTime: "2026-05-20T09:00:12Z"
      lastUpdateTime: "2026-05-20T09:00:12Z"
      message: Deployment has minimum availability.
      reason: MinimumReplicasAvailable
      status: "True"
      type: Available
    - lastTransitionTime: "2026-03-25T10:00:00Z"
      lastUpdateTime: "2026-05-20T09:00:12Z"
      message: ReplicaSet "catalog-69d8c7b5f4" has successfully progressed.
      reason: NewReplicaSetAvailable
      status: "True"
      type: Progressing
    observedGeneration: 9
    readyReplicas: 3
    replicas: 3
    updatedReplicas: 3
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    creationTimestamp: "2026-01-10T10:00:00Z"
    generation: 3
    labels:
      app: legacy-export
    name: legacy-export
    namespace: shop
    uid: 8d9e0f1a-2b3c-4d4e-9f5a-6b7c8d9e0f1a
  spec:
    replicas: 0
    selector:
      matchLabels:
        app: legacy-export
    template:
      metadata:
        labels:
          app: legacy-export
      spec:
        containers:
        - image: registry.example.com/shop/legacy-export:1.0.0
          name: export
  status:
    conditions:
    - lastTransitionTime: "2026-01-10T10:00:00Z"
      lastUpdateTime: "2026-01-10T10:00:00Z"
      message: Deployment has minimum availability.
      reason: MinimumReplicasAvailable
      status: "True"
      type: Available
    observedGeneration: 3
"#;
    assert_clean(&scan_yaml(yaml, "deployment"));
}
