//! The hpa analyzer: scale targets that do not exist, autoscalers that cannot scale or
//! cannot compute replicas (with the containers missing requests), and autoscalers pinned at
//! their maximum; healthy ones, including one running exactly at its maximum, are left alone.

mod common;

use common::*;
use kubesage_core::{ResourceKind, Severity};

/// An autoscaler over the checkout Deployment, working normally, and its target.
const CHECKOUT_HPA: &str = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: autoscaling/v2
  kind: HorizontalPodAutoscaler
  metadata:
    creationTimestamp: "2026-03-25T10:00:00Z"
    name: checkout-api
    namespace: shop
    uid: 0d1e2f3a-4b5c-4d6e-9f7a-8b9c0d1e2f3a
  spec:
    maxReplicas: 10
    metrics:
    - resource:
        name: cpu
        target:
          averageUtilization: 70
          type: Utilization
      type: Resource
    minReplicas: 3
    scaleTargetRef:
      apiVersion: apps/v1
      kind: Deployment
      name: checkout-api
  status:
    conditions:
    - lastTransitionTime: "2026-03-25T10:01:00Z"
      message: recommended size matches current size
      reason: ReadyForNewScale
      status: "True"
      type: AbleToScale
    - lastTransitionTime: "2026-03-25T10:01:00Z"
      message: the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)
      reason: ValidMetricFound
      status: "True"
      type: ScalingActive
    - lastTransitionTime: "2026-05-20T09:00:00Z"
      message: the desired count is within the acceptable range
      reason: DesiredWithinRange
      status: "False"
      type: ScalingLimited
    currentMetrics:
    - resource:
        current:
          averageUtilization: 64
          averageValue: 160m
        name: cpu
      type: Resource
    currentReplicas: 4
    desiredReplicas: 4
    lastScaleTime: "2026-05-20T09:00:00Z"
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    creationTimestamp: "2026-03-25T10:00:00Z"
    generation: 6
    name: checkout-api
    namespace: shop
    uid: 5a1f0c3e-2b4d-4e6f-8a9b-0c1d2e3f4a5b
  spec:
    replicas: 4
    selector:
      matchLabels:
        app: checkout-api
    template:
      metadata:
        labels:
          app: checkout-api
      spec:
        containers:
        - image: registry.example.com/shop/checkout-api:2.14.0
          name: api
          resources:
            requests:
              cpu: 250m
              memory: 256Mi
        - image: docker.io/envoyproxy/envoy:v1.30.2
          name: envoy
          resources:
            requests:
              cpu: 100m
              memory: 64Mi
  status:
    availableReplicas: 4
    observedGeneration: 6
    readyReplicas: 4
    replicas: 4
    updatedReplicas: 4
"#;

#[test]
fn healthy_autoscaler_has_no_findings() {
    assert_clean(&scan_yaml(CHECKOUT_HPA, "hpa"));
}

#[test]
fn autoscaler_exactly_at_its_maximum_that_wants_no_more_is_not_reported() {
    // Running at maxReplicas because the recommendation is exactly 10: the controller says
    // the desired count is within range, so nothing is being held back.
    let yaml = edit(
        CHECKOUT_HPA,
        &[("    currentReplicas: 4\n    desiredReplicas: 4\n", "    currentReplicas: 10\n    desiredReplicas: 10\n")],
    );
    assert_clean(&scan_yaml(&yaml, "hpa"));
}

#[test]
fn autoscaler_held_at_its_maximum_is_a_warning() {
    let yaml = edit(
        CHECKOUT_HPA,
        &[
            ("    currentReplicas: 4\n    desiredReplicas: 4\n", "    currentReplicas: 10\n    desiredReplicas: 10\n"),
            (
                "      message: the desired count is within the acceptable range\n      reason: DesiredWithinRange\n      status: \"False\"\n",
                "      message: the desired replica count is more than the maximum replica count\n      reason: TooManyReplicas\n      status: \"True\"\n",
            ),
        ],
    );
    let report = scan_yaml(&yaml, "hpa");
    let f = finding(&report, "AtMaxReplicas");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "HorizontalPodAutoscaler", "shop", "checkout-api");
    assert_eq!(f.analyzer, "hpa");
    assert_eq!(f.summary, "Autoscaler is pinned at its maximum of 10 replicas and wants more");
    assert_field(f, "spec.maxReplicas", "10");
    assert_field(f, "status.currentReplicas", "10");
    assert_condition(f, "ScalingLimited", "True");
    assert_evidence(f, "TooManyReplicas");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn autoscaler_at_maximum_without_conditions_falls_back_to_desired_replicas() {
    // autoscaling/v1 output carries no conditions; desired at the maximum is all there is.
    let yaml = r#"
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  creationTimestamp: "2026-03-25T10:00:00Z"
  name: search-api
  namespace: search
  uid: 1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b
spec:
  maxReplicas: 6
  minReplicas: 2
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: search-api
  targetCPUUtilizationPercentage: 60
status:
  currentCPUUtilizationPercentage: 97
  currentReplicas: 6
  desiredReplicas: 6
"#;
    let report = scan_yaml(yaml, "hpa");
    let f = finding(&report, "AtMaxReplicas");
    assert_object(f, "HorizontalPodAutoscaler", "search", "search-api");
    assert_field(f, "status.desiredReplicas", "6");
}

