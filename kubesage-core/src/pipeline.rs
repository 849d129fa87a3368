//! The pipeline: where cluster state comes from ([`ClusterSource`]), what examines it
//! ([`Analyzer`]), and the orchestration that runs analyzers, links findings that share a
//! root cause, applies the scan's scope and produces a [`Report`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, ClusterIndex, ResourceKind, SkippedKind};
use crate::error::Error;
use crate::finding::{Evidence, Finding, ObjectRef, Severity};
use crate::selector::Selector;

/// What a scan asks a source for.
#[derive(Debug, Clone, Default)]
pub struct SourceScope {
    /// Only this namespace (cluster-scoped kinds are still read whole).
    pub namespace: Option<String>,
    /// The kinds the selected analyzers read.
    pub kinds: BTreeSet<ResourceKind>,
}

/// Where cluster state comes from: a live API server, snapshot files, an embedded demo.
pub trait ClusterSource {
    /// The source's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// A short description for reports (`snapshot: cluster.json`, `context kind-dev`).
    fn describe(&self) -> String;

    /// Reads the cluster. Kinds that cannot be read are recorded in
    /// [`Cluster::skipped`]; only failures that leave nothing to analyse are errors.
    fn load(&self, scope: &SourceScope) -> impl Future<Output = Result<Cluster, Self::Error>> + Send;
}

/// What an analyzer sees: the cluster, its index, and the time to measure ages against.
#[derive(Debug)]
pub struct AnalysisContext<'a> {
    /// The cluster.
    pub cluster: &'a Cluster,
    /// Lookups over it.
    pub index: ClusterIndex<'a>,
    /// "Now", in Unix seconds: the clock for a live cluster, the snapshot's time otherwise.
    pub now: i64,
}

impl<'a> AnalysisContext<'a> {
    /// Indexes the cluster.
    pub fn new(cluster: &'a Cluster, now: i64) -> Self {
        AnalysisContext { cluster, index: ClusterIndex::build(cluster), now }
    }

    /// Finds an object by namespace and name.
    pub fn get<R: crate::cluster::Resource>(&self, namespace: &'a str, name: &'a str) -> Option<&'a R> {
        self.index.get(self.cluster, namespace, name)
    }

    /// Seconds since an RFC 3339 timestamp, if it parses.
    pub fn age(&self, timestamp: Option<&str>) -> Option<i64> {
        timestamp.and_then(crate::time::parse_rfc3339).map(|t| self.now - t)
    }
}

/// Examines a cluster and reports findings. One analyzer per kind of object.
pub trait Analyzer: Send + Sync {
    /// The analyzer's name (`pod`), used by `--analyzer`.
    fn name(&self) -> &'static str;
    /// The kinds it reads, so a source can fetch only those.
    fn reads(&self) -> &'static [ResourceKind];
    /// Appends its findings.
    fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>);
}

/// How to run a scan.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Report only objects in this namespace.
    pub namespace: Option<String>,
    /// Report only objects whose labels match.
    pub selector: Option<Selector>,
    /// Run only these analyzers (by name); empty runs all.
    pub analyzers: Vec<String>,
    /// Override "now" (Unix seconds). Default: the cluster's `observed_at`.
    pub now: Option<i64>,
}

/// Counts of findings by severity.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Critical findings.
    pub critical: usize,
    /// Warnings.
    pub warning: usize,
    /// Informational findings.
    pub info: usize,
    /// Objects examined, by kind.
    pub objects: BTreeMap<String, usize>,
}

/// The result of a scan.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// Counts.
    pub summary: Summary,
    /// Kinds that could not be read.
    pub skipped: Vec<SkippedKind>,
    /// Things the user should know about the input (ignored kinds, missing time).
    pub warnings: Vec<String>,
    /// The time the scan measured ages against (RFC 3339).
    pub observed_at: Option<String>,
}

impl Report {
    /// Whether any finding is at or above `severity`.
    pub fn has_at_least(&self, severity: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= severity)
    }
}

/// Selects analyzers by name; an empty list selects all. Unknown names are an error that
/// lists the known ones.
pub fn select_analyzers<'a>(all: &'a [Box<dyn Analyzer>], names: &[String]) -> Result<Vec<&'a dyn Analyzer>, Error> {
    if names.is_empty() {
        return Ok(all.iter().map(AsRef::as_ref).collect());
    }
    names
        .iter()
        .map(|n| {
            all.iter().find(|a| a.name().eq_ignore_ascii_case(n)).map(AsRef::as_ref).ok_or_else(|| {
                Error::UnknownAnalyzer {
                    name: n.clone(),
                    known: all.iter().map(|a| a.name()).collect::<Vec<_>>().join(", "),
                }
            })
        })
        .collect()
}

