//! The job analyzer: failed Jobs (back-off limit, deadline) with the exit codes of the pods
//! that failed, and Jobs that ran or are running fine.

mod common;

use common::*;
use kubesage_core::Severity;

/// A one-off migration Job that hit its back-off limit, with its two failed pods.
const MIGRATION: &str = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: batch/v1
  kind: Job
  metadata:
    creationTimestamp: "2026-05-20T11:00:00Z"
    generation: 1
    labels:
      app: ledger-migrate
    name: ledger-migrate-v42
    namespace: payments
    uid: 1f2a3b4c-5d6e-4f7a-8b9c-0d1e2f3a4b5c
  spec:
    backoffLimit: 1
    completionMode: NonIndexed
    completions: 1
    manualSelector: false
    parallelism: 1
    podReplacementPolicy: TerminatingOrFailed
    selector:
      matchLabels:
        batch.kubernetes.io/controller-uid: 1f2a3b4c-5d6e-4f7a-8b9c-0d1e2f3a4b5c
    suspend: false
    template:
      metadata:
        labels:
          batch.kubernetes.io/controller-uid: 1f2a3b4c-5d6e-4f7a-8b9c-0d1e2f3a4b5c
          batch.kubernetes.io/job-name: ledger-migrate-v42
      spec:
        containers:
        - image: registry.example.com/payments/ledger-migrate:4.2.0
          name: migrate
        restartPolicy: Never
  status:
    conditions:
    - lastProbeTime: "2026-05-20T11:02:10Z"
      lastTransitionTime: "2026-05-20T11:02:10Z"
      message: Job has reached the specified backoff limit
      reason: BackoffLimitExceeded
      status: "True"
      type: FailureTarget
    - lastProbeTime: "2026-05-20T11:02:10Z"
      lastTransitionTime: "2026-05-20T11:02:10Z"
      message: Job has reached the specified backoff limit
      reason: BackoffLimitExceeded
      status: "True"
      type: Failed
    failed: 2
    ready: 0
    startTime: "2026-05-20T11:00:00Z"
    terminating: 0
    uncountedTerminatedPods: {}
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-20T11:00:00Z"
    labels:
      batch.kubernetes.io/controller-uid: 1f2a3b4c-5d6e-4f7a-8b9c-0d1e2f3a4b5c
      batch.kubernetes.io/job-name: ledger-migrate-v42
    name: ledger-migrate-v42-7hx2k
    namespace: payments
    ownerReferences:
    - apiVersion: batch/v1
      blockOwnerDeletion: true
      controller: true
      kind: Job
      name: ledger-migrate-v42
      uid: 1f2a3b4c-5d6e-4f7a-8b9c-0d1e2f3a4b5c
    uid: 2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d
  spec:
    containers:
    - image: registry.example.com/payments/ledger-migrate:4.2.0
      name: migrate
    nodeName: node-a
    restartPolicy: Never
  status:
    containerStatuses:
    - image: registry.example.com/payments/ledger-migrate:4.2.0
      lastState: {}
      name: migrate
      ready: false
      restartCount: 0
      state:
        terminated:
          exitCode: 3
          finishedAt: "2026-05-20T11:00:40Z"
          message: 'migration 0042_add_ledger_index failed: relation "ledger_entries" does not exist'
          reason: Error
          startedAt: "2026-05-20T11:00:05Z"
    phase: Failed
    startTime: "2026-05-20T11:00:00Z"
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2026-05-20T11:01:00Z"
    labels:
      batch.kubernetes.io/controller-uid: 1f2a3b4c-5d6e-4f7a-8b9c-0d1e2f3a4b5c
      batch.kubernetes.io/job-name: ledger-migrate-v42
    name: ledger-migrate-v42-m3n4b
    namespace: payments
    ownerReferences:
    - apiVersion: batch/v1
      blockOwnerDeletion: true
      controller: true
      kind: Job
      name: ledger-migrate-v42
      uid: 1f2a3b4c-5d6e-4f7a-8b9c-0d1e2f3a4b5c
    uid: 3b4c5d6e-7f8a-4b9c-8d0e-1f2a3b4c5d6e
  spec:
    containers:
    - image: registry.example.com/payments/ledger-migrate:4.2.0
      name: migrate
    nodeName: node-b
    restartPolicy: Never
  status:
    containerStatuses:
    - image: registry.example.com/payments/ledger-migrate:4.2.0
      lastState: {}
      name: migrate
      ready: false
      restartCount: 0
      state:
        terminated:
          exitCode: 3
          finishedAt: "2026-05-20T11:02:08Z"
          reason: Error
          startedAt: "2026-05-20T11:01:30Z"
    phase: Failed
    startTime: "2026-05-20T11:01:00Z"
