//! `kubesage kb`: the knowledge base of runbooks — ingest a folder of Markdown, search.
//!
//! With the sentence-embedding model installed (`$KUBESAGE_MODEL_DIR`, else
//! `~/.cache/kubesage/models/all-MiniLM-L6-v2`), `ingest` also computes passage vectors and
//! `search` fuses BM25 with them (hybrid); without it, both work by BM25 alone and say so.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use kubesage_ml::rag::dense::{ModelChoice, vectors_path};
use kubesage_ml::rag::hybrid::RetrievalMode;
use kubesage_ml::rag::index::{DenseStatus, Hit, PassageIndex, default_index_path};
use serde::Serialize;

use crate::error::{Error, Result};

/// `kubesage kb ...`.
#[derive(Debug, Clone, Args)]
pub struct KbArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: KbCommand,
}

/// The knowledge-base commands.
#[derive(Debug, Clone, Subcommand)]
pub enum KbCommand {
    /// Add a folder of Markdown runbooks (chunked by heading) to the index.
    Ingest(IngestArgs),
    /// Search the built-in knowledge base and the index.
    Search(SearchArgs),
}

/// Arguments of `kb ingest`.
#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    /// The folder (searched recursively for `.md` files).
    pub dir: PathBuf,
    /// The index file (default: `$KUBESAGE_INDEX`, else `~/.local/share/kubesage/index.json`).
    #[arg(long, value_name = "PATH")]
    pub index: Option<PathBuf>,
}

/// Output formats of `kb search`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SearchOutput {
    /// Readable text.
    Text,
    /// `{"mode", "notice"?, "hits": [{"source", "heading", "score", "text"}]}`.
    Json,
}

/// How `kb search` ranks passages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SearchMode {
    /// Hybrid when the model and the passage vectors are there, else BM25 (with a notice).
    Auto,
    /// BM25 and dense rankings fused; an error without the model or usable vectors.
    Hybrid,
    /// BM25 alone (the model is not loaded).
    Bm25,
    /// The sentence model's similarity alone; an error without the model or usable vectors.
    Dense,
}

/// Arguments of `kb search`.
#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    /// What to look for: an alert name, an error message, a question.
    pub text: String,
    /// The index file (default as for `kb ingest`).
    #[arg(long, value_name = "PATH")]
    pub index: Option<PathBuf>,
    /// How many passages to show.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: SearchOutput,
    /// How to rank.
    #[arg(long, value_enum, default_value = "auto")]
    pub mode: SearchMode,
}

fn index_path(given: Option<&Path>) -> Result<PathBuf> {
    given.map(Path::to_path_buf).or_else(default_index_path).ok_or_else(|| {
        Error::Usage("no index location: give --index PATH (neither KUBESAGE_INDEX nor HOME is set)".into())
    })
}

/// The JSON answer of `kb search`.
#[derive(Serialize)]
struct SearchAnswer<'a> {
    /// How the hits were ranked.
    mode: RetrievalMode,
    /// Why the ranking is not hybrid, when `--mode auto` fell back to BM25.
    #[serde(skip_serializing_if = "Option::is_none")]
    notice: Option<String>,
    hits: &'a [Hit],
}

/// Runs a knowledge-base command.
pub fn run(args: &KbArgs, out: &mut dyn Write) -> Result<u8> {
    let output = |e: std::io::Error| Error::Output(e.to_string());
    match &args.command {
        KbCommand::Ingest(a) => {
            let path = index_path(a.index.as_deref())?;
            let mut index = PassageIndex::load_with(&path, &ModelChoice::Default)?;
            let report = index.ingest_dir(&a.dir)?;
            index.save(&path)?;
            writeln!(
                out,
                "indexed {} file(s), {} passage(s) from {} into {} ({} passage(s) in all)",
                report.files,
                report.chunks,
                a.dir.display(),
                path.display(),
                index.len()
            )
            .map_err(output)?;
            match index.dense_status() {
                DenseStatus::Ready { vectors } => writeln!(
                    out,
                    "{vectors} passage vector(s) in {} ({} computed, {} reused)",
                    vectors_path(&path).display(),
                    report.embedded,
                    report.reused
                ),
                status => writeln!(out, "no passage vectors: {status}"),
            }
            .map_err(output)?;
            for (file, why) in &report.skipped {
                writeln!(out, "skipped {file}: {why}").map_err(output)?;
            }
            Ok(0)
        }
        KbCommand::Search(a) => {
            let path = index_path(a.index.as_deref())?;
            let choice = if a.mode == SearchMode::Bm25 { ModelChoice::Off } else { ModelChoice::Default };
            let mut index = PassageIndex::load_with(&path, &choice)?;
            kubesage_ml::rag::kb::try_add_builtin(&mut index)?;
            let (mode, notice) = match a.mode {
                SearchMode::Auto => {
                    let mode = index.mode();
                    (mode, (mode != RetrievalMode::Hybrid).then(|| index.dense_status().to_string()))
                }
                SearchMode::Hybrid => (RetrievalMode::Hybrid, None),
                SearchMode::Bm25 => (RetrievalMode::Bm25, None),
                SearchMode::Dense => (RetrievalMode::Dense, None),
            };
            let hits = index.search_with(&a.text, a.top, mode)?;
            match a.output {
                SearchOutput::Json => {
                    let text = serde_json::to_string_pretty(&SearchAnswer { mode, notice, hits: &hits })
                        .map_err(|e| Error::Output(e.to_string()))?;
                    writeln!(out, "{text}").map_err(output)?;
                }
                SearchOutput::Text => {
                    if let Some(notice) = &notice {
                        eprintln!("note: {notice}");
                    }
                    if hits.is_empty() {
                        writeln!(out, "no passage matches {:?}", a.text).map_err(output)?;
                    }
                    for (i, h) in hits.iter().enumerate() {
                        writeln!(out, "{}. {} — {} ({mode} score {:.4})", i + 1, h.source, h.heading, h.score)
                            .map_err(output)?;
                        for line in h.text.lines().take(6) {
                            writeln!(out, "   {line}").map_err(output)?;
                        }
                        writeln!(out).map_err(output)?;
                    }
                }
            }
            Ok(0)
        }
    }
}
