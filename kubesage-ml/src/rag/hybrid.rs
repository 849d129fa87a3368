//! Fusing the lexical (BM25) and dense (embedding) rankings into one.
//!
//! # Reciprocal rank fusion
//!
//! A passage's fused score is `Σ 1 / (k + rank)` over the rankings it appears in, ranks
//! counted from 1, with `k` = [`RRF_K`] = 60 (Cormack, Clarke and Büttcher, SIGIR 2009). Only
//! ranks are used, so BM25 scores (unbounded, query-dependent) and cosine similarities (in
//! [-1, 1], bunched near 0.3 for MiniLM) need no calibration against each other; a passage
//! both rankings like beats one that only one of them likes; and a passage missing from a
//! ranking simply gets nothing from it.
//!
//! # Literal matches come first
//!
//! Fusion alone can demote an exact match. For the query `KubePodCrashLooping`, BM25 ranks
//! the passage that names the alert first; if the dense side ranks it 20th, it scores
//! 1/61 + 1/80 ≈ 0.0289, below a passage both sides rank second (2/62 ≈ 0.0323). An operator
//! who pastes an alert name or an error string wants the passage that contains it, so the
//! query's [`Literals`] (identifier-like tokens such as `ImagePullBackOff` or `x509`, and the
//! whole query when it is a phrase of three words or more) each add [`literal_weight`] to
//! the score of a passage that contains them verbatim. That weight is the most any passage
//! can get from the rankings (rank 1 in every one), so a passage containing more of the
//! query's literals always ranks above one containing fewer, and fusion orders passages
//! within each tier. The reported score includes the literal part, so scores always
//! decrease down the list.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The `k` of reciprocal rank fusion: larger values flatten the difference between ranks.
pub const RRF_K: f32 = 60.0;

/// How a search ranks passages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RetrievalMode {
    /// BM25 and dense rankings fused, literal matches first (see the [module docs](self)).
    Hybrid,
    /// BM25 alone; the scores are BM25 scores.
    Bm25,
    /// Cosine similarity to the query's embedding alone; the scores are similarities.
    Dense,
}

impl RetrievalMode {
    /// The lowercase name (`hybrid`, `bm25`, `dense`).
    pub fn as_str(self) -> &'static str {
        match self {
            RetrievalMode::Hybrid => "hybrid",
            RetrievalMode::Bm25 => "bm25",
            RetrievalMode::Dense => "dense",
        }
    }
}

impl std::fmt::Display for RetrievalMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reciprocal rank fusion of `rankings` (each best first; an id repeated within one ranking
/// counts at its first rank): every id that appears anywhere, with its fused score, best
/// first, ties broken by the smaller id.
pub fn reciprocal_rank_fusion(rankings: &[&[u32]]) -> Vec<(u32, f32)> {
    let mut scores: HashMap<u32, f32> = HashMap::new();
    for ranking in rankings {
        let mut seen = std::collections::HashSet::new();
        let mut rank = 0usize;
        for &id in *ranking {
            if !seen.insert(id) {
                continue;
            }
            rank += 1;
            *scores.entry(id).or_default() += 1.0 / (RRF_K + rank as f32);
        }
    }
    sorted(scores)
}

/// What one literal match adds to a passage's score when `rankings` rankings are fused:
/// `rankings / (RRF_K + 1)`, the score of a passage ranked first by every one of them.
pub fn literal_weight(rankings: usize) -> f32 {
    rankings as f32 / (RRF_K + 1.0)
}

/// [`reciprocal_rank_fusion`] of `rankings`, plus [`literal_weight`] for each literal of
/// the query that a passage contains (`literal_matches(id)` counts them): the hybrid score.
pub fn fuse(rankings: &[&[u32]], literal_matches: impl Fn(u32) -> usize) -> Vec<(u32, f32)> {
    let weight = literal_weight(rankings.len());
    let scores: HashMap<u32, f32> = reciprocal_rank_fusion(rankings)
        .into_iter()
        .map(|(id, score)| (id, score + weight * literal_matches(id) as f32))
        .collect();
    sorted(scores)
}

fn sorted(scores: HashMap<u32, f32>) -> Vec<(u32, f32)> {
    let mut ranked: Vec<(u32, f32)> = scores.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
}

/// The parts of a query that a passage should contain verbatim to count as an exact match,
/// lowercased: identifier-like tokens (CamelCase such as `KubePodCrashLooping` or
/// `OOMKilled`; letters mixed with digits such as `x509` or `k8s`; `snake_case` names such
/// as metric names), and the whole query, trimmed of surrounding punctuation, when it has
/// three words or more (an error message pasted whole). Plain words are left to the
/// rankings: a passage that says `pod` is not thereby an exact match for a question about
/// pods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Literals {
    units: Vec<String>,
}

