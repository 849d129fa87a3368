//! Vector index recall@10 and queries/s, side by side with hnswlib (issue 7).
//!
//! [`BASE`] embedding-like unit vectors of dimension [`DIM`] (see
//! [`kubesage_benches::embedding_like`]) and [`QUERIES`] queries from the same distribution.
//! Ground truth is our exact search. Our [`VectorIndex`] is built with its defaults (M 16,
//! ef_construction 200) by adding the vectors one at a time, as an application would; the
//! build is timed in two parts, the inserts and the reachability check that follows every
//! graph build. Then for each `ef_search` in [`EF_SEARCH`], the queries run one after
//! another on one thread and recall@10 and queries/s are measured.
//!
//! In the same run `benches/hnsw_side_by_side.py` builds hnswlib over the same vectors (space
//! `cosine`, M 16, ef_construction 200, one thread, like ours) and answers the same queries
//! at the same widths on one thread, scored against the same ground truth; the bench prints
//! both and the ratios. hnswlib is asked for all queries in one `knn_query` call, so no
//! Python overhead is counted per query: its figure is the C++ library's.
//!
//! Run by hand: `cargo bench -p kubesage-benches --bench vector_index`. Without the Python
//! peer (`KUBESAGE_BENCH_PYTHON`, default `.venv-models/bin/python` with hnswlib installed
//! from `scripts/models/requirements.txt`) it prints our figures alone.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::time::Instant;

use kubesage_benches::{embedding_like, run_python_peer, write_f32_le};
use kubesage_ml::index::{IndexConfig, Metadata, SearchHit, VectorIndex};

/// Vectors in the index.
const BASE: usize = 20_000;
/// Queries, drawn apart from the base vectors.
const QUERIES: usize = 500;
/// Dimension (MiniLM's).
const DIM: usize = 384;
/// Neighbours asked for.
const K: usize = 10;
/// Search widths measured.
const EF_SEARCH: [usize; 3] = [32, 64, 128];

fn main() {
    let started = Instant::now();
    let base = embedding_like(7, BASE, DIM);
    let queries = embedding_like(1_000_003, QUERIES, DIM);
    println!(
        "vector_index: {BASE} x {DIM} embedding-like vectors, {QUERIES} queries, k {K} (generated in {:.1} s)",
        started.elapsed().as_secs_f64()
    );

    let mut config = IndexConfig::new(DIM);
    config.verify_reachability = false;
    let mut index = VectorIndex::with_config(config.clone()).expect("valid settings");
    let started = Instant::now();
    for (i, v) in base.iter().enumerate() {
        index.add(i as u64, v, Metadata::new()).expect("a valid vector");
    }
    let insert_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let unreachable = index.verify_reachability();
    let verify_s = started.elapsed().as_secs_f64();
    println!(
        "  KubeSage build: {:.2} s ({insert_s:.2} s inserting, {verify_s:.2} s reachability check; {unreachable} unreachable), \
         M {}, ef_construction {}, 1 thread",
        insert_s + verify_s,
        config.max_connections,
        config.ef_construction
    );

    let started = Instant::now();
    let truth: Vec<Vec<u64>> =
        queries.iter().map(|q| ids(&index.search_exact(q, K, None).expect("exact search"))).collect();
    let exact_qps = QUERIES as f64 / started.elapsed().as_secs_f64();
    let nearest = truth
        .iter()
        .zip(&queries)
        .map(|(t, q)| f64::from(dot(q, index.vector(t[0]).expect("a stored vector"))))
        .sum::<f64>()
        / QUERIES as f64;
    println!(
        "  exact search (ground truth): {exact_qps:.0} q/s; mean similarity of the nearest neighbour {nearest:.3}"
    );

    let mut ours = Vec::new();
    for ef in EF_SEARCH {
        index.set_ef_search(ef);
        for q in queries.iter().take(50) {
            std::hint::black_box(index.search(q, K, None).expect("search"));
        }
        let started = Instant::now();
        let answers: Vec<Vec<u64>> = queries.iter().map(|q| ids(&index.search(q, K, None).expect("search"))).collect();
        let qps = QUERIES as f64 / started.elapsed().as_secs_f64();
        ours.push((ef, recall(&answers, &truth), qps));
    }

    let dir = tempfile::tempdir().expect("a temporary folder");
    let base_path = dir.path().join("base.f32");
    let queries_path = dir.path().join("queries.f32");
    let truth_path = dir.path().join("truth.u32");
    write_f32_le(&base_path, &base).expect("write the base vectors");
    write_f32_le(&queries_path, &queries).expect("write the queries");
    let truth_bytes: Vec<u8> =
        truth.iter().flatten().flat_map(|&id| u32::try_from(id).expect("ids below 2^32").to_le_bytes()).collect();
    std::fs::write(&truth_path, truth_bytes).expect("write the ground truth");
    let dim = DIM.to_string();
    let k = K.to_string();
    let m = config.max_connections.to_string();
    let ef_construction = config.ef_construction.to_string();
    let ef_list = EF_SEARCH.map(|e| e.to_string()).join(",");
    let args: [&OsStr; 16] = [
        "--base".as_ref(),
        base_path.as_os_str(),
        "--queries".as_ref(),
        queries_path.as_os_str(),
        "--truth".as_ref(),
        truth_path.as_os_str(),
        "--dim".as_ref(),
        dim.as_ref(),
        "--k".as_ref(),
        k.as_ref(),
        "--m".as_ref(),
        m.as_ref(),
        "--ef-construction".as_ref(),
        ef_construction.as_ref(),
        "--ef".as_ref(),
        ef_list.as_ref(),
    ];
    let peer = run_python_peer("hnsw_side_by_side.py", &args);

    match &peer {
        Ok(p) => println!(
            "  hnswlib {} build: {:.2} s, 1 thread (ratio KubeSage / hnswlib: {:.2}x the time)",
            p["hnswlib"].as_str().unwrap_or("?"),
            p["build_s"].as_f64().unwrap_or(f64::NAN),
            (insert_s + verify_s) / p["build_s"].as_f64().unwrap_or(f64::NAN)
        ),
        Err(why) => println!("  hnswlib: skipped: {why}"),
    }
    println!("  ef_search | KubeSage recall@{K}  q/s     | hnswlib recall@{K}  q/s     | q/s ratio");
    for (ef, recall, qps) in ours {
        let theirs = peer.as_ref().ok().and_then(|p| {
            p["runs"]
                .as_array()?
                .iter()
                .find(|r| r["ef"].as_u64() == Some(ef as u64))
                .and_then(|r| Some((r["recall"].as_f64()?, r["qps"].as_f64()?)))
        });
        match theirs {
            Some((their_recall, their_qps)) => println!(
                "  {ef:>9} | {recall:>17.4}  {qps:>7.0} | {their_recall:>16.4}  {their_qps:>7.0} | {:>8.2}x",
                qps / their_qps
            ),
            None => println!("  {ef:>9} | {recall:>17.4}  {qps:>7.0} | {:>16}  {:>7} | {:>9}", "-", "-", "-"),
        }
    }
}

fn ids(hits: &[SearchHit]) -> Vec<u64> {
    hits.iter().map(|h| h.id).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Mean over queries of the share of the true `K` nearest found among the answers.
fn recall(answers: &[Vec<u64>], truth: &[Vec<u64>]) -> f64 {
    let found: usize = answers
        .iter()
        .zip(truth)
        .map(|(a, t)| {
            let t: HashSet<u64> = t.iter().copied().collect();
            a.iter().filter(|id| t.contains(id)).count()
        })
        .sum();
    found as f64 / (truth.len() * K) as f64
}
