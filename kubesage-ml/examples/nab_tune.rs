//! Sweeps detector settings over a NAB data folder and prints the standard profile score
//! of each: `cargo run --release -p kubesage-ml --example nab_tune -- DATA WINDOWS`.

use kubesage_core::Detector;
use kubesage_ml::anomaly::context::{ContextDetector, ContextParams};
use kubesage_ml::anomaly::csv::read_series;
use kubesage_ml::anomaly::nab::data_files;
use kubesage_ml::anomaly::nab_score::{FileScores, Profile, Windows, score_corpus};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let data = std::path::PathBuf::from(args.get(1).ok_or("DATA")?);
    let windows = Windows::from_json(&std::fs::read_to_string(args.get(2).ok_or("WINDOWS")?)?)?;
    let files: Vec<(String, Vec<i64>, Vec<f64>)> = data_files(&data)?
        .into_iter()
        .map(|(k, p)| {
            let s = read_series(&std::fs::read_to_string(&p).unwrap_or_default(), &k).unwrap_or_default();
            (k, s.timestamps, s.values)
        })
        .collect();
    let base = ContextParams { levels: 3, word: 4, rest_period: 50, magnitude_z: 2.0, ..ContextParams::default() };
    if std::env::var_os("PER_FILE").is_some() {
        let scored: Vec<FileScores> = files
            .iter()
            .map(|(k, ts, vs)| {
                let mut d = ContextDetector::with_params(base);
                FileScores { file: k.clone(), timestamps: ts.clone(), scores: d.score_batch(ts, vs) }
            })
            .collect();
        let s = score_corpus(&scored, &windows, "standard", &Profile::STANDARD);
        for (f, v) in &s.per_file {
            let sc = &scored
                .iter()
                .find(|x| &x.file == f)
                .map(|x| x.scores.iter().filter(|&&y| y >= s.threshold).count())
                .unwrap_or(0);
            println!("{v:>8.3} {sc:>4} detections  {f} ({} windows)", windows.get(f).len());
        }
        println!("total {:.1} threshold {:.3}", s.normalized, s.threshold);
        return Ok(());
    }
    let mut grid = vec![base];
    for magnitude_z in [0.0, 1.0, 1.5, 2.0, 3.0] {
        for season_z in [6.0, 8.0] {
            grid.push(ContextParams { magnitude_z, season_z, ..kubesage_ml::anomaly::ensemble::DEFAULT_PARAMS });
        }
    }
    let mut results = Vec::new();
    for p in grid {
        let scored: Vec<FileScores> = files
            .iter()
            .map(|(k, ts, vs)| {
                let mut d = ContextDetector::with_params(p);
                FileScores { file: k.clone(), timestamps: ts.clone(), scores: d.score_batch(ts, vs) }
            })
            .collect();
        let s = score_corpus(&scored, &windows, "standard", &Profile::STANDARD);
        results.push((
            s.normalized,
            format!(
                "{p:?} -> {:.1} (threshold {:.3}, windows {}/{})",
                s.normalized, s.threshold, s.windows_detected, s.windows
            ),
        ));
    }
    results.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (_, line) in results.iter().take(15) {
        println!("{line}");
    }
    Ok(())
}
