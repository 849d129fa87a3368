//! The node analyzer: nodes not ready (kubelet silent or runtime down), under memory, disk
//! or PID pressure, without network, or cordoned; healthy nodes are left alone.

mod common;

use common::*;
use kubesage_core::Severity;

/// A healthy node as `kubectl get node -o yaml` prints it (conditions in kubelet order).
const NODE_A: &str = r#"
apiVersion: v1
kind: Node
metadata:
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    volumes.kubernetes.io/controller-managed-attach-detach: "true"
  creationTimestamp: "2026-03-02T10:00:00Z"
  labels:
    beta.kubernetes.io/arch: amd64
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: node-a
    kubernetes.io/os: linux
    node.kubernetes.io/instance-type: e2-standard-4
    topology.kubernetes.io/zone: europe-west1-b
  name: node-a
  resourceVersion: "48214410"
  uid: 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e7a
spec:
  podCIDR: 10.244.0.0/24
  podCIDRs:
  - 10.244.0.0/24
  providerID: gce://shop-prod/europe-west1-b/node-a
status:
  addresses:
  - address: 10.0.1.11
    type: InternalIP
  - address: node-a
    type: Hostname
  allocatable:
    cpu: 3920m
    ephemeral-storage: "47093746742"
    memory: 13292456Ki
    pods: "110"
  capacity:
    cpu: "4"
    ephemeral-storage: 98831908Ki
    memory: 16393640Ki
    pods: "110"
  conditions:
  - lastHeartbeatTime: "2026-03-02T10:01:00Z"
    lastTransitionTime: "2026-03-02T10:01:00Z"
    message: NodeController create implicit route
    reason: RouteCreated
    status: "False"
    type: NetworkUnavailable
  - lastHeartbeatTime: "2026-05-20T11:58:00Z"
    lastTransitionTime: "2026-03-02T10:00:00Z"
    message: kubelet has sufficient memory available
    reason: KubeletHasSufficientMemory
    status: "False"
    type: MemoryPressure
  - lastHeartbeatTime: "2026-05-20T11:58:00Z"
    lastTransitionTime: "2026-03-02T10:00:00Z"
    message: kubelet has no disk pressure
    reason: KubeletHasNoDiskPressure
    status: "False"
    type: DiskPressure
  - lastHeartbeatTime: "2026-05-20T11:58:00Z"
    lastTransitionTime: "2026-03-02T10:00:00Z"
    message: kubelet has sufficient PID available
    reason: KubeletHasSufficientPID
    status: "False"
    type: PIDPressure
  - lastHeartbeatTime: "2026-05-20T11:58:00Z"
    lastTransitionTime: "2026-03-02T10:00:30Z"
    message: kubelet is posting ready status
    reason: KubeletReady
    status: "True"
    type: Ready
  nodeInfo:
    architecture: amd64
    containerRuntimeVersion: containerd://1.7.15
    kernelVersion: 6.1.85+
    kubeProxyVersion: v1.30.2
    kubeletVersion: v1.30.2
    operatingSystem: linux
    osImage: Container-Optimized OS from Google
"#;

