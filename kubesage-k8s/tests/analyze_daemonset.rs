//! The daemonset analyzer: nodes without an available daemon pod, and daemon pods on nodes
//! they should not run on.

mod common;

use common::*;
use kubesage_core::Severity;

/// A log shipper on three nodes; node-c is down and its daemon pod is not ready.
const LOG_SHIPPER: &str = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: apps/v1
  kind: DaemonSet
  metadata:
    annotations:
      deprecated.daemonset.template.generation: "5"
    creationTimestamp: "2026-03-02T13:00:00Z"
    generation: 5
    labels:
      app.kubernetes.io/name: fluent-bit
    name: fluent-bit
    namespace: logging
    uid: 4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b
  spec:
    revisionHistoryLimit: 10
    selector:
      matchLabels:
        app.kubernetes.io/name: fluent-bit
    template:
      metadata:
        labels:
          app.kubernetes.io/name: fluent-bit
      spec:
        containers:
        - image: cr.fluentbit.io/fluent/fluent-bit:3.1.4
          name: fluent-bit
        tolerations:
        - operator: Exists
    updateStrategy:
      rollingUpdate:
        maxSurge: 0
        maxUnavailable: 1
      type: RollingUpdate
  status:
    currentNumberScheduled: 3
    desiredNumberScheduled: 3
    numberAvailable: 2
    numberMisscheduled: 0
    numberReady: 2
    numberUnavailable: 1
    observedGeneration: 5
    updatedNumberScheduled: 3
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-01T10:00:00Z"
    labels:
      app.kubernetes.io/name: fluent-bit
      controller-revision-hash: 6d4b9c8f7
      pod-template-generation: "5"
    name: fluent-bit-8xk2m
    namespace: logging
    ownerReferences:
    - apiVersion: apps/v1
      blockOwnerDeletion: true
      controller: true
      kind: DaemonSet
      name: fluent-bit
      uid: 4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b
    uid: 5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c
  spec:
    containers:
    - image: cr.fluentbit.io/fluent/fluent-bit:3.1.4
      name: fluent-bit
    nodeName: node-a
  status:
    conditions:
    - lastTransitionTime: "2026-05-01T10:00:10Z"
      status: "True"
      type: Ready
    phase: Running
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-01T10:00:00Z"
    labels:
      app.kubernetes.io/name: fluent-bit
      controller-revision-hash: 6d4b9c8f7
      pod-template-generation: "5"
    name: fluent-bit-p9q8r
    namespace: logging
    ownerReferences:
    - apiVersion: apps/v1
      blockOwnerDeletion: true
      controller: true
      kind: DaemonSet
      name: fluent-bit
      uid: 4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b
    uid: 6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d
  spec:
    containers:
    - image: cr.fluentbit.io/fluent/fluent-bit:3.1.4
      name: fluent-bit
    nodeName: node-b
  status:
    conditions:
    - lastTransitionTime: "2026-05-01T10:00:10Z"
      status: "True"
      type: Ready
    phase: Running
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-01T10:00:00Z"
    labels:
      app.kubernetes.io/name: fluent-bit
      controller-revision-hash: 6d4b9c8f7
      pod-template-generation: "5"
    name: fluent-bit-z7y6x
    namespace: logging
    ownerReferences:
    - apiVersion: apps/v1
      blockOwnerDeletion: true
      controller: true
      kind: DaemonSet
      name: fluent-bit
      uid: 4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b
    uid: 7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e
  spec:
    containers:
    - image: cr.fluentbit.io/fluent/fluent-bit:3.1.4
      name: fluent-bit
    nodeName: node-c
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T10:12:00Z"
      status: "False"
      type: Ready
    phase: Running
- apiVersion: v1
  kind: Node
  metadata:
    creationTimestamp: "2026-03-02T10:00:00Z"
    labels:
      kubernetes.io/hostname: node-c
    name: node-c
    uid: 8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e1f
  spec:
    taints:
    - effect: NoSchedule
      key: node.kubernetes.io/unreachable
      timeAdded: "2026-05-20T10:12:00Z"
    - effect: NoExecute
      key: node.kubernetes.io/unreachable
      timeAdded: "2026-05-20T10:12:05Z"
  status:
    conditions:
    - lastHeartbeatTime: "2026-05-20T10:11:00Z"
      lastTransitionTime: "2026-05-20T10:12:00Z"
      message: Kubelet stopped posting node status.
      reason: NodeStatusUnknown
      status: Unknown
      type: Ready
"#;

