//! A BM25 index: the lexical half of hybrid retrieval.
//!
//! Terms are lowercased alphanumeric runs; a CamelCase or snake/kebab-joined identifier is
//! indexed whole *and* by its parts, so `CrashLoopBackOff` matches the query
//! `CrashLoopBackOff` exactly and also `crash loop`. A light suffix stripper folds
//! `restarts`/`restarted`/`restarting` together. Scores are Okapi BM25 (k1 = 1.2, b = 0.75).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

const K1: f32 = 1.2;
const B: f32 = 0.75;

const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is", "it", "its", "of", "on",
    "or", "that", "the", "this", "to", "was", "were", "will", "with",
];

/// Folds common English suffixes: plurals as the S-stemmer does (`policies` -> `policy`,
/// `pods` -> `pod`, but not `status` or `class`), then `-ing` and `-ed` when a stem of at
/// least three letters is left (`failing`, `failed` -> `fail`).
fn stem(word: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let plural: Cow<'_, str> = if let Some(stem) = word.strip_suffix("ies").filter(|s| s.len() >= 2) {
        Cow::Owned(format!("{stem}y"))
    } else if word.ends_with('s')
        && !word.ends_with("us")
        && !word.ends_with("ss")
        && !word.ends_with("is")
        && !["aes", "ees", "oes"].iter().any(|e| word.ends_with(e))
    {
        // `-es` plurals lose only the `s` (`pipelines` -> `pipeline`).
        Cow::Borrowed(&word[..word.len() - 1])
    } else {
        Cow::Borrowed(word)
    };
    for suffix in ["ing", "ed"] {
        if let Some(stem) = plural.strip_suffix(suffix)
            && stem.len() >= 3
        {
            return Cow::Owned(stem.to_owned());
        }
    }
    plural
}

/// The terms of a text, in order, with repeats.
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let lower = word.to_lowercase();
        if STOPWORDS.contains(&lower.as_str()) {
            continue;
        }
        // CamelCase parts: `CrashLoopBackOff` -> crash, loop, back, off.
        let mut parts: Vec<String> = Vec::new();
        let mut current = String::new();
        let chars: Vec<char> = word.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            let boundary = i > 0
                && c.is_uppercase()
                && (chars[i - 1].is_lowercase()
                    || chars[i - 1].is_ascii_digit()
                    || chars.get(i + 1).is_some_and(|n| n.is_lowercase()));
            if boundary && !current.is_empty() {
                parts.push(std::mem::take(&mut current));
            }
            current.extend(c.to_lowercase());
        }
        if !current.is_empty() {
            parts.push(current);
        }
        out.push(stem(&lower).into_owned());
        if parts.len() > 1 {
            out.extend(parts.iter().filter(|p| !STOPWORDS.contains(&p.as_str())).map(|p| stem(p).into_owned()));
        }
    }
    out
}

/// An inverted index with BM25 scoring. Documents are numbered from 0 in the order added.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Bm25Index {
    lengths: Vec<u32>,
    removed: Vec<bool>,
    postings: HashMap<String, Vec<(u32, u32)>>,
    total_len: u64,
    live: u32,
}

impl Bm25Index {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a document; returns its number.
    pub fn add(&mut self, text: &str) -> u32 {
        let id = u32::try_from(self.lengths.len()).unwrap_or(u32::MAX);
        let terms = terms(text);
        let mut counts: HashMap<String, u32> = HashMap::new();
        for t in &terms {
            *counts.entry(t.clone()).or_default() += 1;
        }
        for (term, tf) in counts {
            self.postings.entry(term).or_default().push((id, tf));
        }
        let len = u32::try_from(terms.len()).unwrap_or(u32::MAX);
        self.lengths.push(len);
        self.removed.push(false);
        self.total_len += u64::from(len);
        self.live += 1;
        id
    }

    /// Removes a document from results (its number is not reused).
    pub fn remove(&mut self, id: u32) {
        if let Some(r) = self.removed.get_mut(id as usize)
            && !*r
        {
            *r = true;
            self.total_len -= u64::from(self.lengths[id as usize]);
            self.live -= 1;
        }
    }

    /// Documents held (not removed).
    pub fn len(&self) -> usize {
        self.live as usize
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The `k` best documents for `query`, best first, with their scores (ties by number).
    pub fn search(&self, query: &str, k: usize) -> Vec<(u32, f32)> {
        if self.live == 0 || k == 0 {
            return Vec::new();
        }
        let n = self.live as f32;
        let avg = self.total_len as f32 / n;
        let mut scores: HashMap<u32, f32> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for term in terms(query) {
            if !seen.insert(term.clone()) {
                continue;
            }
            let Some(postings) = self.postings.get(&term) else { continue };
            let df = postings.iter().filter(|(d, _)| !self.removed[*d as usize]).count() as f32;
            if df == 0.0 {
                continue;
            }
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(doc, tf) in postings {
                if self.removed[doc as usize] {
                    continue;
                }
                let tf = tf as f32;
                let len = self.lengths[doc as usize] as f32;
                let s = idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg.max(1.0)));
                *scores.entry(doc).or_default() += s;
            }
        }
        let mut ranked: Vec<(u32, f32)> = scores.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        ranked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_identifiers_match_whole_and_by_parts() {
        let t = terms("Pod is in CrashLoopBackOff; OOMKilled x509");
        for want in ["pod", "crashloopbackoff", "crash", "loop", "back", "off", "oomkilled", "oom", "killed", "x509"] {
            assert!(t.iter().any(|x| *x == stem(want)), "{want} in {t:?}");
        }
        assert!(!t.iter().any(|x| x == "is" || x == "in"), "stopwords are dropped: {t:?}");
        assert_eq!(terms("restarts restarted restarting"), ["restart", "restart", "restart"]);
        assert_eq!(terms("status class analysis"), ["status", "class", "analysis"], "not plurals");
        assert_eq!(terms("policies pipelines pipeline"), ["policy", "pipeline", "pipeline"]);
    }

    #[test]
    fn ranks_by_relevance_and_exact_names_win() {
        let mut ix = Bm25Index::new();
        let crash = ix.add("KubePodCrashLooping: the pod restarts again and again; check logs");
        let pending = ix.add("KubePodNotReady: the pod has been pending, not ready; check scheduling");
        let disk = ix.add("NodeFilesystemSpaceFillingUp: the node disk is almost full");
        let hits = ix.search("KubePodCrashLooping", 3);
        assert_eq!(hits[0].0, crash);
        assert!(hits[0].1 > 2.0 * hits[1].1, "the exact name outweighs shared parts: {hits:?}");
        assert!(!hits.iter().any(|h| h.0 == disk));
        let hits = ix.search("pod not ready pending", 3);
        assert_eq!(hits[0].0, pending);
        let hits = ix.search("disk full on node", 3);
        assert_eq!(hits[0].0, disk);
        assert!(ix.search("nothing matches zebra", 3).is_empty());
        assert!(ix.search("", 3).is_empty());
    }

    #[test]
    fn removed_documents_leave_results_and_counts() {
        let mut ix = Bm25Index::new();
        let a = ix.add("alpha beta");
        let b = ix.add("alpha gamma");
        ix.remove(a);
        ix.remove(a);
        assert_eq!(ix.len(), 1);
        let hits = ix.search("alpha", 5);
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [b]);
        let json = serde_json::to_string(&ix).expect("serialises");
        let back: Bm25Index = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back.search("alpha", 5), hits);
    }
}
