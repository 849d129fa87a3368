//! The cronjob analyzer: invalid schedules, suspended schedules, and a last run that failed;
//! and schedules of every accepted form left alone.

mod common;

use common::*;
use kubesage_core::Severity;

/// A nightly CronJob with three recorded runs: the latest one failed.
const NIGHTLY: &str = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: batch/v1
  kind: CronJob
  metadata:
    creationTimestamp: "2026-04-01T00:00:00Z"
    generation: 1
    name: nightly-report
    namespace: reports
    uid: 5d6e7f8a-9b0c-4d1e-8f2a-3b4c5d6e7f8a
  spec:
    concurrencyPolicy: Forbid
    failedJobsHistoryLimit: 1
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
    suspend: false
    timeZone: Europe/Berlin
  status:
    lastScheduleTime: "2026-05-20T00:00:00Z"
    lastSuccessfulTime: "2026-05-19T00:04:12Z"
- apiVersion: batch/v1
  kind: Job
  metadata:
    creationTimestamp: "2026-05-18T00:00:00Z"
    name: nightly-report-29122080
    namespace: reports
    ownerReferences:
    - apiVersion: batch/v1
      blockOwnerDeletion: true
      controller: true
      kind: CronJob
      name: nightly-report
      uid: 5d6e7f8a-9b0c-4d1e-8f2a-3b4c5d6e7f8a
    uid: 0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d
  spec:
    backoffLimit: 2
  status:
    completionTime: "2026-05-18T00:03:55Z"
    conditions:
    - lastProbeTime: "2026-05-18T00:03:55Z"
      lastTransitionTime: "2026-05-18T00:03:55Z"
      message: Reached expected number of succeeded pods
      reason: CompletionsReached
      status: "True"
      type: Complete
    startTime: "2026-05-18T00:00:00Z"
    succeeded: 1
- apiVersion: batch/v1
  kind: Job
  metadata:
    creationTimestamp: "2026-05-20T00:00:00Z"
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
  status:
    conditions:
    - lastProbeTime: "2026-05-20T00:09:00Z"
      lastTransitionTime: "2026-05-20T00:09:00Z"
      message: Job has reached the specified backoff limit
      reason: BackoffLimitExceeded
      status: "True"
      type: Failed
    failed: 3
    startTime: "2026-05-20T00:00:00Z"
- apiVersion: batch/v1
  kind: Job
  metadata:
    creationTimestamp: "2026-05-19T00:00:00Z"
    name: nightly-report-29122800
    namespace: reports
    ownerReferences:
    - apiVersion: batch/v1
      blockOwnerDeletion: true
      controller: true
      kind: CronJob
      name: nightly-report
      uid: 5d6e7f8a-9b0c-4d1e-8f2a-3b4c5d6e7f8a
    uid: 1b2c3d4e-5f6a-4b7c-9d8e-9f0a1b2c3d4e
  spec:
    backoffLimit: 2
  status:
    completionTime: "2026-05-19T00:04:12Z"
    conditions:
    - lastProbeTime: "2026-05-19T00:04:12Z"
      lastTransitionTime: "2026-05-19T00:04:12Z"
      message: Reached expected number of succeeded pods
      reason: CompletionsReached
      status: "True"
      type: Complete
    startTime: "2026-05-19T00:00:00Z"
    succeeded: 1
"#;

#[test]
fn a_failed_latest_run_is_reported_with_the_last_success() {
    let report = scan_yaml(NIGHTLY, "cronjob");
    let f = finding(&report, "LastRunFailed");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "CronJob", "reports", "nightly-report");
    assert_eq!(f.analyzer, "cronjob");
    assert_eq!(f.summary, "The last run, Job nightly-report-29123520, failed: BackoffLimitExceeded");
    assert_condition(f, "Failed", "True");
    assert_field(f, "status.lastSuccessfulTime", "2026-05-19T00:04:12Z");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn the_failed_run_is_linked_to_the_job_finding() {
    let report = scan_many(NIGHTLY, &["cronjob", "job"]);
    let cron = finding(&report, "LastRunFailed");
    let job = finding(&report, "BackoffLimitExceeded");
    assert_object(job, "Job", "reports", "nightly-report-29123520");
    assert_related(cron, job);
}

