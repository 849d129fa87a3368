//! The ingress analyzer: unknown or missing classes, backend Services or ports that do not
//! exist, TLS Secrets that are missing or hold no certificate, and backends with nothing
//! ready behind them; and none of it claimed for kinds the snapshot did not read.

mod common;

use common::*;
use kubesage_core::{ResourceKind, Severity};

/// A working storefront Ingress with everything it references.
const STOREFRONT: &str = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: networking.k8s.io/v1
  kind: Ingress
  metadata:
    annotations:
      cert-manager.io/cluster-issuer: letsencrypt-prod
      nginx.ingress.kubernetes.io/proxy-body-size: 8m
    creationTimestamp: "2026-03-25T12:00:00Z"
    generation: 3
    name: storefront
    namespace: shop
    uid: 9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d
  spec:
    ingressClassName: nginx
    rules:
    - host: shop.example.com
      http:
        paths:
        - backend:
            service:
              name: storefront
              port:
                number: 80
          path: /
          pathType: Prefix
        - backend:
            service:
              name: checkout-api
              port:
                name: http
          path: /api/checkout
          pathType: Prefix
    tls:
    - hosts:
      - shop.example.com
      secretName: shop-example-com-tls
  status:
    loadBalancer:
      ingress:
      - ip: 203.0.113.10
- apiVersion: networking.k8s.io/v1
  kind: IngressClass
  metadata:
    annotations:
      ingressclass.kubernetes.io/is-default-class: "true"
    creationTimestamp: "2026-03-02T12:00:00Z"
    labels:
      app.kubernetes.io/name: ingress-nginx
    name: nginx
    uid: 0b1c2d3e-4f5a-4b6c-9d7e-8f9a0b1c2d3e
  spec:
    controller: k8s.io/ingress-nginx
- apiVersion: v1
  kind: Service
  metadata:
    creationTimestamp: "2026-03-25T10:00:00Z"
    name: storefront
    namespace: shop
    uid: 1c2d3e4f-5a6b-4c7d-8e8f-9a0b1c2d3e4f
  spec:
    clusterIP: 10.96.20.15
    ports:
    - name: http
      port: 80
      protocol: TCP
      targetPort: 8080
    selector:
      app: storefront
    type: ClusterIP
- apiVersion: v1
  kind: Service
  metadata:
    creationTimestamp: "2026-03-25T10:00:00Z"
    name: checkout-api
    namespace: shop
    uid: 3a4b5c6d-7e8f-4a9b-8c0d-1e2f3a4b5c6e
  spec:
    clusterIP: 10.96.14.201
    ports:
    - name: http
      port: 80
      protocol: TCP
      targetPort: http
    selector:
      app: checkout-api
    type: ClusterIP
- apiVersion: v1
  data:
    tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
    tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t
  kind: Secret
  metadata:
    annotations:
      cert-manager.io/certificate-name: shop-example-com
    creationTimestamp: "2026-03-25T12:01:00Z"
    name: shop-example-com-tls
    namespace: shop
    uid: 2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a
  type: kubernetes.io/tls
- addressType: IPv4
  apiVersion: discovery.k8s.io/v1
  endpoints:
  - addresses:
    - 10.244.0.40
    conditions:
      ready: true
      serving: true
      terminating: false
    targetRef:
      kind: Pod
      name: storefront-6d7e8f9a0-k9l8m
      namespace: shop
  kind: EndpointSlice
  metadata:
    labels:
      kubernetes.io/service-name: storefront
    name: storefront-2hd7x
    namespace: shop
  ports:
  - name: http
    port: 8080
    protocol: TCP
- addressType: IPv4
  apiVersion: discovery.k8s.io/v1
  endpoints:
  - addresses:
    - 10.244.1.17
    conditions:
      ready: true
      serving: true
      terminating: false
    targetRef:
      kind: Pod
      name: checkout-api-7d9f8b6c5-x2x9k
      namespace: shop
  kind: EndpointSlice
  metadata:
    labels:
      kubernetes.io/service-name: checkout-api
    name: checkout-api-8m2kq
    namespace: shop
  ports:
  - name: http
    port: 8080
    protocol: TCP