/// The kinds a set of analyzers reads (events always included: they are evidence for all).
pub fn kinds_read(analyzers: &[&dyn Analyzer]) -> BTreeSet<ResourceKind> {
    let mut kinds: BTreeSet<ResourceKind> = analyzers.iter().flat_map(|a| a.reads().iter().copied()).collect();
    kinds.insert(ResourceKind::Event);
    kinds
}

/// Runs analyzers over a cluster and assembles the report.
///
/// Steps: run every selected analyzer; keep findings inside the scope (namespace and
/// label selector); link findings whose analyzers declared a shared cause, both ways,
/// and summarise on each finding what its related findings say; sort most severe first.
pub fn scan(cluster: &Cluster, all: &[Box<dyn Analyzer>], options: &ScanOptions) -> Result<Report, Error> {
    let analyzers = select_analyzers(all, &options.analyzers)?;
    let mut warnings = Vec::new();
    let now = match options.now.or(cluster.observed_at) {
        Some(t) => t,
        None => {
            warnings.push("the input carries no timestamps; ages are not reported".to_owned());
            0
        }
    };
    let cx = AnalysisContext::new(cluster, now);
    let mut findings = Vec::new();
    for analyzer in &analyzers {
        analyzer.analyze(&cx, &mut findings);
    }
    let mut report = assemble(&cx, findings, options);
    warnings.append(&mut report.warnings);
    report.warnings = warnings;
    Ok(report)
}

/// Turns the raw findings of analyzers run over `cx` into a report: keeps those inside the
/// scope, links findings that share a cause, sorts most severe first and summarises.
///
/// [`scan`] is `analyze` then `assemble`; a watcher that re-runs only the analyzers whose
/// kinds changed keeps each analyzer's raw findings and assembles them again, since links
/// and rollups depend on the findings of every analyzer together.
pub fn assemble(cx: &AnalysisContext<'_>, mut findings: Vec<Finding>, options: &ScanOptions) -> Report {
    let cluster = cx.cluster;
    let now = cx.now;
    let mut warnings = Vec::new();
    findings.retain(|f| in_scope(cx, f, options));
    link(&mut findings);
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.object.namespace.cmp(&b.object.namespace))
            .then_with(|| a.object.kind.cmp(&b.object.kind))
            .then_with(|| a.object.name.cmp(&b.object.name))
            .then_with(|| a.reason.cmp(&b.reason))
    });
    findings.dedup_by(|a, b| a.id == b.id);

    for (kind, n) in &cluster.ignored {
        warnings.push(format!("ignored {n} object(s) of kind {kind}, which no analyzer reads"));
    }
    let mut summary = Summary {
        objects: cluster.counts().into_iter().map(|(k, n)| (k.to_owned(), n)).collect(),
        ..Summary::default()
    };
    for f in &findings {
        match f.severity {
            Severity::Critical => summary.critical += 1,
            Severity::Warning => summary.warning += 1,
            Severity::Info => summary.info += 1,
        }
    }
    Report {
        findings,
        summary,
        skipped: cluster.skipped.clone(),
        warnings,
        observed_at: (now > 0).then(|| crate::time::format_rfc3339(now)),
    }
}

fn in_scope(cx: &AnalysisContext<'_>, f: &Finding, options: &ScanOptions) -> bool {
    if let Some(ns) = &options.namespace
        && f.object.namespace.as_deref() != Some(ns.as_str())
    {
        return false;
    }
    match &options.selector {
        Some(sel) if !sel.is_empty() => cx.index.labels_of(cx.cluster, &f.object).is_some_and(|l| sel.matches(l)),
        _ => true,
    }
}

