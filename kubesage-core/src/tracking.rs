//! Findings over time: when a problem was first and last seen, and when it went away.
//!
//! A service that re-analyses a cluster as it changes hands each new set of findings to a
//! [`FindingTracker`]. Because a finding's id is a pure function of analyzer, reason and
//! object (see [`crate::fingerprint`]), the same problem keeps its id from one analysis to
//! the next, so the tracker can carry its first-seen time forward and notice when it is
//! gone: a finding missing from a new analysis is resolved, with the time it was resolved.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::finding::Finding;
use crate::time::format_rfc3339;

/// Whether a tracked problem is still there.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingStatus {
    /// The latest analysis still reports it.
    Active,
    /// An analysis after it was last seen no longer reports it.
    Resolved,
}

impl FindingStatus {
    /// The lowercase name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Active => "active",
            FindingStatus::Resolved => "resolved",
        }
    }
}

/// A finding with its history.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackedFinding {
    /// The finding as the latest analysis that reported it saw it.
    #[serde(flatten)]
    pub finding: Finding,
    /// Active or resolved.
    pub status: FindingStatus,
    /// When an analysis first reported it (RFC 3339).
    pub first_seen: String,
    /// When an analysis last reported it (RFC 3339).
    pub last_seen: String,
    /// When it was found to be gone (RFC 3339); absent while active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<String>,
}

/// What one [`FindingTracker::update`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackerUpdate {
    /// Ids of findings reported for the first time (or again after being resolved).
    pub new: Vec<String>,
    /// Ids of findings that are now resolved.
    pub resolved: Vec<String>,
}

/// The active findings of a cluster and a bounded history of resolved ones.
///
/// Invariants: an id is active at most once; it is never both active and in the resolved
/// history; the history holds at most `max_resolved` findings, oldest dropped first.
#[derive(Debug, Clone)]
pub struct FindingTracker {
    active: Vec<TrackedFinding>,
    index: HashMap<String, usize>,
    resolved: VecDeque<TrackedFinding>,
    max_resolved: usize,
    updates: u64,
}

impl FindingTracker {
    /// An empty tracker that remembers up to `max_resolved` resolved findings.
    pub fn new(max_resolved: usize) -> Self {
        FindingTracker {
            active: Vec::new(),
            index: HashMap::new(),
            resolved: VecDeque::new(),
            max_resolved,
            updates: 0,
        }
    }

    /// Replaces the active set with the findings of a new analysis made at `now` (Unix
    /// seconds). Findings already active keep their first-seen time; findings no longer
    /// reported become resolved. The order of `findings` (a report's, most severe first)
    /// is kept for listing.
    pub fn update(&mut self, findings: Vec<Finding>, now: i64) -> TrackerUpdate {
        let stamp = format_rfc3339(now);
        let mut old: HashMap<String, TrackedFinding> =
            self.active.drain(..).map(|t| (t.finding.id.clone(), t)).collect();
        self.index.clear();
        let mut change = TrackerUpdate::default();
        for finding in findings {
            if self.index.contains_key(&finding.id) {
                continue;
            }
            let first_seen = match old.remove(&finding.id) {
                Some(previous) => previous.first_seen,
                None => {
                    change.new.push(finding.id.clone());
                    self.resolved.retain(|r| r.finding.id != finding.id);
                    stamp.clone()
                }
            };
            self.index.insert(finding.id.clone(), self.active.len());
            self.active.push(TrackedFinding {
                finding,
                status: FindingStatus::Active,
                first_seen,
                last_seen: stamp.clone(),
                resolved_at: None,
            });
        }
        let mut gone: Vec<TrackedFinding> = old.into_values().collect();
        gone.sort_by(|a, b| a.finding.id.cmp(&b.finding.id));
        for mut t in gone {
            change.resolved.push(t.finding.id.clone());
            t.status = FindingStatus::Resolved;
            t.resolved_at = Some(stamp.clone());
            self.resolved.retain(|r| r.finding.id != t.finding.id);
            self.resolved.push_back(t);
        }
        while self.resolved.len() > self.max_resolved {
            self.resolved.pop_front();
        }
        self.updates += 1;
        change
    }

    /// The active findings, in the order of the latest analysis.
    pub fn active(&self) -> &[TrackedFinding] {
        &self.active
    }

