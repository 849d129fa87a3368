//! Running detectors over the Numenta Anomaly Benchmark layout.
//!
//! `data/<category>/<name>.csv` in, `out/<detector>/<category>/<detector>_<name>.csv` out,
//! with `timestamp,value,anomaly_score,label` rows; labels come from a
//! `combined_windows.json` found beside or above the data folder (0 everywhere without one).
//! Files are scored on every core, each with a fresh detector.

use std::path::{Path, PathBuf};

use super::csv::{read_series, write_scores};
use super::detector;
use super::nab_score::{FileScores, Windows};
use crate::error::{Error, Result};

/// One scored file.
#[derive(Debug, Clone)]
pub struct NabFile {
    /// `category/name.csv`.
    pub key: String,
    /// Timestamps, Unix seconds.
    pub timestamps: Vec<i64>,
    /// Scores.
    pub scores: Vec<f64>,
}

impl From<NabFile> for FileScores {
    fn from(f: NabFile) -> FileScores {
        FileScores { file: f.key, timestamps: f.timestamps, scores: f.scores }
    }
}

/// Finds `combined_windows.json` in `data` or up to three folders above it.
pub fn find_windows(data: &Path) -> Option<PathBuf> {
    let mut dir = Some(data);
    for _ in 0..4 {
        let d = dir?;
        let candidate = d.join("combined_windows.json");
        if candidate.is_file() {
            return Some(candidate);
        }
        let labels = d.join("labels").join("combined_windows.json");
        if labels.is_file() {
            return Some(labels);
        }
        dir = d.parent();
    }
    None
}

/// Every CSV under `data`, as `(category/name.csv, path)`, sorted.
pub fn data_files(data: &Path) -> Result<Vec<(String, PathBuf)>> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    let mut out = Vec::new();
    let mut stack = vec![data.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let path = entry.map_err(io(&dir))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().and_then(|e| e.to_str()) == Some("csv") {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
                let category = path
                    .parent()
                    .filter(|p| *p != data)
                    .and_then(|p| p.file_name())
                    .and_then(|n| n.to_str())
                    .map(|c| format!("{c}/"))
                    .unwrap_or_default();
                out.push((format!("{category}{name}"), path));
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(Error::Nab(format!("no .csv files under {}", data.display())));
    }
    Ok(out)
}

/// Scores every CSV under `data` with a fresh `detector_name` per file, writes NAB results
/// under `out` when given, and returns the scores.
pub fn run(data: &Path, out: Option<&Path>, detector_name: &str, windows: Option<&Windows>) -> Result<Vec<NabFile>> {
    detector(detector_name)?; // fail fast on an unknown name
    let files = data_files(data)?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(files.len()).max(1);
    let results: Vec<Result<NabFile>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let mine: Vec<&(String, PathBuf)> = files.iter().skip(t).step_by(threads).collect();
                s.spawn(move || {
                    mine.into_iter().map(|f| score_file(f, out, detector_name, windows)).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            match h.join() {
                Ok(part) => all.extend(part),
                Err(_) => all.push(Err(Error::Nab("a scoring thread panicked".into()))),
            }
        }
        all
    });
    let mut files: Vec<NabFile> = results.into_iter().collect::<Result<_>>()?;
    files.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(files)
}

fn score_file(
    (key, path): &(String, PathBuf),
    out: Option<&Path>,
    detector_name: &str,
    windows: Option<&Windows>,
) -> Result<NabFile> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.clone(), source })?;
    let series = read_series(&text, &path.display().to_string())?;
    let mut d = detector(detector_name)?;
    let scores = d.score_batch(&series.timestamps, &series.values);
    if let Some(out) = out {
        let spans = windows.map(|w| w.get(key)).unwrap_or_default();
        let labels: Vec<u8> =
            series.timestamps.iter().map(|t| u8::from(spans.iter().any(|(a, b)| a <= t && t <= b))).collect();
        let (category, name) = key.rsplit_once('/').unwrap_or(("", key.as_str()));
        let dir = out.join(detector_name).join(category);
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
        let file = dir.join(format!("{detector_name}_{name}"));
        std::fs::write(&file, write_scores(&series, &scores, Some(&labels)))
            .map_err(|source| Error::Io { path: file.clone(), source })?;
    }
    Ok(NabFile { key: key.clone(), timestamps: series.timestamps, scores })
}