- apiVersion: v1
  count: 1
  firstTimestamp: "2026-05-20T11:02:10Z"
  involvedObject:
    apiVersion: batch/v1
    kind: Job
    name: ledger-migrate-v42
    namespace: payments
    uid: 1f2a3b4c-5d6e-4f7a-8b9c-0d1e2f3a4b5c
  kind: Event
  lastTimestamp: "2026-05-20T11:02:10Z"
  message: Job has reached the specified backoff limit
  metadata:
    name: ledger-migrate-v42.17f0cab1c2d3e4f5
    namespace: payments
  reason: BackoffLimitExceeded
  source:
    component: job-controller
  type: Warning
"#;

#[test]
fn job_past_its_backoff_limit_reports_the_exit_codes_of_its_pods() {
    let report = scan_yaml(MIGRATION, "job");
    let f = finding(&report, "BackoffLimitExceeded");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Job", "payments", "ledger-migrate-v42");
    assert_eq!(f.analyzer, "job");
    assert_eq!(f.summary, "Job failed: Job has reached the specified backoff limit");
    assert_condition(f, "Failed", "True");
    assert_field(f, "status.failed", "2");
    assert_field(f, "status.succeeded", "0");
    assert_field(f, "spec.backoffLimit", "1");
    assert_evidence(f, "pod ledger-migrate-v42-7hx2k container migrate exited with code 3 (Error)");
    assert_evidence(f, "pod ledger-migrate-v42-m3n4b container migrate exited with code 3 (Error)");
    assert_event(f, "BackoffLimitExceeded", "backoff limit");
    assert_step(f, "kubectl logs -n payments job/ledger-migrate-v42");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn failed_job_pods_are_left_to_the_job_finding() {
    // The pod analyzer does not report a Job's failed pods one by one; the Job finding
    // carries their exit codes.
    let report = scan_many(MIGRATION, &["job", "pod"]);
    assert_eq!(reasons(&report), vec!["BackoffLimitExceeded"], "{}", describe(&report));
}

#[test]
fn job_past_its_deadline_suggests_the_deadline() {
    let yaml = r#"
apiVersion: batch/v1
kind: Job
metadata:
  creationTimestamp: "2026-05-20T06:00:00Z"
  name: search-reindex-full
  namespace: search
  uid: 4c5d6e7f-8a9b-4c0d-9e1f-2a3b4c5d6e7f
spec:
  activeDeadlineSeconds: 3600
  backoffLimit: 6
  completions: 1
  parallelism: 1
  template:
    spec:
      containers:
      - image: registry.example.com/search/reindex:6.2.0
        name: reindex
      restartPolicy: Never
status:
  conditions:
  - lastProbeTime: "2026-05-20T07:00:00Z"
    lastTransitionTime: "2026-05-20T07:00:00Z"
    message: Job was active longer than specified deadline
    reason: DeadlineExceeded
    status: "True"
    type: Failed
  failed: 1
  startTime: "2026-05-20T06:00:00Z"
"#;
    let report = scan_yaml(yaml, "job");
    let f = finding(&report, "DeadlineExceeded");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Job", "search", "search-reindex-full");
    assert_eq!(f.summary, "Job failed: Job was active longer than specified deadline");
    assert_field(f, "spec.activeDeadlineSeconds", "3600");
    assert_step(f, "activeDeadlineSeconds");
}

#[test]
fn a_failed_run_of_a_cronjob_is_a_warning_linked_to_the_cronjob() {
    let yaml = r#"
apiVersion: batch/v1
kind: CronJob
metadata:
  creationTimestamp: "2026-04-01T00:00:00Z"
  name: nightly-report
  namespace: reports
  uid: 5d6e7f8a-9b0c-4d1e-8f2a-3b4c5d6e7f8a
spec:
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        spec:
          containers:
          - image: registry.example.com/reports/nightly:1.2.0
            name: report
          restartPolicy: Never
  schedule: 0 2 * * *
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 1
  suspend: false
status:
  lastScheduleTime: "2026-05-20T02:00:00Z"
  lastSuccessfulTime: "2026-05-19T02:04:12Z"
---
apiVersion: batch/v1
kind: Job
metadata:
  creationTimestamp: "2026-05-20T02:00:00Z"
  labels:
    batch.kubernetes.io/job-name: nightly-report-29123520
  name: nightly-report-29123520
  namespace: reports
  ownerReferences:
  - apiVersion: batch/v1
    blockOwnerDeletion: true
    controller: true
    kind: CronJob
    name: nightly-report
    uid: 5d6e7f8a-9b0c-4d1e-8f2a-3b4c5d6e7f8a
  uid: 5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f
spec:
  backoffLimit: 2
  template:
    spec:
      containers:
      - image: registry.example.com/reports/nightly:1.2.0
        name: report
      restartPolicy: Never
status:
  conditions:
  - lastProbeTime: "2026-05-20T02:09:00Z"
    lastTransitionTime: "2026-05-20T02:09:00Z"
    message: Job has reached the specified backoff limit
    reason: BackoffLimitExceeded
    status: "True"
    type: Failed
  failed: 3
  startTime: "2026-05-20T02:00:00Z"
"#;
    let report = scan_yaml(yaml, "job");
    let f = finding(&report, "BackoffLimitExceeded");
    assert_eq!(f.severity, Severity::Warning, "the next scheduled run may succeed");
    assert_object(f, "Job", "reports", "nightly-report-29123520");
    assert_field(f, "status.failed", "3");

    let both = scan_many(yaml, &["job", "cronjob"]);
    let job = finding(&both, "BackoffLimitExceeded");
    let cron = finding(&both, "LastRunFailed");
    assert_object(cron, "CronJob", "reports", "nightly-report");
    assert_related(job, cron);
}

#[test]
fn a_failed_condition_without_a_reason_is_reported_as_failed() {
    let yaml = r#"
apiVersion: batch/v1
kind: Job
metadata:
  creationTimestamp: "2026-05-20T10:00:00Z"
  name: cache-warmup
  namespace: shop
  uid: 6e7f8a9b-0c1d-4e2f-9a3b-4c5d6e7f8a9b
spec:
  template:
    spec:
      containers:
      - image: registry.example.com/shop/cache-warmup:1.0.0
        name: warmup
      restartPolicy: Never
status:
  conditions:
  - lastTransitionTime: "2026-05-20T10:05:00Z"
    status: "True"
    type: Failed
  failed: 1
"#;
    let report = scan_yaml(yaml, "job");
    let f = finding(&report, "Failed");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "Job", "shop", "cache-warmup");
    assert_no_evidence(f, "spec.backoffLimit");
}

