//! The Vertical Pod Autoscaler recommender's method, over a finite history.
//!
//! Per workload and container name, across the workload's pods:
//!
//! - CPU: every sample goes into a decaying histogram (buckets from 0.01 cores, 5% wider each,
//!   up to 1000 cores), all with the same weight (VPA's `minSampleWeight`, 0.1; VPA weighted
//!   samples by the container's request before its February 2025 clean-up, and no longer does).
//! - Memory: each container instance contributes one sample per 24-hour interval, its peak
//!   working set, dated at the interval's end (buckets from 10 MB, 5% wider, up to 1 TB).
//!   Intervals start at the instance's first sample, as VPA's do.
//! - Both decay with a 24-hour half-life.
//! - Target: the 90th percentile; lower bound the 50th; upper bound the 95th; each plus a
//!   15% safety margin, then at least the per-pod minimum (25 millicores, 250 MiB) divided
//!   among the workload's containers.
//! - Confidence: `min(history in days, CPU samples / 1440)`, the number of days of history
//!   at one sample a minute. The upper bound is multiplied by `1 + 1/confidence` (×2 after a
//!   day, ×1.14 after a week, unbounded without history) and the lower bound by
//!   `(1 + 0.001/confidence)^-2`.
//!
//! Confidence counts samples as VPA does (it expects one a minute): a Prometheus history at
//! a 5-minute step over 7 days has the sample count of 1.4 days and gets that confidence.

use serde::{Deserialize, Serialize};

use super::histogram::{BucketScheme, DecayingHistogram};

/// VPA's minimum sample weight, the weight every CPU sample gets.
pub const MIN_SAMPLE_WEIGHT: f64 = 0.1;

/// VPA's epsilon: a bucket lighter than this is empty.
pub const EPSILON: f64 = 0.001 * MIN_SAMPLE_WEIGHT;

/// The settings of the VPA method; [`Default`] is VPA's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VpaSettings {
    /// Target percentile (CPU and memory).
    pub target_percentile: f64,
    /// Lower bound percentile.
    pub lower_bound_percentile: f64,
    /// Upper bound percentile.
    pub upper_bound_percentile: f64,
    /// Fraction added to every estimate.
    pub safety_margin_fraction: f64,
    /// Minimum CPU per pod, millicores, shared among its containers.
    pub pod_min_cpu_millicores: f64,
    /// Minimum memory per pod, bytes, shared among its containers.
    pub pod_min_memory_bytes: f64,
    /// CPU histogram half-life, seconds.
    pub cpu_half_life_secs: u64,
    /// Memory histogram half-life, seconds.
    pub memory_half_life_secs: u64,
    /// The interval memory peaks are taken over, seconds.
    pub memory_aggregation_interval_secs: u64,
    /// The length of history that counts as confidence 1, seconds.
    pub confidence_interval_secs: u64,
}

impl Default for VpaSettings {
    fn default() -> Self {
        VpaSettings {
            target_percentile: 0.9,
            lower_bound_percentile: 0.5,
            upper_bound_percentile: 0.95,
            safety_margin_fraction: 0.15,
            pod_min_cpu_millicores: 25.0,
            pod_min_memory_bytes: 250.0 * 1024.0 * 1024.0,
            cpu_half_life_secs: 86_400,
            memory_half_life_secs: 86_400,
            memory_aggregation_interval_secs: 86_400,
            confidence_interval_secs: 86_400,
        }
    }
}

/// The CPU bucket scheme: from 0.01 cores, 5% wider each, up to 1000 cores.
pub fn cpu_buckets() -> BucketScheme {
    // Constant, valid arguments: the scheme always exists.
    BucketScheme::exponential(1000.0, 0.01, 1.05, EPSILON).unwrap_or_else(|| unreachable!("valid CPU scheme"))
}

/// The memory bucket scheme: from 10 MB, 5% wider each, up to 1 TB.
pub fn memory_buckets() -> BucketScheme {
    BucketScheme::exponential(1e12, 1e7, 1.05, EPSILON).unwrap_or_else(|| unreachable!("valid memory scheme"))
}

/// Raw VPA estimates for one resource, before rounding: cores or bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The target.
    pub target: f64,
    /// The lower bound.
    pub lower_bound: f64,
    /// The upper bound; infinite without history.
    pub upper_bound: f64,
}

/// The aggregate VPA keeps for one container name of a workload.
#[derive(Debug, Clone)]
pub struct AggregateState {
    settings: VpaSettings,
    cpu: DecayingHistogram,
    memory: DecayingHistogram,
    first_cpu: Option<i64>,
    last_cpu: Option<i64>,
    cpu_samples: usize,
    memory_peaks: usize,
}

impl AggregateState {
    /// An empty aggregate.
    pub fn new(settings: VpaSettings) -> AggregateState {
        AggregateState {
            settings,
            cpu: DecayingHistogram::new(cpu_buckets(), settings.cpu_half_life_secs),
            memory: DecayingHistogram::new(memory_buckets(), settings.memory_half_life_secs),
            first_cpu: None,
            last_cpu: None,
            cpu_samples: 0,
            memory_peaks: 0,
        }
    }

