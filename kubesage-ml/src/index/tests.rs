//! Tests of the vector index against exact search: recall, filters, deletes, persistence,
//! typed errors. The graph itself is not trusted: every property is measured.

use std::collections::HashSet;
use std::sync::OnceLock;

use super::*;

const DIM: usize = 384;
const N: usize = 5_000;

/// xorshift64*: deterministic, no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [-1, 1).
    fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn unit_vector(&mut self, dim: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..dim).map(|_| self.uniform()).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / norm).collect()
    }
}

fn metadata_of(i: usize) -> Metadata {
    [("bucket", (i % 20).to_string()), ("parity", (i % 2).to_string())]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// Latent dimensions of the test vectors.
const LATENT: usize = 24;
/// Topics (clusters) in the latent space.
const TOPICS: usize = 40;

/// `n` unit vectors shaped like sentence embeddings rather than uniform noise: a point near
/// one of [`TOPICS`] topic centres in a [`LATENT`]-dimensional space, mapped into `DIM`
/// dimensions by a fixed random projection, plus a little isotropic noise. Sentence
/// embeddings have this low intrinsic dimension, which is what HNSW relies on; uniform
/// random 384-dimensional vectors (intrinsic dimension 384) are a worst case no real
/// collection resembles. The projection and topics are the same for every seed.
fn vectors(seed: u64, n: usize) -> Vec<Vec<f32>> {
    let mut fixed = XorShift(0x5eed);
    let projection: Vec<Vec<f32>> = (0..LATENT).map(|_| fixed.unit_vector(DIM)).collect();
    let topics: Vec<Vec<f32>> = (0..TOPICS).map(|_| (0..LATENT).map(|_| fixed.uniform()).collect()).collect();
    let mut rng = XorShift(seed);
    (0..n)
        .map(|_| {
            let topic = &topics[(rng.next() % TOPICS as u64) as usize];
            let mut v: Vec<f32> = (0..DIM).map(|_| 0.02 * rng.uniform()).collect();
            for (row, centre) in projection.iter().zip(topic) {
                let z = centre + 0.35 * rng.uniform();
                for (x, p) in v.iter_mut().zip(row) {
                    *x += z * p;
                }
            }
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / norm).collect()
        })
        .collect()
}

fn build(n: usize, config: IndexConfig) -> VectorIndex {
    let mut index = VectorIndex::with_config(config).expect("valid settings");
    for (i, v) in vectors(7, n).iter().enumerate() {
        index.add(i as u64, v, metadata_of(i)).expect("a valid vector");
    }
    index
}

/// The 5,000-vector index the read-only tests share (built once: a graph build is slow in a
/// debug build).
fn shared() -> &'static VectorIndex {
    static INDEX: OnceLock<VectorIndex> = OnceLock::new();
    INDEX.get_or_init(|| build(N, IndexConfig::new(DIM)))
}

fn queries(n: usize) -> Vec<Vec<f32>> {
    vectors(99, n)
}

fn ids(hits: &[SearchHit]) -> Vec<u64> {
    hits.iter().map(|h| h.id).collect()
}

/// Mean recall@k of `search` against `search_exact` over `queries`.
fn recall(index: &VectorIndex, queries: &[Vec<f32>], k: usize, filter: Option<&Filter>) -> f64 {
    let mut found = 0usize;
    let mut wanted = 0usize;
    for q in queries {
        let truth: HashSet<u64> = ids(&index.search_exact(q, k, filter).expect("exact")).into_iter().collect();
        let got = index.search(q, k, filter).expect("search");
        if let Some(f) = filter {
            assert!(got.iter().all(|h| index.metadata(h.id).is_some_and(|m| f.matches(m))), "a hit fails the filter");
        }
        found += got.iter().filter(|h| truth.contains(&h.id)).count();
        wanted += truth.len();
    }
    found as f64 / wanted.max(1) as f64
}

#[test]
fn index_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<VectorIndex>();
}

#[test]
fn index_recall_at_10_is_at_least_0_95_on_5000_embedding_like_vectors() {
    let index = shared();
    assert_eq!(index.plan(None), SearchPlan::Graph);
    assert_eq!(index.stats().graph_points, N);
    let r = recall(index, &queries(200), 10, None);
    assert!(r >= 0.95, "recall@10 {r}");
}

#[test]
fn index_every_point_is_found_by_its_own_vector() {
    let index = shared();
    for (i, v) in vectors(7, N).iter().enumerate() {
        let hits = index.search(v, 1, None).expect("search");
        assert_eq!(ids(&hits), [i as u64], "point {i} not found ({} recorded unreachable)", index.stats().unreachable);
    }
}

