//! Retrieval quality on the public runbook corpus in `shared/data/runbooks` beside the
//! repository: every runbook is ingested, each case of `queries.json` (an alert's summary
//! text) is searched, and the rank of the runbook that answers it is scored as recall@1,
//! recall@5 and mean reciprocal rank, for BM25, dense (the sentence model alone) and hybrid
//! (the two fused) side by side, with the time a query takes in each. Passages are ranked,
//! then collapsed to documents (a document's rank is that of its best passage).
//!
//! The queries of `queries.json` are the alerts' own summaries, worded like the runbooks
//! that answer them, which favours BM25. A second set, [`PARAPHRASES`], asks for the same
//! runbooks the way an operator describing a symptom might, mostly in other words; it shows
//! what the dense side adds.
//!
//! The model is the default one (`$KUBESAGE_MODEL_DIR`, else
//! `~/.cache/kubesage/models/all-MiniLM-L6-v2`); without it only BM25 is measured.

use std::path::Path;
use std::time::Instant;

use kubesage_ml::rag::dense::ModelChoice;
use kubesage_ml::rag::hybrid::RetrievalMode;
use kubesage_ml::rag::index::{DenseStatus, PassageIndex};

/// Symptoms described in other words than the runbooks use, with the runbooks that answer
/// them (any one counts). Written for this benchmark.
const PARAPHRASES: &[(&str, &[&str])] = &[
    ("a container keeps dying and being started again, over and over", &["kubernetes/KubePodCrashLooping.md"]),
    ("the API server cannot be reached at all", &["kubernetes/KubeAPIDown.md"]),
    ("no leader elected in the key-value store behind the control plane", &["etcd/etcdNoLeader.md"]),
    ("the agent on each machine that starts pods is gone from monitoring", &["kubernetes/KubeletDown.md"]),
    ("too many pods packed onto one machine", &["kubernetes/KubeletTooManyPods.md"]),
    ("the autoscaler is stuck at its upper bound", &["kubernetes/KubeHpaMaxedOut.md"]),
    (
        "time on the host is not kept in sync with NTP",
        &["node/NodeClockNotSynchronising.md", "node/NodeClockSkewDetected.md"],
    ),
    ("the disk array of a server has lost its redundancy", &["node/NodeRAIDDegraded.md"]),
    ("a network card keeps going up and down", &["general/NodeNetworkInterfaceFlapping.md"]),
    (
        "the monitoring server cannot deliver notifications to the alert router",
        &[
            "prometheus/PrometheusErrorSendingAlertsToAnyAlertmanager.md",
            "prometheus/PrometheusErrorSendingAlertsToSomeAlertmanagers.md",
            "prometheus/PrometheusNotConnectedToAlertmanagers.md",
        ],
    ),
    ("a process on a machine is running out of open file handles", &["node/NodeFileDescriptorLimit.md"]),
    ("the kernel's connection tracking table is nearly full", &["node/NodeHighNumberConntrackEntriesUsed.md"]),
    ("the heartbeat alert that is meant to fire all the time", &["general/Watchdog.md"]),
    ("new pods take a long time to come up on a node", &["kubernetes/KubeletPodStartUpLatencyHigh.md"]),
    ("containers are slowed down because they hit their processor limit", &["kubernetes/CPUThrottlingHigh.md"]),
    ("samples arrive with timestamps that go backwards", &["prometheus/PrometheusOutOfOrderTimestamps.md"]),
    ("the control plane's database is running out of its storage quota", &["etcd/etcdBackendQuotaLowSpace.md"]),
    ("a rollout has not reached the wanted number of copies", &["kubernetes/KubeDeploymentReplicasMismatch.md"]),
    ("disk writes take too long to be flushed on the cluster store members", &["etcd/etcdHighFsyncDurations.md"]),
    ("a machine has vanished from the network", &["kubernetes/KubeNodeUnreachable.md"]),
];

