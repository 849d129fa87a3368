//! NAB scoring on hand-built corpora whose scores follow from the definitions, on NAB's own
//! windows and data, and on malformed input.

use std::path::{Path, PathBuf};

use kubesage_ml::Error;
use kubesage_ml::anomaly::nab_score::{
    FileScores, Profile, Windows, parse_timestamp, read_results, score_at, score_corpus,
};

const MINUTE: i64 = 60;

/// 100 one-minute rows (probation: rows 0..15) with one window on rows 40..=49.
fn one_window() -> Windows {
    Windows::new([("t/a.csv", vec![(40 * MINUTE, 49 * MINUTE)])]).expect("valid windows")
}

fn file(name: &str, scores: Vec<f64>) -> FileScores {
    let timestamps = (0..scores.len() as i64).map(|i| i * MINUTE).collect();
    FileScores { file: name.into(), timestamps, scores }
}

/// Scores 1.0 on the given rows of 100, 0 elsewhere.
fn firing_at(rows: &[usize]) -> FileScores {
    let mut scores = vec![0.0; 100];
    for &r in rows {
        scores[r] = 1.0;
    }
    file("t/a.csv", scores)
}

/// S(p) = 2 sigmoid(-5p) - 1 = tanh(-5p / 2).
fn s(p: f64) -> f64 {
    (-2.5 * p).tanh()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn shared_nab() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/nab")
}

#[test]
fn a_perfect_detector_scores_100() {
    let windows = one_window();
    let quiet = file("t/b.csv", vec![0.0; 80]);
    for (name, profile) in Profile::all() {
        let s = score_corpus(&[firing_at(&[40]), quiet.clone()], &windows, name, &profile);
        assert!(close(s.normalized, 100.0), "{name}: {s:?}");
        assert_eq!(s.profile, name);
        assert_eq!(s.threshold, 1.0);
        assert!(close(s.raw, profile.tp_weight));
        // NAB counts rows: 100 - 15 probationary rows in a.csv, 80 - 12 in b.csv.
        assert_eq!((s.tp, s.fp, s.fn_, s.tn), (1, 0, 9, 75 + 68));
        assert_eq!((s.windows, s.windows_detected), (1, 1));
        assert_eq!(s.per_file.len(), 2);
        assert!(close(s.per_file[0].1, 1.0) && s.per_file[1] == ("t/b.csv".to_owned(), 0.0));
    }
}

#[test]
fn the_null_detector_scores_0() {
    let windows = one_window();
    for (name, profile) in Profile::all() {
        for constant in [0.0, 0.5, 1.0] {
            let s = score_corpus(&[file("t/a.csv", vec![constant; 100])], &windows, name, &profile);
            assert!(close(s.normalized, 0.0), "{name} {constant}: {s:?}");
            // Firing everywhere costs more than the missed window, so it does not fire at all.
            assert_eq!(s.raw, -profile.fn_weight);
            assert_eq!(s.threshold, 1.1);
            assert_eq!((s.tp, s.fp, s.windows_detected), (0, 0, 0));
        }
    }
}

#[test]
fn firing_only_in_the_probationary_period_scores_0() {
    let windows = one_window();
    let probation: Vec<usize> = (0..15).collect();
    let s = score_corpus(&[firing_at(&probation)], &windows, "standard", &Profile::STANDARD);
    assert!(close(s.normalized, 0.0), "{s:?}");
    assert_eq!((s.tp, s.fp), (0, 0));
    // Even at a threshold that fires there, nothing counts.
    let at = score_at(&[firing_at(&probation)], &windows, &Profile::STANDARD, 1.0);
    assert_eq!((at.raw, at.fp, at.tp, at.fn_ + at.tn), (-1.0, 0, 0, 85));
    // Row 15 is the first scored row: a false positive before any window costs the full weight.
    let s = score_at(&[firing_at(&[15])], &windows, &Profile::STANDARD, 1.0);
    assert!(close(s.raw, -1.11), "{s:?}");
}

