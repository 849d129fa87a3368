//! Markdown documents split into passages by heading.
//!
//! A runbook answers several questions (what it means, its impact, how to diagnose, how to
//! fix), one per section, so sections are the unit of retrieval. Each chunk keeps its file
//! and its heading path (`KubePodCrashLooping > Diagnosis`), which is both shown to the user
//! and indexed with the text: headings carry the alert names queries mention. Fenced code
//! blocks are never split and a `#` inside them is not a heading; YAML front matter is
//! dropped except its `title`, which heads the document when it has no `#` title.

use serde::{Deserialize, Serialize};

/// One passage of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Where it came from (a path relative to the ingested folder, or `builtin:pod.md`).
    pub source: String,
    /// Its heading path, outermost first, joined with ` > `.
    pub heading: String,
    /// The passage.
    pub text: String,
}

/// Sections longer than this are split at paragraph boundaries.
pub const MAX_CHUNK_CHARS: usize = 2_000;

/// Splits a Markdown document into chunks.
pub fn chunk_markdown(source: &str, text: &str) -> Vec<Chunk> {
    let (title, body) = strip_front_matter(text);
    let mut chunks = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    if let Some(t) = title {
        path.push((0, t));
    }
    let mut section = String::new();
    let mut in_fence: Option<&str> = None;
    for line in body.lines() {
        let trimmed = line.trim_start();
        if let Some(fence) = in_fence {
            if trimmed.starts_with(fence) {
                in_fence = None;
            }
            section.push_str(line);
            section.push('\n');
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = Some(if trimmed.starts_with("```") { "```" } else { "~~~" });
            section.push_str(line);
            section.push('\n');
            continue;
        }
        if let Some((level, heading)) = heading_of(line) {
            flush(source, &path, &mut section, &mut chunks);
            path.retain(|(l, _)| *l < level);
            path.push((level, heading));
            continue;
        }
        section.push_str(line);
        section.push('\n');
    }
    flush(source, &path, &mut section, &mut chunks);
    chunks
}

fn heading_of(line: &str) -> Option<(usize, String)> {
    let level = line.bytes().take_while(|b| *b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &line[level..];
    if !rest.starts_with(' ') && !rest.is_empty() {
        return None;
    }
    let text = rest.trim().trim_end_matches('#').trim();
    (!text.is_empty()).then(|| (level, text.to_owned()))
}

fn strip_front_matter(text: &str) -> (Option<String>, &str) {
    let Some(rest) = text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n")) else {
        return (None, text);
    };
    let Some(end) = rest.find("\n---") else { return (None, text) };
    let front = &rest[..end];
    let after = &rest[end + 4..];
    let body = after.split_once('\n').map_or("", |(_, b)| b);
    let title = front
        .lines()
        .find_map(|l| l.strip_prefix("title:"))
        .map(|t| t.trim().trim_matches('"').trim_matches('\'').to_owned())
        .filter(|t| !t.is_empty());
    // A document with its own `#` title does not need the front matter's.
    let has_h1 = body.lines().any(|l| l.starts_with("# "));
    (if has_h1 { None } else { title }, body)
}

fn flush(source: &str, path: &[(usize, String)], section: &mut String, chunks: &mut Vec<Chunk>) {
    let text = section.trim();
    if !text.is_empty() {
        let heading = path.iter().map(|(_, h)| h.as_str()).collect::<Vec<_>>().join(" > ");
        for part in split_long(text) {
            chunks.push(Chunk { source: source.to_owned(), heading: heading.clone(), text: part });
        }
    }
    section.clear();
}

/// Splits at blank lines outside code fences into parts of at most [`MAX_CHUNK_CHARS`]
/// (a single longer paragraph stays whole).
fn split_long(text: &str) -> Vec<String> {
    if text.len() <= MAX_CHUNK_CHARS {
        return vec![text.to_owned()];
    }
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") || line.trim_start().starts_with("~~~") {
            in_fence = !in_fence;
        }
        if line.trim().is_empty() && !in_fence {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    let mut parts: Vec<String> = Vec::new();
    let mut part = String::new();
    for p in paragraphs {
        if !part.is_empty() && part.len() + p.len() > MAX_CHUNK_CHARS {
            parts.push(std::mem::take(&mut part).trim().to_owned());
        }
        part.push_str(&p);
        part.push('\n');
    }
    if !part.trim().is_empty() {
        parts.push(part.trim().to_owned());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keep_their_heading_path_and_code_stays_whole() {
        let doc = "---\ntitle: Crash Looping\nweight: 20\n---\n\n# KubePodCrashLooping\n\nIntro.\n\n## Meaning\n\nIt restarts.\n\n## Diagnosis\n\n```sh\n# not a heading\nkubectl describe pod\n```\n\n### Logs\n\nRead them.\n";
        let chunks = chunk_markdown("kubernetes/KubePodCrashLooping.md", doc);
        let got: Vec<(&str, &str)> = chunks.iter().map(|c| (c.heading.as_str(), c.text.as_str())).collect();
        assert_eq!(
            got,
            [
                ("KubePodCrashLooping", "Intro."),
                ("KubePodCrashLooping > Meaning", "It restarts."),
                ("KubePodCrashLooping > Diagnosis", "```sh\n# not a heading\nkubectl describe pod\n```"),
                ("KubePodCrashLooping > Diagnosis > Logs", "Read them."),
            ]
        );
        assert!(chunks.iter().all(|c| c.source == "kubernetes/KubePodCrashLooping.md"));
    }

    #[test]
    fn front_matter_titles_a_document_without_a_heading() {
        let chunks = chunk_markdown("a.md", "---\ntitle: \"Disk full\"\n---\nThe disk is full.\n");
        assert_eq!(
            chunks,
            [Chunk { source: "a.md".into(), heading: "Disk full".into(), text: "The disk is full.".into() }]
        );
        let plain = chunk_markdown("b.md", "no headings at all\n\n");
        assert_eq!(plain[0].heading, "");
        assert!(chunk_markdown("c.md", "").is_empty());
        assert!(chunk_markdown("d.md", "# Only a title\n").is_empty());
    }

    #[test]
    fn long_sections_split_at_paragraphs_under_the_limit() {
        let para = "word ".repeat(150);
        let doc = format!("# T\n\n{para}\n\n{para}\n\n{para}\n\n{para}\n");
        let chunks = chunk_markdown("long.md", &doc);
        assert!(chunks.len() >= 2, "{}", chunks.len());
        assert!(chunks.iter().all(|c| c.text.len() <= MAX_CHUNK_CHARS));
        let words: usize = chunks.iter().map(|c| c.text.split_whitespace().count()).sum();
        assert_eq!(words, 600, "nothing lost");
    }

    #[test]
    fn hashes_that_are_not_headings() {
        let chunks = chunk_markdown("x.md", "#hashtag is text\n####### seven is text\n");
        assert_eq!(chunks.len(), 1);
        assert!(chunks[0].text.contains("#hashtag"));
    }
}