/// node-c: the kubelet stopped reporting two hours before the snapshot, the node
/// controller tainted it, and two pods are still assigned to it.
const NODE_C_DOWN: &str = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: v1
  kind: Node
  metadata:
    creationTimestamp: "2026-03-02T10:00:00Z"
    labels:
      kubernetes.io/hostname: node-c
    name: node-c
    uid: 5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8c9
  spec:
    taints:
    - effect: NoSchedule
      key: node.kubernetes.io/unreachable
      timeAdded: "2026-05-20T10:00:00Z"
    - effect: NoExecute
      key: node.kubernetes.io/unreachable
      timeAdded: "2026-05-20T10:00:05Z"
  status:
    conditions:
    - lastHeartbeatTime: "2026-05-20T09:59:00Z"
      lastTransitionTime: "2026-05-20T10:00:00Z"
      message: Kubelet stopped posting node status.
      reason: NodeStatusUnknown
      status: Unknown
      type: MemoryPressure
    - lastHeartbeatTime: "2026-05-20T09:59:00Z"
      lastTransitionTime: "2026-05-20T10:00:00Z"
      message: Kubelet stopped posting node status.
      reason: NodeStatusUnknown
      status: Unknown
      type: DiskPressure
    - lastHeartbeatTime: "2026-05-20T09:59:00Z"
      lastTransitionTime: "2026-05-20T10:00:00Z"
      message: Kubelet stopped posting node status.
      reason: NodeStatusUnknown
      status: Unknown
      type: Ready
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-19T08:00:00Z"
    name: orders-6f7a8b9c0-k1l2m
    namespace: shop
    uid: 6f7a8b9c-0d1e-4f2a-b3c4-d5e6f7a8b9d0
  spec:
    containers:
    - image: registry.example.com/shop/orders:5.1.0
      name: orders
    nodeName: node-c
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T10:00:40Z"
      status: "False"
      type: Ready
    phase: Running
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-19T08:00:00Z"
    name: fluent-bit-z7y6x
    namespace: logging
    uid: 7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e
  spec:
    containers:
    - image: cr.fluentbit.io/fluent/fluent-bit:3.1.4
      name: fluent-bit
    nodeName: node-c
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T10:00:40Z"
      status: "False"
      type: Ready
    phase: Running
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-19T02:00:00Z"
    name: nightly-report-29122080-abcde
    namespace: reports
    uid: 8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e1f
  spec:
    containers:
    - image: registry.example.com/reports/nightly:1.2.0
      name: report
    nodeName: node-c
  status:
    phase: Succeeded
"#;

#[test]
fn healthy_nodes_have_no_findings() {
    let node_b = edit(NODE_A, &[("  name: node-a\n", "  name: node-b\n")]);
    assert_clean(&scan_yaml(&docs(&[NODE_A, &node_b]), "node"));
}

