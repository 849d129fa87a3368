//! A histogram with exponentially growing buckets whose samples lose half their weight every
//! half-life: the data structure the VPA recommender keeps per container and resource.
//!
//! Buckets: the first covers `[0, first)`, bucket `n` is `first * ratio^n` wide, so bucket
//! `n >= 1` starts at `first * (ratio^n - 1) / (ratio - 1)`; the last bucket starts at or
//! above `max` and has no upper end. A percentile is the *end* of the bucket where the
//! cumulative weight reaches it (the start of the last bucket, if it is reached there), as
//! VPA answers, so an estimate is never below the samples it covers by more than a bucket.
//!
//! Decay: a sample at time `t` counts `weight * 2^((t - reference) / half_life)`. Only
//! relative weights matter for percentiles, so the reference may move; it is moved forward
//! (and every weight scaled down by the same power of two) when exponents would grow past
//! [`MAX_DECAY_EXPONENT`], which keeps long histories within floating point range.

/// The largest decay exponent before the reference time is moved forward.
pub const MAX_DECAY_EXPONENT: f64 = 100.0;

/// The bucketing scheme of a histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketScheme {
    first: f64,
    ratio: f64,
    buckets: usize,
    epsilon: f64,
}

impl BucketScheme {
    /// Exponential buckets covering `[0, max]`: the first `first` wide, each next one `ratio`
    /// times wider; a bucket lighter than `epsilon` counts as empty. `None` unless
    /// `max > 0`, `first > 0`, `ratio > 1` and `epsilon > 0` (all finite).
    pub fn exponential(max: f64, first: f64, ratio: f64, epsilon: f64) -> Option<BucketScheme> {
        let valid = [max, first, ratio, epsilon].iter().all(|v| v.is_finite())
            && max > 0.0
            && first > 0.0
            && ratio > 1.0
            && epsilon > 0.0;
        if !valid {
            return None;
        }
        let last = ((max * (ratio - 1.0) / first + 1.0).ln() / ratio.ln()).ceil();
        // `as` saturates; a scheme of more than a few thousand buckets is a mistake anyway.
        let buckets = usize::try_from(last as u64).ok()?.checked_add(1)?;
        (buckets <= 100_000).then_some(BucketScheme { first, ratio, buckets, epsilon })
    }

    /// The number of buckets.
    pub fn len(&self) -> usize {
        self.buckets
    }

    /// Always false: a scheme has at least one bucket.
    pub fn is_empty(&self) -> bool {
        self.buckets == 0
    }

    /// The index of the bucket `value` falls in; values below zero go to the first bucket,
    /// values past the last bucket's start to the last.
    pub fn bucket_of(&self, value: f64) -> usize {
        if value.is_nan() || value < self.first {
            return 0;
        }
        let index = ((value * (self.ratio - 1.0) / self.first + 1.0).ln() / self.ratio.ln()).floor();
        let mut bucket = (index as usize).min(self.buckets - 1);
        // The logarithm may land a hair off at a boundary; the starts decide.
        while bucket + 1 < self.buckets && self.start(bucket + 1) <= value {
            bucket += 1;
        }
        while bucket > 0 && self.start(bucket) > value {
            bucket -= 1;
        }
        bucket
    }

    /// Where bucket `bucket` starts (`0` for the first).
    pub fn start(&self, bucket: usize) -> f64 {
        if bucket == 0 {
            return 0.0;
        }
        let n = i32::try_from(bucket).unwrap_or(i32::MAX);
        self.first * (self.ratio.powi(n) - 1.0) / (self.ratio - 1.0)
    }
}

/// A histogram of decaying, weighted samples.
#[derive(Debug, Clone)]
pub struct DecayingHistogram {
    scheme: BucketScheme,
    weights: Vec<f64>,
    total: f64,
    half_life_secs: f64,
    /// Unix seconds; sample weights are relative to this time.
    reference: Option<i64>,
}

impl DecayingHistogram {
    /// An empty histogram; samples lose half their weight every `half_life_secs` (> 0).
    pub fn new(scheme: BucketScheme, half_life_secs: u64) -> DecayingHistogram {
        DecayingHistogram {
            scheme,
            weights: vec![0.0; scheme.len()],
            total: 0.0,
            half_life_secs: half_life_secs.max(1) as f64,
            reference: None,
        }
    }

    /// The bucketing scheme.
    pub fn scheme(&self) -> &BucketScheme {
        &self.scheme
    }