#[test]
fn an_early_detection_beats_a_late_one() {
    let windows = one_window();
    let raw = |rows: &[usize]| score_at(&[firing_at(rows)], &windows, &Profile::STANDARD, 0.5).raw;
    // Row i of rows 40..=49 sits at p = -(49 - i + 1) / 10 and earns S(p) / S(-1).
    assert!(close(raw(&[40]), 1.0));
    assert!(close(raw(&[45]), s(-0.5) / s(-1.0)));
    assert!(close(raw(&[49]), s(-0.1) / s(-1.0)));
    assert!(close(raw(&[49]), 0.25f64.tanh() / 2.5f64.tanh()));
    assert!(raw(&[40]) > raw(&[45]) && raw(&[45]) > raw(&[49]) && raw(&[49]) > 0.0);
    // Only the earliest detection in a window counts, however many follow.
    let both = score_at(&[firing_at(&[41, 44, 49])], &windows, &Profile::STANDARD, 0.5);
    assert!(close(both.raw, s(-0.9) / s(-1.0)));
    assert_eq!((both.tp, both.fn_, both.windows_detected), (3, 7, 1));
    // Normalised between the null detector (-1) and a perfect one (+1).
    let late = score_corpus(&[firing_at(&[49])], &windows, "standard", &Profile::STANDARD);
    assert!(close(late.normalized, 100.0 * (s(-0.1) / s(-1.0) + 1.0) / 2.0), "{late:?}");
}

#[test]
fn a_false_positive_right_after_a_window_costs_less_than_one_far_away() {
    let windows = one_window();
    let raw = |rows: &[usize]| score_at(&[firing_at(rows)], &windows, &Profile::STANDARD, 1.0).raw;
    // Row i after the window sits at p = (i - 49) / (10 - 1); the missed window costs 1.
    let cost = |row: usize| -1.0 - raw(&[row]);
    assert!(close(cost(50), -0.11 * s(1.0 / 9.0)));
    assert!(close(cost(58), -0.11 * s(1.0)));
    assert!(close(cost(76), -0.11 * s(3.0))); // exactly three widths: still the sigmoid
    assert!(close(cost(77), 0.11)); // beyond: the full weight
    assert!(close(cost(99), 0.11));
    assert!(close(cost(20), 0.11)); // before the first window: the full weight
    assert!(cost(50) < cost(58) && cost(58) < cost(76) && cost(76) < cost(77));
    // Costs add up, and the reward_low_FP_rate profile doubles them.
    assert!(close(raw(&[50, 77]), -1.0 - cost(50) - 0.11));
    let doubled = score_at(&[firing_at(&[77])], &windows, &Profile::REWARD_LOW_FP, 1.0);
    assert!(close(doubled.raw, -1.22));
    assert_eq!((doubled.fp, doubled.tp), (1, 0));
}

#[test]
fn missed_windows_cost_the_fn_weight() {
    let windows =
        Windows::new([("t/a.csv", vec![(20 * MINUTE, 29 * MINUTE), (60 * MINUTE, 69 * MINUTE)])]).expect("valid");
    let quiet = file("t/a.csv", vec![0.0; 100]);
    assert_eq!(score_at(std::slice::from_ref(&quiet), &windows, &Profile::STANDARD, 0.5).raw, -2.0);
    assert_eq!(score_at(std::slice::from_ref(&quiet), &windows, &Profile::REWARD_LOW_FN, 0.5).raw, -4.0);
    // Catching the second window only: +1 for it, -1 for the first; a false positive after
    // the first window is measured from that window.
    let mut scores = vec![0.0; 100];
    scores[60] = 1.0;
    scores[31] = 1.0;
    let s = score_at(&[file("t/a.csv", scores)], &windows, &Profile::STANDARD, 1.0);
    assert!(close(s.raw, -1.0 + 1.0 + 0.11 * s_fp(31 - 29, 10)), "{s:?}");
    assert_eq!((s.windows, s.windows_detected), (2, 1));
}

