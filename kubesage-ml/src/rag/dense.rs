//! The dense half of hybrid retrieval: passages embedded by a sentence model, their vectors
//! kept beside the passage index and checked whenever they are loaded, and a per-user cache
//! of the built-in entries' vectors.
//!
//! # Why it is shaped like this
//!
//! - **The model is optional.** BM25 alone finds the alert names and error strings operators
//!   paste, so KubeSage works without the model. A model folder that does not exist, or
//!   holds neither `model.onnx` nor `tokenizer.json`, means "no model": retrieval is BM25
//!   only and says so ([`ModelChoice`]). A folder holding a model that does not load is an
//!   error: someone installed it, and would otherwise never learn that it is broken.
//! - **Vectors are derived data, checked before use.** They live in a vector index file
//!   beside the passage index (`index.json` → `index.vectors`, the
//!   [`VectorIndex`] format with its version and checksum), so the JSON index keeps its
//!   format and older builds still read it. Each vector records a hash of the text it was
//!   computed from and the fingerprint of the model that computed it; a loaded vector is
//!   used only when both match its passage and the current model. Anything else (no file,
//!   an unreadable one, another model, passages changed since) leaves the index on BM25
//!   with the reason ([`VectorsProblem`]) for the user to see, and `kubesage kb ingest`
//!   recomputes only what is missing: vectors are reused by text hash.
//! - **A model's fingerprint is sampled.** Hashing all 90 MB of `model.onnx` on every start
//!   costs more than it protects, so [`model_fingerprint`] covers its length, its first and
//!   last MiB, and the whole of `tokenizer.json` and `manifest.json`: another export,
//!   quantisation or vocabulary changes it.
//! - **Built-in entries are embedded once per user.** Embedding them costs seconds (tens of
//!   seconds in a debug build), too much for each search, so [`cached_vectors`] keeps their
//!   vectors in `$XDG_CACHE_HOME/kubesage` (else `~/.cache/kubesage`) in a file named by a
//!   hash of their text and the model's fingerprint, computed on first use under a lock file
//!   so that processes starting together do the work once.
//! - **The encoder is a trait** ([`PassageEncoder`]), implemented by
//!   [`SentenceEmbedder`]; tests of the plumbing use toy encoders.

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::chunk::Chunk;
use crate::embed::{SentenceEmbedder, default_model_dir};
use crate::error::{Error, Result};
use crate::index::{Metadata, VectorIndex};

/// Passages embedded in one call to the model (sorted by length first, so little padding).
const BATCH: usize = 16;

/// Bytes of each end of `model.onnx` that its fingerprint covers.
const FINGERPRINT_SAMPLE: u64 = 1 << 20;

/// Metadata key of a stored vector's text hash (16 hex digits).
const TEXT_KEY: &str = "text";
/// Metadata key of a stored vector's model fingerprint.
const MODEL_KEY: &str = "model";

/// A lock file older than this is taken to be left by a process that died.
const STALE_LOCK: Duration = Duration::from_secs(120);

/// The extension of the vectors file beside a passage index.
pub const VECTORS_EXTENSION: &str = "vectors";

/// Turns texts into vectors of one fixed dimension. [`SentenceEmbedder`] is the real one.
pub trait PassageEncoder: Send + Sync + fmt::Debug {
    /// The length of every vector.
    fn dimension(&self) -> usize;
    /// One vector per text, in order.
    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
}

impl PassageEncoder for SentenceEmbedder {
    fn dimension(&self) -> usize {
        crate::embed::DIMENSION
    }

    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed(texts)
    }
}

/// Which sentence-embedding model an index uses for its dense half.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ModelChoice {
    /// None: BM25 only, and the model is not even looked for.
    Off,
    /// The model in [`default_model_dir`] (`$KUBESAGE_MODEL_DIR`, else
    /// `~/.cache/kubesage/models/all-MiniLM-L6-v2`), when one is there.
    #[default]
    Default,
    /// The model in this folder, when one is there.
    Dir(PathBuf),
}

impl ModelChoice {
    /// The folder to look in; `None` for [`ModelChoice::Off`] (or when no default exists).
    pub fn dir(&self) -> Option<PathBuf> {
        match self {
            ModelChoice::Off => None,
            ModelChoice::Default => default_model_dir(),
            ModelChoice::Dir(dir) => Some(dir.clone()),
        }
    }
}

