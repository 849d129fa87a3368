//! The pod analyzer against pods as `kubectl get pods -o yaml` prints them: crash loops,
//! OOM kills, image pulls, configuration errors, scheduling, mounts, evictions, probes,
//! stuck deletions and dangling references, and healthy pods it must leave alone.

mod common;

use common::*;
use kubesage_core::{ResourceKind, Severity};

/// A Deployment-owned pod whose container exits 1 at start, in back-off.
const CRASHLOOP_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-20T10:00:00Z"
  generateName: checkout-api-7d9f8b6c5-
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
  resourceVersion: "48213377"
  uid: 8c1d6b2e-3f4a-4b5c-9d6e-7f8091a2b3c4
spec:
  containers:
  - image: registry.example.com/shop/checkout-api:2.14.0
    imagePullPolicy: IfNotPresent
    name: api
    ports:
    - containerPort: 8080
      name: http
      protocol: TCP
    resources:
      limits:
        memory: 512Mi
      requests:
        cpu: 250m
        memory: 256Mi
  dnsPolicy: ClusterFirst
  nodeName: node-b
  restartPolicy: Always
  schedulerName: default-scheduler
  serviceAccountName: default
status:
  conditions:
  - lastProbeTime: null
    lastTransitionTime: "2026-05-20T10:00:00Z"
    status: "True"
    type: PodScheduled
  - lastProbeTime: null
    lastTransitionTime: "2026-05-20T10:00:05Z"
    message: 'containers with unready status: [api]'
    reason: ContainersNotReady
    status: "False"
    type: Ready
  containerStatuses:
  - containerID: containerd://4f1e2d3c4b5a69788796a5b4c3d2e1f04f1e2d3c4b5a69788796a5b4c3d2e1f0
    image: registry.example.com/shop/checkout-api:2.14.0
    imageID: registry.example.com/shop/checkout-api@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    lastState:
      terminated:
        containerID: containerd://4f1e2d3c4b5a69788796a5b4c3d2e1f04f1e2d3c4b5a69788796a5b4c3d2e1f0
        exitCode: 1
        finishedAt: "2026-05-20T11:55:12Z"
        message: 'panic: DATABASE_URL is not set'
        reason: Error
        startedAt: "2026-05-20T11:55:10Z"
    name: api
    ready: false
    restartCount: 7
    started: false
    state:
      waiting:
        message: back-off 5m0s restarting failed container=api pod=checkout-api-7d9f8b6c5-x2x9k_shop(8c1d6b2e-3f4a-4b5c-9d6e-7f8091a2b3c4)
        reason: CrashLoopBackOff
  hostIP: 10.0.1.12
  phase: Running
  podIP: 10.244.1.17
  qosClass: Burstable
  startTime: "2026-05-20T10:00:00Z"
"#;

const BACKOFF_EVENT: &str = r#"
apiVersion: v1
count: 31
eventTime: null
firstTimestamp: "2026-05-20T10:01:00Z"
involvedObject:
  apiVersion: v1
  fieldPath: spec.containers{api}
  kind: Pod
  name: checkout-api-7d9f8b6c5-x2x9k
  namespace: shop
  resourceVersion: "48212001"
  uid: 8c1d6b2e-3f4a-4b5c-9d6e-7f8091a2b3c4
kind: Event
lastTimestamp: "2026-05-20T11:58:30Z"
message: Back-off restarting failed container api in pod checkout-api-7d9f8b6c5-x2x9k_shop(8c1d6b2e-3f4a-4b5c-9d6e-7f8091a2b3c4)
metadata:
  creationTimestamp: "2026-05-20T10:01:00Z"
  name: checkout-api-7d9f8b6c5-x2x9k.17f0c2b5d3a4e1f2
  namespace: shop
  resourceVersion: "48213370"
  uid: 2a3b4c5d-6e7f-4081-92a3-b4c5d6e7f809
reason: BackOff
reportingComponent: kubelet
reportingInstance: node-b
source:
  component: kubelet
  host: node-b
type: Warning
"#;

