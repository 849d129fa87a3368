//! Building blocks shared by the detectors: a rolling window with exact median and MAD,
//! exponentially weighted moments, and the normal tail.

/// The last `capacity` values, kept both in arrival order and sorted, so the median is a
/// lookup and the median absolute deviation a short merge walk.
#[derive(Debug, Clone)]
pub struct RollingWindow {
    ring: Vec<f64>,
    sorted: Vec<f64>,
    next: usize,
    capacity: usize,
}

impl RollingWindow {
    /// An empty window holding at most `capacity` (at least 1) values.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        RollingWindow { ring: Vec::with_capacity(capacity), sorted: Vec::with_capacity(capacity), next: 0, capacity }
    }

    /// Adds a finite value, evicting the oldest when full.
    pub fn push(&mut self, x: f64) {
        debug_assert!(x.is_finite());
        if self.ring.len() < self.capacity {
            self.ring.push(x);
        } else {
            let old = std::mem::replace(&mut self.ring[self.next], x);
            let i = self.sorted.partition_point(|&v| v < old);
            // `old` is present; partition_point finds its first occurrence.
            if i < self.sorted.len() {
                self.sorted.remove(i);
            }
            self.next = (self.next + 1) % self.capacity;
        }
        let j = self.sorted.partition_point(|&v| v < x);
        self.sorted.insert(j, x);
    }

    /// Values held.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The median (0 when empty).
    pub fn median(&self) -> f64 {
        let n = self.sorted.len();
        match n {
            0 => 0.0,
            _ if n % 2 == 1 => self.sorted[n / 2],
            _ => 0.5 * (self.sorted[n / 2 - 1] + self.sorted[n / 2]),
        }
    }

    /// The median absolute deviation from the median (0 when empty).
    ///
    /// Deviations below and above the median form two ascending runs; the median of their
    /// union is found by merging from the centre outwards.
    pub fn mad(&self) -> f64 {
        let n = self.sorted.len();
        if n == 0 {
            return 0.0;
        }
        let med = self.median();
        let s = &self.sorted;
        let split = s.partition_point(|&v| v < med);
        let (mut lo, mut hi) = (split, split); // lo walks down (exclusive), hi walks up
        let target = n / 2; // index of the (upper) median deviation
        let mut last = 0.0;
        let mut prev = 0.0;
        for k in 0..=target {
            let below = if lo > 0 { Some(med - s[lo - 1]) } else { None };
            let above = if hi < n { Some(s[hi] - med) } else { None };
            let take = match (below, above) {
                (Some(b), Some(a)) if b <= a => {
                    lo -= 1;
                    b
                }
                (Some(b), None) => {
                    lo -= 1;
                    b
                }
                (_, Some(a)) => {
                    hi += 1;
                    a
                }
                (None, None) => break,
            };
            if k + 1 == target {
                prev = take;
            }
            last = take;
        }
        if n.is_multiple_of(2) && target > 0 { 0.5 * (prev + last) } else { last }
    }

    /// The smallest and largest values held.
    pub fn range(&self) -> (f64, f64) {
        match (self.sorted.first(), self.sorted.last()) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (0.0, 0.0),
        }
    }

    /// Bytes of state.
    pub fn memory_bytes(&self) -> usize {
        (self.ring.capacity() + self.sorted.capacity()) * std::mem::size_of::<f64>()
    }
}

/// Exponentially weighted mean and variance. For the first `1/alpha` samples the weight is
/// `1/n`, so early estimates are plain averages rather than biased towards the first value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ewm {
    /// The mean.
    pub mean: f64,
    /// The variance.
    pub var: f64,
    /// Samples seen (saturating).
    pub n: u32,
}

impl Ewm {
    /// Folds in `x` with weight `alpha` (or `1/n` while warming up).
    pub fn update(&mut self, x: f64, alpha: f64) {
        self.n = self.n.saturating_add(1);
        let a = alpha.max(1.0 / f64::from(self.n));
        let d = x - self.mean;
        self.mean += a * d;
        self.var = (1.0 - a) * (self.var + a * d * d);
    }

    /// The standard deviation.
    pub fn std(&self) -> f64 {
        self.var.max(0.0).sqrt()
    }
}

/// A z-score as a score in `[0, 1]`: the two-sided normal confidence, on the readable
/// scale of [`kubesage_core::anomaly::log_scale`] (z = 4.4 gives 0.5).
pub fn z_to_score(z: f64) -> f64 {
    kubesage_core::anomaly::log_scale(1.0 - 2.0 * normal_tail(z))
}

/// The upper tail of the standard normal, `P(Z > z)`, accurate to about 1e-7 relative
/// even far into the tail (a Chebyshev fit of erfc).
pub fn normal_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(values: &[f64]) -> (f64, f64) {
        let mut s = values.to_vec();
        s.sort_by(f64::total_cmp);
        let med = |v: &[f64]| {
            let n = v.len();
            if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
        };
        let m = med(&s);
        let mut d: Vec<f64> = s.iter().map(|v| (v - m).abs()).collect();
        d.sort_by(f64::total_cmp);
        (m, med(&d))
    }

    #[test]
    fn rolling_median_and_mad_match_a_naive_computation() {
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ((state >> 33) % 1000) as f64 / 10.0
        };
        for cap in [1, 2, 3, 7, 16, 33] {
            let mut w = RollingWindow::new(cap);
            let mut all = Vec::new();
            for _ in 0..200 {
                let x = next();
                w.push(x);
                all.push(x);
                let tail = &all[all.len().saturating_sub(cap)..];
                let (m, mad) = naive(tail);
                assert_eq!(w.len(), tail.len());
                assert!((w.median() - m).abs() < 1e-12, "median cap {cap}");
                assert!((w.mad() - mad).abs() < 1e-12, "mad cap {cap}: {} vs {mad}", w.mad());
            }
        }
    }

    #[test]
    fn duplicates_and_constants() {
        let mut w = RollingWindow::new(4);
        for _ in 0..10 {
            w.push(5.0);
        }
        assert_eq!(w.median(), 5.0);
        assert_eq!(w.mad(), 0.0);
        w.push(9.0);
        assert_eq!(w.range(), (5.0, 9.0));
    }

    #[test]
    fn ewm_warms_up_as_an_average() {
        let mut e = Ewm::default();
        for x in [1.0, 2.0, 3.0] {
            e.update(x, 0.01);
        }
        assert!((e.mean - 2.0).abs() < 1e-12);
        assert!((e.var - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn normal_tail_values() {
        assert!((normal_tail(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_tail(1.959_963_985) - 0.025).abs() < 1e-7);
        let far = normal_tail(6.0);
        assert!((far / 9.865_876_450_377e-10 - 1.0).abs() < 1e-5, "{far}");
        assert!((normal_tail(-3.0) - 0.998_650_101_968_37).abs() < 1e-7);
    }
}
