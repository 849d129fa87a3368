//! A searchable collection of runbook passages, kept on disk between runs.
//!
//! Documents are chunked by heading ([`super::chunk`]) and indexed for BM25; re-ingesting a
//! file replaces its passages. The index is one JSON file with a format version; a file that
//! does not parse, or has another version, is an error naming the path, never a panic or a
//! silent empty index.
//!
//! With a sentence-embedding model ([`super::dense`]) each passage also has a vector, and
//! [`PassageIndex::search`] fuses the BM25 and dense rankings ([`super::hybrid`]). The
//! vectors are kept in their own file beside the JSON (`index.json` → `index.vectors`), so
//! the JSON's format is unchanged: older builds read new indexes, and an index built
//! without the model is simply one whose vectors are missing. Whatever is wrong with the
//! vectors (missing, unreadable, from another model, stale) leaves the index on BM25 with
//! the reason in [`PassageIndex::dense_status`]; asking for dense or hybrid search by name
//! ([`PassageIndex::search_with`]) then fails with that reason as a typed error.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::bm25::Bm25Index;
use super::chunk::{Chunk, chunk_markdown};
use super::dense::{
    DenseVectors, KnownVectors, ModelChoice, PassageModel, VectorsProblem, passage_text, text_hash, vectors_path,
};
use super::hybrid::{Literals, RetrievalMode, fuse};
use crate::error::{Error, Result};

/// The on-disk format version of the JSON file. Passage vectors, when there are any, are in
/// a file of their own ([`vectors_path`]), so they did not change it.
const FORMAT: u32 = 1;

/// Candidates each ranking contributes to a hybrid search (or `k`, when larger).
pub const CANDIDATES: usize = 100;

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
    /// Passage vectors computed by the model (0 without one).
    pub embedded: usize,
    /// Passage vectors reused: the passage's text had a vector already.
    pub reused: usize,
}

/// What [`PassageIndex::embed_missing`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EmbedReport {
    /// Vectors computed by the model.
    pub computed: usize,
    /// Vectors reused from passages of the same text.
    pub reused: usize,
}

/// Whether an index can search by meaning, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenseStatus {
    /// No model was asked for ([`ModelChoice::Off`]).
    Off,
    /// The model folder holds no model.
    NoModel {
        /// The folder looked in (`None` when there is no default folder).
        dir: Option<PathBuf>,
    },
    /// Every passage has a vector: searches are hybrid.
    Ready {
        /// Passages with a vector.
        vectors: usize,
    },
    /// The model is there but the passage vectors cannot be used.
    Unusable {
        /// The vectors file, when the index has one.
        path: Option<PathBuf>,
        /// What is wrong.
        problem: VectorsProblem,
    },
}

impl std::fmt::Display for DenseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DenseStatus::Off => f.write_str("dense retrieval is off: BM25 only"),
            DenseStatus::NoModel { dir } => write!(
                f,
                "no sentence-embedding model in {}: BM25 only (set KUBESAGE_MODEL_DIR, or build the model with \
                 scripts/models/build_minilm.py)",
                dir.as_deref().map_or_else(|| "(no folder: HOME is not set)".into(), |d| d.display().to_string())
            ),
            DenseStatus::Ready { vectors } => write!(f, "hybrid: {vectors} passage vectors"),
            DenseStatus::Unusable { path, problem } => write!(
                f,
                "passage vectors{}: {problem}: BM25 only until `kubesage kb ingest` rebuilds them",
                path.as_deref().map(|p| format!(" {}", p.display())).unwrap_or_default()
            ),
        }
    }
}

/// The dense half of an index, as far as it goes.
#[derive(Debug, Clone, Default)]
enum Dense {
    /// No model asked for.
    #[default]
    Off,
    /// Asked for, but the folder holds none.
    Absent(Option<PathBuf>),
    /// A model, and the vectors so far.
    On(Box<DenseVectors>),
}

