//! `kubesage kb`: the knowledge base of runbooks — ingest a folder of Markdown, search.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use kubesage_ml::rag::index::{Hit, PassageIndex, default_index_path};
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
    /// `{"hits": [{"source", "heading", "score", "text"}]}`.
    Json,
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
}

fn index_path(given: Option<&Path>) -> Result<PathBuf> {
    given.map(Path::to_path_buf).or_else(default_index_path).ok_or_else(|| {
        Error::Usage("no index location: give --index PATH (neither KUBESAGE_INDEX nor HOME is set)".into())
    })
}

/// Runs a knowledge-base command.
pub fn run(args: &KbArgs, out: &mut dyn Write) -> Result<u8> {
    let output = |e: std::io::Error| Error::Output(e.to_string());
    match &args.command {
        KbCommand::Ingest(a) => {
            let path = index_path(a.index.as_deref())?;
            let mut index = PassageIndex::load(&path)?;
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
            for (file, why) in &report.skipped {
                writeln!(out, "skipped {file}: {why}").map_err(output)?;
            }
            Ok(0)
        }
        KbCommand::Search(a) => {
            let path = index_path(a.index.as_deref())?;
            let mut index = PassageIndex::load(&path)?;
            kubesage_ml::rag::kb::add_builtin(&mut index);
            let hits = index.search(&a.text, a.top);
            match a.output {
                SearchOutput::Json => {
                    #[derive(Serialize)]
                    struct Hits<'a> {
                        hits: &'a [Hit],
                    }
                    let text = serde_json::to_string_pretty(&Hits { hits: &hits })
                        .map_err(|e| Error::Output(e.to_string()))?;
                    writeln!(out, "{text}").map_err(output)?;
                }
                SearchOutput::Text => {
                    if hits.is_empty() {
                        writeln!(out, "no passage matches {:?}", a.text).map_err(output)?;
                    }
                    for (i, h) in hits.iter().enumerate() {
                        writeln!(out, "{}. {} — {} (score {:.2})", i + 1, h.source, h.heading, h.score)
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