impl Literals {
    /// The literals of `query`.
    pub fn of(query: &str) -> Self {
        let mut units: Vec<String> = Vec::new();
        let phrase = normalize(query.trim_matches(|c: char| !c.is_alphanumeric()));
        if phrase.split(' ').filter(|w| w.chars().any(char::is_alphanumeric)).count() >= 3 {
            units.push(phrase);
        }
        for token in query.split_whitespace() {
            let token = token.trim_matches(|c: char| !c.is_alphanumeric());
            if token.chars().count() >= 3 && is_identifier_like(token) {
                let lower = token.to_lowercase();
                if !units.contains(&lower) {
                    units.push(lower);
                }
            }
        }
        Literals { units }
    }

    /// The units, lowercased.
    pub fn units(&self) -> &[String] {
        &self.units
    }

    /// Whether the query has none.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// How many of the units `text` contains as whole words (not inside a longer
    /// alphanumeric run), ignoring case and runs of whitespace.
    pub fn count_in(&self, text: &str) -> usize {
        if self.units.is_empty() {
            return 0;
        }
        let text = normalize(text);
        self.units.iter().filter(|unit| contains_whole(&text, unit)).count()
    }
}

/// CamelCase (an upper-case letter after a lower-case one or a digit, or starting a
/// lower-case run after capitals, as in `OOMKilled`), letters with digits, or `_`-joined.
fn is_identifier_like(token: &str) -> bool {
    let chars: Vec<char> = token.chars().collect();
    let camel = chars.iter().enumerate().skip(1).any(|(i, c)| {
        c.is_uppercase()
            && (chars[i - 1].is_lowercase()
                || chars[i - 1].is_ascii_digit()
                || (chars[i - 1].is_uppercase() && chars.get(i + 1).is_some_and(|n| n.is_lowercase())))
    });
    let letters = chars.iter().any(|c| c.is_alphabetic());
    let digits = chars.iter().any(char::is_ascii_digit);
    let snake = token.contains('_') && letters;
    camel || (letters && digits) || snake
}