/// Whether `dir` holds a model, complete or not: `model.onnx` or `tokenizer.json` exists.
/// A folder with neither is "no model"; a folder with one of them is a model to load, and
/// an error if it does not load.
pub fn model_present(dir: &Path) -> bool {
    dir.join("model.onnx").exists() || dir.join("tokenizer.json").exists()
}

/// A sentence model as retrieval uses it: its encoder and its fingerprint, which every
/// stored vector records.
pub struct PassageModel {
    encoder: Arc<dyn PassageEncoder>,
    fingerprint: String,
    dir: Option<PathBuf>,
}

impl fmt::Debug for PassageModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassageModel")
            .field("fingerprint", &self.fingerprint)
            .field("dir", &self.dir)
            .field("dimension", &self.encoder.dimension())
            .finish()
    }
}

impl PassageModel {
    /// A model from any encoder; `fingerprint` must change whenever its vectors would.
    pub fn new(encoder: Arc<dyn PassageEncoder>, fingerprint: impl Into<String>) -> Self {
        PassageModel { encoder, fingerprint: fingerprint.into(), dir: None }
    }

    /// Loads the sentence embedder in `dir` (one thread per core) and fingerprints it.
    pub fn load(dir: &Path) -> Result<Self> {
        let embedder = SentenceEmbedder::load(dir, 0)?;
        let fingerprint = model_fingerprint(dir)?;
        Ok(PassageModel { encoder: Arc::new(embedder), fingerprint, dir: Some(dir.to_owned()) })
    }

    /// The model `choice` names: `None` when it is [`ModelChoice::Off`] or its folder holds
    /// no model ([`model_present`]); an error when the folder holds one that does not load.
    /// Loaded models are shared for the life of the process.
    pub fn locate(choice: &ModelChoice) -> Result<Option<Arc<Self>>> {
        let Some(dir) = choice.dir() else { return Ok(None) };
        if !model_present(&dir) {
            return Ok(None);
        }
        static LOADED: OnceLock<Mutex<HashMap<PathBuf, Arc<PassageModel>>>> = OnceLock::new();
        // Held while loading, so that threads asking together load the model once.
        let mut loaded = LOADED.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(model) = loaded.get(&dir) {
            return Ok(Some(Arc::clone(model)));
        }
        let model = Arc::new(Self::load(&dir)?);
        loaded.insert(dir, Arc::clone(&model));
        Ok(Some(model))
    }

    /// The fingerprint (16 hex digits for a loaded model).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The length of its vectors.
    pub fn dimension(&self) -> usize {
        self.encoder.dimension()
    }

    /// The folder it was loaded from, if it was.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// One unit-length vector per text, in order, embedded in batches of similar length.
    pub fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH) {
            let inputs: Vec<&str> = batch.iter().map(|&i| texts[i]).collect();
            let vectors = self.encoder.encode(&inputs)?;
            if vectors.len() != batch.len() {
                return Err(self.fault(format!("{} vectors for {} texts", vectors.len(), batch.len())));
            }
            for (&i, vector) in batch.iter().zip(vectors) {
                if vector.len() != self.dimension() {
                    return Err(Error::DimensionMismatch { expected: self.dimension(), actual: vector.len() });
                }
                out[i] = unit(vector);
            }
        }
        Ok(out)
    }

    /// The vector of a query.
    pub fn embed_query(&self, query: &str) -> Result<Vec<f32>> {
        self.embed_passages(&[query])?.pop().ok_or_else(|| self.fault("no vector for the query".into()))
    }

    fn fault(&self, reason: String) -> Error {
        Error::Model { path: self.dir.clone().unwrap_or_default(), reason }
    }
}

/// `vector` scaled to unit length (as the vector index stores it); all zeros stays so.
fn unit(mut vector: Vec<f32>) -> Vec<f32> {
    let norm = vector.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        vector.iter_mut().for_each(|x| *x = (f64::from(*x) / norm) as f32);
    }
    vector
}

