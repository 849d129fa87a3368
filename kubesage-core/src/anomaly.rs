//! Anomaly detection on metric series: the [`Detector`] trait and the series types that
//! detectors, metric sources and findings share.
//!
//! A detector is a streaming object: one point in, one score in `[0, 1]` out, with state of
//! bounded size per series, so a bank of them can follow tens of thousands of series. The
//! batch form is the streaming form run over an array; the two always agree.
//!
//! Points may be irregular in time, may repeat timestamps, and may be missing: a `NaN`
//! value is a gap, scored 0 and never folded into the detector's state.

use std::collections::BTreeMap;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::finding::{Evidence, Finding, ObjectRef, Severity, fingerprint};

/// A streaming anomaly detector for one series.
pub trait Detector: Send + Sync {
    /// The detector's name (`default`, `mad`, `ewma`, ...).
    fn name(&self) -> &'static str;

    /// Scores the next point: `timestamp` in Unix seconds, `value` the observation. Returns
    /// a score in `[0, 1]` (1 is most anomalous). A non-finite value is a gap: it scores 0
    /// and leaves the state as it was.
    fn score(&mut self, timestamp: i64, value: f64) -> f64;

    /// Approximate bytes of state this detector holds (its memory per series).
    fn memory_bytes(&self) -> usize;

    /// Scores a whole series; the same as calling [`Detector::score`] on each point in order.
    /// `timestamps` and `values` must have the same length; extra elements of either are ignored.
    fn score_batch(&mut self, timestamps: &[i64], values: &[f64]) -> Vec<f64> {
        timestamps.iter().zip(values).map(|(&t, &v)| self.score(t, v)).collect()
    }
}

/// A named metric series: labels (as Prometheus gives them) and points.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Labels, including `__name__` when the source gives it.
    pub labels: BTreeMap<CompactString, CompactString>,
    /// Timestamps, Unix seconds, one per value.
    pub timestamps: Vec<i64>,
    /// Values; `NaN` marks a gap.
    pub values: Vec<f64>,
}

impl Series {
    /// A series without labels.
    pub fn new(timestamps: Vec<i64>, values: Vec<f64>) -> Self {
        Series { labels: BTreeMap::new(), timestamps, values }
    }

    /// `name{a="b",c="d"}`, the way Prometheus prints a series.
    pub fn display_name(&self) -> String {
        let name = self.labels.get("__name__").map(CompactString::as_str).unwrap_or_default();
        let rest: Vec<String> =
            self.labels.iter().filter(|(k, _)| *k != "__name__").map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        if rest.is_empty() { name.to_owned() } else { format!("{name}{{{}}}", rest.join(",")) }
    }
}

/// One anomalous point of a series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnomalyPoint {
    /// When, Unix seconds.
    pub timestamp: i64,
    /// The value observed.
    pub value: f64,
    /// The detector's score in `[0, 1]`.
    pub score: f64,
}

/// The Kubernetes object a series is about, from the labels Prometheus exporters use:
/// `pod` (or `pod_name`) with `namespace` is a Pod, `node` a Node, `namespace` alone a
/// Namespace. Series about nothing in particular give `None`.
pub fn object_of(labels: &BTreeMap<CompactString, CompactString>) -> Option<ObjectRef> {
    let get =
        |keys: &[&str]| keys.iter().find_map(|k| labels.get(*k)).map(CompactString::as_str).filter(|v| !v.is_empty());
    let namespace = get(&["namespace", "exported_namespace"]);
    if let (Some(pod), Some(ns)) = (get(&["pod", "pod_name", "exported_pod"]), namespace) {
        return Some(ObjectRef::new("Pod", ns, pod));
    }
    if let Some(node) = get(&["node", "kubernetes_node"]) {
        return Some(ObjectRef::new("Node", "", node));
    }
    namespace.map(|ns| ObjectRef::new("Namespace", "", ns))
}