    /// Sets the time weights are relative to, before any sample is added (the earliest
    /// sample's, so that no weight starts below 1 and none is mistaken for empty); ignored
    /// once the histogram holds samples.
    pub fn set_reference(&mut self, time: i64) {
        if self.total == 0.0 {
            self.reference = Some(time);
        }
    }

    /// The factor a sample taken at `time` is weighted by, relative to the current
    /// reference time (`1` at the reference, `2` one half-life later).
    pub fn decay_factor(&mut self, time: i64) -> f64 {
        let reference = *self.reference.get_or_insert(time);
        let exponent = (time - reference) as f64 / self.half_life_secs;
        if exponent > MAX_DECAY_EXPONENT {
            // Move the reference forward by whole half-lives and scale what is stored.
            let shift = exponent.floor();
            let factor = (-shift).exp2();
            self.weights.iter_mut().for_each(|w| *w *= factor);
            self.total *= factor;
            self.reference = Some(reference + (shift * self.half_life_secs) as i64);
            return (exponent - shift).exp2();
        }
        exponent.exp2()
    }

    /// Adds `value` with `weight` (>= 0), taken at `time` (Unix seconds). A NaN value or a
    /// weight that is not a non-negative number is ignored: callers filter those first.
    pub fn add(&mut self, value: f64, weight: f64, time: i64) {
        if value.is_nan() || !weight.is_finite() || weight < 0.0 {
            return;
        }
        let w = weight * self.decay_factor(time);
        let bucket = self.scheme.bucket_of(value);
        self.weights[bucket] += w;
        self.total += w;
    }

    /// Removes a sample added before with the same value, weight and time; a bucket never
    /// goes below zero.
    pub fn subtract(&mut self, value: f64, weight: f64, time: i64) {
        if value.is_nan() || !weight.is_finite() || weight < 0.0 {
            return;
        }
        let w = weight * self.decay_factor(time);
        let bucket = self.scheme.bucket_of(value);
        let removed = if w > self.weights[bucket] - self.scheme.epsilon { self.weights[bucket] } else { w };
        self.weights[bucket] -= removed;
        self.total -= removed;
    }

    /// The total (decayed) weight.
    pub fn total_weight(&self) -> f64 {
        self.total
    }

    /// The weight held by bucket `bucket`.
    pub fn bucket_weight(&self, bucket: usize) -> f64 {
        self.weights.get(bucket).copied().unwrap_or(0.0)
    }

    /// Whether no bucket holds at least the scheme's epsilon.
    pub fn is_empty(&self) -> bool {
        !self.weights.iter().any(|&w| w >= self.scheme.epsilon)
    }