/// S of a false positive `rows_after` the last row of a window `width` rows wide.
fn s_fp(rows_after: usize, width: usize) -> f64 {
    s(rows_after as f64 / (width as f64 - 1.0))
}

#[test]
fn windows_in_or_across_the_probationary_period() {
    // Rows 10..=19 straddle the end of probation (row 15): the first scorable row is at
    // p = -(19 - 15 + 1) / 10 = -0.5.
    let across = Windows::new([("t/a.csv", vec![(10 * MINUTE, 19 * MINUTE)])]).expect("valid");
    let s1 = score_at(&[firing_at(&[15])], &across, &Profile::STANDARD, 1.0);
    assert!(close(s1.raw, s(-0.5) / s(-1.0)), "{s1:?}");
    let missed = score_at(&[firing_at(&[12])], &across, &Profile::STANDARD, 1.0);
    assert_eq!((missed.raw, missed.windows, missed.windows_detected), (-1.0, 1, 0));
    // A window wholly inside probation can be neither found nor missed.
    let inside = Windows::new([("t/a.csv", vec![(2 * MINUTE, 5 * MINUTE)])]).expect("valid");
    let s2 = score_at(&[firing_at(&[3])], &inside, &Profile::STANDARD, 1.0);
    assert_eq!((s2.raw, s2.windows), (0.0, 0));
    // ... yet it still defines the distance of later false positives: row 16 is 11 rows after
    // row 5 of a window of 4, past 3 widths.
    let s3 = score_at(&[firing_at(&[16])], &inside, &Profile::STANDARD, 1.0);
    assert!(close(s3.raw, -0.11));
}

#[test]
fn a_one_row_window_is_found_and_its_false_positives_cost_in_full() {
    let windows = Windows::new([("t/a.csv", vec![(40 * MINUTE, 40 * MINUTE)])]).expect("valid");
    assert!(close(score_at(&[firing_at(&[40])], &windows, &Profile::STANDARD, 1.0).raw, 1.0));
    assert!(close(score_at(&[firing_at(&[41])], &windows, &Profile::STANDARD, 1.0).raw, -1.11));
}

#[test]
fn files_without_windows_only_have_false_positives() {
    let windows = one_window();
    let mut scores = vec![0.0; 100];
    scores[50] = 1.0;
    let s = score_at(&[file("other/x.csv", scores)], &windows, &Profile::STANDARD, 1.0);
    assert!(close(s.raw, -0.11));
    assert_eq!((s.fp, s.windows), (1, 0));
    assert_eq!(s.normalized, 0.0, "nothing to detect: the scale is undefined and reported as 0");
    assert_eq!(s.profile, "standard");
    let custom = Profile { tp_weight: 1.0, fp_weight: 0.5, fn_weight: 1.0 };
    assert_eq!(score_at(&[], &windows, &custom, 0.5).profile, "custom");
}

#[test]
fn rows_are_taken_in_time_order_and_bad_scores_never_fire() {
    let windows = one_window();
    let mut forward = firing_at(&[45, 80]);
    forward.scores[60] = f64::NAN;
    forward.scores[61] = f64::INFINITY;
    let mut backward = forward.clone();
    backward.timestamps.reverse();
    backward.scores.reverse();
    let a = score_corpus(&[forward], &windows, "standard", &Profile::STANDARD);
    let b = score_corpus(&[backward], &windows, "standard", &Profile::STANDARD);
    assert_eq!(a.raw, b.raw);
    assert_eq!(a.threshold, b.threshold);
    assert_eq!(a.fp, 1);
    // Longer score vectors than timestamps are cut to the shorter.
    let mut ragged = firing_at(&[40]);
    ragged.scores.extend([1.0; 10]);
    assert!(close(score_at(&[ragged], &windows, &Profile::STANDARD, 1.0).raw, 1.0));
}

