//! The pdb analyzer: budgets that allow no disruption even when every pod is healthy,
//! budgets blocked by unhealthy pods, and budgets that select nothing.

mod common;

use common::*;
use kubesage_core::{ResourceKind, Severity};

/// A budget over the three catalog pods (allows one eviction), and the pods.
const CATALOG: &str = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: policy/v1
  kind: PodDisruptionBudget
  metadata:
    creationTimestamp: "2026-03-25T10:00:00Z"
    generation: 1
    name: catalog
    namespace: shop
    uid: 2f3a4b5c-6d7e-4f8a-9b0c-1d2e3f4a5b6d
  spec:
    minAvailable: 2
    selector:
      matchLabels:
        app: catalog
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T09:00:12Z"
      message: ""
      observedGeneration: 1
      reason: SufficientPods
      status: "True"
      type: DisruptionAllowed
    currentHealthy: 3
    desiredHealthy: 2
    disruptionsAllowed: 1
    expectedPods: 3
    observedGeneration: 1
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-20T09:00:00Z"
    labels:
      app: catalog
      pod-template-hash: 69d8c7b5f4
    name: catalog-69d8c7b5f4-h2j3k
    namespace: shop
    ownerReferences:
    - apiVersion: apps/v1
      controller: true
      kind: ReplicaSet
      name: catalog-69d8c7b5f4
      uid: 2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b
    uid: 3f4a5b6c-7d8e-4f9a-8b0c-1d2e3f4a5b6c
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
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-20T09:00:00Z"
    labels:
      app: catalog
      pod-template-hash: 69d8c7b5f4
    name: catalog-69d8c7b5f4-n4m5b
    namespace: shop
    ownerReferences:
    - apiVersion: apps/v1
      controller: true
      kind: ReplicaSet
      name: catalog-69d8c7b5f4
      uid: 2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b
    uid: 4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7e
  spec:
    containers:
    - image: registry.example.com/shop/catalog:3.9.2
      name: catalog
    nodeName: node-b
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T09:00:12Z"
      status: "True"
      type: Ready
    phase: Running
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-20T09:00:00Z"
    labels:
      app: catalog
      pod-template-hash: 69d8c7b5f4
    name: catalog-69d8c7b5f4-v6c7x
    namespace: shop
    ownerReferences:
    - apiVersion: apps/v1
      controller: true
      kind: ReplicaSet
      name: catalog-69d8c7b5f4
      uid: 2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b
    uid: 5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8f
  spec:
    containers:
    - image: registry.example.com/shop/catalog:3.9.2
      name: catalog
    nodeName: node-c
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T09:00:12Z"
      status: "True"
      type: Ready
    phase: Running
"#;

#[test]
fn budget_that_allows_an_eviction_has_no_findings() {
    assert_clean(&scan_yaml(CATALOG, "pdb"));
    let percent = edit(CATALOG, &[("    minAvailable: 2\n", "    maxUnavailable: 34%\n")]);
    assert_clean(&scan_yaml(&percent, "pdb"));
}

#[test]
fn max_unavailable_zero_blocks_every_drain() {
    let yaml = edit(
        CATALOG,
        &[
            ("    minAvailable: 2\n", "    maxUnavailable: 0\n"),
            (
                "    desiredHealthy: 2\n    disruptionsAllowed: 1\n",
                "    desiredHealthy: 3\n    disruptionsAllowed: 0\n",
            ),
            (
                "      reason: SufficientPods\n      status: \"True\"\n",
                "      reason: InsufficientPods\n      status: \"False\"\n",
            ),
        ],
    );
    let report = scan_yaml(&yaml, "pdb");
    let f = finding(&report, "BlocksAllDisruption");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "PodDisruptionBudget", "shop", "catalog");
    assert_eq!(f.analyzer, "pdb");
    assert_eq!(
        f.summary,
        "Budget allows no disruption even when every pod is healthy (maxUnavailable: 0); node drains will hang"
    );
    assert_field(f, "spec.maxUnavailable", "maxUnavailable: 0");
    assert_field(f, "status.disruptionsAllowed", "0");
    assert_field(f, "status.expectedPods", "3");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn min_available_equal_to_the_replicas_blocks_every_drain() {
    for min in ["3", "100%", "\"100%\""] {
        let yaml = edit(
            CATALOG,
            &[
                ("    minAvailable: 2\n", &format!("    minAvailable: {min}\n")),
                (
                    "    desiredHealthy: 2\n    disruptionsAllowed: 1\n",
                    "    desiredHealthy: 3\n    disruptionsAllowed: 0\n",
                ),
            ],
        );
        let report = scan_yaml(&yaml, "pdb");
        let f = finding(&report, "BlocksAllDisruption");
        let shown = min.trim_matches('"');
        assert_eq!(
            f.summary,
            format!(
                "Budget allows no disruption even when every pod is healthy (minAvailable: {shown} of 3 pods); node drains will hang"
            )
        );
        assert_field(f, "spec.minAvailable", &format!("minAvailable: {shown} of 3 pods"));
    }
}