/// Lowercased, with every run of whitespace replaced by one space.
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Whether `needle` occurs in `haystack` with no alphanumeric character right before or
/// after it.
fn contains_whole(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    haystack.match_indices(needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn fusion_adds_reciprocal_ranks() {
        // BM25: 7, 3, 9. Dense: 3, 5, 7.
        let fused = reciprocal_rank_fusion(&[&[7, 3, 9], &[3, 5, 7]]);
        let score = |id: u32| fused.iter().find(|(i, _)| *i == id).map(|(_, s)| *s).expect("present");
        assert!(close(score(3), 1.0 / 62.0 + 1.0 / 61.0));
        assert!(close(score(7), 1.0 / 61.0 + 1.0 / 63.0));
        assert!(close(score(5), 1.0 / 62.0));
        assert!(close(score(9), 1.0 / 63.0));
        assert_eq!(fused.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [3, 7, 5, 9]);
    }

    #[test]
    fn fusion_breaks_ties_by_id_and_ignores_repeats_and_empty_rankings() {
        // 4 and 2 are each first in one ranking: equal scores, smaller id first.
        let fused = reciprocal_rank_fusion(&[&[4, 4, 8], &[2], &[]]);
        assert_eq!(fused.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [2, 4, 8]);
        assert!(close(fused[0].1, fused[1].1));
        // The repeated 4 does not push 8 down to rank 3.
        assert!(close(fused[2].1, 1.0 / 62.0));
        assert!(reciprocal_rank_fusion(&[]).is_empty());
        assert!(reciprocal_rank_fusion(&[&[], &[]]).is_empty());
    }

    #[test]
    fn passages_both_rankings_like_beat_one_ranking_s_favourite() {
        // 1 is first for BM25 only; 2 is second in both.
        let fused = reciprocal_rank_fusion(&[&[1, 2], &[3, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 1]]);
        assert_eq!(fused[0].0, 2, "{fused:?}");
    }

    #[test]
    fn a_literal_match_outranks_any_fused_score() {
        // Passage 1 holds the alert name but the dense side ranks it last; 2 is first in both.
        let lexical = [1, 2];
        let dense: Vec<u32> = (2..40).chain([1]).collect();
        assert_eq!(reciprocal_rank_fusion(&[&lexical, &dense])[0].0, 2);
        let fused = fuse(&[&lexical, &dense], |id| usize::from(id == 1));
        assert_eq!(fused[0].0, 1, "{fused:?}");
        let rrf_1 = 1.0 / 61.0 + 1.0 / (60.0 + dense.len() as f32);
        assert!(close(fused[0].1, rrf_1 + 2.0 / 61.0));
        // Two literals beat one; scores decrease down the list.
        let fused = fuse(&[&lexical, &dense], |id| match id {
            1 => 1,
            30 => 2,
            _ => 0,
        });
        assert_eq!(fused.iter().take(3).map(|(id, _)| *id).collect::<Vec<_>>(), [30, 1, 2]);
        assert!(fused.windows(2).all(|w| w[0].1 >= w[1].1));
        assert!(close(literal_weight(2), 2.0 / 61.0));
    }

    #[test]
    fn literals_are_identifiers_and_pasted_phrases() {
        assert_eq!(Literals::of("KubePodCrashLooping").units(), ["kubepodcrashlooping"]);
        assert_eq!(
            Literals::of("why is my pod in ImagePullBackOff?").units(),
            ["why is my pod in imagepullbackoff", "imagepullbackoff"]
        );
        assert_eq!(
            Literals::of("x509: certificate signed by unknown authority").units(),
            ["x509: certificate signed by unknown authority", "x509"]
        );
        assert_eq!(Literals::of("OOMKilled").units(), ["oomkilled"]);
        assert_eq!(Literals::of("kube_pod_container_status_waiting_reason").units().len(), 1);
        // Plain words, capitalised words and acronyms are not literals.
        assert!(Literals::of("pod restarts").is_empty());
        assert!(Literals::of("Pod DNS").is_empty());
        assert!(Literals::of("").is_empty());
    }

    #[test]
    fn literals_match_whole_words_ignoring_case_and_line_breaks() {
        let l = Literals::of("x509: certificate signed by unknown authority");
        assert_eq!(l.count_in("Logs show `x509: certificate signed\n  by unknown authority` on pull."), 2);
        assert_eq!(l.count_in("An X509 certificate was rotated."), 1);
        assert_eq!(l.count_in("certificate signed by an unknown authority"), 0);
        let l = Literals::of("KubePodCrashLooping");
        assert_eq!(l.count_in("# KubePodCrashLooping\n"), 1);
        assert_eq!(l.count_in("KubePodCrashLoopingTooLong"), 0, "inside a longer name");
        assert_eq!(Literals::default().count_in("anything"), 0);
    }
}
