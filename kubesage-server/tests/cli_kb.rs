//! `kubesage kb` end to end, and the built-in knowledge base's coverage of every finding
//! type the analyzers report.
//!
//! Hybrid search runs with the real sentence model (`$KUBESAGE_MODEL_DIR`, else the default
//! folder, as `kubesage-ml/tests/embed.rs` finds it; those tests fail without it, and the
//! hybrid test here does too). Tests over the whole runbook corpus point
//! `KUBESAGE_MODEL_DIR` at an empty folder: embedding 437 passages takes minutes in a debug
//! build, and BM25 without a model is what they check.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kubesage(args: &[&str]) -> Output {
    kubesage_with(args, &[])
}

/// `kubesage` with environment variables set (`KUBESAGE_MODEL_DIR`, say).
fn kubesage_with(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubesage"));
    command.args(args).env_remove("KUBESAGE_INDEX");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run kubesage")
}

/// The sentence model's folder; the test fails (rather than skips) without it.
fn model_dir() -> PathBuf {
    let dir = kubesage_ml::embed::default_model_dir().expect("KUBESAGE_MODEL_DIR or HOME is set");
    assert!(
        dir.join("model.onnx").exists(),
        "no model in {}: run scripts/test (or scripts/models/build_minilm.py --out DIR and set KUBESAGE_MODEL_DIR)",
        dir.display()
    );
    dir
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
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
    let no_model = dir.path().join("no-model");
    let env = [("KUBESAGE_MODEL_DIR", no_model.as_path())];
    let index = dir.path().join("index.json");
    let index = index.to_str().expect("utf-8");
    let corpus = runbooks();
    let out = kubesage_with(&["kb", "ingest", corpus.to_str().expect("utf-8"), "--index", index], &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("indexed 118 file(s)"), "{stdout}");
    assert!(stdout.contains("no passage vectors: no sentence-embedding model in"), "{stdout}");

    let search = |text: &str| -> serde_json::Value {
        stdout_json(&kubesage_with(&["kb", "search", text, "--index", index, "--top", "5", "--output", "json"], &env))
    };
    let hits = search("KubePodCrashLooping");
    assert_eq!(hits["mode"], "bm25", "{hits:#}");
    assert!(hits["notice"].as_str().is_some_and(|n| n.contains("no sentence-embedding model")), "{hits:#}");
    let first = &hits["hits"][0];
    assert_eq!(first["source"], "kubernetes/KubePodCrashLooping.md", "{hits:#}");
    for key in ["source", "heading", "score", "text"] {
        assert!(!first[key].is_null(), "{key} in {first}");
    }
    // An error string a user pastes finds the built-in entry.
    let hits = search("Back-off restarting failed container");
    assert!(hits["hits"].as_array().expect("hits").iter().any(|h| h["source"] == "builtin:pod.md"), "{hits:#}");
    // Ingesting again replaces rather than duplicates.
    let out = kubesage_with(&["kb", "ingest", corpus.to_str().expect("utf-8"), "--index", index], &env);
    let again = String::from_utf8_lossy(&out.stdout);
    let before = stdout.split('(').nth(1).and_then(|s| s.split(' ').next()).map(str::to_owned);
    let after = again.split('(').nth(1).and_then(|s| s.split(' ').next()).map(str::to_owned);
    assert_eq!(before, after, "{stdout} / {again}");
}

/// A few runbooks of the public corpus, in their folders.
fn some_runbooks(into: &Path) {
    for file in [
        "kubernetes/KubePodCrashLooping.md",
        "kubernetes/KubeletDown.md",
        "kubernetes/KubeNodeUnreachable.md",
        "node/NodeFilesystemSpaceFillingUp.md",
        "etcd/etcdNoLeader.md",
    ] {
        let to = into.join(file);
        std::fs::create_dir_all(to.parent().expect("a folder")).expect("mkdir");
        std::fs::copy(runbooks().join(file), &to).expect("copy a runbook");
    }
}