#[test]
fn budget_blocked_by_an_unhealthy_pod_is_reported_and_linked_to_it() {
    let yaml = edit(
        CATALOG,
        &[
            (
                "    currentHealthy: 3\n    desiredHealthy: 2\n    disruptionsAllowed: 1\n",
                "    currentHealthy: 1\n    desiredHealthy: 2\n    disruptionsAllowed: 0\n",
            ),
            (
                "      reason: SufficientPods\n      status: \"True\"\n",
                "      reason: InsufficientPods\n      status: \"False\"\n",
            ),
            (
                "    nodeName: node-b\n  status:\n    conditions:\n    - lastTransitionTime: \"2026-05-20T09:00:12Z\"\n      status: \"True\"\n",
                "    nodeName: node-b\n  status:\n    conditions:\n    - lastTransitionTime: \"2026-05-20T11:40:00Z\"\n      status: \"False\"\n",
            ),
            (
                "    nodeName: node-c\n  status:\n    conditions:\n    - lastTransitionTime: \"2026-05-20T09:00:12Z\"\n      status: \"True\"\n      type: Ready\n    phase: Running\n",
                "    nodeName: node-c\n  status:\n    conditions:\n    - lastTransitionTime: \"2026-05-20T11:40:00Z\"\n      status: \"False\"\n      type: Ready\n    containerStatuses:\n    - image: registry.example.com/shop/catalog:3.9.2\n      lastState:\n        terminated:\n          exitCode: 1\n          reason: Error\n      name: catalog\n      ready: false\n      restartCount: 5\n      state:\n        waiting:\n          reason: CrashLoopBackOff\n    phase: Running\n",
            ),
        ],
    );
    let report = scan_yaml(&yaml, "pdb");
    let f = finding(&report, "InsufficientHealthyPods");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "PodDisruptionBudget", "shop", "catalog");
    assert_eq!(f.summary, "Budget blocks disruption: 1 healthy pods, 2 required");
    assert_field(f, "status.currentHealthy", "1");
    assert_field(f, "status.desiredHealthy", "2");
    assert_field(f, "status.disruptionsAllowed", "0");

    let both = scan_many(&yaml, &["pdb", "pod"]);
    let pdb = finding(&both, "InsufficientHealthyPods");
    let pod = finding(&both, "CrashLoopBackOff");
    assert_object(pod, "Pod", "shop", "catalog-69d8c7b5f4-v6c7x");
    assert_related(pdb, pod);
}

#[test]
fn budget_selecting_no_pod_is_informational() {
    let yaml = edit(
        CATALOG,
        &[
            ("        app: catalog\n  status:", "        app: catalogue\n  status:"),
            ("    expectedPods: 3\n", "    expectedPods: 0\n"),
        ],
    );
    let report = scan_yaml(&yaml, "pdb");
    let f = finding(&report, "NoMatchingPods");
    assert_eq!(f.severity, Severity::Info);
    assert_object(f, "PodDisruptionBudget", "shop", "catalog");
    assert_eq!(f.summary, "Budget selects no pods; it protects nothing");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn pods_not_being_read_is_not_taken_for_a_budget_that_selects_nothing() {
    let yaml = edit(&list_without(CATALOG, &["Pod"]), &[("    expectedPods: 3\n", "    expectedPods: 0\n")]);
    assert!(!cluster(&yaml).is_loaded(ResourceKind::Pod));
    assert_clean(&scan_yaml(&yaml, "pdb"));
}

#[test]
fn expected_pods_come_from_the_selected_pods_when_status_has_none() {
    // A budget captured before the disruption controller filled its status: the three
    // selected pods are counted instead, and minAvailable 3 of 3 still blocks drains.
    let yaml = edit(
        CATALOG,
        &[
            ("    minAvailable: 2\n", "    minAvailable: 3\n"),
            ("    currentHealthy: 3\n    desiredHealthy: 2\n    disruptionsAllowed: 1\n    expectedPods: 3\n", ""),
        ],
    );
    let report = scan_yaml(&yaml, "pdb");
    let f = finding(&report, "BlocksAllDisruption");
    assert_field(f, "status.expectedPods", "3");
}