#[test]
fn index_selective_filter_is_answered_exactly() {
    let index = shared();
    let filter = Filter::new().equals("bucket", "3");
    assert_eq!(index.plan(Some(&filter)), SearchPlan::ExactSubset { candidates: N / 20 });
    for q in queries(20) {
        let got = index.search(&q, 10, Some(&filter)).expect("search");
        let want = index.search_exact(&q, 10, Some(&filter)).expect("exact");
        assert_eq!(got, want);
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|h| h.id % 20 == 3));
    }
}

#[test]
fn index_broad_filter_goes_through_the_graph_and_keeps_recall() {
    let index = shared();
    let filter = Filter::new().equals("parity", "1");
    assert_eq!(index.plan(Some(&filter)), SearchPlan::Graph);
    let r = recall(index, &queries(100), 10, Some(&filter));
    assert!(r >= 0.95, "filtered recall@10 {r}");
    // Two broad conditions (half, and 9 of 20 buckets) whose conjunction is narrow (4 of 20
    // buckets): the postings cannot see the conjunction, so the graph is asked, and widened.
    let filter = Filter::new().equals("parity", "1").one_of("bucket", ["0", "1", "2", "3", "4", "5", "6", "7", "8"]);
    assert_eq!(index.plan(Some(&filter)), SearchPlan::Graph);
    let r = recall(index, &queries(50), 10, Some(&filter));
    assert!(r >= 0.95, "conjunctive filtered recall@10 {r}");
}

#[test]
fn index_filter_matching_fewer_than_k_returns_all_of_them() {
    let index = shared();
    let filter = Filter::new().equals("parity", "1").equals("bucket", "2");
    assert!(index.search(&queries(1)[0], 10, Some(&filter)).expect("search").is_empty());
    let filter = Filter::new().equals("parity", "0").one_of("bucket", ["0", "missing"]);
    let hits = index.search(&queries(1)[0], N, Some(&filter)).expect("search");
    assert_eq!(hits.len(), N / 20);
}

#[test]
fn index_deletes_vanish_and_rebuilds_keep_recall() {
    let mut index = build(N, IndexConfig::new(DIM));
    let mut rebuilt = false;
    for id in (0..N as u64).filter(|id| id % 10 < 3) {
        assert!(index.delete(id));
        rebuilt |= index.stats().tombstones == 0;
    }
    assert!(!index.delete(0), "a deleted id is gone");
    assert!(rebuilt, "30% deleted passes the 20% rebuild fraction");
    assert_eq!(index.len(), N * 7 / 10);
    let qs = queries(100);
    for q in &qs {
        assert!(index.search(q, 20, None).expect("search").iter().all(|h| h.id % 10 >= 3));
    }
    let r = recall(&index, &qs, 10, None);
    assert!(r >= 0.95, "recall@10 after deletes {r}");
    // Deleted points are also absent below the rebuild fraction (tombstones only).
    let before = index.stats();
    assert!(index.delete(5));
    assert_eq!(index.stats().tombstones, before.tombstones + 1);
    let v5 = vectors(7, 6).pop().expect("six vectors");
    assert!(!ids(&index.search(&v5, 10, None).expect("search")).contains(&5));
}

#[test]
fn index_re_adding_an_id_replaces_vector_and_metadata() {
    for n in [100, 2_500] {
        let mut index = build(n, IndexConfig::new(DIM));
        let old = vectors(7, 1).pop().expect("a vector");
        let new = XorShift(12345).unit_vector(DIM);
        let meta: Metadata = [("bucket".to_string(), "new".to_string())].into_iter().collect();
        index.add(0, &new, meta.clone()).expect("add");
        assert_eq!(index.len(), n);
        assert_eq!(index.metadata(0), Some(&meta));
        assert_eq!(ids(&index.search(&new, 1, None).expect("search")), [0]);
        let similarity = index.search(&new, 1, None).expect("search")[0].similarity;
        assert!((similarity - 1.0).abs() < 1e-5);
        let hits = index.search(&old, 10, None).expect("search");
        assert!(hits.iter().all(|h| h.id != 0 || h.similarity < 0.5), "old vector still indexed: {hits:?}");
        let filter = Filter::new().equals("bucket", "0");
        assert!(index.search(&new, n, Some(&filter)).expect("search").iter().all(|h| h.id != 0));
    }
}