/// The fingerprint of the model in `dir`: FNV-1a over the length and first and last MiB of
/// `model.onnx`, and all of `tokenizer.json` and (when present) `manifest.json`.
pub fn model_fingerprint(dir: &Path) -> Result<String> {
    let model_path = dir.join("model.onnx");
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    let mut file = std::fs::File::open(&model_path).map_err(io(&model_path))?;
    let len = file.metadata().map_err(io(&model_path))?.len();
    let mut hash = Fnv1a::new();
    hash.write(b"kubesage passage model\0");
    hash.write(&len.to_le_bytes());
    let mut sample = Vec::new();
    (&mut file).take(FINGERPRINT_SAMPLE).read_to_end(&mut sample).map_err(io(&model_path))?;
    hash.write(&sample);
    let tail = len.saturating_sub(FINGERPRINT_SAMPLE).max(sample.len() as u64);
    sample.clear();
    file.seek(SeekFrom::Start(tail)).map_err(io(&model_path))?;
    file.read_to_end(&mut sample).map_err(io(&model_path))?;
    hash.write(&sample);
    let tokenizer = dir.join("tokenizer.json");
    hash.write(&std::fs::read(&tokenizer).map_err(io(&tokenizer))?);
    match std::fs::read(dir.join("manifest.json")) {
        Ok(manifest) => hash.write(&manifest),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(Error::Io { path: dir.join("manifest.json"), source }),
    }
    Ok(format!("{:016x}", hash.0))
}

/// The text of a passage that is embedded (and indexed for BM25): heading, newline, text.
pub fn passage_text(chunk: &Chunk) -> String {
    format!("{}\n{}", chunk.heading, chunk.text)
}

/// The hash a stored vector records of the text it was computed from (FNV-1a, 64 bits).
pub fn text_hash(text: &str) -> u64 {
    let mut hash = Fnv1a::new();
    hash.write(text.as_bytes());
    hash.0
}

/// The vectors file of the passage index at `index_path`: the same name with the extension
/// [`VECTORS_EXTENSION`] (`index.json` → `index.vectors`).
pub fn vectors_path(index_path: &Path) -> PathBuf {
    let path = index_path.with_extension(VECTORS_EXTENSION);
    if path == index_path {
        let mut name = index_path.as_os_str().to_owned();
        name.push(".");
        name.push(VECTORS_EXTENSION);
        PathBuf::from(name)
    } else {
        path
    }
}

/// The per-user cache folder: `$XDG_CACHE_HOME/kubesage`, else `~/.cache/kubesage`.
pub fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|cache| cache.join("kubesage"))
}

/// Why an index's passage vectors cannot be used (in [`Error::PassageVectors`] and
/// [`DenseStatus::Unusable`](super::index::DenseStatus::Unusable)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VectorsProblem {
    /// There is no vectors file: the index was built without the model.
    #[error("there are none (the index was built without the sentence-embedding model)")]
    Missing,
    /// The vectors file cannot be read: not a vector index, truncated, failing its checksum.
    #[error("the file cannot be read: {0}")]
    Unreadable(String),
    /// The vectors were computed by another model than the one loaded.
    #[error("they were computed by another model ({found}; the model loaded is {expected})")]
    OtherModel {
        /// The fingerprint the vectors record.
        found: String,
        /// The fingerprint of the model loaded.
        expected: String,
    },
    /// Passages changed since the vectors were computed (or were added without them).
    #[error("{without} of {passages} passages have no vector of their current text")]
    Stale {
        /// Passages without a current vector.
        without: usize,
        /// Passages in all.
        passages: usize,
    },
}

/// Vectors by the [`text_hash`] of the text they were computed from.
pub type KnownVectors = HashMap<u64, Vec<f32>>;

/// The dense half of a passage index: one vector per passage (by passage number), the
/// model that computed them, and vectors set aside for reuse.
pub(crate) struct DenseVectors {
    pub(crate) model: Arc<PassageModel>,
    index: VectorIndex,
    /// The text hash of each passage with a vector in `index`.
    hashes: HashMap<u32, u64>,
    /// Vectors attached to no passage: those of removed passages, and those read for
    /// passages whose text has changed since. Reused when a passage of that text comes.
    known: KnownVectors,
    /// What was wrong with the vectors file when it was read.
    pub(crate) problem: Option<VectorsProblem>,
    /// The vectors file read.
    pub(crate) path: Option<PathBuf>,
}