#[test]
fn completed_running_and_suspended_jobs_have_no_findings() {
    let yaml = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: batch/v1
  kind: Job
  metadata:
    creationTimestamp: "2026-05-20T02:00:00Z"
    name: catalog-reindex-29123520
    namespace: shop
    ownerReferences:
    - apiVersion: batch/v1
      controller: true
      kind: CronJob
      name: catalog-reindex
      uid: 7f8a9b0c-1d2e-4f3a-8b4c-5d6e7f8a9b0c
    uid: 4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d
  spec:
    backoffLimit: 6
    completions: 1
    parallelism: 1
    template:
      spec:
        containers:
        - image: registry.example.com/shop/catalog-reindex:3.9.2
          name: reindex
        restartPolicy: OnFailure
  status:
    completionTime: "2026-05-20T02:04:00Z"
    conditions:
    - lastProbeTime: "2026-05-20T02:04:00Z"
      lastTransitionTime: "2026-05-20T02:04:00Z"
      message: Reached expected number of succeeded pods
      reason: CompletionsReached
      status: "True"
      type: SuccessCriteriaMet
    - lastProbeTime: "2026-05-20T02:04:00Z"
      lastTransitionTime: "2026-05-20T02:04:00Z"
      message: Reached expected number of succeeded pods
      reason: CompletionsReached
      status: "True"
      type: Complete
    ready: 0
    startTime: "2026-05-20T02:00:00Z"
    succeeded: 1
    terminating: 0
    uncountedTerminatedPods: {}
- apiVersion: batch/v1
  kind: Job
  metadata:
    creationTimestamp: "2026-05-20T11:50:00Z"
    name: image-resize-batch-17
    namespace: media
    uid: 8a9b0c1d-2e3f-4a4b-9c5d-6e7f8a9b0c1e
  spec:
    backoffLimit: 4
    completions: 10
    parallelism: 3
    template:
      spec:
        containers:
        - image: registry.example.com/media/resize:2.1.0
          name: resize
        restartPolicy: Never
  status:
    active: 3
    failed: 1
    ready: 3
    startTime: "2026-05-20T11:50:00Z"
    succeeded: 4
    terminating: 0
    uncountedTerminatedPods: {}
- apiVersion: batch/v1
  kind: Job
  metadata:
    creationTimestamp: "2026-05-20T08:00:00Z"
    name: backfill-orders
    namespace: shop
    uid: 9b0c1d2e-3f4a-4b5c-8d6e-7f8a9b0c1d2f
  spec:
    backoffLimit: 6
    suspend: true
    template:
      spec:
        containers:
        - image: registry.example.com/shop/backfill:0.3.0
          name: backfill
        restartPolicy: Never
  status:
    conditions:
    - lastProbeTime: "2026-05-20T08:00:00Z"
      lastTransitionTime: "2026-05-20T08:00:00Z"
      message: Job suspended
      reason: JobSuspended
      status: "True"
      type: Suspended
"#;
    assert_clean(&scan_yaml(yaml, "job"));
}