#[test]
fn scale_target_that_does_not_exist_is_critical() {
    let yaml = edit(
        CHECKOUT_HPA,
        &[
            ("      kind: Deployment\n      name: checkout-api\n", "      kind: Deployment\n      name: checkout\n"),
            (
                "      message: recommended size matches current size\n      reason: ReadyForNewScale\n      status: \"True\"\n",
                "      message: 'the HPA controller was unable to get the target''s current scale: deployments/scale.apps \"checkout\" not found'\n      reason: FailedGetScale\n      status: \"False\"\n",
            ),
        ],
    );
    let report = scan_yaml(&yaml, "hpa");
    let f = finding(&report, "TargetNotFound");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "HorizontalPodAutoscaler", "shop", "checkout-api");
    assert_eq!(f.summary, "Scale target Deployment checkout does not exist");
    assert_field(f, "spec.scaleTargetRef", "Deployment/checkout");
    assert_condition(f, "AbleToScale", "False");
    assert_evidence(f, "deployments/scale.apps \"checkout\" not found");
    // The missing target explains the rest; it is the only finding.
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn target_is_not_claimed_missing_when_its_kind_was_not_read() {
    let yaml = edit(
        &list_without(CHECKOUT_HPA, &["Deployment"]),
        &[("      kind: Deployment\n      name: checkout-api\n", "      kind: Deployment\n      name: checkout\n")],
    );
    assert!(!cluster(&yaml).is_loaded(ResourceKind::Deployment));
    assert_clean(&scan_yaml(&yaml, "hpa"));

    // Nor for kinds the analyzer does not read at all (an Argo Rollout).
    let rollout = edit(
        CHECKOUT_HPA,
        &[(
            "      apiVersion: apps/v1\n      kind: Deployment\n",
            "      apiVersion: argoproj.io/v1alpha1\n      kind: Rollout\n",
        )],
    );
    assert_clean(&scan_yaml(&rollout, "hpa"));
}

#[test]
fn autoscaler_that_cannot_scale_is_critical() {
    let yaml = edit(
        CHECKOUT_HPA,
        &[(
            "      message: recommended size matches current size\n      reason: ReadyForNewScale\n      status: \"True\"\n",
            "      message: 'the HPA controller was unable to update the target scale: deployments.apps \"checkout-api\" is forbidden: User \"system:serviceaccount:kube-system:horizontal-pod-autoscaler\" cannot update resource \"deployments/scale\"'\n      reason: FailedUpdateScale\n      status: \"False\"\n",
        )],
    );
    let report = scan_yaml(&yaml, "hpa");
    let f = finding(&report, "CannotScale");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "HorizontalPodAutoscaler", "shop", "checkout-api");
    assert!(
        f.summary.starts_with(
            "Autoscaler cannot scale its target: the HPA controller was unable to update the target scale"
        ),
        "{}",
        f.summary
    );
    assert_condition(f, "AbleToScale", "False");
}

#[test]
fn metrics_that_cannot_be_computed_name_the_container_without_a_request() {
    let yaml = edit(
        CHECKOUT_HPA,
        &[
            (
                "      message: the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)\n      reason: ValidMetricFound\n      status: \"True\"\n",
                "      message: 'the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container envoy of Pod checkout-api-7d9f8b6c5-x2x9k'\n      reason: FailedGetResourceMetric\n      status: \"False\"\n",
            ),
            (
                "          resources:\n            requests:\n              cpu: 100m\n              memory: 64Mi\n",
                "          resources:\n            requests:\n              memory: 64Mi\n",
            ),
        ],
    );
    let report = scan_yaml(&yaml, "hpa");
    let f = finding(&report, "ScalingInactive");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "HorizontalPodAutoscaler", "shop", "checkout-api");
    assert_eq!(f.summary, "Autoscaler cannot compute replicas: FailedGetResourceMetric");
    assert_condition(f, "ScalingActive", "False");
    assert_evidence(
        f,
        "container envoy of Deployment checkout-api has no cpu request, so cpu utilization cannot be computed",
    );
    assert_no_evidence(f, "container api of");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn findings_are_linked_to_the_scale_target() {
    let yaml = edit(
        CHECKOUT_HPA,
        &[
            ("    currentReplicas: 4\n    desiredReplicas: 4\n", "    currentReplicas: 10\n    desiredReplicas: 10\n"),
            (
                "      message: the desired count is within the acceptable range\n      reason: DesiredWithinRange\n      status: \"False\"\n",
                "      message: the desired replica count is more than the maximum replica count\n      reason: TooManyReplicas\n      status: \"True\"\n",
            ),
            ("    availableReplicas: 4\n", "    availableReplicas: 7\n"),
            ("    replicas: 4\n    selector", "    replicas: 10\n    selector"),
        ],
    );
    let report = scan_many(&yaml, &["hpa", "deployment"]);
    let hpa = finding(&report, "AtMaxReplicas");
    let deploy = finding(&report, "ReplicasUnavailable");
    assert_related(hpa, deploy);
}

#[test]
fn autoscaling_disabled_by_scaling_the_target_to_zero_is_not_reported() {
    let yaml = edit(
        CHECKOUT_HPA,
        &[
            (
                "      message: the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)\n      reason: ValidMetricFound\n      status: \"True\"\n",
                "      message: scaling is disabled since the replica count of the target is zero\n      reason: ScalingDisabled\n      status: \"False\"\n",
            ),
            ("    currentReplicas: 4\n    desiredReplicas: 4\n", "    currentReplicas: 0\n    desiredReplicas: 0\n"),
        ],
    );
    assert_clean(&scan_yaml(&yaml, "hpa"));
}
