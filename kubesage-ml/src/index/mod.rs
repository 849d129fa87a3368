//! A vector index for sentence embeddings: cosine similarity, metadata filters, deletes,
//! persistence, built on the HNSW graph of `hnsw_rs`.
//!
//! # Why it is shaped like this
//!
//! `hnsw_rs` 0.3 gives a fast approximate graph and little else, so the index keeps its own
//! copy of everything and uses the graph only to propose candidates:
//!
//! - **Raw vectors are kept** contiguously (slot-major `Vec<f32>`, unit length). Every
//!   answer is re-scored from them, so exact and graph searches give identical similarities,
//!   and they feed exact search, rebuilds and the file format. The graph holds its own copy:
//!   memory is about twice the raw vectors.
//! - **Small collections are searched exactly.** Below
//!   [`IndexConfig::exact_threshold`] live vectors there is no graph at all; a brute-force
//!   scan of 2,000 × 384 floats costs well under a millisecond. The graph is built the first
//!   time the collection reaches the threshold and grows with each add after that.
//! - **Deletes are tombstones.** `hnsw_rs` cannot remove a point (its issue #11), so a delete
//!   marks the slot dead and searches skip it; when dead slots exceed
//!   [`IndexConfig::rebuild_fraction`] of all slots the storage is compacted and the graph
//!   rebuilt. Re-adding an id is a delete plus an add.
//! - **Filters are applied by us.** `hnsw_rs`'s filtered search can return non-matching
//!   points or panic when the filter empties its candidate heap (its issue #27), so it is
//!   not used. Postings (key → value → slots) bound how many vectors a filter can match: a
//!   selective filter is answered by an exact scan of its candidates; otherwise the graph is
//!   asked for `k / selectivity` neighbours, with the width growing until `k` matches are
//!   found, and an exact scan of the candidates as the last resort.
//! - **Unreachable points are found and scored exactly.** An insert can leave a point that
//!   no search reaches (its issue #37). With [`IndexConfig::verify_reachability`] every graph
//!   build ends by searching for each point's own vector; points not found are kept in a
//!   list that every search scores exactly. Later inserts can orphan others:
//!   [`VectorIndex::verify_reachability`] re-checks on demand.
//! - **Our own file format.** `hnsw_rs`'s `file_dump`/reload reads native-endian data,
//!   allocates lengths read from the file and exits the process on some bad input; a
//!   corrupt file must be an error here. The file holds settings, ids, metadata and vectors
//!   with a checksum; loading rebuilds the graph, which `hnsw_rs` does deterministically
//!   (its level generator has a fixed seed), so a saved index answers exactly as it did.

mod exact;
mod file;
mod filter;
mod graph;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use crate::{Error, Result};
use exact::{Scored, dot, keep_best};
pub use file::IndexFileProblem;
use filter::Postings;
pub use filter::{Filter, Metadata};
use graph::Graph;

/// The largest dimension an index accepts (and a file may declare).
pub const MAX_DIMENSION: usize = 65_536;

/// Settings of a [`VectorIndex`]; all are saved with it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexConfig {
    /// Length of every vector (384 for MiniLM-style sentence embeddings).
    pub dim: usize,
    /// HNSW `M`: links a point keeps per layer (twice that on the bottom layer); 2..=255.
    pub max_connections: usize,
    /// Candidates examined while inserting; higher builds a better graph, more slowly.
    pub ef_construction: usize,
    /// Candidates examined by a search (at least `k`); higher gives better recall, more slowly.
    pub ef_search: usize,
    /// Below this many live vectors searches are exact and no graph is kept.
    pub exact_threshold: usize,
    /// Compact and rebuild when deleted slots exceed this fraction of all slots; in (0, 1].
    pub rebuild_fraction: f32,
    /// After each graph build, search for every point and score exactly those not found.
    pub verify_reachability: bool,
}