/// A finding about the object a series names, when anomalies were found in it, so that
/// anomalies and analyzer findings speak the same language. The id covers the series'
/// name too: two metrics of one pod are two findings.
pub fn anomaly_finding(series: &Series, anomalies: &[AnomalyPoint], detector: &str) -> Option<Finding> {
    let object = object_of(&series.labels)?;
    let peak = anomalies.iter().copied().max_by(|a, b| a.score.total_cmp(&b.score))?;
    let name = series.display_name();
    let severity = if peak.score >= 0.9 { Severity::Warning } else { Severity::Info };
    let metric = series.labels.get("__name__").map(CompactString::as_str).unwrap_or("the metric");
    let mut finding = Finding::new(
        "anomaly",
        "MetricAnomaly",
        severity,
        object.clone(),
        format!(
            "{metric} behaves unlike itself: {} anomalous point(s), peak {} at {} (score {:.2})",
            anomalies.len(),
            peak.value,
            crate::time::format_rfc3339(peak.timestamp),
            peak.score
        ),
    )
    .with_evidence(Evidence::field("series", &name))
    .with_evidence(Evidence::field("detector", detector));
    finding.id = fingerprint("anomaly", &format!("MetricAnomaly {name}"), &object);
    let mut top: Vec<AnomalyPoint> = anomalies.to_vec();
    top.sort_by(|a, b| b.score.total_cmp(&a.score));
    for a in top.iter().take(3) {
        finding.evidence.push(Evidence::message(format!(
            "{} = {} at {} (score {:.3})",
            metric,
            a.value,
            crate::time::format_rfc3339(a.timestamp),
            a.score
        )));
    }
    finding.next_steps.push(format!("Compare {metric} with the object's events and recent changes around the peak."));
    Some(finding)
}

/// Maps a score in `[0, 1]` that is very close to 1 onto a scale where thresholds are easy to
/// read: `1 - 10^-k` becomes `k / 10`, capped at 1. Detectors that calibrate scores as tail
/// probabilities use it, as NAB-style scoring sweeps a threshold over their output.
pub fn log_scale(probability: f64) -> f64 {
    if !probability.is_finite() {
        return 0.0;
    }
    let tail = (1.0 - probability).max(1e-10);
    (-tail.log10() / 10.0).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl Detector for Echo {
        fn name(&self) -> &'static str {
            "echo"
        }
        fn score(&mut self, _t: i64, v: f64) -> f64 {
            if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 }
        }
        fn memory_bytes(&self) -> usize {
            0
        }
    }

    #[test]
    fn batch_is_the_stream() {
        let mut d = Echo;
        assert_eq!(d.score_batch(&[1, 2, 3], &[0.5, f64::NAN, 2.0]), vec![0.5, 0.0, 1.0]);
        assert_eq!(d.score_batch(&[1, 2], &[0.5]), vec![0.5]);
    }

    #[test]
    fn log_scale_reads_nines() {
        assert!((log_scale(0.99999) - 0.5).abs() < 1e-9);
        assert_eq!(log_scale(0.0), 0.0);
        assert_eq!(log_scale(1.0), 1.0);
        assert_eq!(log_scale(f64::NAN), 0.0);
    }

    #[test]
    fn anomalies_become_findings_about_their_object() {
        let mut s = Series::new(vec![0, 60], vec![1.0, 9.0]);
        s.labels.insert("__name__".into(), "container_cpu_usage".into());
        s.labels.insert("namespace".into(), "shop".into());
        s.labels.insert("pod".into(), "api-1".into());
        let points = [AnomalyPoint { timestamp: 60, value: 9.0, score: 0.95 }];
        let f = anomaly_finding(&s, &points, "default").expect("a pod series gives a finding");
        assert_eq!(f.object, ObjectRef::new("Pod", "shop", "api-1"));
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.summary.contains("container_cpu_usage") && f.summary.contains("1970-01-01T00:01:00Z"));
        let mut other = s.clone();
        other.labels.insert("__name__".into(), "memory".into());
        let g = anomaly_finding(&other, &points, "default").expect("finding");
        assert_ne!(f.id, g.id, "two metrics of one pod are two findings");
        assert!(anomaly_finding(&s, &[], "default").is_none());
        let mut anonymous = Series::default();
        anonymous.labels.insert("job".into(), "x".into());
        assert!(anomaly_finding(&anonymous, &points, "default").is_none());
        let mut node = Series::default();
        node.labels.insert("node".into(), "n1".into());
        assert_eq!(object_of(&node.labels), Some(ObjectRef::new("Node", "", "n1")));
    }

    #[test]
    fn display_name() {
        let mut s = Series::default();
        s.labels.insert("__name__".into(), "up".into());
        s.labels.insert("job".into(), "api".into());
        assert_eq!(s.display_name(), "up{job=\"api\"}");
    }
}
