//! `kubesage anomaly`: detect anomalies in a CSV series or Prometheus query results, run
//! detectors over the NAB layout, and score NAB results.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use kubesage_core::{AnomalyPoint, Finding, Series, anomaly_finding};
use kubesage_ml::anomaly::nab_score::{self, Profile, Windows};
use kubesage_ml::anomaly::{DETECTORS, csv, detector, nab};
use serde::Serialize;

use crate::error::{Error, Result};

/// `kubesage anomaly ...`.
#[derive(Debug, Clone, Args)]
pub struct AnomalyArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AnomalyCommand,
}

/// The anomaly commands.
#[derive(Debug, Clone, Subcommand)]
pub enum AnomalyCommand {
    /// Score a series from a CSV file or a Prometheus query.
    Detect(DetectArgs),
    /// Run a detector over every CSV of a NAB-style data folder and write NAB results.
    Nab(NabArgs),
    /// Score NAB results (threshold sweep, three profiles, normalised to 0-100).
    Score(ScoreArgs),
    /// List the detectors.
    Detectors,
}

/// Output formats of `anomaly detect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DetectOutput {
    /// `timestamp,value,anomaly_score` rows (with a `series` column for several series).
    Csv,
    /// One JSON object with the series, their anomalies and findings.
    Json,
}

/// Arguments of `anomaly detect`.
#[derive(Debug, Clone, Args)]
pub struct DetectArgs {
    /// A CSV file with `timestamp,value` rows (`-` for stdin).
    #[arg(long, value_name = "FILE", conflicts_with = "prometheus", required_unless_present = "prometheus")]
    pub csv: Option<PathBuf>,
    /// A Prometheus server's base URL.
    #[arg(long, value_name = "URL", requires = "query")]
    pub prometheus: Option<String>,
    /// The PromQL query (a range query over --start..--end).
    #[arg(long, value_name = "PROMQL")]
    pub query: Option<String>,
    /// Range start: Unix seconds, RFC 3339, `now` or `now-6h`.
    #[arg(long, value_name = "TIME", default_value = "now-6h")]
    pub start: String,
    /// Range end.
    #[arg(long, value_name = "TIME", default_value = "now")]
    pub end: String,
    /// Range step: `60`, `30s`, `5m`, `1h`.
    #[arg(long, value_name = "STEP", default_value = "1m")]
    pub step: String,
    /// The detector.
    #[arg(long, default_value = "default")]
    pub detector: String,
    /// Scores at or above this are reported as anomalies.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "csv")]
    pub output: DetectOutput,
    /// Seconds to wait for Prometheus.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

/// Arguments of `anomaly nab`.
#[derive(Debug, Clone, Args)]
pub struct NabArgs {
    /// The data folder (`<category>/<name>.csv`).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Where to write `<detector>/<category>/<detector>_<name>.csv`.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The detector, or `all`.
    #[arg(long, default_value = "default")]
    pub detector: String,
}

/// Arguments of `anomaly score`.
#[derive(Debug, Clone, Args)]
pub struct ScoreArgs {
    /// A results folder (`<detector>/<category>/<detector>_<name>.csv`).
    #[arg(long, value_name = "DIR")]
    pub results: PathBuf,
    /// NAB's `combined_windows.json`.
    #[arg(long, value_name = "FILE")]
    pub windows: PathBuf,
    /// Only this detector's results (default: every detector folder found).
    #[arg(long)]
    pub detector: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs an anomaly command.
pub fn run(args: &AnomalyArgs, out: &mut dyn Write) -> Result<u8> {
    match &args.command {
        AnomalyCommand::Detect(a) => detect(a, out),
        AnomalyCommand::Nab(a) => run_nab(a, out),
        AnomalyCommand::Score(a) => score(a, out),
        AnomalyCommand::Detectors => {
            for d in DETECTORS {
                writeln!(out, "{d}").map_err(output)?;
            }
            Ok(0)
        }
    }
}

fn output(e: std::io::Error) -> Error {
    Error::Output(e.to_string())
}

#[derive(Serialize)]
struct DetectReport {
    detector: String,
    threshold: f64,
    series: Vec<SeriesReport>,
    findings: Vec<Finding>,
}

#[derive(Serialize)]
struct SeriesReport {
    name: String,
    labels: std::collections::BTreeMap<String, String>,
    object: Option<kubesage_core::ObjectRef>,
    points: usize,
    max_score: f64,
    anomalies: Vec<AnomalyOut>,
}

#[derive(Serialize)]
struct AnomalyOut {
    timestamp: i64,
    time: String,
    value: f64,
    score: f64,
}

fn detect(args: &DetectArgs, out: &mut dyn Write) -> Result<u8> {
    detector(&args.detector)?;
    if !(0.0..=1.0).contains(&args.threshold) {
        return Err(Error::Usage(format!("--threshold must be within 0 and 1, got {}", args.threshold)));
    }
    let (series, raw_csv): (Vec<Series>, Option<csv::CsvSeries>) = match (&args.csv, &args.prometheus) {
        (Some(path), _) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
                    .map_err(|source| Error::Io { path: "stdin".into(), source })?
            } else {
                std::fs::read_to_string(path)
                    .map_err(|source| Error::Io { path: path.display().to_string(), source })?
            };
            let parsed = csv::read_series(&text, &path.display().to_string())?;
            let mut s = Series::new(parsed.timestamps.clone(), parsed.values.clone());
            s.labels.insert("__name__".into(), path.display().to_string().into());
            (vec![s], Some(parsed))
        }
        (None, Some(url)) => (query_prometheus(args, url)?, None),
        (None, None) => return Err(Error::Usage("give --csv FILE or --prometheus URL --query PROMQL".into())),
    };