#[test]
fn index_exact_and_graph_agree_across_the_threshold() {
    let config = IndexConfig { exact_threshold: 300, ..IndexConfig::new(DIM) };
    let mut index = build(299, config);
    let qs = queries(20);
    let exact_answers: Vec<_> = qs.iter().map(|q| index.search(q, 10, None).expect("search")).collect();
    assert_eq!(index.plan(None), SearchPlan::Exact);
    assert_eq!(index.stats().graph_points, 0);
    let v = XorShift(4242).unit_vector(DIM);
    index.add(10_000, &v, Metadata::new()).expect("add");
    assert_eq!(index.plan(None), SearchPlan::Graph);
    assert_eq!(index.stats().graph_points, 300);
    for (q, before) in qs.iter().zip(&exact_answers) {
        let graph = index.search(q, 10, None).expect("search");
        let exact = index.search_exact(q, 10, None).expect("exact");
        assert_eq!(graph, exact);
        // Unless the new vector made the top 10, the answers are those of the exact scan.
        if !ids(&graph).contains(&10_000) {
            assert_eq!(graph, *before);
        }
    }
    // Deleting below the threshold goes back to exact search.
    assert!(index.delete(0));
    assert_eq!(index.plan(None), SearchPlan::Exact);
}

#[test]
fn index_round_trips_through_a_file_with_identical_answers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("vectors.ksv");
    let index = shared();
    index.save(&path).expect("save");
    let loaded = VectorIndex::load(&path).expect("load");
    assert_eq!(loaded.config(), index.config());
    assert_eq!(loaded.stats(), index.stats());
    let filter = Filter::new().equals("parity", "0");
    for q in queries(50) {
        assert_eq!(loaded.search(&q, 10, None).expect("search"), index.search(&q, 10, None).expect("search"));
        assert_eq!(
            loaded.search(&q, 10, Some(&filter)).expect("search"),
            index.search(&q, 10, Some(&filter)).expect("search")
        );
    }
    assert_eq!(loaded.metadata(42), index.metadata(42));
    assert_eq!(loaded.vector(42), index.vector(42));
}

#[test]
fn index_round_trip_drops_tombstones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("small.ksv");
    let mut index = build(50, IndexConfig::new(DIM));
    index.delete(3);
    index.save(&path).expect("save");
    let loaded = VectorIndex::load(&path).expect("load");
    assert_eq!(loaded.len(), 49);
    assert!(!loaded.contains(3));
    assert_eq!(loaded.stats().tombstones, 0);
    for q in queries(10) {
        assert_eq!(loaded.search(&q, 5, None).expect("search"), index.search(&q, 5, None).expect("search"));
    }
}

fn load_problem(bytes: &[u8]) -> IndexFileProblem {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.ksv");
    std::fs::write(&path, bytes).expect("write");
    match VectorIndex::load(&path) {
        Err(Error::IndexFile { problem, path: p }) => {
            assert_eq!(p, path);
            problem
        }
        other => panic!("expected an index file error, got {other:?}"),
    }
}

fn saved_small() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("small.ksv");
    build(20, IndexConfig::new(DIM)).save(&path).expect("save");
    std::fs::read(&path).expect("read")
}

#[test]
fn index_bad_files_give_typed_errors() {
    let good = saved_small();
    // Body byte flipped: the checksum catches it.
    let mut flipped = good.clone();
    flipped[200] ^= 0x40;
    assert!(matches!(load_problem(&flipped), IndexFileProblem::ChecksumMismatch { .. }));
    // Truncated anywhere.
    for len in [0, 5, 10, 40, 100, good.len() - 1] {
        assert!(matches!(load_problem(&good[..len]), IndexFileProblem::Truncated { .. }), "length {len}");
    }
    // Trailing garbage.
    let mut longer = good.clone();
    longer.push(0);
    assert!(matches!(load_problem(&longer), IndexFileProblem::Corrupt(_)));
    // Another file type.
    assert!(matches!(load_problem(b"{\"not\": \"an index\"} padding padding padding"), IndexFileProblem::NotAnIndex));
    // Another version.
    let mut v2 = good.clone();
    v2[8] = 2;
    assert!(matches!(load_problem(&v2), IndexFileProblem::UnsupportedVersion { found: 2, supported: 1 }));
    // A hostile count is rejected against the file length before any allocation.
    let mut hostile = good.clone();
    hostile[48..56].copy_from_slice(&(u64::MAX / 3).to_le_bytes());
    assert!(matches!(load_problem(&hostile), IndexFileProblem::Truncated { .. }));
    let mut hostile = good.clone();
    hostile[56..64].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(matches!(load_problem(&hostile), IndexFileProblem::Truncated { .. }));
    // Out-of-range settings.
    let mut zero_dim = good.clone();
    zero_dim[16..20].copy_from_slice(&0u32.to_le_bytes());
    assert!(matches!(load_problem(&zero_dim), IndexFileProblem::Corrupt(_)));
}

