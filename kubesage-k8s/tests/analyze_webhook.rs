//! The webhook analyzer: admission webhooks whose Service is missing or has no ready
//! endpoint, critical when they fail closed; webhooks with a live backend or an external URL
//! are left alone, and nothing is claimed when Services were not read.

mod common;

use common::*;
use kubesage_core::{ResourceKind, Severity};

/// A policy engine's validating webhook, its Service and its EndpointSlice (ready), plus a
/// mutating webhook served from an external URL.
const POLICY: &str = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: admissionregistration.k8s.io/v1
  kind: ValidatingWebhookConfiguration
  metadata:
    creationTimestamp: "2026-05-03T10:00:00Z"
    generation: 2
    labels:
      app.kubernetes.io/name: kyverno
    name: kyverno-resource-validating-webhook-cfg
    uid: 3a4b5c6d-7e8f-4a9b-8c0d-1e2f3a4b5c7f
  webhooks:
  - admissionReviewVersions:
    - v1
    clientConfig:
      caBundle: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
      service:
        name: kyverno-svc
        namespace: policy
        path: /validate/fail
        port: 443
    failurePolicy: Fail
    matchPolicy: Equivalent
    name: validate.kyverno.svc-fail
    namespaceSelector:
      matchExpressions:
      - key: kubernetes.io/metadata.name
        operator: NotIn
        values:
        - kube-system
    rules:
    - apiGroups:
      - apps
      apiVersions:
      - v1
      operations:
      - CREATE
      - UPDATE
      resources:
      - deployments
      scope: '*'
    sideEffects: NoneOnDryRun
    timeoutSeconds: 10
- apiVersion: admissionregistration.k8s.io/v1
  kind: MutatingWebhookConfiguration
  metadata:
    creationTimestamp: "2026-03-02T10:00:00Z"
    generation: 1
    name: cloud-pod-identity
    uid: 4b5c6d7e-8f9a-4b0c-9d1e-2f3a4b5c6d80
  webhooks:
  - admissionReviewVersions:
    - v1
    clientConfig:
      caBundle: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
      url: https://pod-identity.cloud-provider.example.com/mutate
    failurePolicy: Ignore
    name: pod-identity.cloud-provider.example.com
    reinvocationPolicy: Never
    rules:
    - apiGroups:
      - ""
      apiVersions:
      - v1
      operations:
      - CREATE
      resources:
      - pods
      scope: '*'
    sideEffects: None
    timeoutSeconds: 5
- apiVersion: v1
  kind: Service
  metadata:
    creationTimestamp: "2026-05-03T10:00:00Z"
    labels:
      app.kubernetes.io/name: kyverno
    name: kyverno-svc
    namespace: policy
    uid: 5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e91
  spec:
    clusterIP: 10.96.200.17
    ports:
    - name: https
      port: 443
      protocol: TCP
      targetPort: https
    selector:
      app.kubernetes.io/component: admission-controller
      app.kubernetes.io/name: kyverno
    type: ClusterIP
- addressType: IPv4
  apiVersion: discovery.k8s.io/v1
  endpoints:
  - addresses:
    - 10.244.2.30
    conditions:
      ready: true
      serving: true
      terminating: false
    targetRef:
      kind: Pod
      name: kyverno-admission-controller-5d8f7c6b9-r4t5y
      namespace: policy
  kind: EndpointSlice
  metadata:
    labels:
      endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io
      kubernetes.io/service-name: kyverno-svc
    name: kyverno-svc-9sdf2
    namespace: policy
  ports:
  - name: https
    port: 9443
    protocol: TCP
"#;

#[test]
fn webhooks_with_a_ready_backend_or_an_external_url_have_no_findings() {
    assert_clean(&scan_yaml(POLICY, "webhook"));
}