/// Passages, their BM25 index and, with a model, their vectors.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PassageIndex {
    format: u32,
    chunks: Vec<Option<Chunk>>,
    by_source: BTreeMap<String, Vec<u32>>,
    bm25: Bm25Index,
    /// Never in the JSON: the vectors have their own file.
    #[serde(skip)]
    dense: Dense,
}

impl PassageIndex {
    /// An empty index, BM25 only.
    pub fn new() -> Self {
        PassageIndex { format: FORMAT, ..Self::default() }
    }

    /// An empty index with the model `choice` names, if there is one (see
    /// [`PassageModel::locate`]): passages added get vectors from
    /// [`embed_missing`](Self::embed_missing), which [`ingest_dir`](Self::ingest_dir) calls.
    pub fn with_model(choice: &ModelChoice) -> Result<Self> {
        let mut index = Self::new();
        index.attach_model(choice, None)?;
        Ok(index)
    }

    /// Gives the index the model `choice` names, and the vectors in `vectors_file` that
    /// belong to its passages.
    fn attach_model(&mut self, choice: &ModelChoice, vectors_file: Option<&Path>) -> Result<()> {
        if *choice == ModelChoice::Off {
            self.dense = Dense::Off;
            return Ok(());
        }
        let Some(model) = PassageModel::locate(choice)? else {
            self.dense = Dense::Absent(choice.dir());
            return Ok(());
        };
        self.set_model(model, vectors_file)
    }

    /// Gives the index `model` (replacing any vectors it had), and the vectors in
    /// `vectors_file` (see [`super::dense::vectors_path`]) that belong to its passages: those
    /// computed by this model from a passage's current text. What is wrong with the file is
    /// reported by [`dense_status`](Self::dense_status), not as an error: vectors are
    /// derived data that [`embed_missing`](Self::embed_missing) rebuilds.
    pub fn set_model(&mut self, model: Arc<PassageModel>, vectors_file: Option<&Path>) -> Result<()> {
        let mut dense = DenseVectors::new(model)?;
        if let Some(file) = vectors_file {
            let live: HashMap<u32, u64> = self.live().map(|(id, c)| (id, text_hash(&passage_text(c)))).collect();
            dense.read(file, &live, u32::try_from(self.chunks.len()).unwrap_or(u32::MAX));
        }
        self.dense = Dense::On(Box::new(dense));
        Ok(())
    }

    /// The model of the dense half, when there is one.
    pub fn passage_model(&self) -> Option<Arc<PassageModel>> {
        match &self.dense {
            Dense::On(d) => Some(Arc::clone(&d.model)),
            _ => None,
        }
    }

    /// Whether searches can be dense or hybrid, and if not, why.
    pub fn dense_status(&self) -> DenseStatus {
        match &self.dense {
            Dense::Off => DenseStatus::Off,
            Dense::Absent(dir) => DenseStatus::NoModel { dir: dir.clone() },
            Dense::On(d) => {
                let without = self.len().saturating_sub(d.covered());
                if without == 0 {
                    return DenseStatus::Ready { vectors: d.covered() };
                }
                let problem = d.problem.clone().unwrap_or(VectorsProblem::Stale { without, passages: self.len() });
                DenseStatus::Unusable { path: d.path.clone(), problem }
            }
        }
    }

    /// How [`search`](Self::search) ranks: [`RetrievalMode::Hybrid`] when every passage has
    /// a vector, else [`RetrievalMode::Bm25`].
    pub fn mode(&self) -> RetrievalMode {
        match self.dense_status() {
            DenseStatus::Ready { .. } => RetrievalMode::Hybrid,
            _ => RetrievalMode::Bm25,
        }
    }

