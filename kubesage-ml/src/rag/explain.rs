//! Explanations of findings, grounded in the knowledge base and the finding's own evidence.
//!
//! For each finding the retriever looks up passages (the built-in entry for its type, and
//! the user's runbooks that match its reason, summary and events). With no language model
//! configured, [`offline`] assembles a useful answer from those alone: what the finding
//! means, the evidence that shows it here, impact, how to confirm and how to fix, with the
//! sources cited. [`prompt`] builds the grounded prompt a language model gets instead.

use serde::{Deserialize, Serialize};

use kubesage_core::{Evidence, Finding};

use super::index::{Hit, PassageIndex};
use super::kb;

/// Bumped whenever the prompt changes, so cached answers to an older prompt are not reused.
pub const PROMPT_VERSION: u32 = 1;

/// A cited passage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Source {
    /// The document (`builtin:pod.md`, `kubernetes/KubePodCrashLooping.md`).
    pub source: String,
    /// The heading path of the passage.
    pub heading: String,
}

/// An explanation of one finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Explanation {
    /// The finding's id.
    pub finding: String,
    /// `offline` (assembled from the knowledge base) or `llm`.
    pub mode: String,
    /// The model that answered, for `llm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The answer, in Markdown; `[n]` refers to `sources[n-1]`.
    pub answer: String,
    /// The passages it is grounded in.
    pub sources: Vec<Source>,
    /// Whether it came from the answer cache.
    #[serde(default)]
    pub cached: bool,
    /// Why an offline explanation stands where a model's answer was asked for (the model
    /// could not be reached, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The search text for a finding: its type, summary and the reasons of its events.
pub fn query_of(finding: &Finding) -> String {
    let mut q = format!("{}/{} {} {}", finding.analyzer, finding.reason, finding.reason, finding.summary);
    for e in &finding.evidence {
        if let Evidence::Event { reason, message, .. } = e {
            q.push(' ');
            q.push_str(reason);
            q.push(' ');
            q.push_str(message);
        }
    }
    q
}

/// Passages for a finding, `k` at most, one per document: its built-in entry first (when
/// there is one), then the user's runbooks that match best (a team's own runbook says more
/// about its cluster than a generic one), then other built-in entries.
pub fn retrieve(finding: &Finding, index: &PassageIndex, k: usize) -> Vec<Hit> {
    let key = format!("{}/{}", finding.analyzer, finding.reason);
    let candidates = index.search(&query_of(finding), k.saturating_mul(8).max(32));
    let mut entry: Option<Hit> = None;
    let mut user: Vec<Hit> = Vec::new();
    let mut builtin: Vec<Hit> = Vec::new();
    for hit in candidates {
        if hit.heading.ends_with(&key) && hit.source.starts_with("builtin:") {
            entry.get_or_insert(hit);
        } else if hit.source.starts_with("builtin:") {
            if !builtin.iter().any(|h| h.source == hit.source) {
                builtin.push(hit);
            }
        } else if !user.iter().any(|h| h.source == hit.source) {
            user.push(hit);
        }
    }
    // The entry's own document is represented by the entry.
    if let Some(e) = &entry {
        builtin.retain(|h| h.source != e.source);
    }
    let mut hits: Vec<Hit> = entry.into_iter().chain(user).chain(builtin).collect();
    hits.truncate(k);
    hits
}

fn evidence_line(e: &Evidence) -> String {
    match e {
        Evidence::Event { event_type, reason, message, count, .. } => {
            format!("event {event_type} {reason} (x{count}): {message}")
        }
        other => other.to_string(),
    }
}

/// The first lines of every explanation: severity, object and reason as a Markdown
/// heading, then the finding's summary.
pub fn heading(finding: &Finding) -> String {
    let object = &finding.object;
    let name = match &object.namespace {
        Some(ns) => format!("{ns}/{}", object.name),
        None => object.name.clone(),
    };
    format!("### {} {} {name}: {}\n\n{}\n\n", finding.severity, object.kind, finding.reason, finding.summary)
}

/// An explanation assembled from the knowledge base and the evidence, with no model.
pub fn offline(finding: &Finding, passages: &[Hit]) -> Explanation {
    let entry = kb::entry(&finding.analyzer, &finding.reason);
    let mut sources: Vec<Source> = Vec::new();
    let mut cite = |hit: &Hit| -> usize {
        if let Some(i) = sources.iter().position(|s| s.source == hit.source && s.heading == hit.heading) {
            return i + 1;
        }
        sources.push(Source { source: hit.source.clone(), heading: hit.heading.clone() });
        sources.len()
    };
    let mut text = heading(finding);
    let builtin = passages.iter().find(|h| h.heading.ends_with(&format!("{}/{}", finding.analyzer, finding.reason)));
    let n = builtin.map(&mut cite);
    let mark = |n: Option<usize>| n.map(|n| format!(" [{n}]")).unwrap_or_default();
    if let Some(e) = entry {
        text.push_str(&format!("**What it means.** {}{}\n\n", e.meaning, mark(n)));
    }
    if !finding.evidence.is_empty() {
        text.push_str("**What shows it here.**\n");
        for e in finding.evidence.iter().take(8) {
            text.push_str(&format!("- {}\n", evidence_line(e)));
        }
        text.push('\n');
    }
    if let Some(e) = entry {
        text.push_str(&format!("**Impact.** {}\n\n", e.impact));
        text.push_str(&format!("**How to confirm.**\n{}\n\n", e.diagnosis));
        text.push_str(&format!("**How to fix.**\n{}{}\n\n", e.mitigation, mark(n)));
    }
    if !finding.next_steps.is_empty() {
        text.push_str("**Next steps for this object.**\n");
        for s in &finding.next_steps {
            text.push_str(&format!("- {s}\n"));
        }
        text.push('\n');
    }
    let others: Vec<&Hit> = passages.iter().filter(|h| !h.source.starts_with("builtin:")).take(3).collect();
    if !others.is_empty() {
        text.push_str("**Your runbooks.**\n");
        for h in others {
            let n = cite(h);
            text.push_str(&format!("- {} — {} [{n}]\n", h.source, h.heading));
        }
        text.push('\n');
    }
    if !sources.is_empty() {
        text.push_str("Sources:\n");
        for (i, s) in sources.iter().enumerate() {
            text.push_str(&format!("[{}] {} — {}\n", i + 1, s.source, s.heading));
        }
    }
    Explanation {
        finding: finding.id.clone(),
        mode: "offline".to_owned(),
        model: None,
        answer: text.trim_end().to_owned(),
        sources,
        cached: false,
        note: None,
    }
}