/// Turns declared links between objects into `related` ids between findings, and adds a
/// line of evidence on each finding that sums up what its related findings report.
fn link(findings: &mut [Finding]) {
    let mut by_object: HashMap<ObjectRef, Vec<usize>> = HashMap::new();
    for (i, f) in findings.iter().enumerate() {
        by_object.entry(f.object.clone()).or_default().push(i);
    }
    let mut pairs: BTreeSet<(usize, usize)> = BTreeSet::new();
    for (i, f) in findings.iter().enumerate() {
        for obj in &f.links {
            for &j in by_object.get(obj).into_iter().flatten() {
                if i != j {
                    pairs.insert((i.min(j), i.max(j)));
                }
            }
        }
    }
    let mut related: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); findings.len()];
    for (a, b) in pairs {
        related[a].insert(b);
        related[b].insert(a);
    }
    let ids: Vec<String> = findings.iter().map(|f| f.id.clone()).collect();
    let mut rollups: Vec<Option<String>> = vec![None; findings.len()];
    for (i, rel) in related.iter().enumerate() {
        if rel.is_empty() {
            continue;
        }
        // "3 related Pod findings: CrashLoopBackOff (2), OOMKilled (1)"
        let mut by_kind: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
        for &j in rel {
            *by_kind
                .entry(findings[j].object.kind.as_str())
                .or_default()
                .entry(findings[j].reason.as_str())
                .or_default() += 1;
        }
        let parts: Vec<String> = by_kind
            .iter()
            .map(|(kind, reasons)| {
                let n: usize = reasons.values().sum();
                let rs: Vec<String> = reasons.iter().map(|(r, c)| format!("{r} ({c})")).collect();
                format!("{n} {kind} finding(s): {}", rs.join(", "))
            })
            .collect();
        rollups[i] = Some(format!("related: {}", parts.join("; ")));
    }
    for (i, f) in findings.iter_mut().enumerate() {
        f.related = related[i].iter().map(|&j| ids[j].clone()).collect();
        f.related.sort();
        f.related.dedup();
        if let Some(text) = rollups[i].take() {
            f.evidence.push(Evidence::message(text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ObjectMeta, Pod};

    struct Fixed;
    impl Analyzer for Fixed {
        fn name(&self) -> &'static str {
            "fixed"
        }
        fn reads(&self) -> &'static [ResourceKind] {
            &[ResourceKind::Pod]
        }
        fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>) {
            for p in &cx.cluster.pods {
                let me = ObjectRef::new("Pod", &p.metadata.namespace, p.metadata.name.clone());
                let owner = ObjectRef::new("Deployment", &p.metadata.namespace, "web");
                out.push(Finding::new("fixed", "Broken", Severity::Warning, me, "broken").with_link(owner.clone()));
                if p.metadata.name == "a" {
                    out.push(Finding::new("fixed", "Down", Severity::Critical, owner, "down"));
                }
            }
        }
    }

    fn pod(ns: &str, name: &str, app: &str) -> Pod {
        let mut meta = ObjectMeta { namespace: ns.into(), name: name.into(), ..Default::default() };
        meta.labels.insert("app".into(), app.into());
        Pod { metadata: meta, ..Default::default() }
    }

    fn cluster() -> Cluster {
        let mut c = Cluster::new();
        for p in [pod("shop", "a", "web"), pod("shop", "b", "web"), pod("other", "c", "db")] {
            c.insert(crate::cluster::AnyObject::Pod(p));
        }
        c.observed_at = Some(1_700_000_000);
        c
    }

    #[test]
    fn links_both_ways_and_sorts() {
        let all: Vec<Box<dyn Analyzer>> = vec![Box::new(Fixed)];
        let report = scan(&cluster(), &all, &ScanOptions::default()).unwrap_or_default();
        assert_eq!(report.findings.len(), 4);
        let deploy = &report.findings[0];
        assert_eq!(deploy.severity, Severity::Critical);
        // Pods in namespace "shop" link to the Deployment; the one in "other" links to another.
        assert_eq!(deploy.related.len(), 2);
        let pod_a = report.findings.iter().find(|f| f.object.name == "a").map(|f| f.related.clone());
        assert_eq!(pod_a, Some(vec![deploy.id.clone()]));
        assert!(deploy.evidence.iter().any(|e| e.to_string() == "related: 2 Pod finding(s): Broken (2)"));
        assert_eq!(report.summary.critical, 1);
        assert_eq!(report.summary.warning, 3);
        assert_eq!(report.observed_at.as_deref(), Some("2023-11-14T22:13:20Z"));
    }

    #[test]
    fn scope_by_namespace_and_selector() {
        let all: Vec<Box<dyn Analyzer>> = vec![Box::new(Fixed)];
        let ns = ScanOptions { namespace: Some("other".into()), ..Default::default() };
        let report = scan(&cluster(), &all, &ns).unwrap_or_default();
        assert_eq!(report.findings.iter().map(|f| f.object.name.as_str()).collect::<Vec<_>>(), vec!["c"]);
        let sel = ScanOptions { selector: Selector::parse("app=web").ok(), ..Default::default() };
        let report = scan(&cluster(), &all, &sel).unwrap_or_default();
        // The Deployment is not in the cluster, so its labels are unknown and it is out of scope.
        let mut names: Vec<&str> = report.findings.iter().map(|f| f.object.name.as_str()).collect();
        names.sort();
        assert_eq!(names, vec!["a", "b"]);
    }

    #[test]
    fn unknown_analyzer_is_an_error() {
        let all: Vec<Box<dyn Analyzer>> = vec![Box::new(Fixed)];
        let opts = ScanOptions { analyzers: vec!["nope".into()], ..Default::default() };
        match scan(&cluster(), &all, &opts) {
            Err(Error::UnknownAnalyzer { name, known }) => {
                assert_eq!(name, "nope");
                assert_eq!(known, "fixed");
            }
            other => panic!("expected UnknownAnalyzer, got {other:?}"),
        }
    }
}
