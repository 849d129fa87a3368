//! Numenta Anomaly Benchmark (NAB) scoring, written from NAB's definitions.
//!
//! NAB rewards a detector for flagging each labelled anomaly window early and penalises it for
//! flagging anything else. For one file of `n` rows:
//!
//! - The first `min(floor(0.15 n), 750)` rows are a probationary period: detections there are
//!   ignored, and window rows there can be neither found nor missed.
//! - A window's rows are those whose timestamps fall in its inclusive `[start, end]`. Row `i` of
//!   a window spanning rows `l..=r` (width `w = r - l + 1`) sits at relative position
//!   `p = -(r - i + 1) / w`, so the first row is at `-1` and the last at `-1/w`.
//! - `S(p) = 2 sigmoid(-5p) - 1`, and `S(p) = -1` for `p > 3`.
//! - A window with a detection is worth `max(-fn_weight, tp_weight S(p) / S(-1))` over its
//!   detected rows, which is the earliest detection's reward; a window without one costs
//!   `-fn_weight`.
//! - A detection outside every window costs `fp_weight S(p)` with `p = (i - r) / (w - 1)`
//!   measured from the last row `r` of the previous window (of width `w`): little just after a
//!   window, the full `-fp_weight` from three widths on, and before the first window. A window
//!   of one row leaves no width to measure by, so every false positive after it costs the full
//!   weight (NAB itself divides by zero there).
//! - A file's raw score is the sum of these; a corpus's is the sum over its files.
//!
//! One threshold for the whole corpus turns anomaly scores into detections (`score >= threshold`)
//! and [`score_corpus`] picks the one that maximises the raw score, as NAB's optimiser does. The
//! raw score is then normalised to `100 (raw - null) / (perfect - null)`, where `perfect` is
//! `tp_weight` for every window of the scored files and `null` is what NAB's null detector (one
//! constant score everywhere) achieves at its own best threshold: on any realistic corpus, not
//! firing at all.
//!
//! Counts follow NAB's scores files: `tp`, `fp`, `fn_` and `tn` count scorable *rows* (detected
//! window rows, detected rows outside windows, undetected window rows, the rest), while
//! `windows` and `windows_detected` count windows.
//!
//! # Why the sweep is incremental
//!
//! Rescoring the corpus for every distinct anomaly score would be quadratic in the corpus size.
//! Instead every scorable row of every file is sorted once by anomaly score, highest first, and
//! the threshold is lowered past one row at a time: a row outside windows adds its false-positive
//! cost, a row inside a window may raise that window's reward, and the corpus total is updated by
//! the difference (with compensated summation). The best threshold comes out of one pass; the
//! few candidates within rounding distance of the best are then rescored from scratch, so the
//! choice does not hinge on the order in which floating-point terms were added. Ties go to the
//! highest threshold, as in NAB.
//!
//! # Example
//!
//! ```
//! use kubesage_ml::anomaly::nab_score::{score_corpus, FileScores, Profile, Windows};
//!
//! // 100 one-minute rows with one window on rows 40..=49.
//! let timestamps: Vec<i64> = (0..100).map(|i| i * 60).collect();
//! let windows = Windows::new([("demo/a.csv", vec![(40 * 60, 49 * 60)])])?;
//! let mut scores = vec![0.0; 100];
//! scores[40] = 0.9; // fires on the window's first row and nowhere else
//! let files = [FileScores { file: "demo/a.csv".into(), timestamps, scores }];
//! let s = score_corpus(&files, &windows, "standard", &Profile::STANDARD);
//! assert_eq!(s.threshold, 0.9);
//! assert!((s.normalized - 100.0).abs() < 1e-9);
//! # Ok::<(), kubesage_ml::Error>(())
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Fraction of each file that is probationary.
const PROBATION_FRACTION: f64 = 0.15;
/// Upper bound on the probationary rows (NAB: 15% of 5000 rows).
const PROBATION_MAX_ROWS: f64 = 750.0;
/// The threshold NAB reports when nothing is detected (scores lie in `[0, 1]`).
const NO_DETECTION_THRESHOLD: f64 = 1.1;
/// Marks a scorable row outside every window.
const OUTSIDE: u32 = u32::MAX;
/// How many near-best thresholds are rescored from scratch at most.
const MAX_RESCORED: usize = 32;