#[test]
fn index_consistent_checksum_does_not_hide_bad_contents() {
    // A writer with a bug (or an attacker) can produce a file whose checksum matches but
    // whose contents are wrong: duplicate ids, non-unit vectors, metadata of the wrong length.
    let good = saved_small();
    let body = good.len() - 8;
    let reseal = |mut bytes: Vec<u8>| {
        let h = file_checksum(&bytes[..body]);
        bytes[body..].copy_from_slice(&h.to_le_bytes());
        bytes
    };
    let mut dup = good.clone();
    dup[72..80].copy_from_slice(&0u64.to_le_bytes()); // id of slot 1 := id of slot 0
    assert!(matches!(load_problem(&reseal(dup)), IndexFileProblem::Corrupt(m) if m.contains("twice")));
    let mut scaled = good.clone();
    let first_vector = 64 + 20 * 8;
    scaled[first_vector..first_vector + 4].copy_from_slice(&3.0f32.to_le_bytes());
    assert!(matches!(load_problem(&reseal(scaled)), IndexFileProblem::Corrupt(m) if m.contains("unit length")));
    let mut nan = good.clone();
    nan[first_vector..first_vector + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(matches!(load_problem(&reseal(nan)), IndexFileProblem::Corrupt(_)));
    let mut meta = good.clone();
    let meta_start = first_vector + 20 * DIM * 4;
    meta[meta_start] = b'{';
    assert!(matches!(load_problem(&reseal(meta)), IndexFileProblem::Corrupt(m) if m.contains("metadata")));
}

fn file_checksum(bytes: &[u8]) -> u64 {
    // FNV-1a 64, written out independently of the implementation under test.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

#[test]
fn index_bad_vectors_give_typed_errors() {
    let mut index = VectorIndex::new(4).expect("dimension 4");
    assert!(matches!(
        index.add(1, &[1.0, 0.0, 0.0], Metadata::new()),
        Err(Error::DimensionMismatch { expected: 4, actual: 3 })
    ));
    assert!(matches!(
        index.add(1, &[1.0, f32::NAN, 0.0, 0.0], Metadata::new()),
        Err(Error::NonFiniteVector { position: 1, .. })
    ));
    assert!(matches!(
        index.add(1, &[1.0, 0.0, f32::INFINITY, 0.0], Metadata::new()),
        Err(Error::NonFiniteVector { position: 2, .. })
    ));
    assert!(matches!(index.add(1, &[0.0; 4], Metadata::new()), Err(Error::ZeroVector)));
    assert!(index.is_empty(), "failed adds store nothing");
    index.add(1, &[3.0, 4.0, 0.0, 0.0], Metadata::new()).expect("add");
    assert_eq!(index.vector(1), Some(&[0.6, 0.8, 0.0, 0.0][..]));
    assert!(matches!(index.search(&[1.0; 5], 1, None), Err(Error::DimensionMismatch { expected: 4, actual: 5 })));
    assert!(matches!(index.search(&[0.0; 4], 1, None), Err(Error::ZeroVector)));
    assert!(matches!(index.search(&[f32::NEG_INFINITY, 0.0, 0.0, 1.0], 1, None), Err(Error::NonFiniteVector { .. })));
    assert!(index.search(&[1.0; 4], 0, None).expect("k = 0").is_empty());
    assert!(matches!(VectorIndex::new(0), Err(Error::IndexConfig(_))));
    let too_many_links = IndexConfig { max_connections: 300, ..IndexConfig::new(4) };
    assert!(matches!(VectorIndex::with_config(too_many_links), Err(Error::IndexConfig(_))));
}

#[test]
fn index_duplicate_vectors_do_not_break_the_graph() {
    // Identical vectors have distance 0 to each other; `hnsw_rs`'s DistDot would assert on
    // the rounding of `1 - a·a`. A small graph full of duplicates must still answer.
    let config = IndexConfig { exact_threshold: 50, ..IndexConfig::new(DIM) };
    let mut index = VectorIndex::with_config(config).expect("settings");
    let base = vectors(3, 10);
    for i in 0..200usize {
        index.add(i as u64, &base[i % 10], metadata_of(i)).expect("add");
    }
    for (j, v) in base.iter().enumerate() {
        let hits = index.search(v, 20, None).expect("search");
        assert_eq!(hits.len(), 20);
        assert!(hits.iter().all(|h| h.id as usize % 10 == j), "query {j}: {hits:?}");
        assert!(hits.iter().all(|h| (h.similarity - 1.0).abs() < 1e-5));
    }
}
