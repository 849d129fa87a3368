//! The built-in knowledge base: one entry per finding type (`pod/CrashLoopBackOff`), written
//! for KubeSage in `kubesage-ml/kb/*.md` and compiled into the binary, so explanations work
//! with no setup and no network.
//!
//! Each entry is a `## analyzer/Reason` section with **Severity**, **Meaning**, **Impact**,
//! **Diagnosis**, **Mitigation** and **Related** parts (see `kb/README.md`). The entries are
//! searchable like any runbook ([`add_builtin`]) and addressable by finding type ([`entry`]).
//! When the index has a sentence model, their vectors come from a per-user cache
//! ([`super::dense::cached_vectors`]), computed once per model and knowledge-base text.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::chunk::{Chunk, chunk_markdown};
use super::dense::{cached_vectors, default_cache_dir, passage_text};
use super::index::PassageIndex;
use crate::error::Result;

/// The knowledge base's files: (name, text).
pub const FILES: &[(&str, &str)] = &[
    ("cronjob.md", include_str!("../../kb/cronjob.md")),
    ("daemonset.md", include_str!("../../kb/daemonset.md")),
    ("deployment.md", include_str!("../../kb/deployment.md")),
    ("hpa.md", include_str!("../../kb/hpa.md")),
    ("ingress.md", include_str!("../../kb/ingress.md")),
    ("job.md", include_str!("../../kb/job.md")),
    ("node.md", include_str!("../../kb/node.md")),
    ("pdb.md", include_str!("../../kb/pdb.md")),
    ("pod.md", include_str!("../../kb/pod.md")),
    ("pv.md", include_str!("../../kb/pv.md")),
    ("pvc.md", include_str!("../../kb/pvc.md")),
    ("replicaset.md", include_str!("../../kb/replicaset.md")),
    ("service.md", include_str!("../../kb/service.md")),
    ("statefulset.md", include_str!("../../kb/statefulset.md")),
    ("webhook.md", include_str!("../../kb/webhook.md")),
];

/// One finding type's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The analyzer (`pod`).
    pub analyzer: String,
    /// The reason (`CrashLoopBackOff`).
    pub reason: String,
    /// The file it is in (`builtin:pod.md`).
    pub source: String,
    /// How severe the analyzer reports it.
    pub severity: String,
    /// What it means.
    pub meaning: String,
    /// Who and what is affected.
    pub impact: String,
    /// How to confirm the cause (numbered steps with commands).
    pub diagnosis: String,
    /// How to fix it.
    pub mitigation: String,
    /// Finding types often seen with it (`deployment/ReplicasUnavailable`).
    pub related: Vec<String>,
}

/// The source name of a built-in file in search results.
pub fn source_of(file: &str) -> String {
    format!("builtin:{file}")
}

/// Every entry, keyed by `analyzer/Reason`.
pub fn entries() -> &'static BTreeMap<String, Entry> {
    static ENTRIES: OnceLock<BTreeMap<String, Entry>> = OnceLock::new();
    ENTRIES.get_or_init(|| {
        let mut all = BTreeMap::new();
        for (file, text) in FILES {
            for e in parse(&source_of(file), text) {
                all.insert(format!("{}/{}", e.analyzer, e.reason), e);
            }
        }
        all
    })
}

/// The entry for a finding type.
pub fn entry(analyzer: &str, reason: &str) -> Option<&'static Entry> {
    entries().get(&format!("{analyzer}/{reason}"))
}

/// Adds the built-in files to an index (as `builtin:<file>`), replacing earlier copies,
/// with their vectors when the index has a model ([`try_add_builtin`]). Should the vectors
/// fail, the failure is logged and the index searches by BM25 only
/// ([`PassageIndex::dense_status`] says why).
pub fn add_builtin(index: &mut PassageIndex) {
    if let Err(e) = try_add_builtin(index) {
        tracing::warn!(
            error = %kubesage_core::error::display_chain(&e),
            "the built-in knowledge base has no passage vectors; searching by BM25 only"
        );
    }
}

/// Adds the built-in files to an index (as `builtin:<file>`), replacing earlier copies; when
/// the index has a model, gives their passages vectors from the per-user cache (computing
/// them on first use). Fails only when the vectors cannot be computed; the passages are
/// added either way.
pub fn try_add_builtin(index: &mut PassageIndex) -> Result<()> {
    for (file, text) in FILES {
        index.add_markdown(&source_of(file), text);
    }
    let Some(model) = index.passage_model() else { return Ok(()) };
    let texts: Vec<String> = passages().iter().map(passage_text).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let known = cached_vectors(&model, "kb-builtin", &texts, default_cache_dir().as_deref())?;
    index.adopt_vectors(&known)?;
    Ok(())
}

