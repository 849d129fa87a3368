//! Exact scoring: the dot-product kernel shared by brute-force search, the graph's distance
//! and re-scoring, and the selection of the best `k` scored slots.

use std::cmp::Ordering;

/// Independent accumulators in [`dot`]. Float addition is not associative, so the compiler
/// will not split a plain `zip().map().sum()` into vector lanes by itself; sixteen explicit
/// lanes give it four SSE (or two AVX) registers of independent work.
const LANES: usize = 16;

/// The dot product of two equal-length slices (the cosine similarity of unit vectors).
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let (a_chunks, a_tail) = a.as_chunks::<LANES>();
    let (b_chunks, b_tail) = b.as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for ((s, x), y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in a_tail.iter().zip(b_tail) {
        tail += x * y;
    }
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        let (low, high) = acc.split_at_mut(width);
        for (s, h) in low.iter_mut().zip(high.iter()) {
            *s += h;
        }
    }
    acc[0] + tail
}

/// A slot of the index with its cosine similarity to a query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scored {
    /// Cosine similarity to the query.
    pub similarity: f32,
    /// Position of the vector in the index's storage.
    pub slot: usize,
}

/// Keeps the `k` best of `scored`, best first: highest similarity, ties broken by the smaller
/// external id so results do not depend on where a vector is stored.
pub(crate) fn keep_best(mut scored: Vec<Scored>, k: usize, ids: &[u64]) -> Vec<Scored> {
    let order = |a: &Scored, b: &Scored| -> Ordering {
        b.similarity.total_cmp(&a.similarity).then_with(|| ids[a.slot].cmp(&ids[b.slot]))
    };
    if k == 0 {
        scored.clear();
        return scored;
    }
    if scored.len() > k {
        scored.select_nth_unstable_by(k - 1, order);
        scored.truncate(k);
    }
    scored.sort_unstable_by(order);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_dot_matches_a_plain_sum_for_every_tail_length() {
        for len in [0, 1, 7, 15, 16, 17, 33, 384] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
            assert!((f64::from(dot(&a, &b)) - plain).abs() < 1e-4, "len {len}");
        }
    }

    #[test]
    fn index_keep_best_orders_by_similarity_then_id() {
        let ids = [30, 10, 20, 40];
        let scored = vec![
            Scored { similarity: 0.5, slot: 0 },
            Scored { similarity: 0.9, slot: 1 },
            Scored { similarity: 0.5, slot: 2 },
            Scored { similarity: 0.1, slot: 3 },
        ];
        let best: Vec<u64> = keep_best(scored, 3, &ids).iter().map(|s| ids[s.slot]).collect();
        assert_eq!(best, [10, 20, 30]);
    }
}