impl IndexConfig {
    /// Defaults for `dim`-dimensional vectors: M 16, ef_construction 200, ef_search 64,
    /// exact below 2,000 vectors, rebuild past 20% deleted, reachability verified.
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            max_connections: 16,
            ef_construction: 200,
            ef_search: 64,
            exact_threshold: 2_000,
            rebuild_fraction: 0.2,
            verify_reachability: true,
        }
    }

    fn validate(&self) -> Result<()> {
        let fail = |msg: String| Err(Error::IndexConfig(msg));
        if self.dim == 0 || self.dim > MAX_DIMENSION {
            return fail(format!("dimension {} is not in 1..={MAX_DIMENSION}", self.dim));
        }
        if !(2..=255).contains(&self.max_connections) {
            return fail(format!("max_connections {} is not in 2..=255", self.max_connections));
        }
        if self.ef_construction == 0 || self.ef_construction > 1 << 20 {
            return fail(format!("ef_construction {} is not in 1..=1048576", self.ef_construction));
        }
        if self.ef_search == 0 || self.ef_search > 1 << 20 {
            return fail(format!("ef_search {} is not in 1..=1048576", self.ef_search));
        }
        if !(self.rebuild_fraction > 0.0 && self.rebuild_fraction <= 1.0) {
            return fail(format!("rebuild_fraction {} is not in (0, 1]", self.rebuild_fraction));
        }
        Ok(())
    }
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchHit {
    /// The id the vector was added with.
    pub id: u64,
    /// Cosine similarity to the query, in [-1, 1].
    pub similarity: f32,
}

/// How a search will be answered, from [`VectorIndex::plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchPlan {
    /// A scan of every live vector (the collection is below the exact threshold).
    Exact,
    /// A scan of the filter's candidates (at most this many), the filter being selective.
    ExactSubset {
        /// Upper bound on the vectors scanned.
        candidates: usize,
    },
    /// Candidates from the HNSW graph, filtered and re-scored; falls back to an exact scan if
    /// the graph yields fewer than `k` matches.
    Graph,
}

/// Counts describing an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexStats {
    /// Live vectors.
    pub live: usize,
    /// Deleted slots awaiting compaction.
    pub tombstones: usize,
    /// Points in the HNSW graph (0 when there is none).
    pub graph_points: usize,
    /// Graph points a search for their own vector did not find, scored exactly instead.
    pub unreachable: usize,
}

/// A vector index: ids (`u64`), unit-length vectors compared by cosine similarity, and
/// string metadata to filter on. See the [module docs](self) for the design.
///
/// Invariants: `ids`, `metadata` and `live` have one entry per slot and `vectors` holds
/// `dim` floats per slot, each slot's vector of unit length; `slot_of` maps every live id
/// to its slot; when `graph` exists it holds every live slot.
pub struct VectorIndex {
    config: IndexConfig,
    ids: Vec<u64>,
    vectors: Vec<f32>,
    metadata: Vec<Metadata>,
    live: Vec<bool>,
    slot_of: HashMap<u64, usize>,
    tombstones: usize,
    postings: Postings,
    graph: Option<Graph>,
    unreachable: Vec<usize>,
}

impl fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VectorIndex").field("config", &self.config).field("stats", &self.stats()).finish()
    }
}

impl VectorIndex {
    /// An empty index of `dim`-dimensional vectors with default settings.
    pub fn new(dim: usize) -> Result<Self> {
        Self::with_config(IndexConfig::new(dim))
    }