#[test]
fn fail_closed_webhook_whose_service_is_gone_is_critical() {
    let yaml = list_without(POLICY, &["kyverno-svc", "kyverno-svc-9sdf2"]);
    let yaml = docs(&[
        &yaml,
        r#"
apiVersion: v1
kind: Service
metadata:
  name: kubernetes
  namespace: default
spec:
  clusterIP: 10.96.0.1
  ports:
  - name: https
    port: 443
    protocol: TCP
    targetPort: 6443
  type: ClusterIP
"#,
    ]);
    let report = scan_yaml(&yaml, "webhook");
    let f = finding(&report, "ServiceNotFound");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "ValidatingWebhookConfiguration", "", "kyverno-resource-validating-webhook-cfg");
    assert_eq!(f.analyzer, "webhook");
    assert_eq!(
        f.summary,
        "Webhook validate.kyverno.svc-fail calls Service policy/kyverno-svc, which does not exist; matching API requests are rejected (failurePolicy Fail)"
    );
    assert_field(f, "webhooks[validate.kyverno.svc-fail].clientConfig.service", "policy/kyverno-svc:443");
    assert_field(f, "webhooks[validate.kyverno.svc-fail].failurePolicy", "Fail");
    assert_step(f, "delete the ValidatingWebhookConfiguration");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn fail_closed_webhook_without_ready_endpoints_is_critical_and_linked_to_its_service() {
    let yaml =
        edit(POLICY, &[("      ready: true\n      serving: true\n", "      ready: false\n      serving: false\n")]);
    let report = scan_yaml(&yaml, "webhook");
    let f = finding(&report, "NoReadyEndpoints");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "ValidatingWebhookConfiguration", "", "kyverno-resource-validating-webhook-cfg");
    assert_eq!(
        f.summary,
        "Webhook validate.kyverno.svc-fail calls Service policy/kyverno-svc, which has no ready endpoints; matching API requests are rejected (failurePolicy Fail)"
    );

    // The Service's own finding (its admission pod is not ready) shares the cause.
    let pod = r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-20T11:00:00Z"
  labels:
    app.kubernetes.io/component: admission-controller
    app.kubernetes.io/name: kyverno
  name: kyverno-admission-controller-5d8f7c6b9-r4t5y
  namespace: policy
spec:
  containers:
  - image: ghcr.io/kyverno/kyverno:v1.12.5
    name: kyverno
  nodeName: node-c
status:
  conditions:
  - lastTransitionTime: "2026-05-20T11:10:00Z"
    status: "False"
    type: Ready
  phase: Running
"#;
    let report = scan_many(&docs(&[&yaml, pod]), &["webhook", "service"]);
    let hook = finding_on(&report, "NoReadyEndpoints", "kyverno-resource-validating-webhook-cfg");
    let svc = finding_on(&report, "NoReadyEndpoints", "kyverno-svc");
    assert_object(svc, "Service", "policy", "kyverno-svc");
    assert_related(hook, svc);
}

#[test]
fn fail_open_webhook_with_a_missing_service_is_a_warning() {
    let yaml = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  creationTimestamp: "2026-04-01T10:00:00Z"
  name: istio-sidecar-injector
  uid: 6d7e8f9a-0b1c-4d2e-9f3a-4b5c6d7e8f92
webhooks:
- admissionReviewVersions:
  - v1
  clientConfig:
    caBundle: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
    service:
      name: istiod
      namespace: istio-system
      path: /inject
      port: 443
  failurePolicy: Ignore
  name: namespace.sidecar-injector.istio.io
  reinvocationPolicy: Never
  sideEffects: None
---
apiVersion: v1
kind: Service
metadata:
  name: istio-ingressgateway
  namespace: istio-system
spec:
  ports:
  - name: https
    port: 443
  selector:
    app: istio-ingressgateway
"#;
    let report = scan_yaml(yaml, "webhook");
    let f = finding(&report, "ServiceNotFound");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "MutatingWebhookConfiguration", "", "istio-sidecar-injector");
    assert!(
        f.summary.ends_with("the webhook is skipped (failurePolicy Ignore), so its policy is not enforced"),
        "{}",
        f.summary
    );
    assert_field(f, "webhooks[namespace.sidecar-injector.istio.io].failurePolicy", "Ignore");
}