impl fmt::Debug for DenseVectors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DenseVectors")
            .field("model", &self.model)
            .field("vectors", &self.hashes.len())
            .field("known", &self.known.len())
            .field("problem", &self.problem)
            .field("path", &self.path)
            .finish()
    }
}

impl Clone for DenseVectors {
    /// Copies the vectors into a new vector index (its graph is rebuilt, not shared).
    fn clone(&self) -> Self {
        let mut copy = DenseVectors {
            model: Arc::clone(&self.model),
            index: VectorIndex::new(self.index.dim()).expect("the dimension of an existing vector index is valid"),
            hashes: HashMap::new(),
            known: self.known.clone(),
            problem: self.problem.clone(),
            path: self.path.clone(),
        };
        let mut ids: Vec<u32> = self.hashes.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(vector) = self.index.vector(u64::from(id)) {
                // The vector was accepted once; it is accepted again.
                let _ = copy.insert(id, self.hashes[&id], vector);
            }
        }
        copy
    }
}

impl DenseVectors {
    /// No vectors yet, for `model`.
    pub(crate) fn new(model: Arc<PassageModel>) -> Result<Self> {
        Ok(DenseVectors {
            index: VectorIndex::new(model.dimension())?,
            model,
            hashes: HashMap::new(),
            known: HashMap::new(),
            problem: None,
            path: None,
        })
    }

    /// Passages with a vector.
    pub(crate) fn covered(&self) -> usize {
        self.hashes.len()
    }

    /// Whether passage `id` has a vector.
    pub(crate) fn has(&self, id: u32) -> bool {
        self.hashes.contains_key(&id)
    }

    /// Gives passage `id` (of text hash `hash`) its vector.
    pub(crate) fn insert(&mut self, id: u32, hash: u64, vector: &[f32]) -> Result<()> {
        let metadata: Metadata = [
            (TEXT_KEY.to_owned(), format!("{hash:016x}")),
            (MODEL_KEY.to_owned(), self.model.fingerprint().to_owned()),
        ]
        .into_iter()
        .collect();
        self.index.add(u64::from(id), vector, metadata)?;
        self.hashes.insert(id, hash);
        Ok(())
    }

    /// Takes passage `id`'s vector away, keeping it for reuse.
    pub(crate) fn remove(&mut self, id: u32) {
        if let Some(hash) = self.hashes.remove(&id) {
            if let Some(vector) = self.index.vector(u64::from(id)) {
                self.known.entry(hash).or_insert_with(|| vector.to_vec());
            }
            self.index.delete(u64::from(id));
        }
    }

    /// A vector set aside for text of hash `hash`.
    pub(crate) fn known(&self, hash: u64) -> Option<&[f32]> {
        self.known.get(&hash).map(Vec::as_slice)
    }

    /// Drops the vectors set aside.
    pub(crate) fn forget_known(&mut self) {
        self.known = HashMap::new();
    }

    /// The `n` passages nearest to `query`, with their cosine similarities, best first.
    pub(crate) fn search(&self, query: &[f32], n: usize) -> Result<Vec<(u32, f32)>> {
        Ok(self
            .index
            .search(query, n, None)?
            .into_iter()
            .filter_map(|hit| u32::try_from(hit.id).ok().map(|id| (id, hit.similarity)))
            .collect())
    }

    /// Writes the vectors to `path`.
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        self.index.save(path)
    }

    /// Reads the vectors file at `path` for the passages `live` (number, text hash), all
    /// numbered below `bound`: a vector becomes a passage's when it has the passage's number,
    /// text hash and this model's fingerprint; vectors of this model for other texts are
    /// kept for reuse. What is wrong with the file is recorded in `problem`.
    pub(crate) fn read(&mut self, path: &Path, live: &HashMap<u32, u64>, bound: u32) {
        self.path = Some(path.to_owned());
        let file = match VectorIndex::load(path) {
            Ok(file) => file,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                self.problem = Some(VectorsProblem::Missing);
                return;
            }
            Err(e) => {
                self.problem = Some(VectorsProblem::Unreadable(kubesage_core::error::display_chain(&e)));
                return;
            }
        };
        if file.dim() != self.model.dimension() {
            self.problem = Some(VectorsProblem::Unreadable(format!(
                "vectors of dimension {}, the model's are {}",
                file.dim(),
                self.model.dimension()
            )));
            return;
        }
        let mut other_model: Option<String> = None;
        for id in 0..bound {
            let (Some(vector), Some(metadata)) = (file.vector(u64::from(id)), file.metadata(u64::from(id))) else {
                continue;
            };
            let model = metadata.get(MODEL_KEY).map(String::as_str).unwrap_or_default();
            if model != self.model.fingerprint() {
                other_model.get_or_insert_with(|| model.to_owned());
                continue;
            }
            let Some(hash) = metadata.get(TEXT_KEY).and_then(|h| u64::from_str_radix(h, 16).ok()) else {
                continue;
            };
            if live.get(&id) == Some(&hash) && self.insert(id, hash, vector).is_ok() {
                continue;
            }
            self.known.entry(hash).or_insert_with(|| vector.to_vec());
        }
        if let Some(found) = other_model.filter(|_| self.hashes.is_empty()) {
            self.problem = Some(VectorsProblem::OtherModel { found, expected: self.model.fingerprint().to_owned() });
        }
    }
}