"#;

#[test]
fn healthy_ingress_with_class_backends_tls_and_endpoints_has_no_findings() {
    assert_clean(&scan_yaml(STOREFRONT, "ingress"));
}

#[test]
fn unknown_ingress_class_is_critical_and_lists_the_known_ones() {
    let yaml = edit(STOREFRONT, &[("    ingressClassName: nginx\n", "    ingressClassName: nginx-internal\n")]);
    let report = scan_yaml(&yaml, "ingress");
    let f = finding(&report, "MissingIngressClass");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Ingress", "shop", "storefront");
    assert_eq!(f.analyzer, "ingress");
    assert_eq!(f.summary, "IngressClass nginx-internal does not exist; no controller serves this Ingress");
    assert_field(f, "spec.ingressClassName", "nginx-internal");
    assert_evidence(f, "IngressClasses in the cluster: nginx");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn no_class_and_no_default_class_is_a_warning() {
    let yaml = edit(
        STOREFRONT,
        &[
            ("    ingressClassName: nginx\n", ""),
            ("    annotations:\n      ingressclass.kubernetes.io/is-default-class: \"true\"\n", ""),
        ],
    );
    let report = scan_yaml(&yaml, "ingress");
    let f = finding(&report, "NoIngressClass");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "Ingress", "shop", "storefront");
    assert_eq!(f.summary, "No IngressClass is set and the cluster has no default class");
    assert_evidence(f, "spec.ingressClassName is unset");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn no_class_is_fine_with_a_default_class_or_the_legacy_annotation() {
    let with_default = edit(STOREFRONT, &[("    ingressClassName: nginx\n", "")]);
    assert_clean(&scan_yaml(&with_default, "ingress"));
    let annotated = edit(
        STOREFRONT,
        &[
            ("    ingressClassName: nginx\n", ""),
            ("    annotations:\n      ingressclass.kubernetes.io/is-default-class: \"true\"\n", ""),
            (
                "      cert-manager.io/cluster-issuer: letsencrypt-prod\n",
                "      cert-manager.io/cluster-issuer: letsencrypt-prod\n      kubernetes.io/ingress.class: nginx\n",
            ),
        ],
    );
    assert_clean(&scan_yaml(&annotated, "ingress"));
}

#[test]
fn missing_backend_service_is_critical_and_names_the_path() {
    let yaml = list_without(STOREFRONT, &["checkout-api"]);
    let report = scan_yaml(&yaml, "ingress");
    let f = finding(&report, "MissingBackendService");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Ingress", "shop", "storefront");
    assert_eq!(f.summary, "Backend Service checkout-api does not exist; those paths return 503");
    assert_field(f, "spec.rules[0].http.paths[1].backend.service.name", "checkout-api");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn backend_port_the_service_does_not_define_is_critical() {
    let by_number = edit(STOREFRONT, &[("                number: 80\n", "                number: 8080\n")]);
    let report = scan_yaml(&by_number, "ingress");
    let f = finding(&report, "BackendPortNotFound");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Ingress", "shop", "storefront");
    assert_eq!(f.summary, "Service storefront has no port 8080");
    assert_field(f, "spec.rules[0].http.paths[0].backend.service.port", "8080");

    let by_name = edit(STOREFRONT, &[("                name: http\n", "                name: https\n")]);
    let report = scan_yaml(&by_name, "ingress");
    let f = finding(&report, "BackendPortNotFound");
    assert_eq!(f.summary, "Service checkout-api has no port https");
    assert_field(f, "spec.rules[0].http.paths[1].backend.service.port", "https");
}

#[test]
fn missing_tls_secret_is_a_warning_naming_the_hosts() {
    let yaml = edit(
        STOREFRONT,
        &[("      secretName: shop-example-com-tls\n", "      secretName: shop-example-com-tls-v2\n")],
    );
    let report = scan_yaml(&yaml, "ingress");
    let f = finding(&report, "MissingTLSSecret");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "Ingress", "shop", "storefront");
    assert_eq!(
        f.summary,
        "TLS Secret shop-example-com-tls-v2 does not exist; shop.example.com is served with the controller's default certificate"
    );
    assert_field(f, "spec.tls[].secretName", "shop-example-com-tls-v2");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn tls_secret_without_certificate_keys_is_a_warning() {
    let yaml = edit(
        STOREFRONT,
        &[
            (
                "    tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t\n    tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t\n",
                "    cert.pem: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t\n    key.pem: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t\n",
            ),
            ("  type: kubernetes.io/tls\n", "  type: Opaque\n"),
        ],
    );
    let report = scan_yaml(&yaml, "ingress");
    let f = finding(&report, "InvalidTLSSecret");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "Ingress", "shop", "storefront");
    assert_eq!(f.summary, "Secret shop-example-com-tls has no tls.crt and tls.key");
    assert_field(f, "type", "Opaque");
}

#[test]
fn backend_with_no_ready_endpoint_is_critical_and_linked_to_the_service() {
    let yaml = edit(
        STOREFRONT,
        &[(
            "    - 10.244.1.17\n    conditions:\n      ready: true\n      serving: true\n",
            "    - 10.244.1.17\n    conditions:\n      ready: false\n      serving: false\n",
        )],
    );
    let report = scan_yaml(&yaml, "ingress");
    let f = finding(&report, "BackendUnavailable");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Ingress", "shop", "storefront");
    assert_eq!(f.summary, "Backend Service checkout-api has no ready endpoints; those paths return 503");
    assert_field(f, "spec.rules[0].http.paths[1].backend.service.name", "checkout-api");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));

    // With the service analyzer too, the two findings tell one story.
    let with_pods = docs(&[
        &yaml,
        r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-20T10:00:00Z"
  labels:
    app: checkout-api
  name: checkout-api-7d9f8b6c5-x2x9k
  namespace: shop
spec:
  containers:
  - image: registry.example.com/shop/checkout-api:2.14.0
    name: api
    ports:
    - containerPort: 8080
      name: http
status:
  conditions:
  - lastTransitionTime: "2026-05-20T10:00:05Z"
    status: "False"
    type: Ready
  phase: Running
"#,
    ]);
    let report = scan_many(&with_pods, &["ingress", "service"]);
    let ing = finding(&report, "BackendUnavailable");
    let svc = finding(&report, "NoReadyEndpoints");
    assert_object(svc, "Service", "shop", "checkout-api");
    assert_related(ing, svc);
}