/// Cost weights of a scoring profile.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct Profile {
    /// Reward for detecting a window at its very start.
    pub tp_weight: f64,
    /// Cost of a detection far from any window.
    pub fp_weight: f64,
    /// Cost of a window without a detection.
    pub fn_weight: f64,
}

impl Profile {
    /// NAB's `standard` profile.
    pub const STANDARD: Profile = Profile { tp_weight: 1.0, fp_weight: 0.11, fn_weight: 1.0 };
    /// NAB's `reward_low_FP_rate` profile: false positives cost twice as much.
    pub const REWARD_LOW_FP: Profile = Profile { tp_weight: 1.0, fp_weight: 0.22, fn_weight: 1.0 };
    /// NAB's `reward_low_FN_rate` profile: missed windows cost twice as much.
    pub const REWARD_LOW_FN: Profile = Profile { tp_weight: 1.0, fp_weight: 0.11, fn_weight: 2.0 };

    /// The three NAB profiles under their NAB names.
    pub fn all() -> [(&'static str, Profile); 3] {
        [
            ("standard", Profile::STANDARD),
            ("reward_low_FP_rate", Profile::REWARD_LOW_FP),
            ("reward_low_FN_rate", Profile::REWARD_LOW_FN),
        ]
    }

    /// The NAB profile of that name, if any.
    pub fn by_name(name: &str) -> Option<Profile> {
        Profile::all().into_iter().find(|(n, _)| *n == name).map(|(_, p)| p)
    }

    /// Reads NAB's `profiles.json`
    /// (`{"standard": {"CostMatrix": {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 1.0}}}`),
    /// sorted by name.
    pub fn from_nab_json(text: &str) -> Result<Vec<(String, Profile)>> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::Nab(format!("profiles: invalid JSON: {e}")))?;
        let map = value.as_object().ok_or_else(|| Error::Nab("profiles: expected an object of profiles".into()))?;
        let mut out = Vec::with_capacity(map.len());
        for (name, body) in map {
            let weight = |key: &str| {
                body.get("CostMatrix")
                    .and_then(|m| m.get(key))
                    .and_then(serde_json::Value::as_f64)
                    .ok_or_else(|| Error::Nab(format!("profiles: {name:?} has no numeric CostMatrix.{key}")))
            };
            out.push((
                name.clone(),
                Profile {
                    tp_weight: weight("tpWeight")?,
                    fp_weight: weight("fpWeight")?,
                    fn_weight: weight("fnWeight")?,
                },
            ));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

/// Anomaly windows per file, keyed like combined_windows.json
/// (`"realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv"`).
///
/// Invariant: each file's windows are sorted, each has `start <= end`, and they do not overlap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Windows {
    by_file: BTreeMap<String, Vec<(i64, i64)>>,
}

impl Windows {
    /// Builds windows from `(file, [(start, end)])` pairs in Unix seconds, sorting each file's
    /// windows; an inverted or overlapping window is an error.
    pub fn new<K: Into<String>>(entries: impl IntoIterator<Item = (K, Vec<(i64, i64)>)>) -> Result<Windows> {
        let mut by_file = BTreeMap::new();
        for (file, mut spans) in entries {
            let file = file.into();
            spans.sort_unstable();
            for &(start, end) in &spans {
                if start > end {
                    return Err(Error::Nab(format!("windows: {file}: window ends ({end}) before it starts ({start})")));
                }
            }
            for pair in spans.windows(2) {
                if pair[1].0 <= pair[0].1 {
                    return Err(Error::Nab(format!(
                        "windows: {file}: windows {:?} and {:?} overlap",
                        pair[0], pair[1]
                    )));
                }
            }
            by_file.insert(file, spans);
        }
        Ok(Windows { by_file })
    }

