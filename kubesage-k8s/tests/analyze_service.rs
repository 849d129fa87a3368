//! The service analyzer: selectors that match no pods, Services with no ready endpoint
//! (from EndpointSlices, legacy Endpoints, or pod readiness), and named target ports no pod
//! declares.

mod common;

use common::*;
use kubesage_core::Severity;

/// The checkout Service, its two pods (not ready) and the EndpointSlice that says so.
const CHECKOUT: &str = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: v1
  kind: Service
  metadata:
    creationTimestamp: "2026-03-25T10:00:00Z"
    labels:
      app: checkout-api
    name: checkout-api
    namespace: shop
    uid: 3a4b5c6d-7e8f-4a9b-8c0d-1e2f3a4b5c6e
  spec:
    clusterIP: 10.96.14.201
    clusterIPs:
    - 10.96.14.201
    internalTrafficPolicy: Cluster
    ipFamilies:
    - IPv4
    ipFamilyPolicy: SingleStack
    ports:
    - name: http
      port: 80
      protocol: TCP
      targetPort: http
    selector:
      app: checkout-api
    sessionAffinity: None
    type: ClusterIP
  status:
    loadBalancer: {}
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-20T10:00:00Z"
    labels:
      app: checkout-api
      pod-template-hash: 7d9f8b6c5
    name: checkout-api-7d9f8b6c5-x2x9k
    namespace: shop
    uid: 8c1d6b2e-3f4a-4b5c-9d6e-7f8091a2b3c4
  spec:
    containers:
    - image: registry.example.com/shop/checkout-api:2.14.0
      name: api
      ports:
      - containerPort: 8080
        name: http
        protocol: TCP
    nodeName: node-b
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T10:00:05Z"
      message: 'containers with unready status: [api]'
      reason: ContainersNotReady
      status: "False"
      type: Ready
    phase: Running
    podIP: 10.244.1.17
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-20T10:00:00Z"
    labels:
      app: checkout-api
      pod-template-hash: 7d9f8b6c5
    name: checkout-api-7d9f8b6c5-q4w5e
    namespace: shop
    uid: 1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5c
  spec:
    containers:
    - image: registry.example.com/shop/checkout-api:2.14.0
      name: api
      ports:
      - containerPort: 8080
        name: http
        protocol: TCP
    nodeName: node-a
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T10:00:05Z"
      message: 'containers with unready status: [api]'
      reason: ContainersNotReady
      status: "False"
      type: Ready
    phase: Running
    podIP: 10.244.0.23
- addressType: IPv4
  apiVersion: discovery.k8s.io/v1
  endpoints:
  - addresses:
    - 10.244.1.17
    conditions:
      ready: false
      serving: false
      terminating: false
    nodeName: node-b
    targetRef:
      kind: Pod
      name: checkout-api-7d9f8b6c5-x2x9k
      namespace: shop
      uid: 8c1d6b2e-3f4a-4b5c-9d6e-7f8091a2b3c4
  - addresses:
    - 10.244.0.23
    conditions:
      ready: false
      serving: false
      terminating: false
    nodeName: node-a
    targetRef:
      kind: Pod
      name: checkout-api-7d9f8b6c5-q4w5e
      namespace: shop
      uid: 1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5c
  kind: EndpointSlice
  metadata:
    creationTimestamp: "2026-03-25T10:00:00Z"
    generateName: checkout-api-
    labels:
      endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io
      kubernetes.io/service-name: checkout-api
    name: checkout-api-8m2kq
    namespace: shop
    ownerReferences:
    - apiVersion: v1
      blockOwnerDeletion: true
      controller: true
      kind: Service
      name: checkout-api
      uid: 3a4b5c6d-7e8f-4a9b-8c0d-1e2f3a4b5c6e
    uid: 4b5c6d7e-8f9a-4b0c-9d1e-2f3a4b5c6d7f
  ports:
  - name: http
    port: 8080
    protocol: TCP
"#;