#[test]
fn nothing_is_claimed_missing_for_kinds_the_snapshot_did_not_read() {
    // Only the Ingress was captured, and every name it uses is wrong: with no
    // IngressClass, Service or Secret listed, none of them can be said not to exist.
    let yaml = edit(
        &list_without(STOREFRONT, &["IngressClass", "Service", "Secret", "EndpointSlice"]),
        &[
            ("    ingressClassName: nginx\n", "    ingressClassName: nginx-internal\n"),
            ("              name: checkout-api\n", "              name: checkout\n"),
            ("      secretName: shop-example-com-tls\n", "      secretName: shop-example-com-tls-v2\n"),
        ],
    );
    let decoded = cluster(&yaml);
    assert_eq!(decoded.ingresses.len(), 1);
    for kind in [ResourceKind::IngressClass, ResourceKind::Service, ResourceKind::Secret, ResourceKind::EndpointSlice] {
        assert!(!decoded.is_loaded(kind), "{kind} should not be loaded");
    }
    assert_clean(&scan_yaml(&yaml, "ingress"));
}

#[test]
fn services_without_endpoint_data_are_not_called_unavailable() {
    // Services were read but neither EndpointSlices nor Endpoints: readiness is unknown.
    let yaml = list_without(STOREFRONT, &["EndpointSlice"]);
    assert_clean(&scan_yaml(&yaml, "ingress"));
}