    /// Parses NAB's `combined_windows.json`: an object mapping each file to a list of
    /// `[start, end]` pairs, timestamps like `"2014-02-19 10:50:00.000000"` (taken as UTC; Unix
    /// seconds as integers are accepted too).
    pub fn from_json(text: &str) -> Result<Windows> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::Nab(format!("windows: invalid JSON: {e}")))?;
        let map = value.as_object().ok_or_else(|| Error::Nab("windows: expected an object keyed by file".into()))?;
        let mut entries = Vec::with_capacity(map.len());
        for (file, list) in map {
            let list =
                list.as_array().ok_or_else(|| Error::Nab(format!("windows: {file}: expected a list of windows")))?;
            let mut spans = Vec::with_capacity(list.len());
            for (i, pair) in list.iter().enumerate() {
                let bounds = pair.as_array().filter(|b| b.len() == 2).ok_or_else(|| {
                    Error::Nab(format!("windows: {file}: window {i} is not a [start, end] pair: {pair}"))
                })?;
                let time = |v: &serde_json::Value| match v {
                    serde_json::Value::String(s) => parse_timestamp(s),
                    serde_json::Value::Number(n) => n.as_i64(),
                    _ => None,
                };
                let (Some(start), Some(end)) = (time(&bounds[0]), time(&bounds[1])) else {
                    return Err(Error::Nab(format!("windows: {file}: window {i} has a malformed timestamp: {pair}")));
                };
                spans.push((start, end));
            }
            entries.push((file.clone(), spans));
        }
        Windows::new(entries)
    }

    /// The file's windows as inclusive `[start, end]` Unix seconds, sorted; empty when the file
    /// has none or is unknown.
    pub fn get(&self, file: &str) -> &[(i64, i64)] {
        self.by_file.get(file).map_or(&[], Vec::as_slice)
    }

    /// The files listed, sorted, including those without windows.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.by_file.keys().map(String::as_str)
    }

    /// The number of windows over all files.
    pub fn count(&self) -> usize {
        self.by_file.values().map(Vec::len).sum()
    }
}

/// Parses NAB timestamps ("YYYY-MM-DD HH:MM:SS" with optional fraction) to unix seconds (UTC).
///
/// A `T` may stand for the space; the fraction is dropped. Anything else, including an
/// impossible date such as February 30th, gives `None`.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 19 {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        b[range].iter().try_fold(0i64, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0')))
    };
    let separators = b[4] == b'-' && b[7] == b'-' && (b[10] == b' ' || b[10] == b'T') && b[13] == b':' && b[16] == b':';
    if !separators {
        return None;
    }
    match &b[19..] {
        [] => {}
        [b'.', digits @ ..] if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => {}
        _ => return None,
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// One detector's output for one file.
///
/// Rows are paired by position; surplus entries of the longer vector are ignored, rows are
/// taken in timestamp order, and a score that is not finite is never a detection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileScores {
    /// The file's key, as in [`Windows`] (`category/name.csv`).
    pub file: String,
    /// Row timestamps, Unix seconds.
    pub timestamps: Vec<i64>,
    /// Anomaly scores, normally in `[0, 1]`.
    pub scores: Vec<f64>,
}

impl FileScores {
    /// Parses a results CSV with a header naming at least `timestamp` and `anomaly_score`
    /// (NAB writes `timestamp,value,anomaly_score,label` and may append more columns).
    /// `origin` names the file in errors.
    pub fn from_csv(file: impl Into<String>, text: &str, origin: &str) -> Result<FileScores> {
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = lines.next().ok_or_else(|| Error::Nab(format!("{origin}: empty file")))?;
        let columns: Vec<&str> = header.split(',').map(|c| c.trim().trim_matches('"')).collect();
        let column = |name: &str| {
            columns.iter().position(|c| *c == name).ok_or_else(|| {
                Error::Nab(format!("{origin}: line 1: no {name:?} column in header {:?}", header.trim()))
            })
        };
        let (ts_col, score_col) = (column("timestamp")?, column("anomaly_score")?);
        let mut out = FileScores { file: file.into(), timestamps: Vec::new(), scores: Vec::new() };
        for (i, line) in lines {
            let fields: Vec<&str> = line.split(',').map(|c| c.trim().trim_matches('"')).collect();
            let field = |col: usize| {
                fields.get(col).copied().ok_or_else(|| {
                    Error::Nab(format!(
                        "{origin}: line {}: {} fields, header has {}",
                        i + 1,
                        fields.len(),
                        columns.len()
                    ))
                })
            };
            let (ts, score) = (field(ts_col)?, field(score_col)?);
            let t = parse_timestamp(ts)
                .ok_or_else(|| Error::Nab(format!("{origin}: line {}: {ts:?} is not a timestamp", i + 1)))?;
            let s = score.parse::<f64>().map_err(|_| {
                Error::Nab(format!("{origin}: line {}: anomaly score {score:?} is not a number", i + 1))
            })?;
            out.timestamps.push(t);
            out.scores.push(s);
        }
        if out.timestamps.is_empty() {
            return Err(Error::Nab(format!("{origin}: no data rows")));
        }
        Ok(out)
    }
}