#[test]
fn no_ready_endpoint_is_critical_and_names_the_pods() {
    let report = scan_yaml(CHECKOUT, "service");
    let f = finding(&report, "NoReadyEndpoints");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Service", "shop", "checkout-api");
    assert_eq!(f.analyzer, "service");
    assert_eq!(f.summary, "No ready endpoints: 2 selected pod(s), none ready; requests to checkout-api fail");
    assert_field(f, "spec.selector", "app=checkout-api");
    assert_evidence(f, "0 ready and 2 not-ready endpoints");
    assert_evidence(f, "checkout-api-7d9f8b6c5-x2x9k");
    assert_evidence(f, "checkout-api-7d9f8b6c5-q4w5e");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn the_service_is_linked_to_the_findings_of_its_pods() {
    let pods_crashing = edit(
        CHECKOUT,
        &[(
            "    phase: Running\n    podIP: 10.244.1.17\n",
            "    containerStatuses:\n    - image: registry.example.com/shop/checkout-api:2.14.0\n      lastState:\n        terminated:\n          exitCode: 1\n          reason: Error\n      name: api\n      ready: false\n      restartCount: 7\n      state:\n        waiting:\n          reason: CrashLoopBackOff\n    phase: Running\n    podIP: 10.244.1.17\n",
        )],
    );
    let report = scan_many(&pods_crashing, &["service", "pod"]);
    let svc = finding(&report, "NoReadyEndpoints");
    let pod = finding(&report, "CrashLoopBackOff");
    assert_object(pod, "Pod", "shop", "checkout-api-7d9f8b6c5-x2x9k");
    assert_related(svc, pod);
}

#[test]
fn ready_endpoints_in_the_slice_mean_no_finding() {
    let yaml =
        edit(CHECKOUT, &[("      ready: false\n      serving: false\n", "      ready: true\n      serving: true\n")]);
    assert_clean(&scan_yaml(&yaml, "service"));
}

#[test]
fn legacy_endpoints_are_used_when_slices_were_not_read() {
    let base = list_without(CHECKOUT, &["EndpointSlice"]);
    let not_ready = r#"
apiVersion: v1
kind: Endpoints
metadata:
  creationTimestamp: "2026-03-25T10:00:00Z"
  labels:
    app: checkout-api
  name: checkout-api
  namespace: shop
  uid: 5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8a
subsets:
- notReadyAddresses:
  - ip: 10.244.1.17
    nodeName: node-b
    targetRef:
      kind: Pod
      name: checkout-api-7d9f8b6c5-x2x9k
      namespace: shop
  - ip: 10.244.0.23
    nodeName: node-a
    targetRef:
      kind: Pod
      name: checkout-api-7d9f8b6c5-q4w5e
      namespace: shop
  ports:
  - name: http
    port: 8080
    protocol: TCP
"#;
    let report = scan_yaml(&docs(&[&base, not_ready]), "service");
    let f = finding(&report, "NoReadyEndpoints");
    assert_evidence(f, "0 ready and 2 not-ready endpoints");

    // The same Endpoints with one ready address: traffic flows.
    let one_ready =
        edit(not_ready, &[("- notReadyAddresses:\n", "- addresses:\n  - ip: 10.244.0.99\n  notReadyAddresses:\n")]);
    assert_clean(&scan_yaml(&docs(&[&base, &one_ready]), "service"));
}

#[test]
fn pod_readiness_decides_when_no_endpoint_kind_was_read() {
    let base = list_without(CHECKOUT, &["EndpointSlice"]);
    let report = scan_yaml(&base, "service");
    let f = finding(&report, "NoReadyEndpoints");
    assert_evidence(f, "0 ready and 2 not-ready endpoints");

    let ready = edit(
        &base,
        &[(
            "      message: 'containers with unready status: [api]'\n      reason: ContainersNotReady\n      status: \"False\"\n",
            "      status: \"True\"\n",
        )],
    );
    assert_clean(&scan_yaml(&ready, "service"));
}

#[test]
fn selector_matching_no_pod_is_a_warning() {
    // The Deployment's pods were relabelled app=checkout; the Service still selects the old label.
    let yaml = edit(
        CHECKOUT,
        &[("      app: checkout-api\n      pod-template-hash", "      app: checkout\n      pod-template-hash")],
    );
    let report = scan_yaml(&yaml, "service");
    let f = finding(&report, "NoMatchingPods");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "Service", "shop", "checkout-api");
    assert_eq!(f.summary, "Selector app=checkout-api matches no pods; the Service routes nowhere");
    assert_field(f, "spec.selector", "app=checkout-api");
    assert_evidence(f, "no running pod in namespace shop has labels app=checkout-api");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn selector_matching_only_pods_in_another_namespace_or_finished_pods_matches_nothing() {
    let yaml = edit(
        CHECKOUT,
        &[
            (
                "    name: checkout-api-7d9f8b6c5-x2x9k\n    namespace: shop\n",
                "    name: checkout-api-7d9f8b6c5-x2x9k\n    namespace: shop-staging\n",
            ),
            ("    phase: Running\n    podIP: 10.244.0.23\n", "    phase: Succeeded\n    podIP: 10.244.0.23\n"),
        ],
    );
    let report = scan_yaml(&yaml, "service");
    finding(&report, "NoMatchingPods");
}

#[test]
fn pods_not_being_read_is_not_taken_for_no_matching_pods() {
    let yaml = list_without(CHECKOUT, &["Pod", "EndpointSlice"]);
    assert!(!cluster(&yaml).is_loaded(kubesage_core::ResourceKind::Pod));
    assert_clean(&scan_yaml(&yaml, "service"));
}

#[test]
fn named_target_port_that_no_pod_declares_is_critical() {
    let yaml = edit(
        CHECKOUT,
        &[
            ("      targetPort: http\n", "      targetPort: http-api\n"),
            ("      ready: false\n      serving: false\n", "      ready: true\n      serving: true\n"),
        ],
    );
    let report = scan_yaml(&yaml, "service");
    let f = finding(&report, "TargetPortNotFound");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Service", "shop", "checkout-api");
    assert_eq!(f.summary, "Port 80 targets container port \"http-api\", which no selected pod declares");
    assert_field(f, "spec.ports[80].targetPort", "http-api");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn healthy_external_name_and_selectorless_services_have_no_findings() {
    let yaml = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: v1
  kind: Service
  metadata:
    creationTimestamp: "2026-03-25T10:00:00Z"
    name: catalog
    namespace: shop
    uid: 6d7e8f9a-0b1c-4d2e-9f3a-4b5c6d7e8f9b
  spec:
    clusterIP: 10.96.80.12
    ports:
    - name: http
      port: 80
      protocol: TCP
      targetPort: http
    - name: metrics
      port: 9090
      protocol: TCP
      targetPort: 9090
    selector:
      app: catalog
    type: ClusterIP
- apiVersion: v1
  kind: Service
  metadata:
    creationTimestamp: "2026-03-25T10:00:00Z"
    name: payments-gateway
    namespace: shop
    uid: 7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0c
  spec:
    externalName: api.payments-provider.example.com
    sessionAffinity: None
    type: ExternalName
- apiVersion: v1
  kind: Service
  metadata:
    creationTimestamp: "2026-03-25T10:00:00Z"
    name: legacy-db
    namespace: shop
    uid: 8f9a0b1c-2d3e-4f4a-9b5c-6d7e8f9a0b1d
  spec:
    clusterIP: 10.96.33.7
    ports:
    - port: 5432
      protocol: TCP
      targetPort: 5432
    type: ClusterIP
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-20T09:00:00Z"
    labels:
      app: catalog
      pod-template-hash: 69d8c7b5f4
    name: catalog-69d8c7b5f4-h2j3k
    namespace: shop
    uid: 3f4a5b6c-7d8e-4f9a-8b0c-1d2e3f4a5b6c
  spec:
    containers:
    - image: registry.example.com/shop/catalog:3.9.2
      name: catalog
      ports:
      - containerPort: 8080
        name: http
        protocol: TCP
      - containerPort: 9090
        name: metrics
        protocol: TCP
    nodeName: node-a
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T09:00:12Z"
      status: "True"
      type: Ready
    phase: Running
- addressType: IPv4
  apiVersion: discovery.k8s.io/v1
  endpoints:
  - addresses:
    - 10.244.0.21
    conditions:
      ready: true
      serving: true
      terminating: false
    nodeName: node-a
    targetRef:
      kind: Pod
      name: catalog-69d8c7b5f4-h2j3k
      namespace: shop
  kind: EndpointSlice
  metadata:
    labels:
      endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io
      kubernetes.io/service-name: catalog
    name: catalog-x7d2k
    namespace: shop
  ports:
  - name: http
    port: 8080
    protocol: TCP
- addressType: IPv4
  apiVersion: discovery.k8s.io/v1
  endpoints:
  - addresses:
    - 10.10.0.5
    conditions:
      ready: true
  kind: EndpointSlice
  metadata:
    labels:
      endpointslice.kubernetes.io/managed-by: staff
      kubernetes.io/service-name: legacy-db
    name: legacy-db-1
    namespace: shop
  ports:
  - port: 5432
    protocol: TCP
"#;
    assert_clean(&scan_yaml(yaml, "service"));
}