#[test]
fn absent_failure_policy_means_fail() {
    let yaml = edit(&list_without(POLICY, &["kyverno-svc", "kyverno-svc-9sdf2"]), &[("    failurePolicy: Fail\n", "")]);
    let yaml = docs(&[
        &yaml,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: kubernetes\n  namespace: default\nspec:\n  type: ClusterIP\n",
    ]);
    let report = scan_yaml(&yaml, "webhook");
    let f = finding(&report, "ServiceNotFound");
    assert_eq!(f.severity, Severity::Critical);
    assert_field(f, "webhooks[validate.kyverno.svc-fail].failurePolicy", "Fail (default)");
}

#[test]
fn nothing_is_claimed_when_services_were_not_read() {
    let yaml = list_without(POLICY, &["Service", "EndpointSlice"]);
    let decoded = cluster(&yaml);
    assert!(!decoded.is_loaded(ResourceKind::Service));
    assert_eq!(decoded.validating_webhooks.len(), 1);
    assert_eq!(decoded.mutating_webhooks.len(), 1);
    assert_clean(&scan_yaml(&yaml, "webhook"));
}

#[test]
fn readiness_is_not_guessed_when_no_endpoint_kind_was_read() {
    // The Service exists but neither EndpointSlices nor Endpoints were captured.
    let yaml = list_without(POLICY, &["EndpointSlice"]);
    assert_clean(&scan_yaml(&yaml, "webhook"));
}

#[test]
fn several_webhooks_of_one_configuration_on_the_same_dead_service_make_one_finding() {
    // Kyverno registers a fail-closed and a fail-open webhook in one configuration, both
    // served by kyverno-svc. With the Service down that is one problem: one finding (ids
    // are unique in a report), as severe as the worst webhook, naming both, whichever
    // webhook is listed first.
    const FAIL_HOOK: &str = "  - admissionReviewVersions:\n    - v1\n    clientConfig:\n      service:\n        name: kyverno-svc\n        namespace: policy\n        path: /validate/fail\n        port: 443\n    failurePolicy: Fail\n    name: validate.kyverno.svc-fail\n    sideEffects: NoneOnDryRun\n    timeoutSeconds: 10\n";
    const IGNORE_HOOK: &str = "  - admissionReviewVersions:\n    - v1\n    clientConfig:\n      service:\n        name: kyverno-svc\n        namespace: policy\n        path: /validate/ignore\n        port: 443\n    failurePolicy: Ignore\n    name: validate.kyverno.svc-ignore\n    sideEffects: NoneOnDryRun\n    timeoutSeconds: 10\n";
    let config = |hooks: &str| {
        format!(
            "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: kyverno-resource-validating-webhook-cfg\nwebhooks:\n{hooks}"
        )
    };
    let rest = edit(
        &list_without(POLICY, &["ValidatingWebhookConfiguration"]),
        &[("      ready: true\n      serving: true\n", "      ready: false\n      serving: false\n")],
    );
    for hooks in [format!("{FAIL_HOOK}{IGNORE_HOOK}"), format!("{IGNORE_HOOK}{FAIL_HOOK}")] {
        let report = scan_yaml(&docs(&[&rest, &config(&hooks)]), "webhook");
        let f = finding(&report, "NoReadyEndpoints");
        assert_eq!(f.severity, Severity::Critical, "the fail-closed webhook decides");
        assert!(f.summary.starts_with("Webhook validate.kyverno.svc-fail calls"), "{}", f.summary);
        assert!(f.summary.ends_with("matching API requests are rejected (failurePolicy Fail)"), "{}", f.summary);
        assert_field(f, "webhooks[validate.kyverno.svc-fail].failurePolicy", "Fail");
        assert_field(f, "webhooks[validate.kyverno.svc-ignore].failurePolicy", "Ignore");
        assert_eq!(report.findings.len(), 1, "{}", describe(&report));
    }
}