/// The system and user messages of a grounded prompt: the finding, its evidence, and the
/// passages numbered for citation. The caller anonymizes the text before sending it.
pub fn prompt(finding: &Finding, passages: &[Hit]) -> (String, String) {
    let system = "You are KubeSage, a Kubernetes operations assistant. Explain the finding using only the \
                  evidence and the numbered passages given. Say what is wrong, the most likely cause given the \
                  evidence, how to confirm it (commands), and how to fix it. Cite passages as [n]. If the \
                  passages do not cover something, say so instead of guessing. Keep placeholders such as \
                  <pod-1> exactly as written."
        .to_owned();
    let mut user = format!(
        "Finding: {} {} {}/{} — {}\nSummary: {}\nEvidence:\n",
        finding.severity,
        finding.object.kind,
        finding.object.namespace.as_deref().unwrap_or("-"),
        finding.object.name,
        finding.reason,
        finding.summary
    );
    for e in finding.evidence.iter().take(12) {
        user.push_str(&format!("- {}\n", evidence_line(e)));
    }
    user.push_str("\nPassages:\n");
    for (i, h) in passages.iter().enumerate() {
        user.push_str(&format!("[{}] {} — {}\n{}\n\n", i + 1, h.source, h.heading, h.text));
    }
    (system, user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubesage_core::{ObjectRef, Severity};

    fn crash() -> Finding {
        Finding::new(
            "pod",
            "CrashLoopBackOff",
            Severity::Critical,
            ObjectRef::new("Pod", "shop", "cart-7d9f-x2"),
            "Container app is crash looping (9 restarts).",
        )
        .with_evidence(Evidence::Event {
            event_type: "Warning".into(),
            reason: "BackOff".into(),
            message: "Back-off restarting failed container app".into(),
            count: 42,
            last_seen: None,
        })
        .with_step("kubectl -n shop logs cart-7d9f-x2 -c app --previous")
    }

    fn index_with_runbook() -> PassageIndex {
        let mut ix = PassageIndex::new();
        kb::add_builtin(&mut ix);
        ix.add_markdown(
            "team/crashes.md",
            "# Crash loops in the shop\n\nOur cart service crash loops when Redis is down; check redis first.\n",
        );
        ix
    }

    #[test]
    fn the_builtin_entry_comes_first_then_user_runbooks() {
        let hits = retrieve(&crash(), &index_with_runbook(), 4);
        assert!(hits[0].heading.ends_with("pod/CrashLoopBackOff"), "{hits:#?}");
        assert!(hits.iter().any(|h| h.source == "team/crashes.md"), "{hits:#?}");
        let mut docs: Vec<&str> = hits.iter().map(|h| h.source.as_str()).collect();
        let n = docs.len();
        docs.dedup();
        assert_eq!(docs.len(), n, "no document twice");
    }

    #[test]
    fn offline_explanations_cite_and_carry_the_evidence() {
        let finding = crash();
        let hits = retrieve(&finding, &index_with_runbook(), 4);
        let e = offline(&finding, &hits);
        assert_eq!(e.mode, "offline");
        assert_eq!(e.finding, finding.id);
        let entry = kb::entry("pod", "CrashLoopBackOff").expect("an entry");
        assert!(e.answer.contains(&entry.meaning), "{}", e.answer);
        assert!(e.answer.contains("Back-off restarting failed container app"));
        assert!(e.answer.contains("kubectl -n shop logs cart-7d9f-x2"));
        assert!(e.answer.contains("team/crashes.md"));
        assert_eq!(e.sources[0].source, "builtin:pod.md");
        assert!(e.answer.contains("[1]") && e.answer.contains("Sources:"));
        for (i, _) in e.sources.iter().enumerate() {
            assert!(e.answer.contains(&format!("[{}]", i + 1)));
        }
    }

    #[test]
    fn findings_without_an_entry_still_get_their_evidence() {
        let f = Finding::new("custom", "Strange", Severity::Info, ObjectRef::new("Pod", "a", "b"), "odd")
            .with_evidence(Evidence::message("something odd"));
        let e = offline(&f, &[]);
        assert!(e.answer.contains("something odd"));
        assert!(e.sources.is_empty());
        let (system, user) = prompt(&crash(), &retrieve(&crash(), &index_with_runbook(), 3));
        assert!(system.contains("[n]"));
        assert!(user.contains("[1] builtin:pod.md"));
        assert!(user.contains("Back-off restarting"));
    }
}
