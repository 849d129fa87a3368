//! Anomaly detectors: streaming throughput in points per second on one core, memory per
//! series, and a bank of 10,000 pod series. Target for the default detector: at least
//! 2 million points/s per core and under 8 KiB per series.
//!
//! Run: `cargo bench -p kubesage-benches --bench anomaly`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use kubesage_ml::anomaly::bank::DetectorBank;
use kubesage_ml::anomaly::nab_score::{FileScores, Profile, Windows, score_corpus};
use kubesage_ml::anomaly::{DETECTORS, detector, nab};

/// NAB scores of every detector under the three profiles, on the labelled data in
/// `shared/data/nab` beside the repository (skipped with a note when it is absent).
fn nab_scores() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/nab");
    let windows = match std::fs::read_to_string(data.join("combined_windows.json")) {
        Ok(text) => Windows::from_json(&text).expect("valid windows"),
        Err(_) => {
            println!("NAB: no labelled data at {}; skipped", data.display());
            return;
        }
    };
    println!("NAB scores on {} (normalised, null = 0, perfect = 100):", data.join("data").display());
    println!("  {:<9} {:>9} {:>9} {:>9}  windows found (standard)", "detector", "standard", "low FP", "low FN");
    for &name in DETECTORS {
        let files = nab::run(&data.join("data"), None, name, Some(&windows)).expect("NAB run");
        let scored: Vec<FileScores> = files.into_iter().map(Into::into).collect();
        let s: Vec<_> = Profile::all().iter().map(|(p, prof)| score_corpus(&scored, &windows, p, prof)).collect();
        println!(
            "  {name:<9} {:>9.1} {:>9.1} {:>9.1}  {}/{}{}",
            s[0].normalized,
            s[1].normalized,
            s[2].normalized,
            s[0].windows_detected,
            s[0].windows,
            if name == "default" {
                format!("  (target >= 60 standard: {})", if s[0].normalized >= 60.0 { "met" } else { "NOT met" })
            } else {
                String::new()
            }
        );
    }
}

fn main() {
    // `KUBESAGE_BENCH=default` prints only the default detector's throughput on the shared
    // series, for benches/python_binding.py to compare against.
    let only_default = std::env::var("KUBESAGE_BENCH").is_ok_and(|v| v == "default");
    if !only_default {
        nab_scores();
    }
    let (ts, vs) = kubesage_benches::cpu_series(1_000_000, 5_000);
    println!("streaming throughput, one series of {} points, one core:", vs.len());
    for &name in DETECTORS {
        if only_default && name != "default" {
            continue;
        }
        let n = if name == "forest" { 200_000 } else { vs.len() };
        let mut best = f64::INFINITY;
        let mut memory = 0;
        for _ in 0..3 {
            let mut d = detector(name).expect("known detector");
            let start = Instant::now();
            let mut acc = 0.0;
            for i in 0..n {
                acc += d.score(ts[i], vs[i]);
            }
            black_box(acc);
            best = best.min(start.elapsed().as_secs_f64());
            memory = d.memory_bytes();
        }
        let rate = n as f64 / best;
        let target = if name == "default" {
            format!(
                "  (target >= 2,000,000 points/s and < 8 KiB: {})",
                if rate >= 2e6 && memory < 8192 { "met" } else { "NOT met" }
            )
        } else {
            String::new()
        };
        println!("  {name:<9} {:>12.0} points/s  {:>7} bytes/series{target}", rate, memory);
    }

    if only_default {
        return;
    }
    // A bank of 10,000 pod series, 288 points each (a day at 5-minute steps), interleaved
    // as a scrape would deliver them.
    let pods = 10_000;
    let steps = 288;
    let keys: Vec<BTreeMap<_, _>> = (0..pods)
        .map(|i| {
            let mut l = BTreeMap::new();
            l.insert("__name__".into(), "container_cpu_usage_seconds_total".into());
            l.insert("namespace".into(), format!("team-{}", i % 40).into());
            l.insert("pod".into(), format!("app-{}-5d9f8c7b6-{i}", i / 5).into());
            l
        })
        .collect();
    let mut bank = DetectorBank::new(pods, || detector("default").expect("known detector"));
    let start = Instant::now();
    let mut acc = 0.0;
    for s in 0..steps {
        for (i, k) in keys.iter().enumerate() {
            acc += bank.score(k, ts[s], vs[(s * 7 + i) % vs.len()]);
        }
    }
    black_box(acc);
    let secs = start.elapsed().as_secs_f64();
    let points = (pods * steps) as f64;
    println!(
        "bank: {pods} series x {steps} points: {:.0} points/s, {:.1} MiB in total ({:.0} bytes per series incl. labels)",
        points / secs,
        bank.memory_bytes() as f64 / (1 << 20) as f64,
        bank.memory_bytes() as f64 / pods as f64
    );
}