    /// The `p`-th percentile (`p` within 0 and 1): the end of the bucket where the
    /// cumulative weight first reaches `p` of the total. `None` when empty or `p` is not
    /// within 0 and 1.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.is_empty() || !(0.0..=1.0).contains(&p) {
            return None;
        }
        let eps = self.scheme.epsilon;
        let min = self.weights.iter().position(|&w| w >= eps)?;
        let max = self.weights.iter().rposition(|&w| w >= eps)?;
        let threshold = p * self.total;
        let mut sum = 0.0;
        let mut bucket = min;
        while bucket < max {
            sum += self.weights[bucket];
            if sum >= threshold {
                break;
            }
            bucket += 1;
        }
        Some(if bucket + 1 < self.scheme.len() { self.scheme.start(bucket + 1) } else { self.scheme.start(bucket) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu() -> BucketScheme {
        BucketScheme::exponential(1000.0, 0.01, 1.05, 1e-4).expect("valid scheme")
    }

    #[test]
    fn bucket_starts_grow_geometrically_and_values_land_between_them() {
        let s = cpu();
        assert_eq!(s.start(0), 0.0);
        assert!((s.start(1) - 0.01).abs() < 1e-12);
        assert!((s.start(2) - 0.01 * 2.05).abs() < 1e-12);
        for b in 1..s.len() - 1 {
            let width = s.start(b + 1) - s.start(b);
            let previous = s.start(b) - s.start(b - 1);
            assert!((width / previous - 1.05).abs() < 1e-9, "bucket {b}");
            // Both ends of every bucket: the start belongs to it, just below belongs before.
            assert_eq!(s.bucket_of(s.start(b)), b, "start of {b}");
            assert_eq!(s.bucket_of(s.start(b) * (1.0 - 1e-9)), b - 1, "below {b}");
        }
        assert!(s.start(s.len() - 1) >= 1000.0 && s.start(s.len() - 2) < 1000.0);
        assert_eq!(s.bucket_of(-3.0), 0);
        assert_eq!(s.bucket_of(1e9), s.len() - 1);
    }

    #[test]
    fn invalid_schemes_are_refused() {
        assert!(BucketScheme::exponential(0.0, 0.01, 1.05, 1e-4).is_none());
        assert!(BucketScheme::exponential(10.0, 0.0, 1.05, 1e-4).is_none());
        assert!(BucketScheme::exponential(10.0, 0.01, 1.0, 1e-4).is_none());
        assert!(BucketScheme::exponential(f64::NAN, 0.01, 1.05, 1e-4).is_none());
        assert!(BucketScheme::exponential(10.0, 0.01, 1.05, 0.0).is_none());
    }

    #[test]
    fn percentiles_of_a_uniform_distribution_are_within_a_bucket() {
        let mut h = DecayingHistogram::new(cpu(), 86_400);
        // 1..=1000 millicores, all at the same time: no decay.
        for i in 1..=1000 {
            h.add(i as f64 / 1000.0, 1.0, 0);
        }
        for p in [0.1, 0.5, 0.9, 0.95] {
            let got = h.percentile(p).expect("not empty");
            // The exact percentile is p cores (the 1000p-th sample); the answer is the end
            // of the bucket holding it, at most 5% of the value plus the first bucket above.
            let end = cpu().start(cpu().bucket_of(p) + 1);
            assert_eq!(got, end, "p{p}");
            assert!(got > p && got <= p * 1.05 + 0.01, "p{p}: {got}");
        }
        assert_eq!(h.percentile(1.5), None);
    }

    #[test]
    fn a_two_valued_distribution_splits_at_its_weight() {
        let mut h = DecayingHistogram::new(cpu(), 86_400);
        for _ in 0..80 {
            h.add(0.1, 1.0, 0);
        }
        for _ in 0..20 {
            h.add(2.0, 1.0, 0);
        }
        let low_end = cpu().start(cpu().bucket_of(0.1) + 1);
        let high_end = cpu().start(cpu().bucket_of(2.0) + 1);
        assert_eq!(h.percentile(0.5), Some(low_end));
        assert_eq!(h.percentile(0.8), Some(low_end));
        assert_eq!(h.percentile(0.81), Some(high_end));
    }

    #[test]
    fn a_sample_loses_half_its_weight_per_half_life() {
        let half_life = 3_600;
        let mut h = DecayingHistogram::new(cpu(), half_life);
        h.add(1.0, 1.0, 0);
        h.add(1.0, 1.0, half_life as i64);
        // The newer sample weighs twice the older one.
        assert!((h.total_weight() - 3.0).abs() < 1e-12);
        let mut g = DecayingHistogram::new(cpu(), half_life);
        g.add(0.1, 1.0, 0);
        g.add(1.0, 1.0, 2 * half_life as i64);
        // 1 against 4: the 0.5 percentile is in the newer sample's bucket.
        assert_eq!(g.percentile(0.5), Some(cpu().start(cpu().bucket_of(1.0) + 1)));
        assert_eq!(g.percentile(0.2), Some(cpu().start(cpu().bucket_of(0.1) + 1)));
    }

    #[test]
    fn long_histories_renormalise_without_changing_percentiles() {
        let day = 86_400;
        let mut h = DecayingHistogram::new(cpu(), day as u64);
        // 400 days of one sample a day: exponents would reach 2^400 without renormalising.
        for d in 0..400 {
            h.add(if d % 2 == 0 { 0.2 } else { 0.4 }, 1.0, d * day);
        }
        assert!(h.total_weight().is_finite() && h.total_weight() > 0.0);
        // The last two samples weigh 2/3 of everything (1 + 1/2 + 1/4 ... = 2; last is 1).
        let p = h.percentile(0.45).expect("not empty");
        assert_eq!(p, cpu().start(cpu().bucket_of(0.4) + 1));
    }

    #[test]
    fn subtracting_restores_an_empty_histogram() {
        let mut h = DecayingHistogram::new(cpu(), 60);
        assert!(h.is_empty() && h.percentile(0.5).is_none());
        h.add(0.3, 1.0, 100);
        h.subtract(0.3, 1.0, 100);
        assert!(h.is_empty());
        h.add(f64::NAN, 1.0, 0);
        h.add(0.3, -1.0, 0);
        assert!(h.is_empty());
    }
}
