//! A bank of detectors: one per series, keyed by the series' labels, for many series at once.
//!
//! Memory is bounded by a maximum number of series. When it is reached, the least recently
//! updated tenth is dropped in one sweep (a series that comes back starts learning again),
//! so eviction costs O(1) amortised per point rather than a scan per new series.

use std::collections::{BTreeMap, HashMap};

use kubesage_core::{CompactString, Detector};

/// Labels identifying one series.
pub type Labels = BTreeMap<CompactString, CompactString>;

struct Entry {
    detector: Box<dyn Detector>,
    last_used: u64,
}

/// One detector per series, created on first sight.
pub struct DetectorBank {
    make: Box<dyn Fn() -> Box<dyn Detector> + Send + Sync>,
    max_series: usize,
    series: HashMap<Labels, Entry>,
    clock: u64,
    evicted: u64,
}

impl std::fmt::Debug for DetectorBank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetectorBank")
            .field("series", &self.series.len())
            .field("max_series", &self.max_series)
            .field("evicted", &self.evicted)
            .finish()
    }
}

impl DetectorBank {
    /// A bank that makes detectors with `make` and follows at most `max_series` series.
    pub fn new(max_series: usize, make: impl Fn() -> Box<dyn Detector> + Send + Sync + 'static) -> Self {
        DetectorBank {
            make: Box::new(make),
            max_series: max_series.max(1),
            series: HashMap::new(),
            clock: 0,
            evicted: 0,
        }
    }

    /// Scores the next point of the series with these labels.
    pub fn score(&mut self, labels: &Labels, timestamp: i64, value: f64) -> f64 {
        self.clock += 1;
        if let Some(entry) = self.series.get_mut(labels) {
            entry.last_used = self.clock;
            return entry.detector.score(timestamp, value);
        }
        if self.series.len() >= self.max_series {
            self.evict();
        }
        let mut detector = (self.make)();
        let score = detector.score(timestamp, value);
        self.series.insert(labels.clone(), Entry { detector, last_used: self.clock });
        score
    }

    /// Scores a whole series.
    pub fn score_series(&mut self, labels: &Labels, timestamps: &[i64], values: &[f64]) -> Vec<f64> {
        timestamps.iter().zip(values).map(|(&t, &v)| self.score(labels, t, v)).collect()
    }

    /// Series followed now.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether no series is followed.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Series dropped so far to stay within the limit.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Approximate bytes held by all detectors and their keys.
    pub fn memory_bytes(&self) -> usize {
        self.series
            .iter()
            .map(|(k, e)| {
                e.detector.memory_bytes()
                    + k.iter().map(|(a, b)| a.len() + b.len() + 2 * std::mem::size_of::<CompactString>()).sum::<usize>()
                    + std::mem::size_of::<Entry>()
            })
            .sum()
    }

    fn evict(&mut self) {
        let drop_count = (self.max_series / 10).max(1);
        let mut ages: Vec<u64> = self.series.values().map(|e| e.last_used).collect();
        let k = drop_count.min(ages.len()) - 1;
        let (_, cutoff, _) = ages.select_nth_unstable(k);
        let cutoff = *cutoff;
        let before = self.series.len();
        self.series.retain(|_, e| e.last_used > cutoff);
        self.evicted += (before - self.series.len()) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::detector;

    fn labels(pod: &str) -> Labels {
        let mut l = Labels::new();
        l.insert("pod".into(), pod.into());
        l
    }

    #[test]
    fn one_detector_per_series_with_independent_state() {
        let mut bank = DetectorBank::new(100, || detector("mad").expect("known"));
        for i in 0..200 {
            bank.score(&labels("a"), i, 10.0 + (i % 3) as f64);
            bank.score(&labels("b"), i, 1000.0 + (i % 5) as f64);
        }
        assert_eq!(bank.len(), 2);
        // 1000 is normal for b and wildly abnormal for a.
        assert!(bank.score(&labels("b"), 200, 1001.0) < 0.2);
        assert!(bank.score(&labels("a"), 200, 1001.0) > 0.9);
    }

    #[test]
    fn memory_is_bounded_by_evicting_the_least_recent() {
        let mut bank = DetectorBank::new(50, || detector("default").expect("known"));
        for i in 0..1000 {
            bank.score(&labels(&format!("pod-{i}")), 0, 1.0);
            bank.score(&labels("hot"), i, 1.0);
        }
        assert!(bank.len() <= 50);
        assert!(bank.evicted() >= 950);
        assert!(bank.series.contains_key(&labels("hot")), "a series in constant use is kept");
    }
}
