//! The HNSW graph, a thin layer over `hnsw_rs`: our distance, fixed layer count, and slots
//! (positions in the index's storage) as the graph's data ids.

use hnsw_rs::hnsw::Hnsw;
use hnsw_rs::prelude::Distance;

use super::exact::dot;

/// Layers the graph may use. `hnsw_rs` caps it at 16, and only a graph built with 16 can be
/// written by its `file_dump` (which we do not use; see [`super::file`]).
const MAX_LAYER: usize = 16;

/// Cosine distance of unit vectors, `1 - a·b`, clamped at zero.
///
/// `hnsw_rs` asserts that distances are non-negative. Its `DistDot` computes `1 - a·b` with
/// `assert!(>= 0)`, and rounding makes `a·a` of a unit vector exceed 1 by an ulp often enough
/// that searching for a stored vector can panic; its `DistCosine` clamps but recomputes both
/// norms in f64 on every call. Our vectors are unit length on entry, so the dot product is
/// the whole work, done by the vectorised kernel exact search uses too.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct UnitCosine;

impl Distance<f32> for UnitCosine {
    #[inline]
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - dot(a, b)).max(0.0)
    }
}

/// An HNSW graph over some of the index's slots.
pub(crate) struct Graph {
    hnsw: Hnsw<'static, f32, UnitCosine>,
}

impl Graph {
    /// An empty graph; `capacity` is a hint for allocation. `max_connections` must be at most
    /// 255 (`hnsw_rs` exits the process above 256), which the index's settings check.
    pub(crate) fn new(max_connections: usize, ef_construction: usize, capacity: usize) -> Self {
        Self { hnsw: Hnsw::new(max_connections, capacity, MAX_LAYER, ef_construction, UnitCosine) }
    }

    /// Adds the unit vector stored at `slot`.
    pub(crate) fn insert(&self, vector: &[f32], slot: usize) {
        self.hnsw.insert_slice((vector, slot));
    }

    /// Points in the graph.
    pub(crate) fn len(&self) -> usize {
        self.hnsw.get_nb_point()
    }

    /// Up to `k` slots near `query`, exploring `ef` candidates (at least `k`).
    pub(crate) fn search(&self, query: &[f32], k: usize, ef: usize) -> Vec<usize> {
        if k == 0 || self.len() == 0 {
            return Vec::new();
        }
        self.hnsw.search(query, k, ef.max(k)).into_iter().map(|n| n.d_id).collect()
    }
}
