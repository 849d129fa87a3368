//! End to end: the real `kubesage` binary scans a live API served by an independent
//! Kubernetes API emulator (kmock's `KubernetesEmulator`, from PyPI) on loopback, loaded
//! with the demo cluster's objects, with listing Secrets forbidden as RBAC would.
//!
//! The emulator needs Python with `kmock`: `scripts/test` makes a virtualenv with it and
//! sets `KUBESAGE_TEST_PYTHON`. Without it this test fails and says so, rather than
//! skipping silently.

mod emulator;

use std::collections::BTreeSet;
use std::process::Command;

use emulator::{demo_objects, kubeconfig, start_emulator};

fn scan(args: &[&str]) -> (i32, serde_json::Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_kubesage"))
        .arg("scan")
        .args(args)
        .args(["--output", "json"])
        .env_remove("KUBECONFIG")
        .output()
        .expect("run kubesage");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (output.status.code().unwrap_or(-1), json, stderr)
}

fn problems(report: &serde_json::Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{} {}/{} {}",
                f["object"]["kind"].as_str().unwrap_or_default(),
                f["object"]["namespace"].as_str().unwrap_or("-"),
                f["object"]["name"].as_str().unwrap_or_default(),
                f["reason"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn live_scan_through_the_emulator_matches_the_snapshot() {
    let objects = demo_objects();
    let emulator = start_emulator(objects.path(), &["secrets"]);
    let kc = kubeconfig(emulator.port);
    let kc_path = kc.path().to_str().expect("utf-8 path");

    let (code, live, stderr) = scan(&["--kubeconfig", kc_path, "--timeout", "20"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(stderr.contains("skipped Secret: forbidden"), "the 403 is reported: {stderr}");
    let skipped = live["skipped"].as_array().expect("skipped list");
    assert!(skipped.iter().any(|s| s["kind"] == "Secret"));

    let (_, snapshot, _) = scan(&["--demo"]);
    let live_problems = problems(&live);
    let snapshot_problems = problems(&snapshot);
    assert!(live_problems.len() >= 20, "the live scan finds the demo's problems: {live_problems:#?}");

    // Everything found live is found in the snapshot; what the snapshot finds in addition
    // needs Secrets (forbidden here) or depends on the clock (the snapshot's time vs now).
    let only_live: Vec<_> = live_problems.difference(&snapshot_problems).collect();
    assert!(only_live.iter().all(|p| p.ends_with("Pending") || p.contains("StuckTerminating")), "{only_live:#?}");
    for p in snapshot_problems.difference(&live_problems) {
        assert!(
            p.contains("TLSSecret")
                || p.contains("MissingReference")
                || p.contains("Pending")
                || p.contains("StuckTerminating"),
            "{p} was found in the snapshot but not live"
        );
    }
    // A Secret that the credentials could not read is never reported missing.
    assert!(!live_problems.iter().any(|p| p.contains("MissingTLSSecret")));
    assert!(snapshot_problems.iter().any(|p| p.contains("MissingTLSSecret")));
}

#[test]
fn namespaced_live_scan_lists_only_that_namespace() {
    let objects = demo_objects();
    let emulator = start_emulator(objects.path(), &[]);
    let kc = kubeconfig(emulator.port);
    let (code, live, stderr) = scan(&["--kubeconfig", kc.path().to_str().expect("utf-8"), "--namespace", "payments"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    let found = problems(&live);
    assert!(!found.is_empty());
    assert!(found.iter().all(|p| p.split(' ').nth(1).is_some_and(|o| o.starts_with("payments/"))), "{found:#?}");
    // Only the namespace's pods were listed, not the whole cluster's.
    let pods = live["summary"]["objects"]["Pod"].as_u64().unwrap_or(0);
    let (_, demo, _) = scan(&["--demo"]);
    assert!(pods > 0 && pods < demo["summary"]["objects"]["Pod"].as_u64().unwrap_or(0));
}
