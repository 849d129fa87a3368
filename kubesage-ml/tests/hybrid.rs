//! Hybrid retrieval with the real sentence model (all-MiniLM-L6-v2, built by
//! `scripts/models/build_minilm.py`): exact alert names and error strings still come first,
//! paraphrases that share no word with a runbook find it through the dense side, vectors
//! survive a save and load, the built-in entries get theirs from the per-user cache, and a
//! broken model is an error while a missing one is BM25.
//!
//! `scripts/test` builds the model into `$KUBESAGE_MODEL_DIR`; without it these tests fail
//! and say so, rather than skipping.

use std::path::{Path, PathBuf};

use kubesage_ml::Error;
use kubesage_ml::embed::default_model_dir;
use kubesage_ml::rag::bm25::terms;
use kubesage_ml::rag::dense::{ModelChoice, vectors_path};
use kubesage_ml::rag::hybrid::RetrievalMode;
use kubesage_ml::rag::index::{DenseStatus, Hit, PassageIndex};
use kubesage_ml::rag::kb;

fn model_dir() -> PathBuf {
    let dir = default_model_dir().expect("KUBESAGE_MODEL_DIR or HOME is set");
    assert!(
        dir.join("model.onnx").exists(),
        "no model in {}: run scripts/test (or scripts/models/build_minilm.py --out DIR and set KUBESAGE_MODEL_DIR)",
        dir.display()
    );
    dir
}

/// Runbooks with near neighbours: several about restarts, image pulls and certificates, of
/// which only one holds each exact name or message.
const RUNBOOKS: &[(&str, &str)] = &[
    (
        "crash.md",
        "# KubePodCrashLooping\n\n## Meaning\n\nA container of the pod has restarted repeatedly during the last \
         fifteen minutes.\n",
    ),
    (
        "restarts.md",
        "# Containers that keep restarting\n\nWhen a container keeps exiting, the kubelet waits longer and longer \
         before starting it again. Read the previous logs to see why it exits.\n",
    ),
    (
        "image.md",
        "# Image pulls\n\nThe pod shows ImagePullBackOff: the kubelet could not fetch the image, because the tag does \
         not exist or the registry refused the credentials.\n",
    ),
    (
        "registry.md",
        "# Private registries\n\nPulling images from a private registry needs an image pull secret in the pod's \
         namespace; check that the secret's credentials are current.\n",
    ),
    (
        "webhook.md",
        "# Webhook TLS\n\nThe API server rejects calls to the webhook with x509: certificate signed by unknown \
         authority. Put the issuing CA in the webhook configuration's caBundle.\n",
    ),
    (
        "certs.md",
        "# Certificate expiry\n\nCertificates issued by the cluster's certificate authority expire after a year; an \
         expired or unknown certificate breaks TLS between components. Renew them before they lapse.\n",
    ),
    (
        "disk.md",
        "# NodeFilesystemSpaceFillingUp\n\nThe filesystem of a node is almost full. Prune unused images and rotate \
         logs before the kubelet starts evicting pods.\n",
    ),
    ("dns.md", "# CoreDNS\n\nName resolution inside the cluster fails when the CoreDNS pods are not ready.\n"),
    (
        "memory.md",
        "# OOMKilled\n\nThe container used more memory than its limit allows, and the kernel killed it. Raise the \
         limit or find the leak.\n",
    ),
];

fn write_runbooks(dir: &Path) {
    for (name, text) in RUNBOOKS {
        std::fs::write(dir.join(name), text).expect("write a runbook");
    }
}

fn hybrid_index(dir: &Path) -> PassageIndex {
    write_runbooks(dir);
    let mut index = PassageIndex::with_model(&ModelChoice::Dir(model_dir())).expect("load the model");
    let report = index.ingest_dir(dir).expect("ingest");
    assert_eq!((report.embedded, report.reused), (RUNBOOKS.len(), 0));
    assert_eq!(index.mode(), RetrievalMode::Hybrid, "{}", index.dense_status());
    index
}

fn sources(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.source.as_str()).collect()
}

#[test]
fn exact_names_and_error_strings_still_come_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = hybrid_index(dir.path());
    for (query, want) in [
        ("KubePodCrashLooping", "crash.md"),
        ("ImagePullBackOff", "image.md"),
        ("x509: certificate signed by unknown authority", "webhook.md"),
        ("OOMKilled", "memory.md"),
        ("NodeFilesystemSpaceFillingUp", "disk.md"),
        ("pod stuck in ImagePullBackOff after a deploy", "image.md"),
    ] {
        let hits = index.search(query, 3);
        assert_eq!(hits[0].source, want, "{query}: {:?}", sources(&hits));
        assert!(hits[0].score > hits[1].score, "{query}: {hits:?}");
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score), "fused scores never increase: {hits:?}");
    }
}

