//! `kubesage kb` end to end, and the built-in knowledge base's coverage of every finding
//! type the analyzers report.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

fn kubesage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesage")).args(args).env_remove("KUBESAGE_INDEX").output().expect("run kubesage")
}

fn runbooks() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/runbooks")
}

/// `Finding::new(NAME, "Reason"` literals in the analyzers' sources.
fn literal_reasons() -> BTreeSet<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kubesage-k8s/src/analyze");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("read the analyzers") {
        let path = entry.expect("an entry").path();
        let text = std::fs::read_to_string(&path).expect("read an analyzer");
        let Some(name) =
            text.lines().find_map(|l| l.strip_prefix("const NAME: &str = \"")).map(|r| r.trim_end_matches("\";"))
        else {
            continue;
        };
        let compact: String = text.split_whitespace().collect();
        for piece in compact.split("Finding::new(NAME,\"").skip(1) {
            if let Some(reason) = piece.split('"').next() {
                found.insert((name.to_owned(), reason.to_owned()));
            }
        }
    }
    found
}

#[test]
fn every_finding_type_has_a_builtin_entry() {
    let literals = literal_reasons();
    assert!(literals.len() >= 20, "{literals:?}");
    let report = kubesage_core::scan(
        &kubesage_k8s::source::demo::cluster().expect("the demo"),
        &kubesage_k8s::analyze::all(),
        &Default::default(),
    )
    .expect("scan");
    let from_demo: BTreeSet<(String, String)> =
        report.findings.iter().map(|f| (f.analyzer.clone(), f.reason.clone())).collect();
    let missing: Vec<_> =
        literals.iter().chain(&from_demo).filter(|(a, r)| kubesage_ml::rag::kb::entry(a, r).is_none()).collect();
    assert!(missing.is_empty(), "finding types without a knowledge-base entry: {missing:?}");
}

#[test]
fn ingest_then_search_the_index_and_the_builtin_entries() {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = dir.path().join("index.json");
    let index = index.to_str().expect("utf-8");
    let corpus = runbooks();
    let out = kubesage(&["kb", "ingest", corpus.to_str().expect("utf-8"), "--index", index]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("indexed 118 file(s)"), "{stdout}");

    let search = |text: &str| -> serde_json::Value {
        let out = kubesage(&["kb", "search", text, "--index", index, "--top", "5", "--output", "json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let hits = search("KubePodCrashLooping");
    let first = &hits["hits"][0];
    assert_eq!(first["source"], "kubernetes/KubePodCrashLooping.md", "{hits:#}");
    for key in ["source", "heading", "score", "text"] {
        assert!(!first[key].is_null(), "{key} in {first}");
    }
    // An error string a user pastes finds the built-in entry.
    let hits = search("Back-off restarting failed container");
    assert!(hits["hits"].as_array().expect("hits").iter().any(|h| h["source"] == "builtin:pod.md"), "{hits:#}");
    // Ingesting again replaces rather than duplicates.
    let out = kubesage(&["kb", "ingest", corpus.to_str().expect("utf-8"), "--index", index]);
    let again = String::from_utf8_lossy(&out.stdout);
    let before = stdout.split('(').nth(1).and_then(|s| s.split(' ').next()).map(str::to_owned);
    let after = again.split('(').nth(1).and_then(|s| s.split(' ').next()).map(str::to_owned);
    assert_eq!(before, after, "{stdout} / {again}");
}

#[test]
fn bad_folders_and_indexes_are_clear_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out =
        kubesage(&["kb", "ingest", dir.path().to_str().expect("utf-8"), "--index", "/tmp/unused-kubesage-index.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Markdown"));
    let corrupt = dir.path().join("index.json");
    std::fs::write(&corrupt, "{ not json").expect("write");
    let out = kubesage(&["kb", "search", "x", "--index", corrupt.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a KubeSage index"));
}

#[test]
fn explain_offline_grounds_each_finding_and_cites_its_sources() {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = dir.path().join("index.json");
    let index = index.to_str().expect("utf-8");
    // A team runbook that should come along for crash loops.
    let books = dir.path().join("books");
    std::fs::create_dir_all(&books).expect("mkdir");
    std::fs::write(
        books.join("crashes.md"),
        "# CrashLoopBackOff in our shop\n\nWhen pods crash loop in shop, check the Redis sidecar first.\n",
    )
    .expect("write");
    assert!(kubesage(&["kb", "ingest", books.to_str().expect("utf-8"), "--index", index]).status.success());

    let scan = kubesage(&["scan", "--demo", "-o", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&scan.stdout).expect("a report");
    let crash = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["reason"] == "CrashLoopBackOff")
        .expect("the demo has a crash loop");
    let id = crash["id"].as_str().expect("an id");

    let out = kubesage(&["explain", "--demo", "--finding", id, "--index", index, "-o", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let e = &value["explanations"][0];
    assert_eq!(e["finding"], id);
    assert_eq!(e["mode"], "offline");
    assert_eq!(e["sources"][0]["source"], "builtin:pod.md");
    assert!(e["sources"].as_array().expect("sources").iter().any(|s| s["source"] == "crashes.md"), "{e:#}");
    let answer = e["answer"].as_str().expect("an answer");
    assert!(answer.contains(crash["summary"].as_str().expect("a summary")), "{answer}");
    let entry = kubesage_ml::rag::kb::entry("pod", "CrashLoopBackOff").expect("an entry");
    assert!(answer.contains(&entry.meaning));

    // Unknown ids are an error; `scan --explain` adds explanations to the JSON report.
    let out = kubesage(&["explain", "--demo", "--finding", "0000000000000000"]);
    assert_eq!(out.status.code(), Some(1));
    let out = kubesage(&["scan", "--demo", "--explain", "-o", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(value["explanations"].as_array().expect("explanations").len(), 5);
    assert_eq!(value["explanations"][0]["finding"], value["findings"][0]["id"]);
    let out = kubesage(&["scan", "--demo", "--explain"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("## Explanations") && text.contains("Sources:"), "{text}");
}