/// The vectors of `texts` by `model`, by text hash, cached in `cache_dir` (when given) in
/// `<name>-<hash>.ksv`, the hash covering the texts and the model's fingerprint. A cache
/// file that is missing, unreadable or does not match is (re)computed and written; failing
/// to write it only costs the next process the same work (and is logged). Results are kept
/// for the life of the process too.
pub fn cached_vectors(
    model: &PassageModel,
    name: &str,
    texts: &[&str],
    cache_dir: Option<&Path>,
) -> Result<Arc<KnownVectors>> {
    let mut key = Fnv1a::new();
    key.write(model.fingerprint().as_bytes());
    for text in texts {
        key.write(&(text.len() as u64).to_le_bytes());
        key.write(text.as_bytes());
    }
    let file_name = format!("{name}-{:016x}.ksv", key.0);
    /// Computed vectors by (cache folder, file name).
    type Memo = HashMap<(Option<PathBuf>, String), Arc<KnownVectors>>;
    static MEMO: OnceLock<Mutex<Memo>> = OnceLock::new();
    // Held while computing, so that threads asking together compute once.
    let mut memo = MEMO.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner);
    let memo_key = (cache_dir.map(Path::to_path_buf), file_name.clone());
    if let Some(known) = memo.get(&memo_key) {
        return Ok(Arc::clone(known));
    }
    let known = Arc::new(match cache_dir {
        Some(dir) => through_cache_file(model, texts, &dir.join(&file_name))?,
        None => compute(model, texts)?.0,
    });
    memo.insert(memo_key, Arc::clone(&known));
    Ok(known)
}

fn compute(model: &PassageModel, texts: &[&str]) -> Result<(KnownVectors, Vec<Vec<f32>>)> {
    let vectors = model.embed_passages(texts)?;
    let known = texts.iter().zip(&vectors).map(|(t, v)| (text_hash(t), v.clone())).collect();
    Ok((known, vectors))
}

fn through_cache_file(model: &PassageModel, texts: &[&str], path: &Path) -> Result<KnownVectors> {
    if let Some(known) = read_cache(model, texts, path) {
        return Ok(known);
    }
    if let Some(parent) = path.parent()
        && let Err(e) = std::fs::create_dir_all(parent)
    {
        tracing::warn!(path = %parent.display(), error = %e, "cannot create the vector cache folder");
        return Ok(compute(model, texts)?.0);
    }
    let _lock = CacheLock::acquire(&path.with_extension("lock"), path);
    // Another process may have written it while this one waited for the lock.
    if let Some(known) = read_cache(model, texts, path) {
        return Ok(known);
    }
    let (known, vectors) = compute(model, texts)?;
    if let Err(e) = write_cache(model, texts, &vectors, path) {
        tracing::warn!(path = %path.display(), error = %kubesage_core::error::display_chain(&e), "cannot write the vector cache");
    }
    Ok(known)
}