    /// An empty index with `config`; fails on out-of-range settings.
    pub fn with_config(config: IndexConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            ids: Vec::new(),
            vectors: Vec::new(),
            metadata: Vec::new(),
            live: Vec::new(),
            slot_of: HashMap::new(),
            tombstones: 0,
            postings: Postings::default(),
            graph: None,
            unreachable: Vec::new(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &IndexConfig {
        &self.config
    }

    /// The dimension of every vector.
    pub fn dim(&self) -> usize {
        self.config.dim
    }

    /// Sets the search width; values below 1 are raised to 1. It is saved with the index.
    pub fn set_ef_search(&mut self, ef_search: usize) {
        self.config.ef_search = ef_search.clamp(1, 1 << 20);
    }

    /// Live vectors.
    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    /// Whether the index holds no live vector.
    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// Whether `id` is present.
    pub fn contains(&self, id: u64) -> bool {
        self.slot_of.contains_key(&id)
    }

    /// The stored (unit-length) vector of `id`.
    pub fn vector(&self, id: u64) -> Option<&[f32]> {
        self.slot_of.get(&id).map(|&slot| self.slot_vector(slot))
    }

    /// The metadata of `id`.
    pub fn metadata(&self, id: u64) -> Option<&Metadata> {
        self.slot_of.get(&id).map(|&slot| &self.metadata[slot])
    }

    /// Counts of live vectors, tombstones, graph points and unreachable points.
    pub fn stats(&self) -> IndexStats {
        IndexStats {
            live: self.len(),
            tombstones: self.tombstones,
            graph_points: self.graph.as_ref().map_or(0, Graph::len),
            unreachable: self.unreachable.len(),
        }
    }

    /// Adds `vector` under `id`, replacing any vector and metadata already stored under it.
    /// The vector is scaled to unit length; it must have [`dim`](Self::dim) finite
    /// components, not all zero. Crossing [`IndexConfig::exact_threshold`] builds the graph
    /// in this call; a replace may compact the index (see [`delete`](Self::delete)).
    pub fn add(&mut self, id: u64, vector: &[f32], metadata: Metadata) -> Result<()> {
        let unit = self.unit(vector)?;
        if let Some(old) = self.slot_of.remove(&id) {
            self.kill(old);
        }
        let slot = self.push_slot(id, &unit, metadata);
        match &self.graph {
            Some(graph) => graph.insert(self.slot_vector(slot), slot),
            None if self.len() >= self.config.exact_threshold => self.build_graph(),
            None => {}
        }
        self.compact_if_needed();
        Ok(())
    }

    /// Removes `id`; returns whether it was present. When deleted slots then exceed
    /// [`IndexConfig::rebuild_fraction`] of all slots, the index is compacted and its graph
    /// rebuilt in this call (about a second per 10,000 vectors of dimension 384).
    pub fn delete(&mut self, id: u64) -> bool {
        let Some(slot) = self.slot_of.remove(&id) else {
            return false;
        };
        self.kill(slot);
        self.compact_if_needed();
        true
    }

    /// The `k` live vectors most similar to `query` that match `filter`, best first (ties
    /// broken by smaller id). Fails on a query of the wrong dimension, with a NaN or infinite
    /// component, or all zeros.
    pub fn search(&self, query: &[f32], k: usize, filter: Option<&Filter>) -> Result<Vec<SearchHit>> {
        let query = self.unit(query)?;
        let filter = filter.filter(|f| !f.is_empty());
        let scored = match (self.plan(filter), &self.graph, filter) {
            (SearchPlan::Graph, Some(graph), _) => self.search_graph(graph, &query, k, filter),
            (_, _, Some(filter)) => self.scan_candidates(&query, k, filter),
            _ => self.scan(&query, k, 0..self.ids.len(), None),
        };
        Ok(self.hits(scored))
    }

    /// The exact answer to [`search`](Self::search): a scan of every live vector. The
    /// reference that approximate answers are measured against.
    pub fn search_exact(&self, query: &[f32], k: usize, filter: Option<&Filter>) -> Result<Vec<SearchHit>> {
        let query = self.unit(query)?;
        let filter = filter.filter(|f| !f.is_empty());
        Ok(self.hits(self.scan(&query, k, 0..self.ids.len(), filter)))
    }

    /// How [`search`](Self::search) answers a query with `filter`.
    pub fn plan(&self, filter: Option<&Filter>) -> SearchPlan {
        let bound = filter.and_then(|f| self.postings.bound(f));
        match bound {
            _ if self.graph.is_none() || self.len() < self.config.exact_threshold => {
                bound.map_or(SearchPlan::Exact, |candidates| SearchPlan::ExactSubset { candidates })
            }
            Some(candidates) if candidates <= self.config.exact_threshold => SearchPlan::ExactSubset { candidates },
            _ => SearchPlan::Graph,
        }
    }

    /// Drops deleted slots and rebuilds the graph (or drops it, below the exact threshold).
    /// [`add`](Self::add) and [`delete`](Self::delete) call it when tombstones pass
    /// [`IndexConfig::rebuild_fraction`].
    pub fn compact(&mut self) {
        let dim = self.config.dim;
        let ids = std::mem::take(&mut self.ids);
        let vectors = std::mem::take(&mut self.vectors);
        let metadata = std::mem::take(&mut self.metadata);
        let live = std::mem::take(&mut self.live);
        self.slot_of.clear();
        self.postings.clear();
        self.tombstones = 0;
        self.graph = None;
        self.unreachable.clear();
        self.vectors.reserve(live.iter().filter(|l| **l).count() * dim);
        for (slot, (id, meta)) in ids.into_iter().zip(metadata).enumerate() {
            if live[slot] {
                self.push_slot(id, &vectors[slot * dim..(slot + 1) * dim], meta);
            }
        }
        if self.len() >= self.config.exact_threshold {
            self.build_graph();
        }
    }

    /// Searches the graph for every live point's own vector and records those not among the
    /// results, which every search then scores exactly. Returns how many there are.
    /// Builds run it when [`IndexConfig::verify_reachability`] is set; call it after many
    /// inserts into a built graph, which can orphan points too.
    pub fn verify_reachability(&mut self) -> usize {
        self.unreachable.clear();
        let Some(graph) = &self.graph else {
            return 0;
        };
        let k = self.config.ef_search.min(16);
        let unreachable: Vec<usize> = (0..self.ids.len())
            .filter(|&slot| self.live[slot])
            .filter(|&slot| !graph.search(self.slot_vector(slot), k, self.config.ef_search).contains(&slot))
            .collect();
        self.unreachable = unreachable;
        self.unreachable.len()
    }

    /// Writes the index to `path` (through a temporary file renamed into place).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        file::save(self, path.as_ref())
    }

    /// Reads an index written by [`save`](Self::save) and rebuilds its graph. A file that is
    /// not an index, of another version, truncated, inconsistent or failing its checksum is
    /// an [`Error::IndexFile`]; nothing is allocated beyond what the file's length allows.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        file::load(path.as_ref())
    }