    let mut reports = Vec::new();
    let mut findings = Vec::new();
    let mut all_scores = Vec::new();
    for s in &series {
        let mut d = detector(&args.detector)?;
        let scores = d.score_batch(&s.timestamps, &s.values);
        let anomalies: Vec<AnomalyPoint> = s
            .timestamps
            .iter()
            .zip(&s.values)
            .zip(&scores)
            .filter(|(_, score)| **score >= args.threshold)
            .map(|((&timestamp, &value), &score)| AnomalyPoint { timestamp, value, score })
            .collect();
        if let Some(f) = anomaly_finding(s, &anomalies, &args.detector) {
            findings.push(f);
        }
        reports.push(SeriesReport {
            name: s.display_name(),
            labels: s.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            object: kubesage_core::anomaly::object_of(&s.labels),
            points: s.values.len(),
            max_score: scores.iter().copied().fold(0.0, f64::max),
            anomalies: anomalies
                .iter()
                .map(|a| AnomalyOut {
                    timestamp: a.timestamp,
                    time: kubesage_core::time::format_rfc3339(a.timestamp),
                    value: a.value,
                    score: a.score,
                })
                .collect(),
        });
        all_scores.push(scores);
    }

    match args.output {
        DetectOutput::Json => {
            let report =
                DetectReport { detector: args.detector.clone(), threshold: args.threshold, series: reports, findings };
            let text = serde_json::to_string_pretty(&report).map_err(|e| Error::Output(e.to_string()))?;
            writeln!(out, "{text}").map_err(output)?;
        }
        DetectOutput::Csv => match raw_csv {
            Some(parsed) => {
                let scores = all_scores.first().map(Vec::as_slice).unwrap_or_default();
                out.write_all(csv::write_scores(&parsed, scores, None).as_bytes()).map_err(output)?;
            }
            None => {
                writeln!(out, "series,timestamp,value,anomaly_score").map_err(output)?;
                for (s, scores) in series.iter().zip(&all_scores) {
                    let name = s.display_name().replace('"', "\"\"");
                    for ((t, v), score) in s.timestamps.iter().zip(&s.values).zip(scores) {
                        let time = kubesage_core::time::format_rfc3339(*t);
                        let value = if v.is_nan() { String::new() } else { v.to_string() };
                        writeln!(out, "\"{name}\",{time},{value},{score:.6}").map_err(output)?;
                    }
                }
            }
        },
    }
    Ok(0)
}