    /// Resolved findings, most recently resolved last.
    pub fn resolved(&self) -> impl DoubleEndedIterator<Item = &TrackedFinding> + ExactSizeIterator {
        self.resolved.iter()
    }

    /// A finding by id: the active one if it is active, else the latest resolved one.
    pub fn get(&self, id: &str) -> Option<&TrackedFinding> {
        match self.index.get(id) {
            Some(&i) => self.active.get(i),
            None => self.resolved.iter().rev().find(|r| r.finding.id == id),
        }
    }

    /// How many analyses have been recorded.
    pub fn updates(&self) -> u64 {
        self.updates
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{ObjectRef, Severity};

    fn finding(name: &str, reason: &str) -> Finding {
        Finding::new("pod", reason, Severity::Critical, ObjectRef::new("Pod", "shop", name), format!("{name} broke"))
    }

    #[test]
    fn first_seen_carries_over_and_missing_findings_resolve() {
        let mut t = FindingTracker::new(10);
        let a = finding("a", "CrashLoopBackOff");
        let b = finding("b", "ImagePullBackOff");
        let change = t.update(vec![a.clone(), b.clone()], 1_000);
        assert_eq!(change.new, vec![a.id.clone(), b.id.clone()]);
        assert!(change.resolved.is_empty());

        let change = t.update(vec![a.clone()], 2_000);
        assert!(change.new.is_empty());
        assert_eq!(change.resolved, vec![b.id.clone()]);
        let active = t.get(&a.id).expect("a is active");
        assert_eq!(active.status, FindingStatus::Active);
        assert_eq!(active.first_seen, format_rfc3339(1_000));
        assert_eq!(active.last_seen, format_rfc3339(2_000));
        let gone = t.get(&b.id).expect("b is remembered");
        assert_eq!(gone.status, FindingStatus::Resolved);
        assert_eq!(gone.last_seen, format_rfc3339(1_000));
        assert_eq!(gone.resolved_at.as_deref(), Some(format_rfc3339(2_000).as_str()));
        assert_eq!(t.active().len(), 1);
        assert_eq!(t.resolved().len(), 1);
        assert_eq!(t.updates(), 2);
    }

    #[test]
    fn a_problem_that_returns_is_new_again_and_leaves_the_history() {
        let mut t = FindingTracker::new(10);
        let a = finding("a", "CrashLoopBackOff");
        t.update(vec![a.clone()], 1_000);
        t.update(Vec::new(), 2_000);
        let change = t.update(vec![a.clone()], 3_000);
        assert_eq!(change.new, vec![a.id.clone()]);
        assert_eq!(t.resolved().len(), 0);
        let back = t.get(&a.id).expect("active again");
        assert_eq!(back.status, FindingStatus::Active);
        assert_eq!(back.first_seen, format_rfc3339(3_000));
    }

    #[test]
    fn the_history_is_bounded_and_keeps_the_latest() {
        let mut t = FindingTracker::new(2);
        let all: Vec<Finding> = (0..5).map(|i| finding(&format!("p{i}"), "Pending")).collect();
        t.update(all.clone(), 1);
        t.update(Vec::new(), 2);
        assert_eq!(t.resolved().len(), 2);
        t.update(vec![finding("x", "Pending")], 3);
        let t2 = t.update(Vec::new(), 4);
        assert_eq!(t2.resolved.len(), 1);
        let last: Vec<&str> = t.resolved().map(|r| r.finding.object.name.as_str()).collect();
        assert_eq!(last.len(), 2);
        assert_eq!(last[1], "x");
    }

    #[test]
    fn order_follows_the_latest_analysis_and_duplicates_collapse() {
        let mut t = FindingTracker::new(10);
        let a = finding("a", "CrashLoopBackOff");
        let b = finding("b", "CrashLoopBackOff");
        t.update(vec![a.clone(), b.clone(), a.clone()], 1);
        let names: Vec<&str> = t.active().iter().map(|f| f.finding.object.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        t.update(vec![b.clone(), a.clone()], 2);
        let names: Vec<&str> = t.active().iter().map(|f| f.finding.object.name.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(t.get(&a.id).map(|f| f.first_seen.clone()), Some(format_rfc3339(1)));
    }
}