/// The built-in files' passages, as [`add_builtin`] indexes them.
pub fn passages() -> &'static [Chunk] {
    static PASSAGES: OnceLock<Vec<Chunk>> = OnceLock::new();
    PASSAGES.get_or_init(|| FILES.iter().flat_map(|(file, text)| chunk_markdown(&source_of(file), text)).collect())
}

/// Parses the `## analyzer/Reason` entries of one file.
pub fn parse(source: &str, text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut sections: Vec<(&str, String)> = Vec::new();
    let mut current: Option<(&str, String)> = None;
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            if let Some(c) = current.take() {
                sections.push(c);
            }
            current = Some((title.trim(), String::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    sections.extend(current);
    for (title, body) in sections {
        let Some((analyzer, reason)) = title.split_once('/') else { continue };
        let part = |name: &str| part_of(&body, name);
        out.push(Entry {
            analyzer: analyzer.trim().to_owned(),
            reason: reason.trim().to_owned(),
            source: source.to_owned(),
            severity: part("Severity:").trim().to_owned(),
            meaning: part("Meaning."),
            impact: part("Impact."),
            diagnosis: part("Diagnosis."),
            mitigation: part("Mitigation."),
            related: part("Related:")
                .split(',')
                .map(|r| r.trim().trim_matches('`').trim_end_matches('.').to_owned())
                .filter(|r| r.contains('/'))
                .collect(),
        });
    }
    out
}

const MARKERS: &[&str] = &["Severity:", "Meaning.", "Impact.", "Diagnosis.", "Mitigation.", "Related:"];

/// The text after `**name**` up to the next marker.
fn part_of(body: &str, name: &str) -> String {
    let marker = format!("**{name}**");
    let Some(start) = body.find(&marker) else { return String::new() };
    let rest = &body[start + marker.len()..];
    let end = MARKERS.iter().filter_map(|m| rest.find(&format!("**{m}**"))).min().unwrap_or(rest.len());
    rest[..end].trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_parts_of_an_entry() {
        let text = "# Pod findings\n\n## pod/CrashLoopBackOff\n\n**Severity:** critical\n\n**Meaning.** It restarts.\n\n**Impact.** Down.\n\n**Diagnosis.**\n1. `kubectl logs --previous`\n\n**Mitigation.**\n- Fix the app.\n\n**Related:** deployment/ReplicasUnavailable, service/NoReadyEndpoints\n\n## pod/OOMKilled\n\n**Meaning.** Out of memory.\n";
        let entries = parse("builtin:pod.md", text);
        assert_eq!(entries.len(), 2);
        let e = &entries[0];
        assert_eq!((e.analyzer.as_str(), e.reason.as_str()), ("pod", "CrashLoopBackOff"));
        assert_eq!(e.severity, "critical");
        assert_eq!(e.meaning, "It restarts.");
        assert_eq!(e.impact, "Down.");
        assert_eq!(e.diagnosis, "1. `kubectl logs --previous`");
        assert_eq!(e.mitigation, "- Fix the app.");
        assert_eq!(e.related, ["deployment/ReplicasUnavailable", "service/NoReadyEndpoints"]);
        assert_eq!(entries[1].meaning, "Out of memory.");
        assert!(entries[1].related.is_empty());
    }

    #[test]
    fn every_builtin_entry_is_complete() {
        assert!(entries().len() >= 40, "{} entries", entries().len());
        for (key, e) in entries() {
            for (part, text) in [
                ("meaning", &e.meaning),
                ("impact", &e.impact),
                ("diagnosis", &e.diagnosis),
                ("mitigation", &e.mitigation),
            ] {
                assert!(text.len() >= 40, "{key}: the {part} is missing or too short: {text:?}");
            }
            assert!(["critical", "warning", "info"].iter().any(|s| e.severity.starts_with(s)), "{key}: {}", e.severity);
            for r in &e.related {
                assert!(entries().contains_key(r), "{key} names {r}, which has no entry");
            }
        }
    }

    #[test]
    fn builtin_entries_are_searchable_by_name_and_by_message() {
        let mut index = PassageIndex::new();
        add_builtin(&mut index);
        let hits = index.search("CrashLoopBackOff", 3);
        assert_eq!(hits[0].source, "builtin:pod.md");
        assert!(hits[0].heading.ends_with("pod/CrashLoopBackOff"), "{}", hits[0].heading);
        let hits = index.search("Back-off restarting failed container", 5);
        assert!(hits.iter().any(|h| h.heading.ends_with("pod/CrashLoopBackOff")), "{hits:#?}");
    }
}