    /// Dates the histograms' reference at `time`, the earliest sample of any instance, so
    /// that the order instances are added in does not matter.
    pub fn set_reference(&mut self, time: i64) {
        self.cpu.set_reference(time);
        self.memory.set_reference(time);
    }

    /// Adds one container instance's CPU samples (cores), in time order.
    pub fn add_cpu(&mut self, samples: &[(i64, f64)]) {
        for &(t, cores) in samples {
            self.cpu.add(cores, MIN_SAMPLE_WEIGHT, t);
            self.first_cpu = Some(self.first_cpu.map_or(t, |f| f.min(t)));
            self.last_cpu = Some(self.last_cpu.map_or(t, |l| l.max(t)));
            self.cpu_samples += 1;
        }
    }

    /// Adds one container instance's memory samples (bytes), in time order: one peak per
    /// aggregation interval, dated at the interval's end.
    pub fn add_memory(&mut self, samples: &[(i64, f64)]) {
        let Some(&(start, _)) = samples.first() else { return };
        let interval = i64::try_from(self.settings.memory_aggregation_interval_secs.max(1)).unwrap_or(i64::MAX);
        let mut current: Option<(i64, f64)> = None;
        for &(t, bytes) in samples {
            let end = start + ((t - start).div_euclid(interval) + 1) * interval;
            match current {
                Some((e, peak)) if e == end => current = Some((e, peak.max(bytes))),
                Some((e, peak)) => {
                    self.memory.add(peak, 1.0, e);
                    self.memory_peaks += 1;
                    current = Some((end, bytes));
                }
                None => current = Some((end, bytes)),
            }
        }
        if let Some((e, peak)) = current {
            self.memory.add(peak, 1.0, e);
            self.memory_peaks += 1;
        }
    }

    /// CPU samples added.
    pub fn cpu_samples(&self) -> usize {
        self.cpu_samples
    }

    /// Memory peaks added (one per instance and interval).
    pub fn memory_peaks(&self) -> usize {
        self.memory_peaks
    }

    /// VPA's confidence: days of history (first to last CPU sample), or the CPU sample count
    /// in days at one a minute, whichever is smaller.
    pub fn confidence(&self) -> f64 {
        let (Some(first), Some(last)) = (self.first_cpu, self.last_cpu) else { return 0.0 };
        let interval = self.settings.confidence_interval_secs.max(1) as f64;
        let lifespan = (last - first) as f64 / interval;
        let samples = self.cpu_samples as f64 / (interval / 60.0);
        lifespan.min(samples)
    }

    /// The estimates for CPU (cores) with `containers` containers per pod; `None` without
    /// CPU samples.
    pub fn cpu_estimate(&self, containers: usize) -> Option<Estimate> {
        let min = self.settings.pod_min_cpu_millicores / 1000.0 / containers.max(1) as f64;
        self.estimate(&self.cpu, min)
    }

    /// The estimates for memory (bytes) with `containers` containers per pod; `None` without
    /// memory samples.
    pub fn memory_estimate(&self, containers: usize) -> Option<Estimate> {
        let min = self.settings.pod_min_memory_bytes / containers.max(1) as f64;
        self.estimate(&self.memory, min)
    }