#[test]
fn hybrid_search_with_the_model_keeps_exact_matches_first_and_finds_paraphrases() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = model_dir();
    let env = [("KUBESAGE_MODEL_DIR", model.as_path())];
    let books = dir.path().join("books");
    some_runbooks(&books);
    let books = books.to_str().expect("utf-8");
    let index_path = dir.path().join("index.json");
    let index = index_path.to_str().expect("utf-8");

    let out = kubesage_with(&["kb", "ingest", books, "--index", index], &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let passages: usize = stdout
        .split(" passage vector(s)")
        .next()
        .and_then(|s| s.rsplit('\n').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("a count of vectors in {stdout}"));
    assert!(passages >= 5, "{stdout}");
    assert!(stdout.contains(&format!("({passages} computed, 0 reused)")), "{stdout}");
    assert!(dir.path().join("index.vectors").exists());

    let search = |text: &str, mode: &str| -> serde_json::Value {
        stdout_json(&kubesage_with(
            &["kb", "search", text, "--index", index, "--top", "5", "--output", "json", "--mode", mode],
            &env,
        ))
    };
    let sources = |v: &serde_json::Value| -> Vec<String> {
        let hits = v["hits"].as_array().expect("hits");
        hits.iter()
            .map(|h| {
                format!("{} — {}", h["source"].as_str().unwrap_or_default(), h["heading"].as_str().unwrap_or_default())
            })
            .collect()
    };

    // Exact names and error strings: the passage holding them is first.
    let hits = search("KubePodCrashLooping", "auto");
    assert_eq!(hits["mode"], "hybrid", "{hits:#}");
    assert!(hits.get("notice").is_none(), "{hits:#}");
    assert_eq!(hits["hits"][0]["source"], "kubernetes/KubePodCrashLooping.md", "{:?}", sources(&hits));
    for exact in ["ImagePullBackOff", "x509: certificate signed by unknown authority", "OOMKilled"] {
        let hits = search(exact, "auto");
        let first = &hits["hits"][0];
        let text = format!(
            "{}\n{}",
            first["heading"].as_str().unwrap_or_default(),
            first["text"].as_str().unwrap_or_default()
        );
        assert!(text.to_lowercase().contains(&exact.to_lowercase()), "{exact}: {:?}", sources(&hits));
        let scores: Vec<f64> =
            hits["hits"].as_array().expect("hits").iter().filter_map(|h| h["score"].as_f64()).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    }

    // A paraphrase in other words than the entry: BM25 misses it, hybrid finds it.
    let paraphrase = "the program used up all its RAM";
    let wanted = |v: &serde_json::Value| sources(v).iter().any(|s| s.ends_with("pod/OOMKilled"));
    let lexical = search(paraphrase, "bm25");
    assert_eq!(lexical["mode"], "bm25");
    assert!(!wanted(&lexical), "{:?}", sources(&lexical));
    let hybrid = search(paraphrase, "hybrid");
    assert!(wanted(&hybrid), "{:?}", sources(&hybrid));
    let dense = search(paraphrase, "dense");
    assert_eq!(dense["mode"], "dense");
    assert!(wanted(&dense), "{:?}", sources(&dense));

    // Text output names the mode and prints no notice when hybrid.
    let out = kubesage_with(&["kb", "search", "KubeletDown", "--index", index], &env);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("hybrid score"), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));

    // Ingesting again reuses every vector.
    let out = kubesage_with(&["kb", "ingest", books, "--index", index], &env);
    let again = String::from_utf8_lossy(&out.stdout);
    assert!(again.contains(&format!("{passages} passage vector(s)")) && again.contains("(0 computed, "), "{again}");

    // The passages change while the model is missing: the vectors are stale, which search
    // says (and refuses in --mode hybrid) until an ingest with the model rebuilds them.
    let no_model = dir.path().join("no-model");
    let without = [("KUBESAGE_MODEL_DIR", no_model.as_path())];
    std::fs::write(
        Path::new(books).join("node/NodeFilesystemSpaceFillingUp.md"),
        "# NodeFilesystemSpaceFillingUp\n\nThe filesystem of a node will be full within four hours.\n",
    )
    .expect("write");
    assert!(kubesage_with(&["kb", "ingest", books, "--index", index], &without).status.success());
    let stale = search("KubePodCrashLooping", "auto");
    assert_eq!(stale["mode"], "bm25", "{stale:#}");
    let notice = stale["notice"].as_str().expect("a notice");
    assert!(notice.contains("index.vectors") && notice.contains("kb ingest"), "{notice}");
    let out = kubesage_with(&["kb", "search", "disk", "--index", index, "--mode", "hybrid"], &env);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("passage vectors") && stderr.contains("no vector of their current text"), "{stderr}");
    let out = kubesage_with(&["kb", "ingest", books, "--index", index], &env);
    let rebuilt = String::from_utf8_lossy(&out.stdout);
    assert!(rebuilt.contains("computed") && !rebuilt.contains("(0 computed"), "{rebuilt}");
    assert_eq!(search("KubePodCrashLooping", "auto")["mode"], "hybrid");
}

#[test]
fn without_the_model_search_is_bm25_with_a_notice_and_a_broken_model_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = dir.path().join("index.json");
    let index = index.to_str().expect("utf-8");
    let no_model = dir.path().join("no-model");
    let env = [("KUBESAGE_MODEL_DIR", no_model.as_path())];
    let out = kubesage_with(&["kb", "search", "CrashLoopBackOff", "--index", index], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("note: no sentence-embedding model in") && stderr.contains("BM25 only"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("pod/CrashLoopBackOff"));
    // Asking for BM25 is not a fallback: no notice.
    let out = kubesage_with(&["kb", "search", "CrashLoopBackOff", "--index", index, "--mode", "bm25"], &env);
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    // Asking for hybrid or dense without a model is an error.
    for mode in ["hybrid", "dense"] {
        let out = kubesage_with(&["kb", "search", "x", "--index", index, "--mode", mode], &env);
        assert_eq!(out.status.code(), Some(1), "{mode}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("no sentence-embedding model"), "{mode}");
    }

    // A model folder with a model that does not load is an error, not a silent fallback.
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).expect("mkdir");
    std::fs::write(broken.join("model.onnx"), b"\x08\x07 not a protobuf \xff\xff").expect("write");
    std::fs::copy(model_dir().join("tokenizer.json"), broken.join("tokenizer.json")).expect("copy the tokenizer");
    let env = [("KUBESAGE_MODEL_DIR", broken.as_path())];
    let out = kubesage_with(&["kb", "search", "x", "--index", index], &env);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("model") && stderr.contains("model.onnx"), "{stderr}");
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