/// The cached vectors, when the file exists and holds exactly `texts`' vectors by `model`.
fn read_cache(model: &PassageModel, texts: &[&str], path: &Path) -> Option<KnownVectors> {
    let file = match VectorIndex::load(path) {
        Ok(file) => file,
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %kubesage_core::error::display_chain(&e), "recomputing an unreadable vector cache");
            return None;
        }
    };
    let mut known = HashMap::with_capacity(texts.len());
    let matches = file.len() == texts.len()
        && file.dim() == model.dimension()
        && texts.iter().enumerate().all(|(i, text)| {
            let hash = text_hash(text);
            let (Some(vector), Some(metadata)) = (file.vector(i as u64), file.metadata(i as u64)) else {
                return false;
            };
            let ok = metadata.get(TEXT_KEY) == Some(&format!("{hash:016x}"))
                && metadata.get(MODEL_KEY).map(String::as_str) == Some(model.fingerprint());
            known.insert(hash, vector.to_vec());
            ok
        });
    if !matches {
        tracing::warn!(path = %path.display(), "recomputing a vector cache that does not match its texts");
        return None;
    }
    Some(known)
}

fn write_cache(model: &PassageModel, texts: &[&str], vectors: &[Vec<f32>], path: &Path) -> Result<()> {
    let mut file = VectorIndex::new(model.dimension())?;
    for (i, (text, vector)) in texts.iter().zip(vectors).enumerate() {
        let metadata: Metadata = [
            (TEXT_KEY.to_owned(), format!("{:016x}", text_hash(text))),
            (MODEL_KEY.to_owned(), model.fingerprint().to_owned()),
        ]
        .into_iter()
        .collect();
        file.add(i as u64, vector, metadata)?;
    }
    file.save(path)
}

/// A lock file held while one process computes a cache file; removed on drop.
struct CacheLock(Option<PathBuf>);

impl CacheLock {
    /// Creates `lock`, waiting while another process holds it (unless `cache` appears, or
    /// the lock is older than [`STALE_LOCK`], left by a process that died). A lock that
    /// cannot be created for another reason is not waited for: the work is then done
    /// unlocked, which only risks doing it twice.
    fn acquire(lock: &Path, cache: &Path) -> Self {
        let started = Instant::now();
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(lock) {
                Ok(_) => return CacheLock(Some(lock.to_owned())),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if cache.exists() {
                        return CacheLock(None);
                    }
                    let age = std::fs::metadata(lock)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .unwrap_or_default();
                    if age > STALE_LOCK || started.elapsed() > STALE_LOCK {
                        let _ = std::fs::remove_file(lock);
                        continue;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(_) => return CacheLock(None),
            }
        }
    }
}

impl Drop for CacheLock {
    fn drop(&mut self) {
        if let Some(lock) = &self.0 {
            let _ = std::fs::remove_file(lock);
        }
    }
}

