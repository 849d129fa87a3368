//! The `kubesage` binary driven as a user would: demo scans in every format, snapshot
//! files and folders, scoping flags, exit codes, configuration, and bad input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn kubesage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesage"))
        .args(args)
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .output()
        .expect("run kubesage")
}

fn json(args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let out = kubesage(&all);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the output is one JSON object")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn findings(report: &serde_json::Value) -> &Vec<serde_json::Value> {
    report["findings"].as_array().expect("findings is a list")
}

#[test]
fn demo_json_has_the_documented_shape() {
    let report = json(&["scan", "--demo"]);
    let list = findings(&report);
    assert!(list.len() >= 30, "the demo has many problems, found {}", list.len());
    for f in list {
        for key in ["id", "analyzer", "severity", "object", "summary", "evidence", "related", "reason", "next_steps"] {
            assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
        }
        assert_eq!(f["id"].as_str().map(str::len), Some(16));
        assert!(f["object"]["kind"].is_string() && f["object"]["name"].is_string());
        assert!(f["object"].get("namespace").is_some());
        assert!(!f["evidence"].as_array().expect("evidence list").is_empty(), "every finding has evidence: {f}");
    }
    // Several distinct analyzers and problems, and healthy objects left alone.
    let analyzers: std::collections::BTreeSet<&str> = list.iter().filter_map(|f| f["analyzer"].as_str()).collect();
    assert!(analyzers.len() >= 12, "{analyzers:?}");
    assert!(!list.iter().any(|f| f["object"]["name"].as_str().is_some_and(|n| n.starts_with("frontend"))));
    assert!(!list.iter().any(|f| f["object"]["name"].as_str().is_some_and(|n| n.starts_with("coredns"))));
    assert_eq!(report["source"], "embedded demo cluster");
    assert_eq!(report["observed_at"], "2026-11-20T10:00:00Z");
    let s = &report["summary"];
    let total =
        s["critical"].as_u64().unwrap_or(0) + s["warning"].as_u64().unwrap_or(0) + s["info"].as_u64().unwrap_or(0);
    assert_eq!(total as usize, list.len());
}

