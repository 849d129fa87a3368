//! A searchable collection of runbook passages, kept on disk between runs.
//!
//! Documents are chunked by heading ([`super::chunk`]) and indexed for BM25; re-ingesting a
//! file replaces its passages. The index is one JSON file with a format version; a file that
//! does not parse, or has another version, is an error naming the path, never a panic or a
//! silent empty index.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::bm25::Bm25Index;
use super::chunk::{Chunk, chunk_markdown};
use crate::error::{Error, Result};

/// The on-disk format version.
const FORMAT: u32 = 1;

/// Largest Markdown file ingested; larger ones are reported and skipped.
pub const MAX_DOCUMENT_BYTES: u64 = 4 << 20;

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hit {
    /// The file the passage came from.
    pub source: String,
    /// Its heading path.
    pub heading: String,
    /// Relevance (higher is better; comparable within one search only).
    pub score: f32,
    /// The passage.
    pub text: String,
}

/// What an ingest did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// Files indexed.
    pub files: usize,
    /// Passages indexed.
    pub chunks: usize,
    /// Files left out, with why.
    pub skipped: Vec<(String, String)>,
}

/// Passages and their BM25 index.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PassageIndex {
    format: u32,
    chunks: Vec<Option<Chunk>>,
    by_source: BTreeMap<String, Vec<u32>>,
    bm25: Bm25Index,
}

impl PassageIndex {
    /// An empty index.
    pub fn new() -> Self {
        PassageIndex { format: FORMAT, ..Self::default() }
    }

    /// Adds a Markdown document under `source`, replacing what was indexed under it before.
    /// Returns the number of passages.
    pub fn add_markdown(&mut self, source: &str, text: &str) -> usize {
        self.remove_source(source);
        let chunks = chunk_markdown(source, text);
        let n = chunks.len();
        for chunk in chunks {
            let id = self.bm25.add(&format!("{}\n{}", chunk.heading, chunk.text));
            debug_assert_eq!(id as usize, self.chunks.len());
            self.chunks.push(Some(chunk));
            self.by_source.entry(source.to_owned()).or_default().push(id);
        }
        n
    }

    /// Removes every passage of `source`.
    pub fn remove_source(&mut self, source: &str) {
        for id in self.by_source.remove(source).unwrap_or_default() {
            self.bm25.remove(id);
            if let Some(slot) = self.chunks.get_mut(id as usize) {
                *slot = None;
            }
        }
    }

    /// Ingests every `.md` file under `dir` (recursively), sources named by their path
    /// relative to `dir` with `/` separators.
    pub fn ingest_dir(&mut self, dir: &Path) -> Result<IngestReport> {
        let mut files = Vec::new();
        collect_markdown(dir, &mut files)?;
        if files.is_empty() {
            return Err(Error::Knowledge(format!("{} holds no Markdown (.md) files", dir.display())));
        }
        files.sort();
        let mut report = IngestReport::default();
        for path in files {
            let source = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let size = std::fs::metadata(&path).map_err(|source| Error::Io { path: path.clone(), source })?.len();
            if size > MAX_DOCUMENT_BYTES {
                report.skipped.push((source, format!("{size} bytes, over the {MAX_DOCUMENT_BYTES}-byte limit")));
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
            let Ok(text) = String::from_utf8(bytes) else {
                report.skipped.push((source, "not UTF-8 text".to_owned()));
                continue;
            };
            report.chunks += self.add_markdown(&source, &text);
            report.files += 1;
        }
        Ok(report)
    }

    /// The `k` best passages for `query`.
    pub fn search(&self, query: &str, k: usize) -> Vec<Hit> {
        self.bm25
            .search(query, k)
            .into_iter()
            .filter_map(|(id, score)| {
                let c = self.chunks.get(id as usize)?.as_ref()?;
                Some(Hit { source: c.source.clone(), heading: c.heading.clone(), score, text: c.text.clone() })
            })
            .collect()
    }

    /// Passages held.
    pub fn len(&self) -> usize {
        self.bm25.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.bm25.is_empty()
    }

    /// Documents held.
    pub fn sources(&self) -> impl Iterator<Item = &str> {
        self.by_source.keys().map(String::as_str)
    }

    /// Loads an index written by [`PassageIndex::save`]; a missing file is an empty index.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::new()),
            Err(source) => return Err(Error::Io { path: path.to_owned(), source }),
        };
        let index: PassageIndex = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Knowledge(format!("{} is not a KubeSage index: {e}", path.display())))?;
        if index.format != FORMAT {
            return Err(Error::Knowledge(format!(
                "{} has index format {}; this KubeSage reads format {FORMAT} (re-run `kubesage kb ingest`)",
                path.display(),
                index.format
            )));
        }
        Ok(index)
    }

    /// Writes the index (to a temporary file first, then renamed, so a crash never leaves a
    /// half-written index).
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io { path: parent.to_owned(), source })?;
        }
        let tmp = path.with_extension("tmp");
        let bytes = serde_json::to_vec(self).map_err(|e| Error::Knowledge(format!("cannot encode the index: {e}")))?;
        std::fs::write(&tmp, bytes).map_err(|source| Error::Io { path: tmp.clone(), source })?;
        std::fs::rename(&tmp, path).map_err(|source| Error::Io { path: path.to_owned(), source })
    }
}