    fn estimate(&self, histogram: &DecayingHistogram, min: f64) -> Option<Estimate> {
        let s = &self.settings;
        let margin = 1.0 + s.safety_margin_fraction;
        let target = histogram.percentile(s.target_percentile)? * margin;
        let lower = histogram.percentile(s.lower_bound_percentile)? * margin;
        let upper = histogram.percentile(s.upper_bound_percentile)? * margin;
        let confidence = self.confidence();
        // 1/0 is infinite: without history the upper bound is unbounded and the lower bound 0.
        let upper = upper * (1.0 + 1.0 / confidence);
        let lower = lower * (1.0 + 0.001 / confidence).powi(-2);
        let upper = if upper.is_nan() { f64::INFINITY } else { upper };
        let lower = if lower.is_nan() { 0.0 } else { lower };
        Some(Estimate { target: target.max(min), lower_bound: lower.max(min), upper_bound: upper.max(min) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60;
    const DAY: i64 = 86_400;

    fn constant(value: f64, days: i64, step: i64) -> Vec<(i64, f64)> {
        (0..days * DAY / step).map(|i| (i * step, value)).collect()
    }

    #[test]
    fn constant_cpu_gives_the_value_plus_margin_within_a_bucket() {
        let mut state = AggregateState::new(VpaSettings::default());
        state.add_cpu(&constant(0.5, 7, MINUTE));
        let e = state.cpu_estimate(1).expect("samples");
        let buckets = cpu_buckets();
        let bucket = buckets.bucket_of(0.5);
        let width = buckets.start(bucket + 1) - buckets.start(bucket);
        assert!(e.target >= 0.5 * 1.15 && e.target <= (0.5 + width) * 1.15, "{}", e.target);
        // All percentiles of a constant are the same bucket.
        assert_eq!(e.lower_bound, e.target * (1.0 + 0.001 / state.confidence()).powi(-2));
        assert!((e.upper_bound / e.target - (1.0 + 1.0 / state.confidence())).abs() < 1e-12);
    }

    #[test]
    fn confidence_grows_with_history_and_is_capped_by_the_sample_count() {
        let mut day = AggregateState::new(VpaSettings::default());
        day.add_cpu(&constant(0.2, 1, MINUTE));
        let mut week = AggregateState::new(VpaSettings::default());
        week.add_cpu(&constant(0.2, 7, MINUTE));
        // One a minute: confidence is the span in days (the last sample is a minute short).
        assert!((day.confidence() - (DAY - MINUTE) as f64 / DAY as f64).abs() < 1e-9);
        assert!((week.confidence() - (7 * DAY - MINUTE) as f64 / DAY as f64).abs() < 1e-9);
        let (d, w) = (day.cpu_estimate(1).expect("d"), week.cpu_estimate(1).expect("w"));
        assert!(w.upper_bound < d.upper_bound, "more history, a tighter upper bound");
        // Every 5 minutes for 7 days: 2016 samples, 1.4 "days" at one a minute.
        let mut sparse = AggregateState::new(VpaSettings::default());
        sparse.add_cpu(&constant(0.2, 7, 5 * MINUTE));
        assert!((sparse.confidence() - 2016.0 / 1440.0).abs() < 1e-9);
        // No history at all: nothing to estimate; one sample: an unbounded upper bound.
        let empty = AggregateState::new(VpaSettings::default());
        assert_eq!(empty.confidence(), 0.0);
        assert!(empty.cpu_estimate(1).is_none());
        let mut one = AggregateState::new(VpaSettings::default());
        one.add_cpu(&[(0, 0.2)]);
        let e = one.cpu_estimate(1).expect("one sample");
        assert!(e.upper_bound.is_infinite());
        assert_eq!(e.lower_bound, 0.025, "lower bound multiplied by 0, then the minimum");
    }

    #[test]
    fn memory_takes_one_peak_per_day_per_instance() {
        let mut state = AggregateState::new(VpaSettings::default());
        // Four days: each day 100 MB most of the time and one 400 MB spike.
        let mut samples = Vec::new();
        for i in 0..4 * 24 {
            let t = i * 3600;
            samples.push((t, if i % 24 == 12 { 400e6 } else { 100e6 }));
        }
        state.add_memory(&samples);
        assert_eq!(state.memory_peaks(), 4);
        let e = state.memory_estimate(1).expect("samples");
        let buckets = memory_buckets();
        let end = buckets.start(buckets.bucket_of(400e6) + 1);
        // Every peak is the spike, so even the median is the spike.
        assert_eq!(e.target, end * 1.15);
    }

    #[test]
    fn minimums_are_shared_among_a_pods_containers() {
        let mut state = AggregateState::new(VpaSettings::default());
        state.add_cpu(&constant(0.001, 2, MINUTE));
        state.add_memory(&constant(1e6, 2, MINUTE));
        assert_eq!(state.cpu_estimate(1).map(|e| e.target), Some(0.025));
        assert_eq!(state.cpu_estimate(2).map(|e| e.target), Some(0.0125));
        assert_eq!(state.memory_estimate(2).map(|e| e.target), Some(125.0 * 1024.0 * 1024.0));
    }

    #[test]
    fn the_order_of_instances_does_not_matter() {
        // A pod gone for three weeks and a current one: the old pod's samples weigh 2^-21 of
        // the new one's, small but not nothing, whichever is added first.
        let old = constant(0.1, 1, MINUTE);
        let new: Vec<(i64, f64)> = constant(1.0, 1, MINUTE).into_iter().map(|(t, v)| (t + 21 * DAY, v)).collect();
        let lowest = |first: &[(i64, f64)], second: &[(i64, f64)]| {
            let mut state = AggregateState::new(VpaSettings::default());
            state.set_reference(0);
            state.add_cpu(first);
            state.add_cpu(second);
            state.cpu.percentile(0.0)
        };
        let buckets = cpu_buckets();
        let expected = Some(buckets.start(buckets.bucket_of(0.1) + 1));
        assert_eq!(lowest(&new, &old), expected);
        assert_eq!(lowest(&old, &new), expected);
    }

    #[test]
    fn recent_usage_outweighs_old_usage() {
        let mut state = AggregateState::new(VpaSettings::default());
        // Five days at 1 core, then two at 0.1: with a one-day half-life the last two days
        // weigh three times the five before them, so the median is the recent level.
        let mut samples = constant(1.0, 5, MINUTE);
        samples.extend((0..2 * DAY / MINUTE).map(|i| (5 * DAY + i * MINUTE, 0.1)));
        state.add_cpu(&samples);
        let buckets = cpu_buckets();
        let e = state.cpu_estimate(1).expect("samples");
        let lower_raw = e.lower_bound / (1.0 + 0.001 / state.confidence()).powi(-2) / 1.15;
        assert!((lower_raw - buckets.start(buckets.bucket_of(0.1) + 1)).abs() < 1e-9, "{lower_raw}");
    }
}
