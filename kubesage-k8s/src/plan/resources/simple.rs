//! KRR's `simple` strategy (robusta-dev/krr), over the same history.
//!
//! - CPU request: the 95th percentile of each pod's CPU usage (as Prometheus's
//!   `quantile_over_time` computes it, interpolating between ranks), the highest of the
//!   workload's pods; CPU limit: none.
//! - Memory request and limit: the highest working set of any pod, plus 15%.
//! - A resource with fewer than 100 points across the pods gets no recommendation.
//! - CPU is rounded up to the millicore with a floor of 10m; memory up to the megabyte
//!   (10^6 bytes) with a floor of 100 MB, as KRR's runner does.

use serde::{Deserialize, Serialize};

/// The settings of the simple strategy; [`Default`] is KRR's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimpleSettings {
    /// The CPU percentile, 0-100.
    pub cpu_percentile: f64,
    /// Percent added to the peak memory.
    pub memory_buffer_percentage: f64,
    /// Points (across pods) needed for a recommendation, per resource.
    pub points_required: usize,
    /// The smallest CPU recommended, millicores.
    pub cpu_min_millicores: u64,
    /// The smallest memory recommended, bytes.
    pub memory_min_bytes: u64,
}

impl Default for SimpleSettings {
    fn default() -> Self {
        SimpleSettings {
            cpu_percentile: 95.0,
            memory_buffer_percentage: 15.0,
            points_required: 100,
            cpu_min_millicores: 10,
            memory_min_bytes: 100_000_000,
        }
    }
}

/// Why a resource got no recommendation, or the recommendation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Proposal {
    /// The value: millicores for CPU, bytes for memory.
    Value(u64),
    /// Fewer points than required.
    NotEnoughData {
        /// Points found.
        points: usize,
    },
}

/// The `q` quantile (0-1) of `values` as Prometheus's `quantile_over_time` computes it:
/// rank `q * (n - 1)`, interpolating linearly between neighbours. `None` when empty.
pub fn quantile(q: f64, values: &[f64]) -> Option<f64> {
    if values.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = q * (sorted.len() - 1) as f64;
    let (lower, upper) = (rank.floor() as usize, rank.ceil() as usize);
    let weight = rank - rank.floor();
    Some(sorted[lower] * (1.0 - weight) + sorted[upper] * weight)
}

/// The CPU request: the percentile of each pod's samples, the highest across pods.
/// `pods` holds each pod's CPU samples (cores).
pub fn cpu_request(settings: &SimpleSettings, pods: &[&[(i64, f64)]]) -> Proposal {
    let points: usize = pods.iter().map(|p| p.len()).sum();
    if points < settings.points_required || points == 0 {
        return Proposal::NotEnoughData { points };
    }
    let q = settings.cpu_percentile / 100.0;
    let highest =
        pods.iter().filter_map(|p| quantile(q, &p.iter().map(|s| s.1).collect::<Vec<_>>())).fold(0.0f64, f64::max);
    let millicores = (highest * 1000.0 - 1e-9).ceil().max(0.0) as u64;
    Proposal::Value(millicores.max(settings.cpu_min_millicores))
}

/// The memory request (and limit): the highest sample plus the buffer. `pods` holds each
/// pod's memory samples (bytes).
pub fn memory_request(settings: &SimpleSettings, pods: &[&[(i64, f64)]]) -> Proposal {
    let points: usize = pods.iter().map(|p| p.len()).sum();
    if points < settings.points_required || points == 0 {
        return Proposal::NotEnoughData { points };
    }
    let peak = pods.iter().flat_map(|p| p.iter().map(|s| s.1)).fold(0.0f64, f64::max);
    let with_buffer = peak * (1.0 + settings.memory_buffer_percentage / 100.0);
    let megabytes = (with_buffer / 1e6 - 1e-9).ceil().max(0.0) as u64;
    Proposal::Value((megabytes * 1_000_000).max(settings.memory_min_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64]) -> Vec<(i64, f64)> {
        values.iter().enumerate().map(|(i, &v)| (i as i64 * 60, v)).collect()
    }

    #[test]
    fn quantiles_interpolate_between_ranks() {
        let v: Vec<f64> = (0..=100).map(f64::from).collect();
        assert_eq!(quantile(0.95, &v), Some(95.0));
        assert_eq!(quantile(0.5, &[1.0, 2.0, 3.0, 4.0]), Some(2.5));
        assert_eq!(quantile(1.0, &[3.0, 1.0]), Some(3.0));
        assert_eq!(quantile(0.5, &[]), None);
    }

    #[test]
    fn cpu_is_the_highest_pods_95th_percentile() {
        // Pod a: 0..=199 millicores shuffled (p95 = 189.05m); pod b: flat 100m.
        let a: Vec<f64> = (0..200).map(|i| ((i * 37) % 200) as f64 / 1000.0).collect();
        let b = vec![0.1; 200];
        let (a, b) = (series(&a), series(&b));
        let got = cpu_request(&SimpleSettings::default(), &[&a, &b]);
        let expected = (0.95f64 * 199.0).ceil() as u64; // 189.05 rounded up
        assert_eq!(got, Proposal::Value(expected));
    }

    #[test]
    fn memory_is_the_peak_plus_fifteen_percent_in_megabytes() {
        let mut values = vec![200e6; 150];
        values[70] = 300e6;
        let s = series(&values);
        assert_eq!(memory_request(&SimpleSettings::default(), &[&s]), Proposal::Value(345_000_000));
    }

    #[test]
    fn too_few_points_and_floors() {
        let s = series(&vec![0.001; 99]);
        assert_eq!(cpu_request(&SimpleSettings::default(), &[&s]), Proposal::NotEnoughData { points: 99 });
        assert_eq!(memory_request(&SimpleSettings::default(), &[]), Proposal::NotEnoughData { points: 0 });
        let s = series(&vec![0.001; 100]);
        assert_eq!(cpu_request(&SimpleSettings::default(), &[&s]), Proposal::Value(10));
        let m = series(&vec![1e6; 100]);
        assert_eq!(memory_request(&SimpleSettings::default(), &[&m]), Proposal::Value(100_000_000));
    }
}