#[test]
fn crash_loop_reports_exit_code_message_and_back_off_event() {
    let report = scan_yaml(&docs(&[CRASHLOOP_POD, BACKOFF_EVENT]), "pod");
    let f = finding(&report, "CrashLoopBackOff");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Pod", "shop", "checkout-api-7d9f8b6c5-x2x9k");
    assert_eq!(f.analyzer, "pod");
    assert!(f.summary.contains("api is crash-looping"), "{}", f.summary);
    assert!(f.summary.contains("restarted 7 times; last exit code 1 (Error)"), "{}", f.summary);
    assert_field(f, "status.containerStatuses[api].state.waiting.reason", "CrashLoopBackOff");
    assert_field(f, "status.containerStatuses[api].restartCount", "7");
    assert_field(f, "status.containerStatuses[api].lastState.terminated.exitCode", "1");
    assert_field(f, "status.containerStatuses[api].lastState.terminated.message", "panic: DATABASE_URL is not set");
    assert_evidence(f, "exit code 1: the application exited with an error");
    assert_event(f, "BackOff", "Back-off restarting failed container api");
    assert_step(f, "kubectl logs -n shop checkout-api-7d9f8b6c5-x2x9k -c api --previous");
    // One problem, one finding: the crash loop is not also reported as something else.
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn crash_loop_of_an_init_container_names_the_init_status() {
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-20T11:00:00Z"
  labels:
    app: ledger
  name: ledger-0
  namespace: payments
  uid: 5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d
spec:
  containers:
  - image: registry.example.com/payments/ledger:4.2.0
    name: ledger
  initContainers:
  - command:
    - /bin/migrate
    - up
    image: registry.example.com/payments/ledger-migrate:4.2.0
    name: migrate
  nodeName: node-a
status:
  conditions:
  - lastTransitionTime: "2026-05-20T11:00:01Z"
    message: 'containers with incomplete status: [migrate]'
    reason: ContainersNotInitialized
    status: "False"
    type: Initialized
  - lastTransitionTime: "2026-05-20T11:00:00Z"
    status: "True"
    type: PodScheduled
  containerStatuses:
  - image: registry.example.com/payments/ledger:4.2.0
    imageID: ""
    lastState: {}
    name: ledger
    ready: false
    restartCount: 0
    started: false
    state:
      waiting:
        reason: PodInitializing
  initContainerStatuses:
  - image: registry.example.com/payments/ledger-migrate:4.2.0
    lastState:
      terminated:
        exitCode: 127
        finishedAt: "2026-05-20T11:40:00Z"
        reason: Error
        startedAt: "2026-05-20T11:40:00Z"
    name: migrate
    ready: false
    restartCount: 12
    started: false
    state:
      waiting:
        message: back-off 5m0s restarting failed container=migrate pod=ledger-0_payments(5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d)
        reason: CrashLoopBackOff
  phase: Pending
  startTime: "2026-05-20T11:00:00Z"
"#;
    let report = scan_yaml(yaml, "pod");
    let f = finding(&report, "CrashLoopBackOff");
    assert_object(f, "Pod", "payments", "ledger-0");
    assert!(f.summary.contains("Container migrate"), "{}", f.summary);
    assert_field(f, "status.initContainerStatuses[migrate].lastState.terminated.exitCode", "127");
    assert_evidence(f, "exit code 127: the command was not found in the image");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn oom_kill_in_a_crash_loop_is_reported_as_oom_with_the_limit() {
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-20T09:00:00Z"
  labels:
    app: search-indexer
  name: search-indexer-6b7c8d9f4-q8w7e
  namespace: search
  ownerReferences:
  - apiVersion: apps/v1
    controller: true
    kind: ReplicaSet
    name: search-indexer-6b7c8d9f4
    uid: 3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a
  uid: 7e6d5c4b-3a29-4180-9f8e-7d6c5b4a3928
spec:
  containers:
  - image: registry.example.com/search/indexer:1.8.3
    name: indexer
    resources:
      limits:
        cpu: "1"
        memory: 256Mi
      requests:
        cpu: 500m
        memory: 256Mi
  nodeName: node-c
status:
  conditions:
  - lastTransitionTime: "2026-05-20T09:00:00Z"
    status: "True"
    type: PodScheduled
  - lastTransitionTime: "2026-05-20T11:50:00Z"
    message: 'containers with unready status: [indexer]'
    reason: ContainersNotReady
    status: "False"
    type: Ready
  containerStatuses:
  - image: registry.example.com/search/indexer:1.8.3
    lastState:
      terminated:
        exitCode: 137
        finishedAt: "2026-05-20T11:52:41Z"
        reason: OOMKilled
        startedAt: "2026-05-20T11:51:02Z"
    name: indexer
    ready: false
    restartCount: 9
    state:
      waiting:
        message: back-off 5m0s restarting failed container=indexer pod=search-indexer-6b7c8d9f4-q8w7e_search(7e6d5c4b-3a29-4180-9f8e-7d6c5b4a3928)
        reason: CrashLoopBackOff
  phase: Running
  startTime: "2026-05-20T09:00:00Z"
"#;
    let report = scan_yaml(yaml, "pod");
    let f = finding(&report, "OOMKilled");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Pod", "search", "search-indexer-6b7c8d9f4-q8w7e");
    assert!(f.summary.contains("its 256Mi memory limit (restarted 9 times)"), "{}", f.summary);
    assert_field(f, "status.containerStatuses[indexer].lastState.terminated.reason", "OOMKilled");
    assert_field(f, "status.containerStatuses[indexer].lastState.terminated.exitCode", "137");
    assert_field(f, "spec.containers[indexer].resources.limits.memory", "256Mi");
    // The OOM kill explains the crash loop; it is not reported twice.
    assert_no(&report, "CrashLoopBackOff");
}

#[test]
fn a_past_oom_kill_of_a_running_container_is_a_warning() {
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-20T08:00:00Z"
  labels:
    app: report-renderer
  name: report-renderer
  namespace: reports
  uid: 1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b
spec:
  containers:
  - image: registry.example.com/reports/renderer:0.9.1
    name: renderer
    resources:
      requests:
        memory: 128Mi
  nodeName: node-a
status:
  conditions:
  - lastTransitionTime: "2026-05-20T11:30:00Z"
    status: "True"
    type: Ready
  containerStatuses:
  - image: registry.example.com/reports/renderer:0.9.1
    lastState:
      terminated:
        exitCode: 137
        finishedAt: "2026-05-20T11:29:50Z"
        reason: OOMKilled
        startedAt: "2026-05-20T08:00:05Z"
    name: renderer
    ready: true
    restartCount: 2
    state:
      running:
        startedAt: "2026-05-20T11:29:55Z"
  phase: Running
  startTime: "2026-05-20T08:00:00Z"
"#;
    let report = scan_yaml(yaml, "pod");
    let f = finding(&report, "OOMKilled");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "Pod", "reports", "report-renderer");
    assert!(f.summary.contains("it has no memory limit"), "{}", f.summary);
    assert!(f.summary.contains("restarted 2 times"), "{}", f.summary);
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

const IMAGE_PULL_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-20T11:40:00Z"
  labels:
    app: cart
    pod-template-hash: 5f9c7d8b6
  name: cart-5f9c7d8b6-m4n5p
  namespace: shop
  ownerReferences:
  - apiVersion: apps/v1
    controller: true
    kind: ReplicaSet
    name: cart-5f9c7d8b6
    uid: 6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d
  uid: 9a8b7c6d-5e4f-4321-8fed-cba987654321
spec:
  containers:
  - image: registry.example.com/shop/cart:v2.3.1-rc0
    imagePullPolicy: IfNotPresent
    name: cart
  nodeName: node-a
status:
  conditions:
  - lastTransitionTime: "2026-05-20T11:40:00Z"
    status: "True"
    type: PodScheduled
  - lastTransitionTime: "2026-05-20T11:40:00Z"
    message: 'containers with unready status: [cart]'
    reason: ContainersNotReady
    status: "False"
    type: Ready
  containerStatuses:
  - image: registry.example.com/shop/cart:v2.3.1-rc0
    imageID: ""
    lastState: {}
    name: cart
    ready: false
    restartCount: 0
    started: false
    state:
      waiting:
        message: Back-off pulling image "registry.example.com/shop/cart:v2.3.1-rc0"
        reason: ImagePullBackOff
  phase: Pending
  startTime: "2026-05-20T11:40:00Z"
"#;

#[test]
fn image_pull_back_off_names_the_image_and_the_registry_verdict() {
    let event = r#"
apiVersion: v1
count: 4
firstTimestamp: "2026-05-20T11:40:02Z"
involvedObject:
  apiVersion: v1
  fieldPath: spec.containers{cart}
  kind: Pod
  name: cart-5f9c7d8b6-m4n5p
  namespace: shop
  uid: 9a8b7c6d-5e4f-4321-8fed-cba987654321
kind: Event
lastTimestamp: "2026-05-20T11:44:10Z"
message: 'Failed to pull image "registry.example.com/shop/cart:v2.3.1-rc0": rpc error: code = NotFound desc = failed to pull and unpack image "registry.example.com/shop/cart:v2.3.1-rc0": failed to resolve reference "registry.example.com/shop/cart:v2.3.1-rc0": registry.example.com/shop/cart:v2.3.1-rc0: not found'
metadata:
  name: cart-5f9c7d8b6-m4n5p.17f0c3a1b2c3d4e5
  namespace: shop
reason: Failed
source:
  component: kubelet
  host: node-a
type: Warning
"#;
    let report = scan_yaml(&docs(&[IMAGE_PULL_POD, event]), "pod");
    let f = finding(&report, "ImagePullBackOff");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Pod", "shop", "cart-5f9c7d8b6-m4n5p");
    assert_eq!(f.summary, "Image registry.example.com/shop/cart:v2.3.1-rc0 for container cart cannot be pulled");
    assert_field(f, "status.containerStatuses[cart].state.waiting.reason", "ImagePullBackOff");
    assert_field(f, "spec.containers[].image", "registry.example.com/shop/cart:v2.3.1-rc0");
    assert_event(f, "Failed", "not found");
    assert_step(f, "does not exist in the registry");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn err_image_pull_refused_by_the_registry_points_at_pull_secrets() {
    let pod = edit(
        IMAGE_PULL_POD,
        &[
            ("reason: ImagePullBackOff", "reason: ErrImagePull"),
            ("message: Back-off pulling image", "message: Error pulling image"),
        ],
    );
    let event = r#"
apiVersion: v1
count: 1
involvedObject:
  apiVersion: v1
  fieldPath: spec.containers{cart}
  kind: Pod
  name: cart-5f9c7d8b6-m4n5p
  namespace: shop
kind: Event
lastTimestamp: "2026-05-20T11:40:03Z"
message: 'Failed to pull image "registry.example.com/shop/cart:v2.3.1-rc0": failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://registry.example.com/token: 401 Unauthorized, denied: requested access to the resource is denied'
metadata:
  name: cart-5f9c7d8b6-m4n5p.17f0c3a1b2c3d4e6
  namespace: shop
reason: Failed
source:
  component: kubelet
type: Warning
"#;
    let report = scan_yaml(&docs(&[&pod, event]), "pod");
    let f = finding(&report, "ImagePullBackOff");
    assert_field(f, "status.containerStatuses[cart].state.waiting.reason", "ErrImagePull");
    assert_event(f, "Failed", "denied");
    assert_step(f, "imagePullSecrets");
}

/// A pod whose env reads a Secret that was never created, with the kubelet's verdict.
const CONFIG_ERROR_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-20T11:30:00Z"
  labels:
    app: ledger-api
  name: ledger-api-84c6d5f7b9-z7x6c
  namespace: payments
  ownerReferences:
  - apiVersion: apps/v1
    controller: true
    kind: ReplicaSet
    name: ledger-api-84c6d5f7b9
    uid: 4b3a2918-0f7e-4d6c-b5a4-938271605f4e
  uid: 2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f
spec:
  containers:
  - env:
    - name: LOG_LEVEL
      value: info
    - name: DB_PASSWORD
      valueFrom:
        secretKeyRef:
          key: password
          name: ledger-db-credentials
    - name: FEATURE_FLAGS
      valueFrom:
        configMapKeyRef:
          key: flags
          name: ledger-config
    image: registry.example.com/payments/ledger-api:3.1.0
    name: api
  nodeName: node-b
status:
  conditions:
  - lastTransitionTime: "2026-05-20T11:30:00Z"
    status: "True"
    type: PodScheduled
  - lastTransitionTime: "2026-05-20T11:30:00Z"
    message: 'containers with unready status: [api]'
    reason: ContainersNotReady
    status: "False"
    type: Ready
  containerStatuses:
  - image: registry.example.com/payments/ledger-api:3.1.0
    imageID: ""
    lastState: {}
    name: api
    ready: false
    restartCount: 0
    started: false
    state:
      waiting:
        message: secret "ledger-db-credentials" not found
        reason: CreateContainerConfigError
  phase: Pending
  startTime: "2026-05-20T11:30:00Z"
"#;

const LEDGER_CONFIG: &str = r#"
apiVersion: v1
data:
  flags: ledger.v2=true
kind: ConfigMap
metadata:
  creationTimestamp: "2026-04-01T09:00:00Z"
  name: ledger-config
  namespace: payments
  uid: 0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9
"#;

const OTHER_SECRET: &str = r#"
apiVersion: v1
data:
  token: c2VjcmV0LXRva2Vu
kind: Secret
metadata:
  creationTimestamp: "2026-04-01T09:00:00Z"
  name: ledger-api-token
  namespace: payments
  uid: 1b2c3d4e-5f60-4172-8394-a5b6c7d8e9f0
type: Opaque
"#;

#[test]
fn create_container_config_error_names_the_missing_secret() {
    let report = scan_yaml(&docs(&[CONFIG_ERROR_POD, LEDGER_CONFIG, OTHER_SECRET]), "pod");
    let f = finding(&report, "CreateContainerConfigError");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Pod", "payments", "ledger-api-84c6d5f7b9-z7x6c");
    assert_eq!(f.summary, "Container api cannot start: secret \"ledger-db-credentials\" not found");
    assert_field(
        f,
        "status.containerStatuses[api].state.waiting.message",
        "secret \"ledger-db-credentials\" not found",
    );
    assert_evidence(
        f,
        "env DB_PASSWORD of container api reads Secret payments/ledger-db-credentials which does not exist",
    );
    // The ConfigMap and its key exist: not blamed.
    assert_no_evidence(f, "ledger-config");
    // The same missing Secret is not reported a second time as a dangling reference.
    assert_no(&report, "MissingReference");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn create_container_config_error_names_a_missing_key() {
    let pod = edit(
        CONFIG_ERROR_POD,
        &[(
            "message: secret \"ledger-db-credentials\" not found",
            "message: couldn't find key flags in ConfigMap payments/ledger-config",
        )],
    );
    let config =
        edit(LEDGER_CONFIG, &[("  flags: ledger.v2=true", "  feature-flags: ledger.v2=true\n  log-format: json")]);
    let secret =
        edit(OTHER_SECRET, &[("name: ledger-api-token", "name: ledger-db-credentials"), ("  token:", "  password:")]);
    let report = scan_yaml(&docs(&[&pod, &config, &secret]), "pod");
    let f = finding(&report, "CreateContainerConfigError");
    assert!(f.summary.contains("couldn't find key flags"), "{}", f.summary);
    assert_evidence(
        f,
        "env FEATURE_FLAGS of container api reads key flags of ConfigMap payments/ledger-config, which has no such key (keys: feature-flags, log-format)",
    );
    assert_no_evidence(f, "ledger-db-credentials");
}

#[test]
fn config_error_does_not_claim_objects_missing_when_their_kinds_were_not_read() {
    // Only the pod was captured: ConfigMaps and Secrets were not listed, so nothing can be
    // said about whether they exist. The kubelet's own verdict is still reported.
    let report = scan_yaml(CONFIG_ERROR_POD, "pod");
    let f = finding(&report, "CreateContainerConfigError");
    assert_no_evidence(f, "does not exist");
    assert_no_evidence(f, "no such key");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn container_that_cannot_be_created_is_reported_with_the_runtime_message() {
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-20T11:50:00Z"
  labels:
    app: thumbnailer
  name: thumbnailer-7c9d8e6f5-r2t3y
  namespace: media
  uid: 3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7
spec:
  containers:
  - command:
    - /app/start.sh
    image: registry.example.com/media/thumbnailer:1.0.0
    name: thumbnailer
  nodeName: node-c
status:
  conditions:
  - lastTransitionTime: "2026-05-20T11:50:00Z"
    status: "True"
    type: PodScheduled
  containerStatuses:
  - image: registry.example.com/media/thumbnailer:1.0.0
    lastState: {}
    name: thumbnailer
    ready: false
    restartCount: 0
    state:
      waiting:
        message: 'failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/app/start.sh": stat /app/start.sh: no such file or directory: unknown'
        reason: CreateContainerError
  phase: Pending
  startTime: "2026-05-20T11:50:00Z"
"#;
    let report = scan_yaml(yaml, "pod");
    let f = finding(&report, "ContainerCannotRun");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Pod", "media", "thumbnailer-7c9d8e6f5-r2t3y");
    assert!(
        f.summary.starts_with("Container thumbnailer cannot be started: failed to create containerd task"),
        "{}",
        f.summary
    );
    assert_field(f, "status.containerStatuses[thumbnailer].state.waiting.reason", "CreateContainerError");
    assert_evidence(f, "stat /app/start.sh: no such file or directory");
}

#[test]
fn unschedulable_pod_quotes_the_scheduler_and_suggests_capacity() {
    let yaml = r#"
apiVersion: v1
items:
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-20T11:00:00Z"
    labels:
      app: ml-trainer
    name: ml-trainer-0
    namespace: ml
    ownerReferences:
    - apiVersion: apps/v1
      controller: true
      kind: StatefulSet
      name: ml-trainer
      uid: 9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a
    uid: 6c5b4a39-2817-4065-9f4e-3d2c1b0a9f8e
  spec:
    containers:
    - image: registry.example.com/ml/trainer:2026.05
      name: trainer
      resources:
        requests:
          cpu: "16"
          memory: 64Gi
    volumes:
    - name: data
      persistentVolumeClaim:
        claimName: data-ml-trainer-0
  status:
    conditions:
    - lastProbeTime: null
      lastTransitionTime: "2026-05-20T11:00:00Z"
      message: '0/3 nodes are available: 3 Insufficient cpu, 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.'
      reason: Unschedulable
      status: "False"
      type: PodScheduled
    phase: Pending
    qosClass: Burstable
- apiVersion: v1
  count: 12
  firstTimestamp: "2026-05-20T11:00:00Z"
  involvedObject:
    apiVersion: v1
    kind: Pod
    name: ml-trainer-0
    namespace: ml
    uid: 6c5b4a39-2817-4065-9f4e-3d2c1b0a9f8e
  kind: Event
  lastTimestamp: "2026-05-20T11:55:00Z"
  message: '0/3 nodes are available: 3 Insufficient cpu, 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.'
  metadata:
    name: ml-trainer-0.17f0c1d2e3f4a5b6
    namespace: ml
  reason: FailedScheduling
  source:
    component: default-scheduler
  type: Warning
kind: List
metadata:
  resourceVersion: ""
"#;
    let report = scan_yaml(yaml, "pod");
    let f = finding(&report, "Unschedulable");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Pod", "ml", "ml-trainer-0");
    assert_eq!(
        f.summary,
        "Pod cannot be scheduled: 0/3 nodes are available: 3 Insufficient cpu, 3 Insufficient memory"
    );
    assert_condition(f, "PodScheduled", "False");
    assert_event(f, "FailedScheduling", "Insufficient cpu");
    assert_step(f, "lower the requests");
    // An unschedulable pod is not also "pending without a verdict".
    assert_no(&report, "Pending");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

const UNSCHEDULED_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-20T11:48:00Z"
  labels:
    app: batch-exporter
  name: batch-exporter
  namespace: analytics
  uid: 0f1e2d3c-4b5a-4697-8877-665544332211
spec:
  containers:
  - image: registry.example.com/analytics/exporter:5.0.2
    name: exporter
  schedulerName: custom-scheduler
status:
  phase: Pending
  qosClass: BestEffort
"#;

#[test]
fn pod_pending_without_any_scheduler_verdict_is_reported_after_the_grace_period() {
    let report = scan_at(UNSCHEDULED_POD, "pod", "2026-05-20T12:00:00Z");
    let f = finding(&report, "Pending");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "Pod", "analytics", "batch-exporter");
    assert_eq!(f.summary, "Pod has been pending for 12m without being scheduled");
    assert_field(f, "status.phase", "Pending");
    // Within the grace period nothing is said yet.
    let fresh = scan_at(UNSCHEDULED_POD, "pod", "2026-05-20T11:51:00Z");
    assert_clean(&fresh);
}

#[test]
fn failed_mount_quotes_the_kubelet_and_the_missing_configmap() {
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-20T11:45:00Z"
  labels:
    app: storefront
  name: storefront-6d7e8f9a0-b1c2d
  namespace: shop
  ownerReferences:
  - apiVersion: apps/v1
    controller: true
    kind: ReplicaSet
    name: storefront-6d7e8f9a0
    uid: 7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d
  uid: 5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9
spec:
  containers:
  - image: registry.example.com/shop/storefront:7.3.0
    name: web
    volumeMounts:
    - mountPath: /etc/storefront
      name: config
  nodeName: node-a
  volumes:
  - configMap:
      defaultMode: 420
      name: storefront-config
    name: config
status:
  conditions:
  - lastTransitionTime: "2026-05-20T11:45:00Z"
    status: "True"
    type: PodScheduled
  - lastTransitionTime: "2026-05-20T11:45:00Z"
    message: 'containers with unready status: [web]'
    reason: ContainersNotReady
    status: "False"
    type: Ready
  containerStatuses:
  - image: registry.example.com/shop/storefront:7.3.0
    imageID: ""
    lastState: {}
    name: web
    ready: false
    restartCount: 0
    started: false
    state:
      waiting:
        reason: ContainerCreating
  phase: Pending
  startTime: "2026-05-20T11:45:00Z"
---
apiVersion: v1
count: 8
firstTimestamp: "2026-05-20T11:45:01Z"
involvedObject:
  apiVersion: v1
  kind: Pod
  name: storefront-6d7e8f9a0-b1c2d
  namespace: shop
  uid: 5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9
kind: Event
lastTimestamp: "2026-05-20T11:59:10Z"
message: 'MountVolume.SetUp failed for volume "config" : configmap "storefront-config" not found'
metadata:
  name: storefront-6d7e8f9a0-b1c2d.17f0c4d5e6f7a8b9
  namespace: shop
reason: FailedMount
source:
  component: kubelet
  host: node-a
type: Warning
---
apiVersion: v1
data:
  ca.crt: |
    -----BEGIN CERTIFICATE-----
    MIIBdummy
    -----END CERTIFICATE-----
kind: ConfigMap
metadata:
  name: kube-root-ca.crt
  namespace: shop
  uid: 8b9c0d1e-2f3a-4b4c-9d5e-6f7a8b9c0d1e
"#;
    let report = scan_yaml(yaml, "pod");
    let f = finding(&report, "FailedMount");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Pod", "shop", "storefront-6d7e8f9a0-b1c2d");
    assert_eq!(
        f.summary,
        "Volumes cannot be mounted: MountVolume.SetUp failed for volume \"config\" : configmap \"storefront-config\" not found"
    );
    assert_event(f, "FailedMount", "configmap \"storefront-config\" not found");
    assert_evidence(f, "volume config mounts ConfigMap shop/storefront-config which does not exist");
    assert_no(&report, "MissingReference");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn evicted_pod_quotes_the_kubelet_message() {
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-19T22:00:00Z"
  labels:
    app: checkout-api
    pod-template-hash: 7d9f8b6c5
  name: checkout-api-7d9f8b6c5-ev1ct
  namespace: shop
  ownerReferences:
  - apiVersion: apps/v1
    controller: true
    kind: ReplicaSet
    name: checkout-api-7d9f8b6c5
    uid: 0b6f2a53-5f1e-4a8e-9a43-3c9d2d7f1a10
  uid: 4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a
spec:
  containers:
  - image: registry.example.com/shop/checkout-api:2.14.0
    name: api
  nodeName: node-c
status:
  conditions:
  - lastTransitionTime: "2026-05-20T03:12:00Z"
    reason: PodFailed
    status: "False"
    type: Ready
  containerStatuses:
  - image: registry.example.com/shop/checkout-api:2.14.0
    lastState: {}
    name: api
    ready: false
    restartCount: 0
    state:
      terminated:
        exitCode: 137
        finishedAt: "2026-05-20T03:12:00Z"
        reason: ContainerStatusUnknown
  message: 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 91532Ki. Container api was using 1843276Ki, request is 512Mi, has larger consumption of memory. '
  phase: Failed
  reason: Evicted
  startTime: "2026-05-19T22:00:00Z"
"#;
    let report = scan_yaml(yaml, "pod");
    let f = finding(&report, "Evicted");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "Pod", "shop", "checkout-api-7d9f8b6c5-ev1ct");
    assert_eq!(f.summary, "Pod was evicted: The node was low on resource: memory");
    assert_field(f, "status.reason", "Evicted");
    assert_evidence(f, "Container api was using 1843276Ki, request is 512Mi");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn failed_bare_pod_is_reported_but_a_failed_job_pod_is_left_to_the_job() {
    let yaml = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-20T10:00:00Z"
    name: db-migrate-manual
    namespace: payments
    uid: 2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e
  spec:
    containers:
    - args:
      - --target=latest
      image: registry.example.com/payments/migrate:4.2.0
      name: migrate
    nodeName: node-b
    restartPolicy: Never
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T10:00:40Z"
      reason: PodFailed
      status: "False"
      type: Ready
    containerStatuses:
    - image: registry.example.com/payments/migrate:4.2.0
      lastState: {}
      name: migrate
      ready: false
      restartCount: 0
      state:
        terminated:
          exitCode: 2
          finishedAt: "2026-05-20T10:00:40Z"
          reason: Error
          startedAt: "2026-05-20T10:00:02Z"
    phase: Failed
    startTime: "2026-05-20T10:00:00Z"
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-20T02:00:00Z"
    labels:
      batch.kubernetes.io/job-name: nightly-report-29123520
      job-name: nightly-report-29123520
    name: nightly-report-29123520-k7j6h
    namespace: reports
    ownerReferences:
    - apiVersion: batch/v1
      blockOwnerDeletion: true
      controller: true
      kind: Job
      name: nightly-report-29123520
      uid: 5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f
    uid: 6d7e8f9a-0b1c-4d2e-9f3a-4b5c6d7e8f9a
  spec:
    containers:
    - image: registry.example.com/reports/nightly:1.2.0
      name: report
    nodeName: node-a
    restartPolicy: Never
  status:
    containerStatuses:
    - image: registry.example.com/reports/nightly:1.2.0
      lastState: {}
      name: report
      ready: false
      restartCount: 0
      state:
        terminated:
          exitCode: 1
          finishedAt: "2026-05-20T02:03:00Z"
          reason: Error
    phase: Failed
    startTime: "2026-05-20T02:00:00Z"
"#;
    let report = scan_yaml(yaml, "pod");
    let f = finding(&report, "Failed");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "Pod", "payments", "db-migrate-manual");
    assert_eq!(f.summary, "Pod failed and will not be restarted");
    assert_field(f, "status.containerStatuses[migrate].state.terminated.exitCode", "2");
    assert_field(f, "status.containerStatuses[migrate].state.terminated.reason", "Error");
    assert_eq!(report.findings.len(), 1, "the Job's pod is the job analyzer's to report:\n{}", describe(&report));
}

const TERMINATING_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-19T08:00:00Z"
  deletionGracePeriodSeconds: 30
  deletionTimestamp: "2026-05-20T09:45:00Z"
  finalizers:
  - example.com/drain-connections
  labels:
    app: legacy-gateway
  name: legacy-gateway-5b6c7d8e9-w3e4r
  namespace: edge
  uid: 7f8a9b0c-1d2e-4f3a-8b4c-5d6e7f8a9b0c
spec:
  containers:
  - image: registry.example.com/edge/gateway:0.4.0
    name: gateway
  nodeName: node-c
status:
  conditions:
  - lastTransitionTime: "2026-05-19T08:00:10Z"
    status: "True"
    type: Ready
  containerStatuses:
  - image: registry.example.com/edge/gateway:0.4.0
    lastState: {}
    name: gateway
    ready: true
    restartCount: 0
    state:
      running:
        startedAt: "2026-05-19T08:00:05Z"
  phase: Running
  startTime: "2026-05-19T08:00:00Z"
"#;

#[test]
fn pod_stuck_terminating_reports_how_long() {
    let report = scan_at(TERMINATING_POD, "pod", "2026-05-20T12:00:00Z");
    let f = finding(&report, "StuckTerminating");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "Pod", "edge", "legacy-gateway-5b6c7d8e9-w3e4r");
    assert_eq!(f.summary, "Pod has been terminating for 2h");
    assert_field(f, "metadata.deletionTimestamp", "2026-05-20T09:45:00Z");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
    // A deletion in progress for a few minutes is normal.
    assert_clean(&scan_at(TERMINATING_POD, "pod", "2026-05-20T09:50:00Z"));
}

/// A running pod whose readiness probe answers 503.
const NOT_READY_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-20T11:00:00Z"
  labels:
    app: orders
  name: orders-6f7a8b9c0-t5y6u
  namespace: shop
  uid: 8a9b0c1d-2e3f-4a4b-9c5d-6e7f8a9b0c1d
spec:
  containers:
  - image: registry.example.com/shop/orders:5.1.0
    livenessProbe:
      failureThreshold: 3
      httpGet:
        path: /healthz
        port: 8080
      periodSeconds: 10
      timeoutSeconds: 1
    name: orders
    readinessProbe:
      failureThreshold: 3
      httpGet:
        path: /ready
        port: 8080
      periodSeconds: 5
  nodeName: node-a
status:
  conditions:
  - lastTransitionTime: "2026-05-20T11:00:00Z"
    status: "True"
    type: PodScheduled
  - lastTransitionTime: "2026-05-20T11:00:15Z"
    message: 'containers with unready status: [orders]'
    reason: ContainersNotReady
    status: "False"
    type: Ready
  containerStatuses:
  - image: registry.example.com/shop/orders:5.1.0
    lastState: {}
    name: orders
    ready: false
    restartCount: 0
    started: true
    state:
      running:
        startedAt: "2026-05-20T11:00:03Z"
  phase: Running
  startTime: "2026-05-20T11:00:00Z"
"#;

#[test]
fn readiness_probe_failing_on_a_running_pod() {
    let event = r#"
apiVersion: v1
count: 640
firstTimestamp: "2026-05-20T11:00:10Z"
involvedObject:
  apiVersion: v1
  fieldPath: spec.containers{orders}
  kind: Pod
  name: orders-6f7a8b9c0-t5y6u
  namespace: shop
kind: Event
lastTimestamp: "2026-05-20T11:59:55Z"
message: 'Readiness probe failed: HTTP probe failed with statuscode: 503'
metadata:
  name: orders-6f7a8b9c0-t5y6u.17f0c5e6f7a8b9c0
  namespace: shop
reason: Unhealthy
source:
  component: kubelet
  host: node-a
type: Warning
"#;
    let report = scan_yaml(&docs(&[NOT_READY_POD, event]), "pod");
    let f = finding(&report, "ReadinessProbeFailing");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "Pod", "shop", "orders-6f7a8b9c0-t5y6u");
    assert_eq!(
        f.summary,
        "Pod is running but not ready: Readiness probe failed: HTTP probe failed with statuscode: 503"
    );
    assert_condition(f, "Ready", "False");
    assert_event(f, "Unhealthy", "statuscode: 503");
    assert_no(&report, "LivenessProbeFailing");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn liveness_probe_killing_the_container_is_reported_with_restarts() {
    let pod = edit(
        NOT_READY_POD,
        &[
            (
                "message: 'containers with unready status: [orders]'\n    reason: ContainersNotReady\n    status: \"False\"",
                "status: \"True\"",
            ),
            ("    ready: false\n", "    ready: true\n"),
            ("    restartCount: 0\n", "    restartCount: 4\n"),
        ],
    );
    let events = r#"
apiVersion: v1
count: 12
firstTimestamp: "2026-05-20T11:10:00Z"
involvedObject:
  apiVersion: v1
  fieldPath: spec.containers{orders}
  kind: Pod
  name: orders-6f7a8b9c0-t5y6u
  namespace: shop
kind: Event
lastTimestamp: "2026-05-20T11:58:40Z"
message: 'Liveness probe failed: Get "http://10.244.0.31:8080/healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
metadata:
  name: orders-6f7a8b9c0-t5y6u.17f0c6a1b2c3d4e5
  namespace: shop
reason: Unhealthy
source:
  component: kubelet
type: Warning
---
apiVersion: v1
count: 4
firstTimestamp: "2026-05-20T11:10:20Z"
involvedObject:
  apiVersion: v1
  fieldPath: spec.containers{orders}
  kind: Pod
  name: orders-6f7a8b9c0-t5y6u
  namespace: shop
kind: Event
lastTimestamp: "2026-05-20T11:58:41Z"
message: Container orders failed liveness probe, will be restarted
metadata:
  name: orders-6f7a8b9c0-t5y6u.17f0c6a1b2c3d4e6
  namespace: shop
reason: Killing
source:
  component: kubelet
type: Normal
"#;
    let report = scan_yaml(&docs(&[&pod, events]), "pod");
    let f = finding(&report, "LivenessProbeFailing");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "Pod", "shop", "orders-6f7a8b9c0-t5y6u");
    assert_eq!(f.summary, "Liveness probe fails and the kubelet restarts the container (4 restarts)");
    assert_field(f, "status.containerStatuses[].restartCount", "4");
    assert_event(f, "Unhealthy", "context deadline exceeded");
    assert_event(f, "Killing", "failed liveness probe");
    assert_no(&report, "ReadinessProbeFailing");
}

#[test]
fn a_single_liveness_probe_miss_that_restarted_nothing_is_not_reported() {
    // One timeout below the failure threshold: the kubelet logs it, the container keeps
    // running, the pod stays ready. Nothing is broken.
    let pod = edit(
        NOT_READY_POD,
        &[
            (
                "message: 'containers with unready status: [orders]'\n    reason: ContainersNotReady\n    status: \"False\"",
                "status: \"True\"",
            ),
            ("    ready: false\n", "    ready: true\n"),
        ],
    );
    let event = r#"
apiVersion: v1
count: 1
firstTimestamp: "2026-05-20T11:31:10Z"
involvedObject:
  apiVersion: v1
  fieldPath: spec.containers{orders}
  kind: Pod
  name: orders-6f7a8b9c0-t5y6u
  namespace: shop
kind: Event
lastTimestamp: "2026-05-20T11:31:10Z"
message: 'Liveness probe failed: Get "http://10.244.0.31:8080/healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
metadata:
  name: orders-6f7a8b9c0-t5y6u.17f0c6a1b2c3d4e7
  namespace: shop
reason: Unhealthy
source:
  component: kubelet
type: Warning
"#;
    let report = scan_yaml(&docs(&[&pod, event]), "pod");
    assert_clean(&report);
}

#[test]
fn running_pod_whose_secret_was_deleted_has_a_missing_reference() {
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-05-18T10:00:00Z"
  labels:
    app: notifier
  name: notifier-5d6e7f8a9-p0o9i
  namespace: comms
  uid: 9b0c1d2e-3f4a-4b5c-8d6e-7f8a9b0c1d2e
spec:
  containers:
  - envFrom:
    - secretRef:
        name: smtp-credentials
    - configMapRef:
        name: notifier-settings
        optional: true
    image: registry.example.com/comms/notifier:2.0.0
    name: notifier
  nodeName: node-b
  volumes:
  - name: tls
    secret:
      defaultMode: 420
      secretName: notifier-tls
status:
  conditions:
  - lastTransitionTime: "2026-05-18T10:00:20Z"
    status: "True"
    type: Ready
  containerStatuses:
  - image: registry.example.com/comms/notifier:2.0.0
    lastState: {}
    name: notifier
    ready: true
    restartCount: 0
    state:
      running:
        startedAt: "2026-05-18T10:00:10Z"
  phase: Running
  startTime: "2026-05-18T10:00:00Z"
---
apiVersion: v1
data:
  tls.crt: LS0tLS1CRUdJTg==
  tls.key: LS0tLS1CRUdJTg==
kind: Secret
metadata:
  name: notifier-tls
  namespace: comms
  uid: 0c1d2e3f-4a5b-4c6d-9e7f-8a9b0c1d2e3f
type: kubernetes.io/tls
---
apiVersion: v1
data:
  region: eu-west-1
kind: ConfigMap
metadata:
  name: comms-defaults
  namespace: comms
  uid: 1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a
"#;
    let report = scan_yaml(yaml, "pod");
    let f = finding(&report, "MissingReference");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "Pod", "comms", "notifier-5d6e7f8a9-p0o9i");
    assert_eq!(f.summary, "Pod references Secret smtp-credentials that does not exist");
    assert_evidence(f, "envFrom of container notifier loads Secret comms/smtp-credentials which does not exist");
    // The optional ConfigMap and the existing TLS Secret are fine.
    assert_no_evidence(f, "notifier-settings");
    assert_no_evidence(f, "notifier-tls");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

/// Healthy pods as a real cluster has them: a Deployment pod with its projected service
/// account volume, config from a ConfigMap and a Secret, a claim, probes that pass, and
/// the kubelet's Normal events; plus a Job pod that completed.
const HEALTHY: &str = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-20T09:00:00Z"
    generateName: catalog-69d8c7b5f4-
    labels:
      app: catalog
      pod-template-hash: 69d8c7b5f4
    name: catalog-69d8c7b5f4-h2j3k
    namespace: shop
    ownerReferences:
    - apiVersion: apps/v1
      blockOwnerDeletion: true
      controller: true
      kind: ReplicaSet
      name: catalog-69d8c7b5f4
      uid: 2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b
    resourceVersion: "48210001"
    uid: 3f4a5b6c-7d8e-4f9a-8b0c-1d2e3f4a5b6c
  spec:
    containers:
    - env:
      - name: DB_PASSWORD
        valueFrom:
          secretKeyRef:
            key: password
            name: catalog-db
      - name: CACHE_TTL
        valueFrom:
          configMapKeyRef:
            key: cache-ttl
            name: catalog-config
      - name: OPTIONAL_FLAG
        valueFrom:
          configMapKeyRef:
            key: flag
            name: catalog-experiments
            optional: true
      image: registry.example.com/shop/catalog:3.9.2
      imagePullPolicy: IfNotPresent
      livenessProbe:
        failureThreshold: 3
        httpGet:
          path: /healthz
          port: http
          scheme: HTTP
        periodSeconds: 10
        successThreshold: 1
        timeoutSeconds: 1
      name: catalog
      ports:
      - containerPort: 8080
        name: http
        protocol: TCP
      readinessProbe:
        failureThreshold: 3
        httpGet:
          path: /ready
          port: http
          scheme: HTTP
        periodSeconds: 5
        successThreshold: 1
        timeoutSeconds: 1
      resources:
        limits:
          memory: 512Mi
        requests:
          cpu: 200m
          memory: 256Mi
      volumeMounts:
      - mountPath: /var/cache/catalog
        name: cache
      - mountPath: /var/run/secrets/kubernetes.io/serviceaccount
        name: kube-api-access-7xk2p
        readOnly: true
    dnsPolicy: ClusterFirst
    enableServiceLinks: true
    nodeName: node-a
    preemptionPolicy: PreemptLowerPriority
    priority: 0
    restartPolicy: Always
    schedulerName: default-scheduler
    serviceAccount: default
    serviceAccountName: default
    terminationGracePeriodSeconds: 30
    tolerations:
    - effect: NoExecute
      key: node.kubernetes.io/not-ready
      operator: Exists
      tolerationSeconds: 300
    - effect: NoExecute
      key: node.kubernetes.io/unreachable
      operator: Exists
      tolerationSeconds: 300
    volumes:
    - name: cache
      persistentVolumeClaim:
        claimName: catalog-cache
    - name: kube-api-access-7xk2p
      projected:
        defaultMode: 420
        sources:
        - serviceAccountToken:
            expirationSeconds: 3607
            path: token
        - configMap:
            items:
            - key: ca.crt
              path: ca.crt
            name: kube-root-ca.crt
        - downwardAPI:
            items:
            - fieldRef:
                apiVersion: v1
                fieldPath: metadata.namespace
              path: namespace
  status:
    conditions:
    - lastProbeTime: null
      lastTransitionTime: "2026-05-20T09:00:04Z"
      status: "True"
      type: PodReadyToStartContainers
    - lastProbeTime: null
      lastTransitionTime: "2026-05-20T09:00:00Z"
      status: "True"
      type: Initialized
    - lastProbeTime: null
      lastTransitionTime: "2026-05-20T09:00:12Z"
      status: "True"
      type: Ready
    - lastProbeTime: null
      lastTransitionTime: "2026-05-20T09:00:12Z"
      status: "True"
      type: ContainersReady
    - lastProbeTime: null
      lastTransitionTime: "2026-05-20T09:00:00Z"
      status: "True"
      type: PodScheduled
    containerStatuses:
    - containerID: containerd://0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9
      image: registry.example.com/shop/catalog:3.9.2
      imageID: registry.example.com/shop/catalog@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
      lastState: {}
      name: catalog
      ready: true
      restartCount: 0
      started: true
      state:
        running:
          startedAt: "2026-05-20T09:00:05Z"
    hostIP: 10.0.1.11
    phase: Running
    podIP: 10.244.0.21
    podIPs:
    - ip: 10.244.0.21
    qosClass: Burstable
    startTime: "2026-05-20T09:00:00Z"
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-20T02:00:00Z"
    labels:
      batch.kubernetes.io/job-name: catalog-reindex-29123520
    name: catalog-reindex-29123520-x8c7v
    namespace: shop
    ownerReferences:
    - apiVersion: batch/v1
      controller: true
      kind: Job
      name: catalog-reindex-29123520
      uid: 4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d
    uid: 5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e
  spec:
    containers:
    - image: registry.example.com/shop/catalog-reindex:3.9.2
      name: reindex
    nodeName: node-b
    restartPolicy: OnFailure
  status:
    conditions:
    - lastTransitionTime: "2026-05-20T02:04:00Z"
      reason: PodCompleted
      status: "False"
      type: Ready
    containerStatuses:
    - image: registry.example.com/shop/catalog-reindex:3.9.2
      lastState: {}
      name: reindex
      ready: false
      restartCount: 0
      state:
        terminated:
          exitCode: 0
          finishedAt: "2026-05-20T02:04:00Z"
          reason: Completed
    phase: Succeeded
    startTime: "2026-05-20T02:00:00Z"
- apiVersion: v1
  data:
    ca.crt: |
      -----BEGIN CERTIFICATE-----
      MIIBdummy
      -----END CERTIFICATE-----
  kind: ConfigMap
  metadata:
    name: kube-root-ca.crt
    namespace: shop
    uid: 6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f
- apiVersion: v1
  data:
    cache-ttl: 300s
    page-size: "50"
  kind: ConfigMap
  metadata:
    name: catalog-config
    namespace: shop
    uid: 7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a
- apiVersion: v1
  data:
    password: c3VwZXJzZWNyZXQ=
    username: Y2F0YWxvZw==
  kind: Secret
  metadata:
    name: catalog-db
    namespace: shop
    uid: 8e9f0a1b-2c3d-4e4f-9a5b-6c7d8e9f0a1b
  type: Opaque
- apiVersion: v1
  kind: PersistentVolumeClaim
  metadata:
    name: catalog-cache
    namespace: shop
    uid: 9f0a1b2c-3d4e-4f5a-8b6c-7d8e9f0a1b2c
  spec:
    accessModes:
    - ReadWriteOnce
    resources:
      requests:
        storage: 10Gi
    storageClassName: standard
    volumeMode: Filesystem
    volumeName: pvc-9f0a1b2c-3d4e-4f5a-8b6c-7d8e9f0a1b2c
  status:
    accessModes:
    - ReadWriteOnce
    capacity:
      storage: 10Gi
    phase: Bound
- apiVersion: v1
  count: 1
  firstTimestamp: "2026-05-20T09:00:00Z"
  involvedObject:
    apiVersion: v1
    kind: Pod
    name: catalog-69d8c7b5f4-h2j3k
    namespace: shop
  kind: Event
  lastTimestamp: "2026-05-20T09:00:00Z"
  message: Successfully assigned shop/catalog-69d8c7b5f4-h2j3k to node-a
  metadata:
    name: catalog-69d8c7b5f4-h2j3k.17f0b1a2c3d4e5f6
    namespace: shop
  reason: Scheduled
  source:
    component: default-scheduler
  type: Normal
- apiVersion: v1
  count: 1
  firstTimestamp: "2026-05-20T09:00:05Z"
  involvedObject:
    apiVersion: v1
    fieldPath: spec.containers{catalog}
    kind: Pod
    name: catalog-69d8c7b5f4-h2j3k
    namespace: shop
  kind: Event
  lastTimestamp: "2026-05-20T09:00:05Z"
  message: Started container catalog
  metadata:
    name: catalog-69d8c7b5f4-h2j3k.17f0b1a2c3d4e5f7
    namespace: shop
  reason: Started
  source:
    component: kubelet
  type: Normal
"#;

#[test]
fn healthy_pods_with_resolved_references_have_no_findings() {
    let report = scan_yaml(HEALTHY, "pod");
    assert_clean(&report);
    assert_eq!(report.summary.objects.get("Pod"), Some(&2));
}

#[test]
fn references_are_not_claimed_missing_when_their_kinds_were_not_read() {
    // The same healthy pod, but the snapshot holds only pods and events: ConfigMaps,
    // Secrets and claims were not listed, so their absence proves nothing.
    let pods_only = list_without(HEALTHY, &["ConfigMap", "Secret", "PersistentVolumeClaim"]);
    let decoded = cluster(&pods_only);
    assert_eq!(decoded.pods.len(), 2);
    assert_eq!(decoded.events.len(), 2);
    for kind in [ResourceKind::ConfigMap, ResourceKind::Secret, ResourceKind::PersistentVolumeClaim] {
        assert!(!decoded.is_loaded(kind), "{kind} should not be loaded");
    }
    assert_clean(&scan_yaml(&pods_only, "pod"));
}

#[test]
fn the_same_references_are_reported_once_the_kinds_are_read_and_the_objects_are_gone() {
    // Control for the test above: with ConfigMaps, Secrets and claims listed but the pod's
    // own objects deleted, the dangling references are reported.
    let cut = list_without(HEALTHY, &["catalog-db", "catalog-cache", "catalog-config"]);
    let other_objects = r#"
apiVersion: v1
data:
  token: c2VjcmV0LXRva2Vu
kind: Secret
metadata:
  name: orders-api-token
  namespace: shop
type: Opaque
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: orders-data
  namespace: shop
spec:
  storageClassName: standard
status:
  phase: Bound
"#;
    let yaml = docs(&[&cut, other_objects]);
    let decoded = cluster(&yaml);
    for kind in [ResourceKind::ConfigMap, ResourceKind::Secret, ResourceKind::PersistentVolumeClaim] {
        assert!(decoded.is_loaded(kind), "{kind} should be loaded");
    }
    let report = scan_yaml(&yaml, "pod");
    let f = finding(&report, "MissingReference");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "Pod", "shop", "catalog-69d8c7b5f4-h2j3k");
    assert_evidence(f, "env DB_PASSWORD of container catalog reads Secret shop/catalog-db which does not exist");
    assert_evidence(f, "env CACHE_TTL of container catalog reads ConfigMap shop/catalog-config which does not exist");
    assert_evidence(f, "volume cache uses PersistentVolumeClaim shop/catalog-cache which does not exist");
    // Optional references and the service account's CA bundle are not blamed.
    assert_no_evidence(f, "catalog-experiments");
    assert_no_evidence(f, "kube-root-ca.crt");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}