/// xorshift64*: enough randomness for corpora, without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_corpus(seed: u64) -> (Vec<FileScores>, Windows) {
    let mut rng = Rng(seed);
    let mut files = Vec::new();
    let mut spans = Vec::new();
    for f in 0..5 {
        let rows = 60 + rng.below(300) as usize;
        let name = format!("c/f{f}.csv");
        let mut windows = Vec::new();
        let mut start = rng.below(rows as u64 / 2) as i64;
        while (start as usize) < rows && windows.len() < 3 {
            let width = 1 + rng.below(25) as i64;
            windows.push((start * MINUTE, (start + width - 1) * MINUTE));
            start += width + 1 + rng.below(80) as i64;
        }
        // Coarse scores make ties; higher ones lean towards the windows.
        let scores = (0..rows as i64)
            .map(|i| {
                let inside = windows.iter().any(|&(a, b)| a <= i * MINUTE && i * MINUTE <= b);
                let base = rng.below(if inside { 14 } else { 20 }) as f64 + if inside { 6.0 } else { 0.0 };
                base / 20.0
            })
            .collect();
        files.push(FileScores {
            file: name.clone(),
            timestamps: (0..rows as i64).map(|i| i * MINUTE).collect(),
            scores,
        });
        spans.push((name, windows));
    }
    (files, Windows::new(spans).expect("valid random windows"))
}

#[test]
fn the_sweep_finds_the_same_optimum_as_brute_force() {
    for seed in 1..=12u64 {
        let (files, windows) = random_corpus(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut thresholds: Vec<f64> = files.iter().flat_map(|f| f.scores.iter().copied()).collect();
        thresholds.push(1.1);
        thresholds.sort_by(|a, b| b.total_cmp(a));
        thresholds.dedup();
        for (name, profile) in Profile::all() {
            let mut best = (f64::NEG_INFINITY, f64::NAN);
            for &t in &thresholds {
                let raw = score_at(&files, &windows, &profile, t).raw;
                if raw > best.0 {
                    best = (raw, t);
                }
            }
            let swept = score_corpus(&files, &windows, name, &profile);
            assert_eq!(swept.raw, best.0, "seed {seed} {name}");
            assert_eq!(swept.threshold, best.1, "seed {seed} {name}");
            let again = score_at(&files, &windows, &profile, swept.threshold);
            assert_eq!(again.raw, swept.raw);
            assert_eq!(again.normalized, swept.normalized);
            let per_file: f64 = swept.per_file.iter().map(|p| p.1).sum();
            assert!(close(per_file, swept.raw));
            assert!(swept.normalized <= 100.0 + 1e-9 && swept.normalized >= 0.0 - 1e-9, "{swept:?}");
        }
    }
}

#[test]
fn profiles_match_nab_profiles_json() {
    let text = std::fs::read_to_string(shared_nab().join("profiles.json")).expect("profiles.json");
    let read = Profile::from_nab_json(&text).expect("parses");
    let mut ours: Vec<(String, Profile)> = Profile::all().iter().map(|(n, p)| (n.to_string(), *p)).collect();
    ours.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(read, ours);
    assert_eq!(Profile::by_name("reward_low_FN_rate"), Some(Profile::REWARD_LOW_FN));
    assert_eq!(Profile::by_name("lenient"), None);
}

/// The shared subset's data files with NAB's windows, as `timestamp,value` rows.
fn shared_data() -> (Vec<FileScores>, Windows) {
    let root = shared_nab();
    let text = std::fs::read_to_string(root.join("combined_windows.json")).expect("combined_windows.json");
    let windows = Windows::from_json(&text).expect("parses");
    let mut files = Vec::new();
    for key in windows.files() {
        let csv = std::fs::read_to_string(root.join("data").join(key)).expect("data file");
        let timestamps: Vec<i64> = csv
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| parse_timestamp(l.split(',').next().unwrap_or_default()).expect("timestamp"))
            .collect();
        let scores = vec![0.0; timestamps.len()];
        files.push(FileScores { file: key.to_owned(), timestamps, scores });
    }
    (files, windows)
}