#[test]
fn node_whose_kubelet_stopped_reporting_is_critical_with_age_taints_and_pods() {
    let report = scan_at(NODE_C_DOWN, "node", "2026-05-20T12:00:00Z");
    let f = finding(&report, "NotReady");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Node", "", "node-c");
    assert_eq!(f.analyzer, "node");
    assert_eq!(f.summary, "Node is not ready for 2h: Kubelet stopped posting node status.");
    assert_condition(f, "Ready", "Unknown");
    assert_evidence(f, "2 pod(s) are assigned to this node");
    assert_field(f, "spec.taints[]", "node.kubernetes.io/unreachable:NoExecute");
    assert_field(f, "spec.taints[]", "node.kubernetes.io/unreachable:NoSchedule");
    assert_step(f, "The kubelet stopped reporting");
    // Pressure conditions that are Unknown because the kubelet is silent are not pressure.
    assert_no(&report, "MemoryPressure");
    assert_no(&report, "DiskPressure");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn the_down_node_is_linked_to_the_findings_of_its_pods() {
    let yaml = edit(
        NODE_C_DOWN,
        &[(
            "    phase: Running\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    creationTimestamp: \"2026-05-19T08:00:00Z\"\n    name: fluent-bit-z7y6x",
            "    containerStatuses:\n    - image: registry.example.com/shop/orders:5.1.0\n      lastState: {}\n      name: orders\n      ready: false\n      restartCount: 0\n      state:\n        waiting:\n          message: 'failed to reserve container name: name is reserved'\n          reason: CreateContainerError\n    phase: Running\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    creationTimestamp: \"2026-05-19T08:00:00Z\"\n    name: fluent-bit-z7y6x",
        )],
    );
    let report = scan_many(&yaml, &["node", "pod"]);
    let node = finding(&report, "NotReady");
    let pod = finding(&report, "ContainerCannotRun");
    assert_object(pod, "Pod", "shop", "orders-6f7a8b9c0-k1l2m");
    assert!(node.related.contains(&pod.id), "the node finding names the pod finding");
    assert_evidence(node, "related: 1 Pod finding(s): ContainerCannotRun (1)");
}

#[test]
fn node_with_a_broken_runtime_is_not_ready_with_the_kubelet_message() {
    let yaml = edit(
        NODE_A,
        &[(
            "    message: kubelet is posting ready status\n    reason: KubeletReady\n    status: \"True\"\n",
            "    message: 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized'\n    reason: KubeletNotReady\n    status: \"False\"\n",
        )],
    );
    let report = scan_yaml(&yaml, "node");
    let f = finding(&report, "NotReady");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Node", "", "node-a");
    assert!(f.summary.contains("cni plugin not initialized"), "{}", f.summary);
    assert_step(f, "kubectl describe node node-a");
}

#[test]
fn memory_disk_and_pid_pressure_are_warnings() {
    for (condition, reason, message) in [
        ("MemoryPressure", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
        ("DiskPressure", "KubeletHasDiskPressure", "kubelet has disk pressure"),
        ("PIDPressure", "KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
    ] {
        let healthy_block = match condition {
            "MemoryPressure" => {
                "    message: kubelet has sufficient memory available\n    reason: KubeletHasSufficientMemory\n    status: \"False\"\n"
            }
            "DiskPressure" => {
                "    message: kubelet has no disk pressure\n    reason: KubeletHasNoDiskPressure\n    status: \"False\"\n"
            }
            _ => {
                "    message: kubelet has sufficient PID available\n    reason: KubeletHasSufficientPID\n    status: \"False\"\n"
            }
        };
        let pressured = format!("    message: {message}\n    reason: {reason}\n    status: \"True\"\n");
        let yaml = edit(NODE_A, &[(healthy_block, &pressured)]);
        let report = scan_yaml(&yaml, "node");
        let f = finding(&report, condition);
        assert_eq!(f.severity, Severity::Warning, "{condition}");
        assert_object(f, "Node", "", "node-a");
        assert_eq!(f.summary, format!("Node reports {condition}: {message}"));
        assert_condition(f, condition, "True");
        assert_eq!(report.findings.len(), 1, "{}", describe(&report));
    }
}

#[test]
fn network_unavailable_is_critical() {
    let yaml = edit(
        NODE_A,
        &[(
            "    message: NodeController create implicit route\n    reason: RouteCreated\n    status: \"False\"\n",
            "    message: Calico is shutting down on this node\n    reason: CalicoIsDown\n    status: \"True\"\n",
        )],
    );
    let report = scan_yaml(&yaml, "node");
    let f = finding(&report, "NetworkUnavailable");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Node", "", "node-a");
    assert_eq!(f.summary, "Node reports NetworkUnavailable: Calico is shutting down on this node");
}

#[test]
fn cordoned_node_is_informational_and_counts_running_pods() {
    let node = edit(
        NODE_A,
        &[(
            "spec:\n  podCIDR",
            "spec:\n  taints:\n  - effect: NoSchedule\n    key: node.kubernetes.io/unschedulable\n    timeAdded: \"2026-05-20T11:00:00Z\"\n  unschedulable: true\n  podCIDR",
        )],
    );
    let pod = r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-20T09:00:00Z"
  name: catalog-69d8c7b5f4-h2j3k
  namespace: shop
spec:
  containers:
  - image: registry.example.com/shop/catalog:3.9.2
    name: catalog
  nodeName: node-a
status:
  conditions:
  - lastTransitionTime: "2026-05-20T09:00:12Z"
    status: "True"
    type: Ready
  phase: Running
"#;
    let report = scan_yaml(&docs(&[&node, pod]), "node");
    let f = finding(&report, "Cordoned");
    assert_eq!(f.severity, Severity::Info);
    assert_object(f, "Node", "", "node-a");
    assert_eq!(f.summary, "Node is cordoned: no new pods are scheduled on it (1 still running)");
    assert_field(f, "spec.unschedulable", "true");
    assert_step(f, "kubectl uncordon node-a");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}
