//! Shared helpers for the analyzer tests: decode an inline `kubectl get -o yaml` fixture,
//! scan it with chosen analyzers, and look findings up by reason and object.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use kubesage_core::{Cluster, Evidence, Finding, ObjectRef, Report, ScanOptions};

/// Decodes a fixture (a `kind: List` or `---`-separated objects) into a cluster.
pub fn cluster(yaml: &str) -> Cluster {
    kubesage_k8s::source::decode_document(yaml.as_bytes(), "fixture").expect("the fixture is valid Kubernetes YAML")
}

/// Joins objects written separately into one multi-document YAML stream.
pub fn docs(parts: &[&str]) -> String {
    parts.iter().map(|p| p.trim_matches('\n')).collect::<Vec<_>>().join("\n---\n")
}

/// Applies text replacements to a fixture, failing if a pattern is absent (so a variant
/// built from a base fixture cannot silently equal it).
pub fn edit(text: &str, replacements: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (from, to) in replacements {
        assert!(out.contains(from), "the fixture has no {from:?} to replace");
        out = out.replace(from, to);
    }
    out
}

/// The items of a `kind: List` fixture (items as kubectl prints them: `- ` at column 0,
/// fields indented by two) without
/// those whose `metadata.name` or `kind` is in `drop`: variants of one snapshot with some
/// objects, or whole kinds, left out.
pub fn list_without(list: &str, drop: &[&str]) -> String {
    const SEP: &str = "\n- ";
    let mut parts = list.split(SEP);
    let mut kept = vec![parts.next().unwrap_or_default().to_owned()];
    let before = kept.len();
    let mut dropped = 0;
    for item in parts {
        if drop.iter().any(|d| item_kind(item) == Some(*d) || item_name(item) == Some(*d)) {
            dropped += 1;
        } else {
            kept.push(item.to_owned());
        }
    }
    assert!(dropped > 0 && kept.len() > before, "nothing matched {drop:?}, or everything did");
    kept.join(SEP)
}

fn item_kind(item: &str) -> Option<&str> {
    item.lines().find_map(|l| l.strip_prefix("  kind: "))
}

fn item_name(item: &str) -> Option<&str> {
    let mut in_meta = false;
    for line in item.lines() {
        if line.starts_with("  ") && !line.starts_with("   ") {
            in_meta = line == "  metadata:";
        } else if in_meta && let Some(name) = line.strip_prefix("    name: ") {
            return Some(name);
        }
    }
    None
}

/// Unix seconds of an RFC 3339 timestamp.
pub fn ts(s: &str) -> i64 {
    kubesage_core::time::parse_rfc3339(s).expect("a valid RFC 3339 timestamp")
}

/// Scans a fixture with one analyzer; "now" is the latest timestamp in the fixture.
pub fn scan_yaml(yaml: &str, analyzer: &str) -> Report {
    scan_opts(yaml, &ScanOptions { analyzers: vec![analyzer.into()], ..Default::default() })
}

/// Scans a fixture with several analyzers together (for root-cause linking).
pub fn scan_many(yaml: &str, analyzers: &[&str]) -> Report {
    scan_opts(
        yaml,
        &ScanOptions { analyzers: analyzers.iter().map(|a| (*a).to_owned()).collect(), ..Default::default() },
    )
}

/// Scans a fixture with one analyzer at a fixed "now" (RFC 3339).
pub fn scan_at(yaml: &str, analyzer: &str, now: &str) -> Report {
    scan_opts(yaml, &ScanOptions { analyzers: vec![analyzer.into()], now: Some(ts(now)), ..Default::default() })
}

/// Scans a fixture with explicit options.
pub fn scan_opts(yaml: &str, options: &ScanOptions) -> Report {
    let cluster = cluster(yaml);
    kubesage_core::scan(&cluster, &kubesage_k8s::analyze::all(), options).expect("the analyzer names are known")
}

/// One line per finding (`Pod/shop/api-1: CrashLoopBackOff (critical)`), for failure messages.
pub fn describe(report: &Report) -> String {
    report
        .findings
        .iter()
        .map(|f| format!("{}: {} ({}) - {}", f.object, f.reason, f.severity, f.summary))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The reasons reported, in report order.
pub fn reasons(report: &Report) -> Vec<&str> {
    report.findings.iter().map(|f| f.reason.as_str()).collect()
}

/// The findings with this reason.
pub fn all_with<'a>(report: &'a Report, reason: &str) -> Vec<&'a Finding> {
    report.findings.iter().filter(|f| f.reason == reason).collect()
}