#[test]
fn paraphrases_sharing_no_word_are_found_by_meaning() {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = hybrid_index(dir.path());
    for (query, want) in [
        // Nothing lexical matches at all: the dense ranking decides.
        ("the program ran out of RAM", "memory.md"),
        ("no room on the disk of a worker machine", "disk.md"),
        ("trust error talking to the admission hook", "webhook.md"),
        // BM25 matches a wrong passage on an incidental word; fusion keeps the right one near.
        ("hostnames cannot be looked up", "dns.md"),
        ("the keys used for encryption have lapsed", "certs.md"),
    ] {
        let passage = RUNBOOKS.iter().find(|(name, _)| *name == want).map(|(_, text)| *text).expect("a runbook");
        let shared: Vec<String> = terms(query).into_iter().filter(|t| terms(passage).contains(t)).collect();
        assert!(shared.is_empty(), "{query:?} shares {shared:?} with {want}");
        let lexical = index.search_with(query, 5, RetrievalMode::Bm25).expect("bm25");
        assert!(!sources(&lexical).contains(&want), "BM25 cannot find {want} for {query:?}: {:?}", sources(&lexical));
        let dense = index.search_with(query, 3, RetrievalMode::Dense).expect("dense");
        assert_eq!(dense[0].source, want, "{query}: {:?}", sources(&dense));
        let hybrid = index.search(query, 3);
        assert!(sources(&hybrid).contains(&want), "{query}: {:?}", sources(&hybrid));
        if lexical.is_empty() {
            assert_eq!(hybrid[0].source, want, "{query}: nothing lexical to fuse with: {:?}", sources(&hybrid));
        }
    }
}

#[test]
fn vectors_survive_save_and_load_and_stale_ones_are_rebuilt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = hybrid_index(dir.path());
    let file = dir.path().join("state/index.json");
    index.save(&file).expect("save");
    let choice = ModelChoice::Dir(model_dir());
    let back = PassageIndex::load_with(&file, &choice).expect("load");
    assert_eq!(back.dense_status(), DenseStatus::Ready { vectors: RUNBOOKS.len() });
    for query in ["no room on the disk of a worker machine", "KubePodCrashLooping"] {
        let (a, b) = (back.search(query, 3), index.search(query, 3));
        assert_eq!(sources(&a), sources(&b), "{query}");
    }

    // The passages change without the model: the vectors are stale, and say so.
    let mut bm25_only = PassageIndex::load_with(&file, &ModelChoice::Off).expect("load");
    bm25_only.add_markdown("dns.md", "# CoreDNS\n\nLookups time out when the CoreDNS service has no endpoints.\n");
    bm25_only.save(&file).expect("save");
    let mut stale = PassageIndex::load_with(&file, &choice).expect("load");
    assert_eq!(stale.mode(), RetrievalMode::Bm25);
    let err = stale.search_with("lookups", 3, RetrievalMode::Hybrid).expect_err("stale vectors");
    assert!(matches!(err, Error::PassageVectors { .. }), "{err}");
    assert!(err.to_string().contains(&vectors_path(&file).display().to_string()), "{err}");
    let report = stale.embed_missing().expect("rebuild");
    assert_eq!((report.computed, report.reused), (1, 0));
    assert_eq!(stale.mode(), RetrievalMode::Hybrid);
}

#[test]
fn builtin_entries_get_their_vectors_from_the_cache() {
    let mut index = PassageIndex::with_model(&ModelChoice::Dir(model_dir())).expect("load the model");
    kb::try_add_builtin(&mut index).expect("the built-in vectors");
    assert_eq!(index.dense_status(), DenseStatus::Ready { vectors: kb::passages().len() });
    let hits = index.search("Back-off restarting failed container", 5);
    assert!(hits.iter().any(|h| h.heading.ends_with("pod/CrashLoopBackOff")), "{:?}", hits);
    let hits = index.search("CrashLoopBackOff", 3);
    assert!(hits[0].heading.ends_with("pod/CrashLoopBackOff"), "{}", hits[0].heading);
    // A second index in the same process takes them from memory.
    let started = std::time::Instant::now();
    let mut again = PassageIndex::with_model(&ModelChoice::Dir(model_dir())).expect("load the model");
    kb::add_builtin(&mut again);
    assert_eq!(again.mode(), RetrievalMode::Hybrid);
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
}

#[test]
fn a_broken_model_is_an_error_and_a_missing_one_is_bm25() {
    let good = model_dir();
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).expect("mkdir");
    std::fs::copy(good.join("tokenizer.json"), broken.join("tokenizer.json")).expect("copy tokenizer");
    std::fs::write(broken.join("model.onnx"), b"\x08\x07 not a protobuf \xff\xff").expect("write");
    let err = PassageIndex::load_with(&dir.path().join("index.json"), &ModelChoice::Dir(broken.clone()))
        .expect_err("broken model");
    assert!(matches!(err, Error::Model { .. }), "{err}");
    // Only a tokenizer: a model half installed is broken, not absent.
    std::fs::remove_file(broken.join("model.onnx")).expect("remove");
    assert!(PassageIndex::with_model(&ModelChoice::Dir(broken)).is_err());

    let missing = ModelChoice::Dir(dir.path().join("nothing-here"));
    let index = PassageIndex::load_with(&dir.path().join("index.json"), &missing).expect("no model is fine");
    assert!(matches!(index.dense_status(), DenseStatus::NoModel { .. }));
    assert_eq!(index.mode(), RetrievalMode::Bm25);
}