#[test]
fn a_node_without_an_available_daemon_pod_is_a_warning_naming_the_node() {
    let report = scan_yaml(LOG_SHIPPER, "daemonset");
    let f = finding(&report, "PodsUnavailable");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "DaemonSet", "logging", "fluent-bit");
    assert_eq!(f.analyzer, "daemonset");
    assert_eq!(f.summary, "1 of 3 nodes have no available daemon pod");
    assert_field(f, "status.desiredNumberScheduled", "3");
    assert_field(f, "status.numberAvailable", "2");
    assert_field(f, "status.numberUnavailable", "1");
    assert_evidence(f, "pods not ready on nodes: node-c");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn the_unavailable_daemon_pod_is_linked_to_its_down_node() {
    let report = scan_many(LOG_SHIPPER, &["daemonset", "node"]);
    let ds = finding(&report, "PodsUnavailable");
    let node = finding(&report, "NotReady");
    assert_object(node, "Node", "", "node-c");
    assert_related(ds, node);
}

#[test]
fn no_available_daemon_pod_anywhere_is_critical() {
    let yaml = edit(
        LOG_SHIPPER,
        &[
            ("    numberAvailable: 2\n", "    numberAvailable: 0\n"),
            ("    numberReady: 2\n", "    numberReady: 0\n"),
            ("    numberUnavailable: 1\n", "    numberUnavailable: 3\n"),
        ],
    );
    let report = scan_yaml(&yaml, "daemonset");
    let f = finding(&report, "PodsUnavailable");
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.summary, "3 of 3 nodes have no available daemon pod");
}

#[test]
fn unavailability_is_derived_when_number_unavailable_is_absent() {
    // Older status writers omit numberUnavailable; desired minus available still tells.
    let yaml = edit(LOG_SHIPPER, &[("    numberUnavailable: 1\n", "")]);
    let report = scan_yaml(&yaml, "daemonset");
    let f = finding(&report, "PodsUnavailable");
    assert_eq!(f.summary, "1 of 3 nodes have no available daemon pod");
}

#[test]
fn misscheduled_daemon_pods_are_reported() {
    let yaml = edit(
        LOG_SHIPPER,
        &[
            ("    numberAvailable: 2\n", "    numberAvailable: 3\n"),
            ("    numberReady: 2\n", "    numberReady: 3\n"),
            ("    numberUnavailable: 1\n", ""),
            ("    numberMisscheduled: 0\n", "    numberMisscheduled: 2\n"),
        ],
    );
    let report = scan_yaml(&yaml, "daemonset");
    let f = finding(&report, "Misscheduled");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "DaemonSet", "logging", "fluent-bit");
    assert_eq!(f.summary, "2 daemon pods run on nodes they should not");
    assert_field(f, "status.numberMisscheduled", "2");
    assert_no(&report, "PodsUnavailable");
}

#[test]
fn healthy_daemonsets_have_no_findings() {
    let yaml = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: apps/v1
  kind: DaemonSet
  metadata:
    creationTimestamp: "2026-03-02T10:00:00Z"
    generation: 2
    labels:
      k8s-app: kube-proxy
    name: kube-proxy
    namespace: kube-system
    uid: 9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a
  spec:
    selector:
      matchLabels:
        k8s-app: kube-proxy
    template:
      metadata:
        labels:
          k8s-app: kube-proxy
      spec:
        containers:
        - image: registry.k8s.io/kube-proxy:v1.30.2
          name: kube-proxy
        hostNetwork: true
  status:
    currentNumberScheduled: 3
    desiredNumberScheduled: 3
    numberAvailable: 3
    numberMisscheduled: 0
    numberReady: 3
    observedGeneration: 2
    updatedNumberScheduled: 3
- apiVersion: apps/v1
  kind: DaemonSet
  metadata:
    creationTimestamp: "2026-03-02T10:00:00Z"
    generation: 1
    name: gpu-device-plugin
    namespace: kube-system
    uid: 0e1f2a3b-4c5d-4e6f-9a7b-8c9d0e1f2a3b
  spec:
    selector:
      matchLabels:
        name: gpu-device-plugin
    template:
      metadata:
        labels:
          name: gpu-device-plugin
      spec:
        containers:
        - image: nvcr.io/nvidia/k8s-device-plugin:v0.15.0
          name: plugin
        nodeSelector:
          cloud.google.com/gke-accelerator: nvidia-l4
  status:
    currentNumberScheduled: 0
    desiredNumberScheduled: 0
    numberMisscheduled: 0
    numberReady: 0
    observedGeneration: 1
"#;
    assert_clean(&scan_yaml(yaml, "daemonset"));
}