#[test]
fn nab_combined_windows_are_read() {
    let (files, windows) = shared_data();
    assert_eq!(windows.files().count(), 28);
    assert_eq!(windows.count(), 36);
    let ts = |s| parse_timestamp(s).expect("timestamp");
    assert_eq!(
        windows.get("realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv"),
        &[
            (ts("2014-02-26 13:45:00"), ts("2014-02-27 06:25:00")),
            (ts("2014-02-27 08:55:00"), ts("2014-02-28 01:35:00"))
        ]
    );
    assert!(windows.get("artificialNoAnomaly/art_flatline.csv").is_empty());
    assert!(windows.get("no/such.csv").is_empty());
    assert_eq!(files.iter().map(|f| f.timestamps.len()).sum::<usize>(), 112_120 - 28);
    // NAB's windows start and end on rows of the data.
    for f in &files {
        for &(start, end) in windows.get(&f.file) {
            assert!(f.timestamps.binary_search(&start).is_ok() && f.timestamps.binary_search(&end).is_ok());
        }
    }
}

#[test]
fn on_nab_data_perfect_is_100_and_null_is_0() {
    let (quiet, windows) = shared_data();
    let perfect: Vec<FileScores> = quiet
        .iter()
        .map(|f| {
            let starts = windows.get(&f.file);
            let scores = f.timestamps.iter().map(|t| f64::from(u8::from(starts.iter().any(|w| w.0 == *t)))).collect();
            FileScores { scores, ..f.clone() }
        })
        .collect();
    for (name, profile) in Profile::all() {
        let p = score_corpus(&perfect, &windows, name, &profile);
        assert!(close(p.normalized, 100.0), "{p:?}");
        assert_eq!((p.windows, p.windows_detected, p.fp), (36, 36, 0));
        let n = score_corpus(&quiet, &windows, name, &profile);
        assert!(close(n.normalized, 0.0), "{n:?}");
        assert!(close(n.raw, -36.0 * profile.fn_weight));
    }
}