#[test]
fn ids_are_stable_across_scans_and_related_ids_resolve() {
    let a = json(&["scan", "--demo"]);
    let b = json(&["scan", "--demo"]);
    let ids = |r: &serde_json::Value| findings(r).iter().map(|f| f["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
    let all: std::collections::BTreeSet<&str> = findings(&a).iter().filter_map(|f| f["id"].as_str()).collect();
    assert_eq!(all.len(), findings(&a).len(), "ids are unique");
    let mut linked = 0;
    for f in findings(&a) {
        for r in f["related"].as_array().expect("related list") {
            assert!(all.contains(r.as_str().unwrap_or_default()), "related id {r} resolves");
            linked += 1;
        }
    }
    assert!(linked > 10);
    // The crash-looping checkout pods and their Deployment tell one story.
    let deployment = findings(&a)
        .iter()
        .find(|f| f["object"]["kind"] == "Deployment" && f["object"]["name"] == "checkout")
        .expect("the checkout Deployment is reported");
    let pod_ids: Vec<&str> =
        findings(&a).iter().filter(|f| f["reason"] == "CrashLoopBackOff").filter_map(|f| f["id"].as_str()).collect();
    assert_eq!(pod_ids.len(), 3);
    let related: Vec<&str> =
        deployment["related"].as_array().expect("list").iter().filter_map(|r| r.as_str()).collect();
    assert!(pod_ids.iter().all(|id| related.contains(id)));
}

#[test]
fn yaml_and_markdown_and_table_outputs() {
    let out = kubesage(&["scan", "--demo", "-o", "yaml"]);
    assert!(out.status.success());
    let yaml: serde_json::Value = serde_saphyr::from_slice(&out.stdout).expect("valid YAML");
    assert_eq!(findings(&yaml).len(), findings(&json(&["scan", "--demo"])).len());

    let md = String::from_utf8(kubesage(&["scan", "--demo", "-o", "markdown"]).stdout).expect("utf-8");
    assert!(md.starts_with("# KubeSage scan"));
    assert!(md.contains("| Severity | Object | Reason | Summary |"));
    assert!(md.contains("Next steps:"));

    let table = String::from_utf8(kubesage(&["scan", "--demo"]).stdout).expect("utf-8");
    assert!(table.contains("SEVERITY") && table.contains("CrashLoopBackOff"));
    assert!(!table.contains('\u{1b}'), "no colour when not a terminal");
    let details = String::from_utf8(kubesage(&["scan", "--demo", "--details"]).stdout).expect("utf-8");
    assert!(
        details.contains("    - status.containerStatuses[checkout].lastState.terminated.exitCode = 1"),
        "{details}"
    );
    assert!(details.contains("    related: "));
}

#[test]
fn fail_on_sets_the_exit_code() {
    assert_eq!(kubesage(&["scan", "--demo", "--fail-on", "critical"]).status.code(), Some(3));
    assert_eq!(kubesage(&["scan", "--demo"]).status.code(), Some(0));
    // Only info findings in this scope: a warning threshold passes.
    let out = kubesage(&["scan", "--demo", "--analyzer", "pv", "--fail-on", "critical"]);
    assert_eq!(out.status.code(), Some(0));
    let out = kubesage(&["scan", "--demo", "--analyzer", "pv", "--fail-on", "warning"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn namespace_selector_and_analyzer_scope_the_findings() {
    let shop = json(&["scan", "--demo", "--namespace", "shop"]);
    assert!(!findings(&shop).is_empty());
    assert!(findings(&shop).iter().all(|f| f["object"]["namespace"] == "shop"));

    let sel = json(&["scan", "--demo", "--selector", "app.kubernetes.io/name=checkout"]);
    assert!(!findings(&sel).is_empty());
    assert!(
        findings(&sel).iter().all(|f| f["object"]["name"].as_str().is_some_and(|n| n.starts_with("checkout"))),
        "{sel}"
    );

    let nodes = json(&["scan", "--demo", "--analyzer", "node,pv"]);
    let kinds: std::collections::BTreeSet<&str> =
        findings(&nodes).iter().filter_map(|f| f["object"]["kind"].as_str()).collect();
    assert_eq!(kinds, ["Node", "PersistentVolume"].into_iter().collect());
}

#[test]
fn snapshot_files_folders_and_stdin() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The demo's objects, split across a JSON List and a YAML file in a nested folder.
    let list: serde_json::Value = serde_saphyr::from_str(kubesage_k8s::source::demo::DEMO_YAML).expect("demo");
    let items = list["items"].as_array().expect("items");
    let (a, b) = items.split_at(items.len() / 2);
    std::fs::write(
        dir.path().join("part1.json"),
        serde_json::to_vec(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": a})).expect("json"),
    )
    .expect("write");
    std::fs::create_dir(dir.path().join("more")).expect("mkdir");
    std::fs::write(
        dir.path().join("more/part2.yaml"),
        serde_saphyr::to_string(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": b})).expect("yaml"),
    )
    .expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not a snapshot").expect("write");

    let from_folder = json(&["scan", "--snapshot", dir.path().to_str().expect("utf-8")]);
    let demo = json(&["scan", "--demo"]);
    let ids = |r: &serde_json::Value| {
        findings(r)
            .iter()
            .map(|f| f["id"].as_str().unwrap_or_default().to_owned())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(ids(&from_folder), ids(&demo), "split files give the same findings as the whole");

    let mut child = Command::new(env!("CARGO_BIN_EXE_kubesage"))
        .args(["scan", "--snapshot", "-", "-o", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(kubesage_k8s::source::demo::DEMO_YAML.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    let from_stdin: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(ids(&from_stdin), ids(&demo));
}

#[test]
fn bad_input_gives_clear_errors_and_exit_code_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases: &[(&str, &str, &str)] = &[
        (
            "truncated.json",
            r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"#,
            "truncated",
        ),
        ("notk8s.json", r#"{"hello": "world"}"#, "object has no kind"),
        ("bad.yaml", "items: [unclosed", "bad.yaml"),
        (
            "wrongtype.json",
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":"nope"}}"#,
            "invalid type",
        ),
        ("empty.json", "", "empty"),
    ];
    for (name, content, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("write");
        let out = kubesage(&["scan", "--snapshot", path.to_str().expect("utf-8")]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.starts_with("error: "), "{name}: {err}");
        assert!(err.contains(expected), "{name}: expected {expected:?} in {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let out = kubesage(&["scan", "--snapshot", "/nonexistent/snapshot.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/snapshot.json"));

    let empty_dir = tempfile::tempdir().expect("temp dir");
    let out = kubesage(&["scan", "--snapshot", empty_dir.path().to_str().expect("utf-8")]);
    assert!(stderr(&out).contains("contains no .json, .yaml or .yml files"));

    let out = kubesage(&["scan", "--demo", "--analyzer", "podz"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown analyzer \"podz\"") && stderr(&out).contains("pod, deployment"));

    let out = kubesage(&["scan", "--demo", "--selector", "app in (a"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("invalid label selector"));

    let out = kubesage(&["scan", "--demo", "--snapshot", "x.json"]);
    assert_eq!(out.status.code(), Some(2), "conflicting flags are a usage error");
}

#[test]
fn unknown_kinds_are_reported_not_fatal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("mixed.json");
    std::fs::write(
        &path,
        r#"{"apiVersion":"v1","kind":"List","items":[
            {"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"}},
            {"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"ksvc","namespace":"a"},"spec":{}},
            {"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"},"spec":{"unschedulable":true},"status":{"conditions":[{"type":"Ready","status":"True"}]}}
        ]}"#,
    )
    .expect("write");
    let report = json(&["scan", "--snapshot", path.to_str().expect("utf-8")]);
    let warnings = report["warnings"].as_array().expect("warnings");
    assert!(warnings.iter().any(|w| w.as_str().is_some_and(|w| w.contains("example.com/v1/Widget"))), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.as_str().is_some_and(|w| w.contains("serving.knative.dev/v1/Service"))));
    assert_eq!(findings(&report).len(), 1, "the cordoned node");
}

#[test]
fn config_file_and_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("kubesage.yaml");
    std::fs::write(&cfg, "namespace: payments\noutput: json\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_kubesage"))
        .args(["--config", cfg.to_str().expect("utf-8"), "scan", "--demo"])
        .env("KUBESAGE_ANALYZERS", "pod")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("config chose JSON output");
    assert!(!findings(&report).is_empty());
    assert!(findings(&report).iter().all(|f| f["object"]["namespace"] == "payments" && f["analyzer"] == "pod"));

    std::fs::write(&cfg, "colour: blue\n").expect("write");
    let out = kubesage(&["--config", cfg.to_str().expect("utf-8"), "scan", "--demo"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("invalid configuration"));
}

#[test]
fn analyzers_command_lists_every_analyzer() {
    let out = kubesage(&["analyzers"]);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    for name in kubesage_k8s::analyze::names() {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name} missing from {text}");
    }
}