    /// The dense half when it is ready, else the typed error saying why not.
    fn ready_dense(&self) -> Result<&DenseVectors> {
        match (self.dense_status(), &self.dense) {
            (DenseStatus::Ready { .. }, Dense::On(d)) => Ok(d),
            (DenseStatus::Unusable { path, problem }, _) => Err(Error::PassageVectors { path, problem }),
            (DenseStatus::NoModel { dir }, _) => Err(Error::Model {
                path: dir.unwrap_or_default(),
                reason: "no sentence-embedding model here (model.onnx, tokenizer.json); dense and hybrid search \
                         need one: set KUBESAGE_MODEL_DIR or build it with scripts/models/build_minilm.py"
                    .into(),
            }),
            _ => Err(Error::Knowledge(
                "dense and hybrid search need a sentence-embedding model; this index has none".into(),
            )),
        }
    }

    /// Live passages with their numbers.
    fn live(&self) -> impl Iterator<Item = (u32, &Chunk)> {
        self.chunks.iter().enumerate().filter_map(|(id, c)| Some((u32::try_from(id).ok()?, c.as_ref()?)))
    }

    /// Computes a vector for every passage without one (reusing the vector of any passage
    /// of the same text seen before); nothing without a model. Passages added by
    /// [`add_markdown`](Self::add_markdown) have none until this runs, and searches stay
    /// BM25 until every passage has one.
    pub fn embed_missing(&mut self) -> Result<EmbedReport> {
        let Dense::On(dense) = &mut self.dense else { return Ok(EmbedReport::default()) };
        let mut report = EmbedReport::default();
        let mut todo: Vec<(u32, u64, String)> = Vec::new();
        for (id, chunk) in self.chunks.iter().enumerate() {
            let (Ok(id), Some(chunk)) = (u32::try_from(id), chunk) else { continue };
            if dense.has(id) {
                continue;
            }
            let text = passage_text(chunk);
            let hash = text_hash(&text);
            match dense.known(hash).map(<[f32]>::to_vec) {
                Some(vector) => {
                    dense.insert(id, hash, &vector)?;
                    report.reused += 1;
                }
                None => todo.push((id, hash, text)),
            }
        }
        let texts: Vec<&str> = todo.iter().map(|(_, _, t)| t.as_str()).collect();
        let vectors = dense.model.embed_passages(&texts)?;
        for ((id, hash, _), vector) in todo.iter().zip(&vectors) {
            dense.insert(*id, *hash, vector)?;
        }
        report.computed = todo.len();
        dense.forget_known();
        dense.problem = None;
        Ok(report)
    }

    /// Gives passages without a vector the one in `known` for their text, if any; returns
    /// how many got one.
    pub(crate) fn adopt_vectors(&mut self, known: &KnownVectors) -> Result<usize> {
        let Dense::On(dense) = &mut self.dense else { return Ok(0) };
        let mut adopted = 0;
        for (id, chunk) in self.chunks.iter().enumerate() {
            let (Ok(id), Some(chunk)) = (u32::try_from(id), chunk) else { continue };
            if dense.has(id) {
                continue;
            }
            let hash = text_hash(&passage_text(chunk));
            if let Some(vector) = known.get(&hash) {
                dense.insert(id, hash, vector)?;
                adopted += 1;
            }
        }
        Ok(adopted)
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

    /// Removes every passage of `source` (their vectors are kept for reuse by
    /// [`embed_missing`](Self::embed_missing), for passages of the same text).
    pub fn remove_source(&mut self, source: &str) {
        for id in self.by_source.remove(source).unwrap_or_default() {
            self.bm25.remove(id);
            if let Dense::On(dense) = &mut self.dense {
                dense.remove(id);
            }
            if let Some(slot) = self.chunks.get_mut(id as usize) {
                *slot = None;
            }
        }
    }

    /// Ingests every `.md` file under `dir` (recursively), sources named by their path
    /// relative to `dir` with `/` separators; with a model, then computes the vectors of
    /// passages without one ([`embed_missing`](Self::embed_missing)).
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
        let embedded = self.embed_missing()?;
        report.embedded = embedded.computed;
        report.reused = embedded.reused;
        Ok(report)
    }