#[test]
fn malformed_windows_are_errors() {
    for bad in [
        "",
        "{",
        "[]",
        r#"{"a.csv": {}}"#,
        r#"{"a.csv": [["2014-02-19 10:50:00"]]}"#,
        r#"{"a.csv": [["2014-02-19 10:50:00", 5, 6]]}"#,
        r#"{"a.csv": [["2014-02-19 10:50:00", "tomorrow"]]}"#,
        r#"{"a.csv": [["2014-02-19 10:50:00", null]]}"#,
        r#"{"a.csv": [["2014-02-31 10:50:00", "2014-03-01 10:50:00"]]}"#,
        r#"{"a.csv": [["2014-02-20 10:50:00", "2014-02-19 10:50:00"]]}"#,
        r#"{"a.csv": [["2014-02-19 00:00:00", "2014-02-20 00:00:00"], ["2014-02-19 12:00:00", "2014-02-21 00:00:00"]]}"#,
    ] {
        match Windows::from_json(bad) {
            Err(Error::Nab(message)) => assert!(message.starts_with("windows:"), "{message}"),
            other => panic!("{bad:?}: expected a NAB error, got {other:?}"),
        }
    }
    let ok =
        Windows::from_json(r#"{"b.csv": [[100, 200], ["1970-01-01 00:00:10.5", "1970-01-01 00:00:20"]], "a.csv": []}"#)
            .expect("integers and fractions are accepted");
    assert_eq!(ok.get("b.csv"), &[(10, 20), (100, 200)]);
    assert_eq!(ok.files().collect::<Vec<_>>(), ["a.csv", "b.csv"]);
    assert!(Windows::new([("a.csv", vec![(5, 4)])]).is_err());
    assert!(Windows::new([("a.csv", vec![(0, 4), (4, 8)])]).is_err());
}

#[test]
fn malformed_results_csv_are_errors() {
    let good = "timestamp,value,anomaly_score,label\n2014-04-01 00:00:00,1.5,0.25,0\n2014-04-01 00:05:00,2,1,1\n";
    let f = FileScores::from_csv("c/x.csv", good, "x.csv").expect("parses");
    assert_eq!(f.timestamps, vec![1_396_310_400, 1_396_310_700]);
    assert_eq!(f.scores, vec![0.25, 1.0]);
    // Column order comes from the header, extra columns are fine, CRLF too.
    let shuffled = "label,anomaly_score,raw_score,timestamp\r\n0,0.5,9,2014-04-01 00:00:00\r\n";
    assert_eq!(FileScores::from_csv("c/x.csv", shuffled, "x.csv").expect("parses").scores, vec![0.5]);
    for (bad, needle) in [
        ("", "empty"),
        ("timestamp,value\n2014-04-01 00:00:00,1\n", "anomaly_score"),
        ("value,anomaly_score\n1,0.5\n", "timestamp"),
        ("timestamp,value,anomaly_score\n", "no data rows"),
        ("timestamp,value,anomaly_score\n2014-04-01 00:00:00,1\n", "line 2"),
        ("timestamp,value,anomaly_score\n2014-04-01 00:00:00,1,0.5\nnot a time,1,0.5\n", "line 3"),
        ("timestamp,value,anomaly_score\n2014-04-01 00:00:00,1,high\n", "not a number"),
    ] {
        match FileScores::from_csv("c/x.csv", bad, "x.csv") {
            Err(Error::Nab(message)) => assert!(message.contains(needle), "{bad:?}: {message}"),
            other => panic!("{bad:?}: expected a NAB error, got {other:?}"),
        }
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

#[test]
fn results_folders_in_nab_layout_are_read() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("results");
    let rows = "timestamp,value,anomaly_score,label\n2014-04-01 00:00:00,1,0.5,0\n";
    write(&root.join("mad/realX/mad_b.csv"), rows);
    write(&root.join("mad/realX/mad_a_b.csv"), rows);
    write(&root.join("mad/artY/mad_c.csv"), rows);
    write(&root.join("mad/artY/notes.txt"), "not a result");
    write(&root.join("mad/mad_standard_scores.csv"), "Detector,Profile\n");
    write(&root.join("ewma/realX/ewma_b.csv"), rows);

    let keys = |files: Vec<FileScores>| files.into_iter().map(|f| f.file).collect::<Vec<_>>();
    let expected = ["artY/c.csv", "realX/a_b.csv", "realX/b.csv"];
    // results/ with the detector's name, results/<detector> with or without it.
    assert_eq!(keys(read_results(&root, Some("mad")).expect("reads")), expected);
    assert_eq!(keys(read_results(&root.join("mad"), Some("mad")).expect("reads")), expected);
    assert_eq!(keys(read_results(&root.join("mad"), None).expect("reads")), expected);
    assert_eq!(keys(read_results(&root.join("ewma"), None).expect("reads")), ["realX/b.csv"]);
    // A folder of another detector's files has none of this one's.
    assert!(matches!(read_results(&root.join("ewma"), Some("mad")), Err(Error::Nab(_))));
    assert!(matches!(read_results(&tmp.path().join("missing"), None), Err(Error::Io { .. })));
    assert!(matches!(read_results(tmp.path(), None), Err(Error::Nab(_))));
    // A broken file is an error naming it, not a skip.
    write(&root.join("mad/realX/mad_broken.csv"), "timestamp,value\n2014-04-01 00:00:00,1\n");
    match read_results(&root, Some("mad")) {
        Err(Error::Nab(message)) => assert!(message.contains("mad_broken.csv"), "{message}"),
        other => panic!("expected a NAB error, got {other:?}"),
    }
}

#[test]
fn scores_serialize_to_json() {
    let s = score_corpus(&[firing_at(&[40])], &one_window(), "standard", &Profile::STANDARD);
    let json = serde_json::to_value(&s).expect("serializes");
    assert_eq!(json["profile"], "standard");
    assert_eq!(json["threshold"], 1.0);
    assert_eq!(json["per_file"][0][0], "t/a.csv");
    assert!(json["normalized"].as_f64().is_some_and(|n| close(n, 100.0)));
}
