//! Snapshot files: `kubectl get ... -o json|yaml` output, one or more files or folders.

use std::io::Read;
use std::path::{Path, PathBuf};

use kubesage_core::{Cluster, ClusterSource, SourceScope};

use super::decode::decode_document;
use crate::error::{Error, Result};

/// The default ceiling on one snapshot file: 1 GiB. Larger inputs are refused before
/// they are read, rather than exhausting memory.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// Reads clusters from snapshot files. `-` reads standard input; a folder is searched
/// recursively for `.json`, `.yaml` and `.yml` files (hidden entries skipped).
#[derive(Debug, Clone)]
pub struct SnapshotSource {
    paths: Vec<PathBuf>,
    max_bytes: u64,
}

impl SnapshotSource {
    /// A source over these paths.
    pub fn new(paths: impl IntoIterator<Item = impl Into<PathBuf>>) -> Self {
        SnapshotSource { paths: paths.into_iter().map(Into::into).collect(), max_bytes: DEFAULT_MAX_BYTES }
    }

    /// Sets the per-file size ceiling.
    pub fn max_bytes(mut self, limit: u64) -> Self {
        self.max_bytes = limit;
        self
    }

    /// Reads and decodes every file, several at once when there are several.
    pub fn read(&self) -> Result<Cluster> {
        let mut files = Vec::new();
        for p in &self.paths {
            expand(p, &mut files)?;
        }
        let threads = std::thread::available_parallelism().map_or(1, usize::from).min(files.len()).max(1);
        let results: Vec<Result<Cluster>> = if threads == 1 {
            files.iter().map(|f| self.read_one(f)).collect()
        } else {
            // Files are dealt round-robin to threads; results are put back in input order.
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let mine: Vec<(usize, &PathBuf)> =
                            files.iter().enumerate().filter(|(i, _)| i % threads == t).collect();
                        s.spawn(move || mine.into_iter().map(|(i, f)| (i, self.read_one(f))).collect::<Vec<_>>())
                    })
                    .collect();
                let mut out: Vec<(usize, Result<Cluster>)> = Vec::with_capacity(files.len());
                for h in handles {
                    match h.join() {
                        Ok(part) => out.extend(part),
                        Err(_) => {
                            out.push((usize::MAX, Err(Error::NothingReadable("a decoder thread panicked".into()))))
                        }
                    }
                }
                out.sort_by_key(|(i, _)| *i);
                out.into_iter().map(|(_, r)| r).collect()
            })
        };
        let mut cluster = Cluster::new();
        for r in results {
            cluster.merge(r?);
        }
        Ok(cluster)
    }

    fn read_one(&self, path: &Path) -> Result<Cluster> {
        let origin = path.display().to_string();
        let bytes = if path.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .take(self.max_bytes.saturating_add(1))
                .read_to_end(&mut buf)
                .map_err(|source| Error::Io { path: path.to_owned(), source })?;
            if buf.len() as u64 > self.max_bytes {
                return Err(Error::TooLarge { origin: "stdin".into(), size: buf.len() as u64, limit: self.max_bytes });
            }
            buf
        } else {
            let io = |source| Error::Io { path: path.to_owned(), source };
            let size = std::fs::metadata(path).map_err(io)?.len();
            if size > self.max_bytes {
                return Err(Error::TooLarge { origin, size, limit: self.max_bytes });
            }
            std::fs::read(path).map_err(io)?
        };
        decode_document(&bytes, &origin)
    }
}

fn expand(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if path.as_os_str() == "-" {
        out.push(path.to_owned());
        return Ok(());
    }
    let meta = std::fs::metadata(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    if !meta.is_dir() {
        out.push(path.to_owned());
        return Ok(());
    }
    let before = out.len();
    walk(path, out)?;
    if out.len() == before {
        return Err(Error::EmptyFolder(path.to_owned()));
    }
    Ok(())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let io = |source| Error::Io { path: dir.to_owned(), source };
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(io)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>().map_err(io)?;
    entries.sort();
    for p in entries {
        let hidden = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            walk(&p, out)?;
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "yaml" | "yml")) {
            out.push(p);
        }
    }
    Ok(())
}

impl ClusterSource for SnapshotSource {
    type Error = Error;

    fn describe(&self) -> String {
        let names: Vec<String> = self.paths.iter().map(|p| p.display().to_string()).collect();
        format!("snapshot {}", names.join(", "))
    }

    async fn load(&self, _scope: &SourceScope) -> Result<Cluster> {
        self.read()
    }
}