fn collect_markdown(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io { path: dir.to_owned(), source })?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io { path: dir.to_owned(), source })?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|source| Error::Io { path: path.clone(), source })?;
        if kind.is_dir() {
            collect_markdown(&path, out)?;
        } else if kind.is_file() && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("md")) {
            out.push(path);
        }
    }
    Ok(())
}

/// The default index file: `$KUBESAGE_INDEX`, else `$XDG_DATA_HOME/kubesage/index.json`, else
/// `~/.local/share/kubesage/index.json`.
pub fn default_index_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KUBESAGE_INDEX").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join("kubesage/index.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_search_replace_save_and_load() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("apps")).expect("mkdir");
        std::fs::write(
            dir.path().join("apps/crash.md"),
            "# CrashLooping\n\n## Fix\n\nRead the logs of the crashing pod.\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("disk.md"), "# DiskFull\n\nThe node disk is full; prune images.\n")
            .expect("write");
        std::fs::write(dir.path().join("notes.txt"), "ignored").expect("write");
        std::fs::write(dir.path().join("bad.md"), [0xff, 0xfe, 0x00]).expect("write");
        let mut ix = PassageIndex::new();
        let report = ix.ingest_dir(dir.path()).expect("ingest");
        assert_eq!(report.files, 2);
        assert_eq!(report.chunks, 2);
        assert_eq!(report.skipped, vec![("bad.md".to_owned(), "not UTF-8 text".to_owned())]);
        let hits = ix.search("pod crashing logs", 5);
        assert_eq!(hits[0].source, "apps/crash.md");
        assert_eq!(hits[0].heading, "CrashLooping > Fix");

        // Re-ingesting a changed file replaces its passages.
        std::fs::write(dir.path().join("disk.md"), "# DiskFull\n\nInodes exhausted.\n").expect("write");
        ix.ingest_dir(dir.path()).expect("ingest again");
        assert_eq!(ix.len(), 2);
        assert!(ix.search("prune images", 5).iter().all(|h| h.source != "disk.md"));
        assert_eq!(ix.search("inodes", 5)[0].source, "disk.md");

        let file = dir.path().join("state/index.json");
        ix.save(&file).expect("save");
        let back = PassageIndex::load(&file).expect("load");
        assert_eq!(back.search("inodes", 5), ix.search("inodes", 5));
        assert_eq!(back.sources().collect::<Vec<_>>(), ["apps/crash.md", "disk.md"]);
    }

    #[test]
    fn bad_inputs_are_clear_errors() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(matches!(PassageIndex::new().ingest_dir(dir.path()), Err(Error::Knowledge(_))));
        assert!(matches!(PassageIndex::new().ingest_dir(&dir.path().join("missing")), Err(Error::Io { .. })));
        let corrupt = dir.path().join("index.json");
        std::fs::write(&corrupt, b"{\"format\": 1, \"chunks\": [tru").expect("write");
        let err = PassageIndex::load(&corrupt).expect_err("corrupt");
        assert!(err.to_string().contains("not a KubeSage index"), "{err}");
        let mut other = serde_json::to_value(PassageIndex::new()).expect("value");
        other["format"] = 99.into();
        std::fs::write(&corrupt, other.to_string()).expect("write");
        assert!(PassageIndex::load(&corrupt).expect_err("version").to_string().contains("format 99"));
        assert!(PassageIndex::load(&dir.path().join("none.json")).expect("missing is empty").is_empty());
    }
}
