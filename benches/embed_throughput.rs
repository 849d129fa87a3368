//! Sentence-embedding throughput, side by side with onnxruntime (issue 7).
//!
//! The first [`SENTENCES`] sentences of the runbook corpus in `shared/data/runbooks` are
//! embedded in batches of [`BATCH`] by our [`SentenceEmbedder`] (tract) and, in the same
//! run, by `benches/embed_side_by_side.py`: the same `model.onnx` and `tokenizer.json` under
//! onnxruntime, padding to the longest sentence of each batch, mean pooling and L2
//! normalisation. Both sides use the same thread count (each of [`THREADS`] in turn), count
//! tokenization in their time, warm up on one batch and report their best of [`PASSES`]
//! passes. The bench prints both sentences/s, their ratio, and the smallest cosine between
//! our vector and onnxruntime's for the same sentence.
//!
//! It is run by hand (`cargo bench -p kubesage-benches --bench embed_throughput`); without
//! the model folder it prints `skipped: ...` and returns, and without the Python peer it
//! prints our figure alone. Environment: `KUBESAGE_MODEL_DIR` (see
//! [`kubesage_ml::embed::default_model_dir`]) and `KUBESAGE_BENCH_PYTHON` (default
//! `.venv-models/bin/python`, with `scripts/models/requirements.txt` installed).

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use kubesage_benches::{read_f32_le, run_python_peer, runbook_dir, runbook_sentences};
use kubesage_ml::embed::{DIMENSION, SentenceEmbedder, default_model_dir};

/// Sentences embedded per pass.
const SENTENCES: usize = 512;
/// Sentences per `embed` call.
const BATCH: usize = 32;
/// Threads for matrix products, on both sides: the comparison the issue asks for (2, every
/// core of the reference machine), then one thread, which separates kernel speed from how
/// well each runtime spreads work over threads.
const THREADS: [usize; 2] = [2, 1];
/// Timed passes over all sentences; the best is reported.
const PASSES: usize = 3;

fn main() {
    let Some(model_dir) = default_model_dir().filter(|d| d.join("model.onnx").is_file()) else {
        println!(
            "embed_throughput: skipped: no model.onnx in {} (build it with scripts/models/build_minilm.py, \
             or set KUBESAGE_MODEL_DIR)",
            default_model_dir().map_or_else(|| "$KUBESAGE_MODEL_DIR".to_owned(), |d| d.display().to_string())
        );
        return;
    };
    let corpus = runbook_dir();
    let sentences = match runbook_sentences(&corpus, SENTENCES) {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => {
            println!("embed_throughput: skipped: no sentences in {}", corpus.display());
            return;
        }
        Err(e) => {
            println!("embed_throughput: skipped: cannot read {}: {e}", corpus.display());
            return;
        }
    };
    let batches: Vec<Vec<&str>> = sentences.chunks(BATCH).map(|c| c.iter().map(String::as_str).collect()).collect();
    let words: usize = sentences.iter().map(|s| s.split_whitespace().count()).sum();
    println!(
        "embed_throughput: {} runbook sentences (mean {:.1} words) in batches of {BATCH}, best of {PASSES} passes, model {}",
        sentences.len(),
        words as f64 / sentences.len() as f64,
        model_dir.display()
    );

    let dir = tempfile::tempdir().expect("a temporary folder");
    let sentences_path = dir.path().join("sentences.json");
    std::fs::write(&sentences_path, serde_json::to_string(&sentences).expect("sentences as JSON"))
        .expect("write the sentences");
    let mut compared = false;
    for threads in THREADS {
        println!("  {threads} thread{}:", if threads == 1 { "" } else { "s" });
        let (ours_rate, ours) = time_ours(&model_dir, threads, &batches);
        println!("    KubeSage (tract)   {ours_rate:>8.1} sentences/s");
        let vectors_path = dir.path().join(format!("onnxruntime-{threads}.f32"));
        let (batch, threads_arg, passes) = (BATCH.to_string(), threads.to_string(), PASSES.to_string());
        let args: [&OsStr; 12] = [
            "--model-dir".as_ref(),
            model_dir.as_os_str(),
            "--sentences".as_ref(),
            sentences_path.as_os_str(),
            "--out".as_ref(),
            vectors_path.as_os_str(),
            "--batch".as_ref(),
            batch.as_ref(),
            "--threads".as_ref(),
            threads_arg.as_ref(),
            "--passes".as_ref(),
            passes.as_ref(),
        ];
        let peer = match run_python_peer("embed_side_by_side.py", &args) {
            Ok(peer) => peer,
            Err(why) => {
                println!("    onnxruntime        skipped: {why}");
                return;
            }
        };
        let theirs_rate = peer["sentences_per_s"].as_f64().expect("sentences_per_s in the peer's result");
        println!("    onnxruntime {:<6} {theirs_rate:>8.1} sentences/s", peer["onnxruntime"].as_str().unwrap_or("?"));
        println!("    ratio KubeSage / onnxruntime: {:.2}x", ours_rate / theirs_rate);
        if !compared {
            compared = true;
            let theirs = read_f32_le(&vectors_path, DIMENSION).expect("read onnxruntime's vectors");
            print_agreement(&ours, &theirs);
        }
    }
}

/// Our sentences/s over all `batches`, best of [`PASSES`] after one warm-up batch, and the
/// vectors of the last pass.
fn time_ours(model_dir: &Path, threads: usize, batches: &[Vec<&str>]) -> (f64, Vec<Vec<f32>>) {
    let embedder = SentenceEmbedder::load(model_dir, threads).expect("load the embedding model");
    embedder.embed(&batches[0]).expect("warm-up batch");
    let sentences: usize = batches.iter().map(Vec::len).sum();
    let mut vectors = Vec::new();
    let mut best = Duration::MAX;
    for _ in 0..PASSES {
        let started = Instant::now();
        vectors = batches.iter().flat_map(|batch| embedder.embed(batch).expect("embed a batch")).collect();
        best = best.min(started.elapsed());
    }
    (sentences as f64 / best.as_secs_f64(), vectors)
}

/// Prints the smallest and mean cosine between our vector and onnxruntime's, sentence by
/// sentence.
fn print_agreement(ours: &[Vec<f32>], theirs: &[Vec<f32>]) {
    assert_eq!(theirs.len(), ours.len(), "onnxruntime returned one vector per sentence");
    let cosines: Vec<(f32, usize)> = ours
        .iter()
        .zip(theirs)
        .enumerate()
        .map(|(i, (a, b))| {
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let norms = a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt();
            (dot / norms.max(f32::MIN_POSITIVE), i)
        })
        .collect();
    let (min, worst) = cosines.iter().copied().fold((f32::INFINITY, 0), |m, c| if c.0 < m.0 { c } else { m });
    let mean = cosines.iter().map(|c| f64::from(c.0)).sum::<f64>() / cosines.len() as f64;
    println!(
        "    agreement over {} sentences: min cosine {min:.7} (1 - min = {:.1e}, sentence {worst}), mean {mean:.7}",
        cosines.len(),
        1.0 - min
    );
}