fn query_prometheus(args: &DetectArgs, url: &str) -> Result<Vec<Series>> {
    use kubesage_k8s::prometheus::{PrometheusClient, parse_step, parse_time};
    let query = args.query.as_deref().unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let start =
        parse_time(&args.start, now).ok_or_else(|| Error::Usage(format!("--start {:?} is not a time", args.start)))?;
    let end = parse_time(&args.end, now).ok_or_else(|| Error::Usage(format!("--end {:?} is not a time", args.end)))?;
    let step = parse_step(&args.step).ok_or_else(|| Error::Usage(format!("--step {:?} is not a step", args.step)))?;
    if end < start {
        return Err(Error::Usage("--end is before --start".into()));
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)?;
    runtime.block_on(async {
        let client = PrometheusClient::new(url, Duration::from_secs(args.timeout))?;
        Ok(client.query_range(query, start, end, step).await?)
    })
}

fn run_nab(args: &NabArgs, out: &mut dyn Write) -> Result<u8> {
    let windows = match nab::find_windows(&args.data) {
        Some(path) => Some(read_windows(&path)?),
        None => None,
    };
    let names: Vec<&str> = if args.detector == "all" { DETECTORS.to_vec() } else { vec![args.detector.as_str()] };
    for name in names {
        let started = std::time::Instant::now();
        let files = nab::run(&args.data, Some(&args.out), name, windows.as_ref())?;
        let points: usize = files.iter().map(|f| f.scores.len()).sum();
        write!(out, "{name}: {} files, {points} points in {:.2}s", files.len(), started.elapsed().as_secs_f64())
            .map_err(output)?;
        if let Some(w) = &windows {
            let scored: Vec<nab_score::FileScores> = files.into_iter().map(Into::into).collect();
            let s = nab_score::score_corpus(&scored, w, "standard", &Profile::STANDARD);
            write!(out, "; NAB standard score {:.1}", s.normalized).map_err(output)?;
        }
        writeln!(out).map_err(output)?;
    }
    Ok(0)
}

fn read_windows(path: &std::path::Path) -> Result<Windows> {
    let text =
        std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
    Ok(Windows::from_json(&text)?)
}

fn score(args: &ScoreArgs, out: &mut dyn Write) -> Result<u8> {
    let windows = read_windows(&args.windows)?;
    let detectors: Vec<String> = match &args.detector {
        Some(d) => vec![d.clone()],
        None => {
            let mut found: Vec<String> = std::fs::read_dir(&args.results)
                .map_err(|source| Error::Io { path: args.results.display().to_string(), source })?
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .collect();
            found.sort();
            found
        }
    };
    let mut rows = Vec::new();
    for d in &detectors {
        let dir = if args.results.join(d).is_dir() { args.results.join(d) } else { args.results.clone() };
        let files = nab_score::read_results(&dir, Some(d))?;
        for (profile_name, profile) in Profile::all() {
            rows.push((d.clone(), nab_score::score_corpus(&files, &windows, profile_name, &profile)));
        }
    }
    if args.json {
        let json: Vec<_> = rows.iter().map(|(d, s)| serde_json::json!({"detector": d, "score": s})).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&json).map_err(|e| Error::Output(e.to_string()))?)
            .map_err(output)?;
    } else {
        writeln!(
            out,
            "{:<12} {:<20} {:>8} {:>10} {:>8} {:>9}",
            "DETECTOR", "PROFILE", "SCORE", "THRESHOLD", "WINDOWS", "FP ROWS"
        )
        .map_err(output)?;
        for (d, s) in &rows {
            let windows = format!("{}/{}", s.windows_detected, s.windows);
            writeln!(
                out,
                "{:<12} {:<20} {:>8.1} {:>10.4} {:>8} {:>9}",
                d, s.profile, s.normalized, s.threshold, windows, s.fp
            )
            .map_err(output)?;
        }
    }
    Ok(0)
}