/// Result for a corpus under one profile.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CorpusScore {
    /// The profile's name (`"custom"` from [`score_at`] with weights that are no NAB profile's).
    pub profile: String,
    /// Rows with `anomaly_score >= threshold` are detections.
    pub threshold: f64,
    /// The raw NAB score: the sum of window rewards and costs over the corpus.
    pub raw: f64,
    /// `raw` scaled so that the null detector scores 0 and a perfect one 100.
    pub normalized: f64,
    /// Detected rows inside windows (NAB's `TP`).
    pub tp: usize,
    /// Detected rows outside windows (NAB's `FP`).
    pub fp: usize,
    /// Undetected rows inside windows (NAB's `FN`).
    pub fn_: usize,
    /// Undetected rows outside windows (NAB's `TN`).
    pub tn: usize,
    /// Windows with at least one scorable row.
    pub windows: usize,
    /// Of those, the windows with a detection.
    pub windows_detected: usize,
    /// Each file's raw score, in the order given.
    pub per_file: Vec<(String, f64)>,
}

/// Scores with a fixed threshold (detections are rows with score >= threshold).
pub fn score_at(files: &[FileScores], windows: &Windows, profile: &Profile, threshold: f64) -> CorpusScore {
    let name = Profile::all().into_iter().find(|(_, p)| p == profile).map_or("custom", |(n, _)| n);
    let corpus = Corpus::new(files, windows);
    corpus.score(name, profile, threshold)
}

/// Sweeps the threshold to maximise the corpus's raw score, as NAB does, and normalises
/// so that the null detector scores 0 and a perfect one 100.
pub fn score_corpus(files: &[FileScores], windows: &Windows, profile_name: &str, profile: &Profile) -> CorpusScore {
    let corpus = Corpus::new(files, windows);
    let threshold = corpus.best_threshold(profile);
    corpus.score(profile_name, profile, threshold)
}

/// Reads a results folder in NAB's layout: `DIR/<category>/<detector>_<name>.csv` (or
/// `DIR/<detector>/<category>/...`) with columns `timestamp,value,anomaly_score[,label]`;
/// returns [`FileScores`] keyed `category/name.csv`.
///
/// With a detector name, `DIR/<detector>` is used when it is a folder and files without the
/// `<detector>_` prefix are skipped. Without one, the folder's own name is taken as the
/// detector (NAB's `results/<detector>`) and stripped where files carry it. Files directly in
/// the folder (NAB's `*_scores.csv`) are not results. The files come back sorted by key; a
/// folder without any results is an error.
pub fn read_results(dir: &Path, detector: Option<&str>) -> Result<Vec<FileScores>> {
    let root = match detector {
        Some(d) if dir.join(d).is_dir() => dir.join(d),
        _ => dir.to_owned(),
    };
    let inferred = root.file_name().and_then(|n| n.to_str()).map(str::to_owned);
    let prefix = detector.map(str::to_owned).or(inferred).map(|d| format!("{d}_"));
    let mut out = Vec::new();
    for category in sorted_entries(&root)? {
        if !category.is_dir() {
            continue;
        }
        let Some(category_name) = category.file_name().and_then(|n| n.to_str()) else { continue };
        for path in sorted_entries(&category)? {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
            if !path.is_file() || !name.ends_with(".csv") {
                continue;
            }
            let stripped = match prefix.as_deref().and_then(|p| name.strip_prefix(p)) {
                Some(rest) => rest,
                None if detector.is_some() => continue, // another detector's file
                None => name,
            };
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
            out.push(FileScores::from_csv(format!("{category_name}/{stripped}"), &text, &path.display().to_string())?);
        }
    }
    if out.is_empty() {
        let whose = detector.map(|d| format!(" of detector {d:?}")).unwrap_or_default();
        return Err(Error::Nab(format!("no results{whose} under {}/<category>/", root.display())));
    }
    out.sort_by(|a, b| a.file.cmp(&b.file));
    for pair in out.windows(2) {
        if pair[0].file == pair[1].file {
            return Err(Error::Nab(format!("{}: two results files for {}", root.display(), pair[0].file)));
        }
    }
    Ok(out)
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let io = |source| Error::Io { path: dir.to_owned(), source };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        paths.push(entry.map_err(io)?.path());
    }
    paths.sort();
    Ok(paths)
}

