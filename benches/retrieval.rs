//! Retrieval quality on the public runbook corpus in `shared/data/runbooks` beside the
//! repository: every runbook is ingested, each case of `queries.json` (an alert's summary
//! text) is searched, and the rank of the runbook that answers it is scored as recall@1,
//! recall@5 and mean reciprocal rank. Passages are ranked, then collapsed to documents
//! (a document's rank is that of its best passage).

use std::path::Path;
use std::time::Instant;

use kubesage_ml::rag::index::PassageIndex;

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/runbooks");
    let queries_path = corpus.join("queries.json");
    let Ok(text) = std::fs::read_to_string(&queries_path) else {
        println!("retrieval: {} not found; skipped", queries_path.display());
        return;
    };
    let queries: Vec<serde_json::Value> = serde_json::from_str(&text).expect("queries.json is a JSON list");
    let started = Instant::now();
    let mut index = PassageIndex::new();
    let report = index.ingest_dir(&corpus).expect("ingest the corpus");
    let ingest = started.elapsed();
    println!(
        "retrieval: ingested {} files, {} passages in {:.1} ms",
        report.files,
        report.chunks,
        ingest.as_secs_f64() * 1e3
    );
    let (mut r1, mut r5, mut mrr) = (0.0, 0.0, 0.0);
    let started = Instant::now();
    for q in &queries {
        let query = q["query"].as_str().expect("a query");
        let want = q["runbook"].as_str().expect("a runbook");
        let mut docs: Vec<String> = Vec::new();
        for hit in index.search(query, 100) {
            if !docs.contains(&hit.source) {
                docs.push(hit.source);
            }
        }
        if let Some(rank) = docs.iter().position(|d| d == want) {
            r1 += f64::from(u8::from(rank == 0));
            r5 += f64::from(u8::from(rank < 5));
            mrr += 1.0 / (rank as f64 + 1.0);
        }
    }
    let n = queries.len() as f64;
    let per_query = started.elapsed().as_secs_f64() * 1e6 / n;
    println!(
        "retrieval (BM25): {} queries  recall@1 {:.3}  recall@5 {:.3}  MRR {:.3}  ({per_query:.0} us a query)",
        queries.len(),
        r1 / n,
        r5 / n,
        mrr / n
    );
}
