//! An isolation forest over shingles (the last few values as one point), refitted on a
//! sliding sample of recent shingles. Points that a few random axis-aligned cuts isolate
//! are unusual in shape, not just in size: a value that is normal on its own but arrives
//! in an odd sequence still stands out.

use kubesage_core::Detector;

/// Values per shingle.
const SHINGLE: usize = 4;
/// Shingles kept to train on.
const RESERVOIR: usize = 256;
/// Shingles per tree.
const SAMPLE: usize = 64;
/// Trees in the forest.
const TREES: usize = 32;
/// Points between refits.
const REFIT_EVERY: usize = 64;

#[derive(Debug, Clone, Copy)]
enum Node {
    /// A cut of dimension `dim` at `at`; `lo..=hi` is the range the node's sample spanned,
    /// so a point far outside it (by half the range) is isolated here rather than sent
    /// down with the extreme ones.
    Split {
        dim: u8,
        at: f64,
        lo: f64,
        hi: f64,
        left: u16,
        right: u16,
    },
    Leaf {
        size: u16,
    },
}

/// Isolation forest on sliding shingles.
#[derive(Debug, Clone)]
pub struct ForestDetector {
    recent: [f64; SHINGLE],
    seen: usize,
    reservoir: Vec<[f64; SHINGLE]>,
    next: usize,
    trees: Vec<Vec<Node>>,
    since_fit: usize,
    rng: u64,
}

impl Default for ForestDetector {
    fn default() -> Self {
        ForestDetector {
            recent: [0.0; SHINGLE],
            seen: 0,
            reservoir: Vec::with_capacity(RESERVOIR),
            next: 0,
            trees: Vec::new(),
            since_fit: 0,
            rng: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

/// Average path length of an unsuccessful search in a binary tree of `n` points.
fn c(n: usize) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    let n = n as f64;
    2.0 * ((n - 1.0).ln() + 0.577_215_664_9) - 2.0 * (n - 1.0) / n
}

impl ForestDetector {
    fn rand(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn uniform(&mut self) -> f64 {
        (self.rand() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn fit(&mut self) {
        let n = self.reservoir.len();
        let sample = SAMPLE.min(n);
        let depth = (sample as f64).log2().ceil() as usize;
        let mut trees = Vec::with_capacity(TREES);
        let mut idx: Vec<usize> = Vec::with_capacity(sample);
        for _ in 0..TREES {
            idx.clear();
            for _ in 0..sample {
                idx.push((self.rand() % n as u64) as usize);
            }
            let mut nodes = Vec::with_capacity(2 * sample);
            self.grow(&mut nodes, &mut idx.clone(), 0, depth);
            trees.push(nodes);
        }
        self.trees = trees;
    }

    fn grow(&mut self, nodes: &mut Vec<Node>, idx: &mut [usize], depth: usize, max_depth: usize) -> u16 {
        let me = nodes.len();
        nodes.push(Node::Leaf { size: idx.len() as u16 });
        if idx.len() <= 1 || depth >= max_depth {
            return me as u16;
        }
        let dim = (self.rand() % SHINGLE as u64) as usize;
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &i in idx.iter() {
            let v = self.reservoir[i][dim];
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if hi <= lo {
            return me as u16;
        }
        let at = lo + self.uniform() * (hi - lo);
        let mut split = 0;
        for k in 0..idx.len() {
            if self.reservoir[idx[k]][dim] < at {
                idx.swap(k, split);
                split += 1;
            }
        }
        let (l, r) = idx.split_at_mut(split);
        let left = self.grow(nodes, l, depth + 1, max_depth);
        let right = self.grow(nodes, r, depth + 1, max_depth);
        nodes[me] = Node::Split { dim: dim as u8, at, lo, hi, left, right };
        me as u16
    }

    fn path_length(tree: &[Node], x: &[f64; SHINGLE]) -> f64 {
        let mut i = 0usize;
        let mut depth = 0.0;
        loop {
            match tree[i] {
                Node::Leaf { size } => return depth + c(usize::from(size)),
                Node::Split { dim, at, lo, hi, left, right } => {
                    let v = x[usize::from(dim)];
                    depth += 1.0;
                    let margin = 0.5 * (hi - lo);
                    if v < lo - margin || v > hi + margin {
                        return depth;
                    }
                    i = usize::from(if v < at { left } else { right });
                }
            }
        }
    }
}

impl Detector for ForestDetector {
    fn name(&self) -> &'static str {
        "forest"
    }

    fn score(&mut self, _timestamp: i64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        self.recent.rotate_left(1);
        self.recent[SHINGLE - 1] = value;
        self.seen += 1;
        if self.seen < SHINGLE {
            return 0.0;
        }
        let shingle = self.recent;
        let score = if self.trees.is_empty() {
            0.0
        } else {
            let mean: f64 =
                self.trees.iter().map(|t| Self::path_length(t, &shingle)).sum::<f64>() / self.trees.len() as f64;
            2f64.powf(-mean / c(SAMPLE.min(self.reservoir.len())))
        };
        if self.reservoir.len() < RESERVOIR {
            self.reservoir.push(shingle);
        } else {
            self.reservoir[self.next] = shingle;
            self.next = (self.next + 1) % RESERVOIR;
        }
        self.since_fit += 1;
        if self.reservoir.len() >= SAMPLE && (self.trees.is_empty() || self.since_fit >= REFIT_EVERY) {
            self.fit();
            self.since_fit = 0;
        }
        score.clamp(0.0, 1.0)
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.reservoir.capacity() * std::mem::size_of::<[f64; SHINGLE]>()
            + self.trees.iter().map(|t| t.capacity() * std::mem::size_of::<Node>()).sum::<usize>()
    }
}