/// The number of probationary rows of a file of `rows` rows, computed in floating point as NAB
/// does.
pub fn probationary_rows(rows: usize) -> usize {
    // Both operands are non-negative and at most 750, so the cast is exact.
    (PROBATION_FRACTION * rows as f64).floor().min(PROBATION_MAX_ROWS) as usize
}

/// NAB's scaled sigmoid `S(p) = 2 sigmoid(-5p) - 1`, and `-1` for `p > 3`.
pub fn scaled_sigmoid(position: f64) -> f64 {
    if position > 3.0 { -1.0 } else { 2.0 * (1.0 / (1.0 + (5.0 * position).exp())) - 1.0 }
}

/// One row after the probationary period.
#[derive(Debug, Clone, Copy)]
struct Scorable {
    /// The anomaly score.
    score: f64,
    /// The file-local window it falls in, or [`OUTSIDE`].
    window: u32,
    /// `S(p)` at its position: the reward if in a window, the cost factor if not.
    sigmoid: f64,
}

/// A file reduced to what scoring needs; independent of profile and threshold.
#[derive(Debug)]
struct PreparedFile<'a> {
    key: &'a str,
    rows: Vec<Scorable>,
    /// Windows with at least one scorable row; the window ids of `rows` count these.
    scorable_windows: usize,
    /// Every window listed for the file, scorable or not.
    listed_windows: usize,
}

impl<'a> PreparedFile<'a> {
    fn new(file: &'a FileScores, spans: &[(i64, i64)]) -> PreparedFile<'a> {
        let n = file.timestamps.len().min(file.scores.len());
        let mut rows: Vec<(i64, f64)> =
            file.timestamps.iter().copied().zip(file.scores.iter().copied()).take(n).collect();
        if rows.windows(2).any(|w| w[0].0 > w[1].0) {
            rows.sort_by_key(|r| r.0); // stable: equal timestamps keep their order
        }
        let probation = probationary_rows(n);
        // Row ranges of windows that contain rows; sorted and disjoint because the windows are.
        let ranges: Vec<(usize, usize)> = spans
            .iter()
            .filter_map(|&(start, end)| {
                let first = rows.partition_point(|r| r.0 < start);
                let past = rows.partition_point(|r| r.0 <= end);
                (first < past).then(|| (first, past - 1))
            })
            .collect();
        let mut out = Vec::with_capacity(n.saturating_sub(probation));
        let mut next = 0; // the first range not yet behind row i
        let mut previous: Option<(usize, usize)> = None;
        let mut ids = 0u32;
        let mut current_id: Option<u32> = None;
        for (i, &(_, score)) in rows.iter().enumerate() {
            while next < ranges.len() && ranges[next].1 < i {
                previous = Some(ranges[next]);
                next += 1;
                current_id = None;
            }
            if i < probation {
                continue;
            }
            match ranges.get(next) {
                Some(&(first, last)) if first <= i => {
                    let width = (last - first + 1) as f64;
                    let position = -((last - i + 1) as f64) / width;
                    let id = *current_id.get_or_insert_with(|| {
                        ids += 1;
                        ids - 1
                    });
                    out.push(Scorable { score, window: id, sigmoid: scaled_sigmoid(position) });
                }
                _ => {
                    let sigmoid = match previous {
                        None => -1.0,
                        Some((first, last)) => {
                            let width = (last - first + 1) as f64;
                            // A one-row window gives (i - last) / 0 = +inf, past 3: full cost.
                            scaled_sigmoid((i - last) as f64 / (width - 1.0))
                        }
                    };
                    out.push(Scorable { score, window: OUTSIDE, sigmoid });
                }
            }
        }
        PreparedFile { key: &file.file, rows: out, scorable_windows: ids as usize, listed_windows: spans.len() }
    }

    /// The file's score when `detected` says which anomaly scores are detections.
    fn tally(&self, profile: &Profile, detected: impl Fn(f64) -> bool) -> Tally {
        let max_tp = scaled_sigmoid(-1.0);
        let mut best = vec![-profile.fn_weight; self.scorable_windows];
        let mut hit = vec![false; self.scorable_windows];
        let mut t = Tally { windows: self.scorable_windows, ..Tally::default() };
        let mut fp_cost = 0.0;
        for row in &self.rows {
            let d = detected(row.score);
            match (row.window, d) {
                (OUTSIDE, true) => {
                    t.fp += 1;
                    fp_cost += row.sigmoid * profile.fp_weight;
                }
                (OUTSIDE, false) => t.tn += 1,
                (w, true) => {
                    t.tp += 1;
                    let w = w as usize;
                    hit[w] = true;
                    best[w] = best[w].max(row.sigmoid * profile.tp_weight / max_tp);
                }
                (_, false) => t.fn_ += 1,
            }
        }
        t.windows_detected = hit.iter().filter(|h| **h).count();
        t.raw = fp_cost + best.iter().sum::<f64>();
        t
    }
}

/// One file's (or the corpus's) outcome at one threshold.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    raw: f64,
    tp: usize,
    fp: usize,
    fn_: usize,
    tn: usize,
    windows: usize,
    windows_detected: usize,
}