/// FNV-1a, 64 bits: stable across builds and platforms, which the hashes stored in files
/// and cache names need.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A toy encoder: each word adds to the dimension its hash picks, so texts sharing
    /// words are similar. Counts its calls.
    #[derive(Debug, Default)]
    pub(crate) struct WordHash {
        pub(crate) texts: std::sync::atomic::AtomicUsize,
    }

    impl PassageEncoder for WordHash {
        fn dimension(&self) -> usize {
            16
        }

        fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            self.texts.fetch_add(texts.len(), std::sync::atomic::Ordering::SeqCst);
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v = vec![0.0f32; 16];
                    v[15] = 0.01;
                    for w in t.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
                        v[(text_hash(&w.to_lowercase()) % 15) as usize] += 1.0;
                    }
                    v
                })
                .collect())
        }
    }

    pub(crate) fn toy_model(fingerprint: &str) -> (Arc<PassageModel>, Arc<WordHash>) {
        let encoder = Arc::new(WordHash::default());
        (Arc::new(PassageModel::new(encoder.clone(), fingerprint)), encoder)
    }

    #[test]
    fn passages_are_embedded_in_order_whatever_the_batching() {
        let (model, encoder) = toy_model("toy");
        let texts: Vec<String> = (0..40).map(|i| "word ".repeat(40 - i) + &format!("n{i}")).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let all = model.embed_passages(&refs).expect("embed");
        for (text, vector) in refs.iter().zip(&all) {
            assert_eq!(vector, &unit(encoder.encode(&[text]).expect("one").remove(0)));
            let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5);
        }
        assert_eq!(model.embed_query("n3").expect("query").len(), 16);
        assert!(model.embed_passages(&[]).expect("none").is_empty());
    }

    #[test]
    fn the_vector_cache_is_written_once_read_back_and_recomputed_when_damaged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (model, encoder) = toy_model("cache-test-a");
        let texts = ["alpha beta", "gamma delta", "epsilon"];
        let first = cached_vectors(&model, "t", &texts, Some(dir.path())).expect("computed");
        assert_eq!(first.len(), 3);
        assert_eq!(encoder.texts.load(std::sync::atomic::Ordering::SeqCst), 3);
        let files: Vec<PathBuf> =
            std::fs::read_dir(dir.path()).expect("list").map(|e| e.expect("entry").path()).collect();
        assert_eq!(files.len(), 1, "the cache file and no lock left: {files:?}");
        let file = files[0].clone();
        assert!(file.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("t-") && n.ends_with(".ksv")));

        // Another process (here: the file read directly) gets the same vectors, no work.
        let same = |a: &KnownVectors, b: &KnownVectors| {
            a.len() == b.len()
                && a.iter().all(|(h, v)| b.get(h).is_some_and(|w| v.iter().zip(w).all(|(x, y)| (x - y).abs() < 1e-6)))
        };
        assert!(same(&read_cache(&model, &texts, &file).expect("read back"), &first));
        // Damaged: recomputed and rewritten.
        let bytes = std::fs::read(&file).expect("read");
        std::fs::write(&file, &bytes[..bytes.len() - 9]).expect("truncate");
        assert!(read_cache(&model, &texts, &file).is_none());
        let again = through_cache_file(&model, &texts, &file).expect("recomputed");
        assert!(same(&again, &first));
        assert_eq!(encoder.texts.load(std::sync::atomic::Ordering::SeqCst), 6);
        assert!(read_cache(&model, &texts, &file).is_some());
        // Other texts or another model: another file.
        let (other, _) = toy_model("cache-test-b");
        cached_vectors(&other, "t", &texts, Some(dir.path())).expect("other model");
        cached_vectors(&model, "t", &texts[..2], Some(dir.path())).expect("other texts");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 3);
        // The same texts and model in this process: memoised.
        let before = encoder.texts.load(std::sync::atomic::Ordering::SeqCst);
        cached_vectors(&model, "t", &texts, Some(dir.path())).expect("memo");
        assert_eq!(encoder.texts.load(std::sync::atomic::Ordering::SeqCst), before);
    }

    #[test]
    fn a_stale_lock_is_taken_over_and_a_finished_cache_is_not_waited_for() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lock = dir.path().join("x.lock");
        let cache = dir.path().join("x.ksv");
        std::fs::write(&cache, b"").expect("write");
        std::fs::write(&lock, b"").expect("write");
        let started = Instant::now();
        let held = CacheLock::acquire(&lock, &cache);
        assert!(held.0.is_none() && started.elapsed() < Duration::from_secs(1));
        std::fs::remove_file(&cache).expect("remove");
        let old = std::time::SystemTime::now() - Duration::from_secs(600);
        std::fs::File::options().write(true).open(&lock).expect("open").set_modified(old).expect("age the lock");
        let held = CacheLock::acquire(&lock, &cache);
        assert!(held.0.is_some());
        drop(held);
        assert!(!lock.exists(), "released on drop");
    }

    #[test]
    fn vectors_files_sit_beside_the_index() {
        assert_eq!(vectors_path(Path::new("/a/index.json")), Path::new("/a/index.vectors"));
        assert_eq!(vectors_path(Path::new("/a/kb")), Path::new("/a/kb.vectors"));
        assert_eq!(vectors_path(Path::new("/a/kb.vectors")), Path::new("/a/kb.vectors.vectors"));
    }

    #[test]
    fn model_folders_without_files_are_no_model() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(!model_present(dir.path()));
        assert!(!model_present(&dir.path().join("missing")));
        assert!(PassageModel::locate(&ModelChoice::Dir(dir.path().to_owned())).expect("absent").is_none());
        assert!(PassageModel::locate(&ModelChoice::Off).expect("off").is_none());
        std::fs::write(dir.path().join("model.onnx"), b"not a model").expect("write");
        assert!(model_present(dir.path()));
        let err = PassageModel::locate(&ModelChoice::Dir(dir.path().to_owned())).expect_err("broken");
        assert!(matches!(err, Error::Io { .. } | Error::Model { .. }), "{err}");
    }
}