    // ---- internals -------------------------------------------------------------------

    fn slot_vector(&self, slot: usize) -> &[f32] {
        let dim = self.config.dim;
        &self.vectors[slot * dim..(slot + 1) * dim]
    }

    /// `vector` checked and scaled to unit length.
    fn unit(&self, vector: &[f32]) -> Result<Vec<f32>> {
        if vector.len() != self.config.dim {
            return Err(Error::DimensionMismatch { expected: self.config.dim, actual: vector.len() });
        }
        if let Some((position, &value)) = vector.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFiniteVector { position, value });
        }
        // f64 so that huge or tiny finite components neither overflow nor underflow the norm.
        let norm = vector.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
        if norm == 0.0 {
            return Err(Error::ZeroVector);
        }
        Ok(vector.iter().map(|&v| (f64::from(v) / norm) as f32).collect())
    }

    fn push_slot(&mut self, id: u64, unit: &[f32], metadata: Metadata) -> usize {
        let slot = self.ids.len();
        self.ids.push(id);
        self.vectors.extend_from_slice(unit);
        self.postings.insert(slot, &metadata);
        self.metadata.push(metadata);
        self.live.push(true);
        self.slot_of.insert(id, slot);
        slot
    }

    fn kill(&mut self, slot: usize) {
        self.live[slot] = false;
        self.tombstones += 1;
    }

    fn compact_if_needed(&mut self) {
        if self.tombstones > 0
            && self.tombstones as f64 > f64::from(self.config.rebuild_fraction) * self.ids.len() as f64
        {
            self.compact();
        }
    }

    /// Builds the graph from every live slot, in slot order (so a rebuild from the same
    /// slots gives the same graph).
    fn build_graph(&mut self) {
        let graph = Graph::new(self.config.max_connections, self.config.ef_construction, self.ids.len());
        for slot in (0..self.ids.len()).filter(|&s| self.live[s]) {
            graph.insert(self.slot_vector(slot), slot);
        }
        self.graph = Some(graph);
        if self.config.verify_reachability {
            self.verify_reachability();
        } else {
            self.unreachable.clear();
        }
    }

    fn keeps(&self, slot: usize, filter: Option<&Filter>) -> bool {
        self.live[slot] && filter.is_none_or(|f| f.matches(&self.metadata[slot]))
    }

    /// Exact scores of the live slots among `slots` that match `filter`, best `k` kept.
    fn scan(
        &self,
        query: &[f32],
        k: usize,
        slots: impl Iterator<Item = usize>,
        filter: Option<&Filter>,
    ) -> Vec<Scored> {
        let scored = slots
            .filter(|&slot| self.keeps(slot, filter))
            .map(|slot| Scored { similarity: dot(query, self.slot_vector(slot)), slot })
            .collect();
        keep_best(scored, k, &self.ids)
    }

    fn scan_candidates(&self, query: &[f32], k: usize, filter: &Filter) -> Vec<Scored> {
        let candidates = self.postings.candidates(filter).unwrap_or_default();
        self.scan(query, k, candidates.into_iter(), Some(filter))
    }

    /// Asks the graph for enough neighbours that `k` of them survive the tombstones and the
    /// filter, widening up to four times; then scores the survivors and the unreachable
    /// points exactly. Falls back to an exact scan of the candidates when the graph cannot
    /// supply `k` matches or the width needed exceeds the candidate count.
    fn search_graph(&self, graph: &Graph, query: &[f32], k: usize, filter: Option<&Filter>) -> Vec<Scored> {
        let points = graph.len();
        let bound = filter.and_then(|f| self.postings.bound(f)).unwrap_or(self.ids.len());
        let live = match filter {
            Some(_) => bound.min(self.len()),
            None => self.len(),
        };
        if k == 0 || live == 0 {
            return Vec::new();
        }
        let keep_fraction = (live as f64 / points.max(1) as f64).clamp(1e-6, 1.0);
        let mut fetch = ((k as f64 / keep_fraction) * 1.2).ceil() as usize + 2;
        for round in 0.. {
            fetch = fetch.max(k).min(points);
            if filter.is_some() && fetch >= bound {
                break;
            }
            let mut slots: Vec<usize> = graph.search(query, fetch, self.config.ef_search.max(fetch));
            slots.retain(|&slot| self.keeps(slot, filter));
            if slots.len() >= k {
                slots.extend(self.unreachable.iter().copied().filter(|&s| self.keeps(s, filter)));
                slots.sort_unstable();
                slots.dedup();
                return self.scan(query, k, slots.into_iter(), None);
            }
            if fetch >= points || round == 3 {
                break;
            }
            fetch = fetch.saturating_mul(4);
        }
        match filter {
            Some(filter) => self.scan_candidates(query, k, filter),
            None => self.scan(query, k, 0..self.ids.len(), None),
        }
    }

    fn hits(&self, scored: Vec<Scored>) -> Vec<SearchHit> {
        scored.into_iter().map(|s| SearchHit { id: self.ids[s.slot], similarity: s.similarity }).collect()
    }
}