#[test]
fn a_cronjob_that_never_succeeded_says_so() {
    let yaml = edit(NIGHTLY, &[("    lastSuccessfulTime: \"2026-05-19T00:04:12Z\"\n", "")]);
    let yaml = list_without(&yaml, &["nightly-report-29122080", "nightly-report-29122800"]);
    let report = scan_yaml(&yaml, "cronjob");
    let f = finding(&report, "LastRunFailed");
    assert_evidence(f, "no successful run is recorded");
}

#[test]
fn an_older_failure_followed_by_a_success_is_not_reported() {
    // The failed run is no longer the latest: a newer run completed.
    let yaml = edit(
        NIGHTLY,
        &[(
            "    creationTimestamp: \"2026-05-19T00:00:00Z\"\n    name: nightly-report-29122800",
            "    creationTimestamp: \"2026-05-21T00:00:00Z\"\n    name: nightly-report-29122800",
        )],
    );
    assert_clean(&scan_yaml(&yaml, "cronjob"));
}

#[test]
fn an_invalid_schedule_is_critical_and_says_which_field() {
    let yaml = edit(NIGHTLY, &[("    schedule: 0 2 * * *\n", "    schedule: 0 25 * * *\n")]);
    let report = scan_yaml(&yaml, "cronjob");
    let f = finding(&report, "InvalidSchedule");
    assert_eq!(f.severity, Severity::Critical);
    assert_object(f, "CronJob", "reports", "nightly-report");
    assert_eq!(f.summary, "Schedule \"0 25 * * *\" is invalid: hour field \"25\": 25 is outside 0-23");
    assert_field(f, "spec.schedule", "0 25 * * *");

    let six = edit(NIGHTLY, &[("    schedule: 0 2 * * *\n", "    schedule: 0 0 2 * * *\n")]);
    let report = scan_yaml(&six, "cronjob");
    assert!(finding(&report, "InvalidSchedule").summary.contains("expected 5 fields, found 6"));
}

#[test]
fn a_suspended_cronjob_is_informational() {
    let yaml = edit(NIGHTLY, &[("    suspend: false\n", "    suspend: true\n")]);
    let yaml = list_without(&yaml, &["nightly-report-29123520"]);
    let report = scan_yaml(&yaml, "cronjob");
    let f = finding(&report, "Suspended");
    assert_eq!(f.severity, Severity::Info);
    assert_object(f, "CronJob", "reports", "nightly-report");
    assert_eq!(f.summary, "CronJob is suspended: no new runs are scheduled");
    assert_field(f, "spec.suspend", "true");
    assert_field(f, "status.lastScheduleTime", "2026-05-20T00:00:00Z");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn every_accepted_schedule_form_is_left_alone() {
    // Five fields with names, steps, ranges and `?`; the macros; and `@every`, which the
    // CronJob controller's parser (robfig/cron) accepts and charts use.
    for schedule in [
        "'*/15 * * * 1-5'",
        "30 6 1,15 JAN-JUN ?",
        "0 9-17/2 * * MON-FRI",
        "'@hourly'",
        "'@midnight'",
        "'@every 48h'",
        "'@every 1h30m'",
    ] {
        let cronjob = format!(
            r#"
apiVersion: batch/v1
kind: CronJob
metadata:
  creationTimestamp: "2026-04-01T00:00:00Z"
  name: cleanup
  namespace: ops
  uid: 2c3d4e5f-6a7b-4c8d-9e0f-a1b2c3d4e5f6
spec:
  concurrencyPolicy: Allow
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - image: registry.example.com/ops/cleanup:1.0.0
            name: cleanup
          restartPolicy: OnFailure
  schedule: {schedule}
  suspend: false
status:
  lastScheduleTime: "2026-05-20T11:45:00Z"
  lastSuccessfulTime: "2026-05-20T11:45:09Z"
"#
        );
        let report = scan_yaml(&cronjob, "cronjob");
        assert!(report.findings.is_empty(), "schedule {schedule}:\n{}", describe(&report));
    }
}

#[test]
fn a_cronjob_whose_runs_succeed_has_no_findings() {
    let yaml = list_without(NIGHTLY, &["nightly-report-29123520"]);
    assert_clean(&scan_yaml(&yaml, "cronjob"));
}
