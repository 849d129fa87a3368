//! `kubesage anomaly` driven as a user would: CSV in and out, JSON with findings, the NAB
//! layout and its scoring on the labelled data in `shared/data/nab`, and bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

fn kubesage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesage")).args(args).output().expect("run kubesage")
}

fn nab_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/nab")
}

/// A noisy flat series, 5-minute steps, with one spike at row 1,500.
fn spike_csv(dir: &std::path::Path) -> PathBuf {
    let mut s = String::from("timestamp,value\n");
    let mut state = 99u64;
    for i in 0..2_000i64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        let v = if i == 1_500 { 95.0 } else { 40.0 + 3.0 * noise };
        s.push_str(&format!("{},{v}\n", 1_700_000_000 + 300 * i));
    }
    let path = dir.join("cpu.csv");
    std::fs::write(&path, s).expect("write");
    path
}

#[test]
fn detect_csv_flags_the_spike() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = spike_csv(dir.path());
    let out = kubesage(&["anomaly", "detect", "--csv", csv.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("timestamp,value,anomaly_score"));
    let rows: Vec<(i64, f64)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().expect("timestamp"), f[2].parse().expect("score"))
        })
        .collect();
    assert_eq!(rows.len(), 2_000);
    let (spike_t, spike_score) = rows[1_500];
    assert_eq!(spike_t, 1_700_000_000 + 300 * 1_500);
    assert!(spike_score >= 0.5, "spike scored {spike_score}");
    let elsewhere = rows.iter().enumerate().filter(|(i, r)| *i != 1_500 && r.1 >= 0.5).count();
    let where_: Vec<usize> =
        rows.iter().enumerate().filter(|(i, r)| *i != 1_500 && r.1 >= 0.5).map(|(i, _)| i).collect();
    assert!(elsewhere == 0, "{elsewhere} other rows flagged: {where_:?}");

    let out = kubesage(&["anomaly", "detect", "--csv", csv.to_str().expect("utf-8"), "--output", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let anomalies = report["series"][0]["anomalies"].as_array().expect("anomalies");
    assert!(anomalies.iter().any(|a| a["timestamp"] == spike_t && a["value"] == 95.0));
    assert_eq!(report["detector"], "default");
    // A CSV file names no Kubernetes object, so there is no finding.
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(0));
}

#[test]
fn nab_layout_and_score_on_the_labelled_data() {
    let out_dir = tempfile::tempdir().expect("temp dir");
    let data = nab_data().join("data");
    let out = kubesage(&[
        "anomaly",
        "nab",
        "--data",
        data.to_str().expect("utf-8"),
        "--out",
        out_dir.path().to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8(out.stdout).expect("utf-8");
    assert!(summary.starts_with("default: 28 files"), "{summary}");

    let file = out_dir.path().join("default/realAWSCloudwatch/default_ec2_cpu_utilization_24ae8d.csv");
    let text = std::fs::read_to_string(&file).expect("the NAB results layout");
    assert!(text.starts_with("timestamp,value,anomaly_score,label\n2014-02-14 14:30:00,"), "{}", &text[..80]);
    let labelled = text.lines().skip(1).filter(|l| l.ends_with(",1")).count();
    assert!(labelled > 100, "rows inside the labelled windows carry label 1 ({labelled})");

    let scored = kubesage(&[
        "anomaly",
        "score",
        "--results",
        out_dir.path().to_str().expect("utf-8"),
        "--windows",
        nab_data().join("combined_windows.json").to_str().expect("utf-8"),
        "--json",
    ]);
    assert!(scored.status.success(), "{}", String::from_utf8_lossy(&scored.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&scored.stdout).expect("json");
    let standard = rows
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["detector"] == "default" && r["score"]["profile"] == "standard")
        .expect("a standard-profile row");
    let score = standard["score"]["normalized"].as_f64().expect("score");
    assert!(score >= 60.0, "the default detector scores {score} on the NAB subset");
    assert_eq!(rows.as_array().map(Vec::len), Some(3), "three profiles");
}

#[test]
fn bad_input_is_reported_with_exit_code_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "timestamp,value\n1700000000,1\n1700000300,lots\n").expect("write");
    let out = kubesage(&["anomaly", "detect", "--csv", bad.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3") && err.contains("\"lots\" is not a number"), "{err}");

    let csv = spike_csv(dir.path());
    let out = kubesage(&["anomaly", "detect", "--csv", csv.to_str().expect("utf-8"), "--detector", "prophet"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown detector \"prophet\""));

    let out = kubesage(&["anomaly", "detect", "--csv", csv.to_str().expect("utf-8"), "--threshold", "2"]);
    assert_eq!(out.status.code(), Some(1));

    let out = kubesage(&["anomaly", "detect"]);
    assert_eq!(out.status.code(), Some(2), "neither --csv nor --prometheus is a usage error");

    let empty = tempfile::tempdir().expect("temp dir");
    let out = kubesage(&["anomaly", "nab", "--data", empty.path().to_str().expect("utf-8"), "--out", "/tmp/unused"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no .csv files"));
}

#[test]
fn detectors_are_listed() {
    let out = kubesage(&["anomaly", "detectors"]);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(text.lines().next(), Some("default"));
    for d in kubesage_ml::anomaly::DETECTORS {
        assert!(text.lines().any(|l| l == *d));
    }
}