/// The single finding with this reason; fails, listing every finding, if there is not exactly one.
pub fn finding<'a>(report: &'a Report, reason: &str) -> &'a Finding {
    let matching = all_with(report, reason);
    assert_eq!(matching.len(), 1, "expected exactly one {reason} finding, got:\n{}", describe(report));
    matching[0]
}

/// The single finding with this reason about the object with this name.
pub fn finding_on<'a>(report: &'a Report, reason: &str, name: &str) -> &'a Finding {
    let matching: Vec<&Finding> = all_with(report, reason).into_iter().filter(|f| f.object.name == name).collect();
    assert_eq!(matching.len(), 1, "expected exactly one {reason} finding on {name}, got:\n{}", describe(report));
    matching[0]
}

/// Asserts that no finding has this reason.
pub fn assert_no(report: &Report, reason: &str) {
    assert!(all_with(report, reason).is_empty(), "expected no {reason} finding, got:\n{}", describe(report));
}

/// Asserts that the scan found nothing.
pub fn assert_clean(report: &Report) {
    assert!(report.findings.is_empty(), "expected no findings, got:\n{}", describe(report));
}

/// Asserts the object a finding is about (`""` namespace for cluster-scoped kinds).
pub fn assert_object(f: &Finding, kind: &str, namespace: &str, name: &str) {
    assert_eq!(f.object, ObjectRef::new(kind, namespace, name), "finding {} is about the wrong object", f.reason);
}

/// Every piece of evidence, one per line, as the report prints it.
pub fn evidence_text(f: &Finding) -> String {
    f.evidence.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

/// Asserts that some evidence line contains `needle`.
pub fn assert_evidence(f: &Finding, needle: &str) {
    let text = evidence_text(f);
    assert!(text.contains(needle), "{} evidence lacks {needle:?}:\n{text}", f.reason);
}

/// Asserts that no evidence line contains `needle`.
pub fn assert_no_evidence(f: &Finding, needle: &str) {
    let text = evidence_text(f);
    assert!(!text.contains(needle), "{} evidence should not mention {needle:?}:\n{text}", f.reason);
}

/// Asserts a field of evidence with exactly this path and value.
pub fn assert_field(f: &Finding, path: &str, value: &str) {
    let found =
        f.evidence.iter().any(|e| matches!(e, Evidence::Field { path: p, value: v } if p == path && v == value));
    assert!(found, "{} evidence lacks field {path} = {value}:\n{}", f.reason, evidence_text(f));
}

/// Asserts evidence from an event with this reason whose message contains `needle`.
pub fn assert_event(f: &Finding, reason: &str, needle: &str) {
    let found = f
        .evidence
        .iter()
        .any(|e| matches!(e, Evidence::Event { reason: r, message, .. } if r == reason && message.contains(needle)));
    assert!(found, "{} evidence lacks a {reason} event about {needle:?}:\n{}", f.reason, evidence_text(f));
}

/// Asserts evidence from a condition of this type and status.
pub fn assert_condition(f: &Finding, condition: &str, status: &str) {
    let found = f
        .evidence
        .iter()
        .any(|e| matches!(e, Evidence::Condition { condition: c, status: s, .. } if c == condition && s == status));
    assert!(found, "{} evidence lacks condition {condition}={status}:\n{}", f.reason, evidence_text(f));
}

/// Asserts that a suggested next step contains `needle`.
pub fn assert_step(f: &Finding, needle: &str) {
    assert!(
        f.next_steps.iter().any(|s| s.contains(needle)),
        "{} next steps lack {needle:?}: {:?}",
        f.reason,
        f.next_steps
    );
}

/// Asserts that two findings name each other as related.
pub fn assert_related(a: &Finding, b: &Finding) {
    assert!(
        a.related.contains(&b.id),
        "{} on {} should be related to {} on {}",
        a.reason,
        a.object,
        b.reason,
        b.object
    );
    assert!(
        b.related.contains(&a.id),
        "{} on {} should be related to {} on {}",
        b.reason,
        b.object,
        a.reason,
        a.object
    );
}