    /// The `k` best passages for `query`, ranked as [`mode`](Self::mode) says: hybrid when
    /// every passage has a vector, else BM25. Should embedding the query fail, the answer is
    /// BM25's (and the failure is logged): a search never fails.
    pub fn search(&self, query: &str, k: usize) -> Vec<Hit> {
        let mode = self.mode();
        if mode == RetrievalMode::Bm25 {
            return self.lexical(query, k);
        }
        self.search_with(query, k, mode).unwrap_or_else(|e| {
            tracing::warn!(error = %kubesage_core::error::display_chain(&e), "dense retrieval failed; BM25 only");
            self.lexical(query, k)
        })
    }

    /// The `k` best passages for `query`, ranked by `mode`. Dense and hybrid rankings need
    /// every passage to have a vector; when they do not, the error says why
    /// ([`dense_status`](Self::dense_status)): no model, or vectors missing, unreadable,
    /// from another model or stale. Hybrid scores are fused scores ([`super::hybrid`]),
    /// dense ones cosine similarities, BM25 ones BM25 scores.
    pub fn search_with(&self, query: &str, k: usize, mode: RetrievalMode) -> Result<Vec<Hit>> {
        if mode == RetrievalMode::Bm25 {
            return Ok(self.lexical(query, k));
        }
        let dense = self.ready_dense()?;
        if k == 0 || query.trim().is_empty() || self.is_empty() {
            return Ok(Vec::new());
        }
        let depth = k.max(CANDIDATES);
        let nearest = dense.search(&dense.model.embed_query(query)?, depth)?;
        let ranked = match mode {
            RetrievalMode::Dense => nearest,
            _ => {
                let lexical: Vec<u32> = self.bm25.search(query, depth).into_iter().map(|(id, _)| id).collect();
                let semantic: Vec<u32> = nearest.into_iter().map(|(id, _)| id).collect();
                let literals = Literals::of(query);
                fuse(&[&lexical, &semantic], |id| self.chunk(id).map_or(0, |c| literals.count_in(&passage_text(c))))
            }
        };
        Ok(ranked.into_iter().filter_map(|(id, score)| self.hit(id, score)).take(k).collect())
    }

    fn lexical(&self, query: &str, k: usize) -> Vec<Hit> {
        self.bm25.search(query, k).into_iter().filter_map(|(id, score)| self.hit(id, score)).collect()
    }

    fn chunk(&self, id: u32) -> Option<&Chunk> {
        self.chunks.get(id as usize)?.as_ref()
    }

    fn hit(&self, id: u32, score: f32) -> Option<Hit> {
        let c = self.chunk(id)?;
        Some(Hit { source: c.source.clone(), heading: c.heading.clone(), score, text: c.text.clone() })
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

    /// Loads an index written by [`PassageIndex::save`] with the default model, when there
    /// is one ([`ModelChoice::Default`]); a missing file is an empty index. See
    /// [`load_with`](Self::load_with).
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with(path, &ModelChoice::Default)
    }