/// Whether an anomaly score is a detection at `threshold`.
fn fires(score: f64, threshold: f64) -> bool {
    score.is_finite() && score >= threshold
}

/// The files of a corpus, prepared once for any number of thresholds.
struct Corpus<'a> {
    files: Vec<PreparedFile<'a>>,
}

impl<'a> Corpus<'a> {
    fn new(files: &'a [FileScores], windows: &Windows) -> Corpus<'a> {
        Corpus { files: files.iter().map(|f| PreparedFile::new(f, windows.get(&f.file))).collect() }
    }

    fn raw_at(&self, profile: &Profile, threshold: f64) -> f64 {
        let mut sum = CompensatedSum::default();
        for f in &self.files {
            sum.add(f.tally(profile, |s| fires(s, threshold)).raw);
        }
        sum.value()
    }

    /// The null detector's raw score: one constant score everywhere, at its best threshold,
    /// which either detects nothing or every row.
    fn null_raw(&self, profile: &Profile) -> f64 {
        let (mut none, mut all) = (CompensatedSum::default(), CompensatedSum::default());
        for f in &self.files {
            none.add(f.tally(profile, |_| false).raw);
            all.add(f.tally(profile, |_| true).raw);
        }
        none.value().max(all.value())
    }

    fn perfect_raw(&self, profile: &Profile) -> f64 {
        profile.tp_weight * self.files.iter().map(|f| f.listed_windows).sum::<usize>() as f64
    }

    fn score(&self, profile_name: &str, profile: &Profile, threshold: f64) -> CorpusScore {
        let mut total = Tally::default();
        let mut raw = CompensatedSum::default();
        let mut per_file = Vec::with_capacity(self.files.len());
        for f in &self.files {
            let t = f.tally(profile, |s| fires(s, threshold));
            raw.add(t.raw);
            total.tp += t.tp;
            total.fp += t.fp;
            total.fn_ += t.fn_;
            total.tn += t.tn;
            total.windows += t.windows;
            total.windows_detected += t.windows_detected;
            per_file.push((f.key.to_owned(), t.raw));
        }
        let raw = raw.value();
        let (null, perfect) = (self.null_raw(profile), self.perfect_raw(profile));
        // Without anything to detect the scale is undefined; report 0 rather than NaN.
        let normalized = if perfect > null { 100.0 * (raw - null) / (perfect - null) } else { 0.0 };
        CorpusScore {
            profile: profile_name.to_owned(),
            threshold,
            raw,
            normalized,
            tp: total.tp,
            fp: total.fp,
            fn_: total.fn_,
            tn: total.tn,
            windows: total.windows,
            windows_detected: total.windows_detected,
            per_file,
        }
    }

    /// The threshold with the highest raw score, the highest one on ties; see the module docs.
    fn best_threshold(&self, profile: &Profile) -> f64 {
        let max_tp = scaled_sigmoid(-1.0);
        // (score, global window id or OUTSIDE, weighted value)
        let mut events: Vec<(f64, u32, f64)> = Vec::new();
        let mut window_base = 0u32;
        for f in &self.files {
            for row in f.rows.iter().filter(|r| r.score.is_finite()) {
                events.push(if row.window == OUTSIDE {
                    (row.score, OUTSIDE, row.sigmoid * profile.fp_weight)
                } else {
                    (row.score, window_base + row.window, row.sigmoid * profile.tp_weight / max_tp)
                });
            }
            window_base += f.scorable_windows as u32;
        }
        events.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));