/// Scores of one retrieval mode over every query.
#[derive(Default)]
struct Scores {
    recall_1: f64,
    recall_5: f64,
    mrr: f64,
    micros: Vec<f64>,
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/runbooks");
    let queries_path = corpus.join("queries.json");
    let Ok(text) = std::fs::read_to_string(&queries_path) else {
        println!("retrieval: {} not found; skipped", queries_path.display());
        return;
    };
    let queries: Vec<serde_json::Value> = serde_json::from_str(&text).expect("queries.json is a JSON list");

    let started = Instant::now();
    let mut index = PassageIndex::with_model(&ModelChoice::Off).expect("no model");
    let report = index.ingest_dir(&corpus).expect("ingest the corpus");
    println!(
        "retrieval: ingested {} files, {} passages in {:.1} ms (BM25 only)",
        report.files,
        report.chunks,
        started.elapsed().as_secs_f64() * 1e3
    );
    let mut modes = vec![RetrievalMode::Bm25];
    let started = Instant::now();
    let mut hybrid = PassageIndex::with_model(&ModelChoice::Default).expect("the model loads");
    match hybrid.dense_status() {
        DenseStatus::NoModel { .. } | DenseStatus::Off => {
            println!("retrieval: dense and hybrid skipped: {}", hybrid.dense_status());
        }
        _ => {
            let report = hybrid.ingest_dir(&corpus).expect("ingest and embed the corpus");
            println!(
                "retrieval: ingested and embedded {} passages in {:.1} s (model load included)",
                report.embedded,
                started.elapsed().as_secs_f64()
            );
            index = hybrid;
            modes.extend([RetrievalMode::Dense, RetrievalMode::Hybrid]);
        }
    }

    let alerts: Vec<(&str, Vec<&str>)> = queries
        .iter()
        .map(|q| (q["query"].as_str().expect("a query"), vec![q["runbook"].as_str().expect("a runbook")]))
        .collect();
    let paraphrases: Vec<(&str, Vec<&str>)> = PARAPHRASES.iter().map(|(q, r)| (*q, r.to_vec())).collect();
    for (name, cases) in [("alert summaries (queries.json)", &alerts), ("paraphrased symptoms (ours)", &paraphrases)] {
        println!("retrieval: {} {name}", cases.len());
        for &mode in &modes {
            let scores = evaluate(&index, cases, mode);
            let n = cases.len() as f64;
            let mut micros = scores.micros.clone();
            micros.sort_by(f64::total_cmp);
            let mean = micros.iter().sum::<f64>() / n;
            let p95 = micros[((micros.len() as f64 * 0.95).ceil() as usize).saturating_sub(1)];
            println!(
                "retrieval ({:>6}): recall@1 {:.3}  recall@5 {:.3}  MRR {:.3}  ({mean:.0} us a query, p95 {p95:.0} us)",
                mode.as_str(),
                scores.recall_1 / n,
                scores.recall_5 / n,
                scores.mrr / n,
            );
        }
    }
}

fn evaluate(index: &PassageIndex, cases: &[(&str, Vec<&str>)], mode: RetrievalMode) -> Scores {
    let mut scores = Scores::default();
    // One query first, so that one-time costs (thread pools, caches) are not in the figures.
    let _ = index.search_with("warm up", 100, mode);
    for (query, want) in cases {
        let started = Instant::now();
        let hits = index.search_with(query, 100, mode).expect("search");
        scores.micros.push(started.elapsed().as_secs_f64() * 1e6);
        let mut docs: Vec<String> = Vec::new();
        for hit in hits {
            if !docs.contains(&hit.source) {
                docs.push(hit.source);
            }
        }
        let rank = docs.iter().position(|d| want.contains(&d.as_str()));
        if std::env::var_os("KUBESAGE_BENCH_VERBOSE").is_some() && rank != Some(0) {
            eprintln!("{mode}: {query:?} wants {want:?}, at rank {rank:?}; first {:?}", &docs[..docs.len().min(3)]);
        }
        if let Some(rank) = rank {
            scores.recall_1 += f64::from(u8::from(rank == 0));
            scores.recall_5 += f64::from(u8::from(rank < 5));
            scores.mrr += 1.0 / (rank as f64 + 1.0);
        }
    }
    scores
}