    /// Loads an index written by [`PassageIndex::save`] (a missing file is an empty index)
    /// with the model `choice` names and the vectors beside the file
    /// ([`super::dense::vectors_path`]) that belong to its passages. A folder without a
    /// model leaves the index BM25 only; a model that does not load is an error; vectors
    /// that cannot be used are reported by [`dense_status`](Self::dense_status).
    pub fn load_with(path: &Path, choice: &ModelChoice) -> Result<Self> {
        let mut index = match std::fs::read(path) {
            Ok(bytes) => {
                let index: PassageIndex = serde_json::from_slice(&bytes)
                    .map_err(|e| Error::Knowledge(format!("{} is not a KubeSage index: {e}", path.display())))?;
                if index.format != FORMAT {
                    return Err(Error::Knowledge(format!(
                        "{} has index format {}; this KubeSage reads format {FORMAT} (re-run `kubesage kb ingest`)",
                        path.display(),
                        index.format
                    )));
                }
                index
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::new(),
            Err(source) => return Err(Error::Io { path: path.to_owned(), source }),
        };
        index.attach_model(choice, Some(&vectors_path(path)))?;
        if let status @ DenseStatus::Unusable { .. } = index.dense_status() {
            tracing::warn!(index = %path.display(), "{status}");
        }
        Ok(index)
    }

    /// Writes the index (to a temporary file first, then renamed, so a crash never leaves a
    /// half-written index). With a model, the passages' vectors are written first, beside
    /// it ([`super::dense::vectors_path`]); without one, a vectors file there is left alone
    /// (its vectors are checked against the passages when next loaded).
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io { path: parent.to_owned(), source })?;
        }
        if let Dense::On(dense) = &self.dense {
            dense.save(&vectors_path(path))?;
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

    use super::super::dense::tests::toy_model;

    /// Three runbooks; the toy model's vectors are bags of hashed words.
    fn corpus(dir: &Path) {
        std::fs::write(dir.join("crash.md"), "# KubePodCrashLooping\n\nThe pod restarts again and again.\n")
            .expect("write");
        std::fs::write(dir.join("disk.md"), "# NodeFilesystemSpaceFillingUp\n\nThe node disk is almost full.\n")
            .expect("write");
        std::fs::write(dir.join("cert.md"), "# Certificates\n\nx509: certificate signed by unknown authority\n")
            .expect("write");
    }

    fn with_toy(fingerprint: &str) -> (PassageIndex, Arc<super::super::dense::tests::WordHash>) {
        let (model, encoder) = toy_model(fingerprint);
        let mut ix = PassageIndex::new();
        ix.set_model(model, None).expect("model");
        (ix, encoder)
    }

    fn reload(file: &Path, fingerprint: &str) -> PassageIndex {
        let (model, _) = toy_model(fingerprint);
        let mut ix = PassageIndex::load_with(file, &ModelChoice::Off).expect("load");
        ix.set_model(model, Some(&vectors_path(file))).expect("model");
        ix
    }

    #[test]
    fn vectors_are_saved_beside_the_index_and_loaded_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        corpus(dir.path());
        let (mut ix, encoder) = with_toy("toy-1");
        let report = ix.ingest_dir(dir.path()).expect("ingest");
        assert_eq!((report.embedded, report.reused), (3, 0));
        assert_eq!(ix.dense_status(), DenseStatus::Ready { vectors: 3 });
        assert_eq!(ix.mode(), RetrievalMode::Hybrid);
        let file = dir.path().join("state/index.json");
        ix.save(&file).expect("save");
        assert!(dir.path().join("state/index.vectors").exists());

        let back = reload(&file, "toy-1");
        assert_eq!(back.dense_status(), DenseStatus::Ready { vectors: 3 });
        // The same answers (similarities to rounding: the file's vectors are re-normalised).
        let same = |a: &[Hit], b: &[Hit]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| x.source == y.source && x.heading == y.heading && (x.score - y.score).abs() < 1e-5)
        };
        for query in ["disk full", "KubePodCrashLooping", "unknown authority"] {
            for mode in [RetrievalMode::Hybrid, RetrievalMode::Dense, RetrievalMode::Bm25] {
                let (a, b) = (
                    back.search_with(query, 3, mode).expect("search"),
                    ix.search_with(query, 3, mode).expect("search"),
                );
                assert!(same(&a, &b), "{query} ({mode}): {a:?} / {b:?}");
            }
        }
        assert!(same(
            &back.search("disk full", 3),
            &ix.search_with("disk full", 3, RetrievalMode::Hybrid).expect("hybrid")
        ));

        // Re-ingesting unchanged files computes nothing; a changed file only its passage.
        let mut again = reload(&file, "toy-1");
        std::fs::write(dir.path().join("disk.md"), "# NodeFilesystemSpaceFillingUp\n\nInodes exhausted.\n")
            .expect("write");
        let before = encoder.texts.load(std::sync::atomic::Ordering::SeqCst);
        let report = again.ingest_dir(dir.path()).expect("ingest again");
        assert_eq!((report.embedded, report.reused), (1, 2));
        assert_eq!(again.dense_status(), DenseStatus::Ready { vectors: 3 });
        assert_eq!(encoder.texts.load(std::sync::atomic::Ordering::SeqCst), before, "another encoder computed it");
    }

    #[test]
    fn stale_missing_foreign_and_corrupt_vectors_are_detected_and_rebuilt() {
        let dir = tempfile::tempdir().expect("temp dir");
        corpus(dir.path());
        let file = dir.path().join("index.json");
        let (mut ix, _) = with_toy("toy-1");
        ix.ingest_dir(dir.path()).expect("ingest");
        ix.save(&file).expect("save");

        // The passages change while no model is there: the JSON moves on, the vectors do not.
        let mut bm25_only = PassageIndex::load_with(&file, &ModelChoice::Off).expect("load");
        assert_eq!(bm25_only.dense_status(), DenseStatus::Off);
        bm25_only.add_markdown("disk.md", "# NodeFilesystemSpaceFillingUp\n\nInodes exhausted.\n");
        bm25_only.save(&file).expect("save");
        let mut stale = reload(&file, "toy-1");
        let status = stale.dense_status();
        assert!(
            matches!(&status, DenseStatus::Unusable { problem: VectorsProblem::Stale { without: 1, passages: 3 }, .. }),
            "{status:?}"
        );
        assert_eq!(stale.mode(), RetrievalMode::Bm25);
        assert_eq!(stale.search("inodes", 3)[0].source, "disk.md", "BM25 still answers");
        let err = stale.search_with("inodes", 3, RetrievalMode::Hybrid).expect_err("stale");
        assert!(matches!(err, Error::PassageVectors { problem: VectorsProblem::Stale { .. }, .. }), "{err}");
        assert!(err.to_string().contains("index.vectors") && err.to_string().contains("kb ingest"), "{err}");
        assert!(status.to_string().contains("1 of 3 passages"), "{status}");
        // Rebuilt: only the changed passage is computed.
        assert_eq!(stale.embed_missing().expect("rebuild"), EmbedReport { computed: 1, reused: 0 });
        assert_eq!(stale.mode(), RetrievalMode::Hybrid);
        stale.save(&file).expect("save");
        assert_eq!(reload(&file, "toy-1").mode(), RetrievalMode::Hybrid);

        // Another model's vectors are not used.
        let foreign = reload(&file, "toy-2");
        assert!(
            matches!(foreign.dense_status(), DenseStatus::Unusable { problem: VectorsProblem::OtherModel { .. }, .. }),
            "{:?}",
            foreign.dense_status()
        );
        assert!(matches!(
            foreign.search_with("x", 1, RetrievalMode::Dense),
            Err(Error::PassageVectors { problem: VectorsProblem::OtherModel { .. }, .. })
        ));

        // A damaged file: unreadable, reported, and replaced by a rebuild.
        let vectors = vectors_path(&file);
        let mut bytes = std::fs::read(&vectors).expect("read");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&vectors, &bytes).expect("write");
        let mut damaged = reload(&file, "toy-1");
        let status = damaged.dense_status();
        assert!(matches!(&status, DenseStatus::Unusable { problem: VectorsProblem::Unreadable(_), .. }), "{status:?}");
        assert!(status.to_string().contains("checksum"), "{status}");
        assert_eq!(damaged.embed_missing().expect("rebuild").computed, 3);
        damaged.save(&file).expect("save");
        assert_eq!(reload(&file, "toy-1").mode(), RetrievalMode::Hybrid);

        // No file at all: the index was built without the model.
        std::fs::remove_file(&vectors).expect("remove");
        let missing = reload(&file, "toy-1");
        assert!(
            matches!(missing.dense_status(), DenseStatus::Unusable { problem: VectorsProblem::Missing, .. }),
            "{:?}",
            missing.dense_status()
        );
    }

    #[test]
    fn without_a_model_search_is_bm25_and_says_why() {
        let dir = tempfile::tempdir().expect("temp dir");
        corpus(dir.path());
        let choice = ModelChoice::Dir(dir.path().join("no-model"));
        let mut ix = PassageIndex::with_model(&choice).expect("no model is not an error");
        let report = ix.ingest_dir(dir.path()).expect("ingest");
        assert_eq!((report.embedded, report.reused), (0, 0));
        let status = ix.dense_status();
        assert_eq!(status, DenseStatus::NoModel { dir: Some(dir.path().join("no-model")) });
        assert!(status.to_string().contains("no-model") && status.to_string().contains("BM25 only"), "{status}");
        assert_eq!(ix.mode(), RetrievalMode::Bm25);
        assert_eq!(ix.search("disk full", 1)[0].source, "disk.md");
        assert!(matches!(ix.search_with("disk full", 1, RetrievalMode::Hybrid), Err(Error::Model { .. })));
        assert!(matches!(PassageIndex::new().search_with("x", 1, RetrievalMode::Dense), Err(Error::Knowledge(_))));
        // Saving without a model leaves no vectors file.
        let file = dir.path().join("index.json");
        ix.save(&file).expect("save");
        assert!(!vectors_path(&file).exists());
    }

    #[test]
    fn hybrid_search_fuses_and_keeps_literal_matches_first() {
        let (mut ix, _) = with_toy("toy-1");
        // Many passages about certificates; only one holds the exact error string.
        for i in 0..6 {
            ix.add_markdown(
                &format!("tls{i}.md"),
                &format!("# Certificate {i}\n\ncertificate authority unknown signed certificate rotation {i}\n"),
            );
        }
        ix.add_markdown(
            "exact.md",
            "# Pulls fail\n\nThe registry answers x509: certificate signed by unknown authority.\n",
        );
        ix.add_markdown("crash.md", "# KubePodCrashLooping\n\nThe pod restarts again and again.\n");
        assert_eq!(ix.mode(), RetrievalMode::Bm25, "passages without vectors");
        assert_eq!(ix.embed_missing().expect("embed"), EmbedReport { computed: 8, reused: 0 });
        let hits =
            ix.search_with("x509: certificate signed by unknown authority", 3, RetrievalMode::Hybrid).expect("hybrid");
        assert_eq!(hits[0].source, "exact.md", "{hits:#?}");
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        assert_eq!(ix.search("KubePodCrashLooping", 1)[0].source, "crash.md");
        assert!(ix.search_with("", 3, RetrievalMode::Hybrid).expect("empty").is_empty());
        assert!(ix.search_with("disk", 0, RetrievalMode::Dense).expect("k 0").is_empty());
        // Dense scores are similarities; removing a source removes its vectors.
        let dense = ix.search_with("pod restarts again", 2, RetrievalMode::Dense).expect("dense");
        assert_eq!(dense[0].source, "crash.md");
        assert!(dense[0].score <= 1.0 + 1e-5 && dense[0].score > 0.5, "{dense:?}");
        ix.remove_source("crash.md");
        assert_eq!(ix.dense_status(), DenseStatus::Ready { vectors: 7 });
        assert!(ix.search("pod restarts", 3).iter().all(|h| h.source != "crash.md"));
        // A copy searches the same.
        let copy = ix.clone();
        assert_eq!(copy.search("certificate rotation 3", 3), ix.search("certificate rotation 3", 3));
    }
}