        let mut state = vec![-profile.fn_weight; window_base as usize];
        let mut total = CompensatedSum::default();
        for &v in &state {
            total.add(v);
        }
        let none = match events.first() {
            Some(&(top, _, _)) if top >= NO_DETECTION_THRESHOLD => top.next_up(),
            _ => NO_DETECTION_THRESHOLD,
        };
        // The raw score after lowering the threshold to each distinct anomaly score, highest first.
        let mut curve = Vec::with_capacity(events.len() + 1);
        curve.push((none, total.value()));
        let mut i = 0;
        while i < events.len() {
            let threshold = events[i].0;
            while i < events.len() && events[i].0 == threshold {
                let (_, window, value) = events[i];
                if window == OUTSIDE {
                    total.add(value);
                } else {
                    let current = &mut state[window as usize];
                    let raised = current.max(value);
                    total.add(raised - *current);
                    *current = raised;
                }
                i += 1;
            }
            curve.push((threshold, total.value()));
        }

        let best = curve.iter().map(|c| c.1).fold(f64::NEG_INFINITY, f64::max);
        let tolerance = 1e-9 * (1.0 + best.abs());
        // Near-best candidates, the highest threshold of each distinct total, best totals first.
        let mut seen = HashSet::new();
        let mut candidates: Vec<(usize, f64, f64)> = curve
            .iter()
            .enumerate()
            .filter(|(_, c)| c.1 >= best - tolerance && seen.insert(c.1.to_bits()))
            .map(|(order, &(threshold, total))| (order, threshold, total))
            .collect();
        candidates.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        candidates.truncate(MAX_RESCORED);
        if candidates.len() == 1 {
            return candidates[0].1;
        }
        let mut chosen: Option<(usize, f64, f64)> = None; // (order, threshold, exact raw)
        for (order, threshold, _) in candidates {
            let raw = self.raw_at(profile, threshold);
            let better = match chosen {
                None => true,
                Some((o, _, r)) => raw > r || (raw == r && order < o),
            };
            if better {
                chosen = Some((order, threshold, raw));
            }
        }
        chosen.map_or(none, |c| c.1)
    }
}

/// Neumaier's compensated summation: the sweep adds one difference per row, and plain
/// summation would let rounding pick between nearly equal thresholds.
#[derive(Debug, Clone, Copy, Default)]
struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Some(0));
        assert_eq!(parse_timestamp("2014-02-19 10:50:00.000000"), Some(1_392_807_000));
        assert_eq!(parse_timestamp("2023-11-14T22:13:20"), Some(1_700_000_000));
        assert_eq!(parse_timestamp("2000-02-29 00:00:00"), Some(951_782_400));
        assert_eq!(parse_timestamp("1969-12-31 23:59:59"), Some(-1));
        for bad in [
            "",
            "2014-02-19",
            "2014-02-19 10:50",
            "2014-02-19 10:50:00.",
            "2014-02-19 10:50:00.1x",
            "2014-02-19 10:50:00Z",
            "2014-13-01 00:00:00",
            "2014-02-29 00:00:00",
            "1900-02-29 00:00:00",
            "2014-02-19 24:00:00",
            "2014/02/19 10:50:00",
            "2014-02-19 1a:50:00",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn probation_matches_nab_rounding() {
        assert_eq!(probationary_rows(0), 0);
        assert_eq!(probationary_rows(100), 15);
        assert_eq!(probationary_rows(4032), 604);
        assert_eq!(probationary_rows(5000), 750);
        assert_eq!(probationary_rows(22_695), 750);
    }

    #[test]
    fn sigmoid_landmarks() {
        // 2 sigmoid(x) - 1 = tanh(x / 2)
        assert!((scaled_sigmoid(-1.0) - 2.5f64.tanh()).abs() < 1e-15);
        assert_eq!(scaled_sigmoid(0.0), 0.0);
        assert!((scaled_sigmoid(-0.5) - 0.848_283_639_957_5).abs() < 1e-12);
        assert!((scaled_sigmoid(3.0) + 7.5f64.tanh()).abs() < 1e-15);
        assert_eq!(scaled_sigmoid(3.000_001), -1.0);
        assert_eq!(scaled_sigmoid(f64::INFINITY), -1.0);
    }

    #[test]
    fn compensated_sum_keeps_small_terms() {
        let mut s = CompensatedSum::default();
        s.add(1e16);
        for _ in 0..10 {
            s.add(1.0);
        }
        s.add(-1e16);
        assert_eq!(s.value(), 10.0);
    }
}
