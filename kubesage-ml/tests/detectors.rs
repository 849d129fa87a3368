//! Every detector on series with known structure: spikes, level shifts, seasonality, drift,
//! gaps, constant stretches and irregular timestamps.

use kubesage_ml::anomaly::{DETECTORS, detector};

const STEP: i64 = 300;
const T0: i64 = 1_700_000_000;

/// Deterministic noise in [-0.5, 0.5).
fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

fn times(n: usize) -> Vec<i64> {
    (0..n as i64).map(|i| T0 + STEP * i).collect()
}

fn run(name: &str, ts: &[i64], vs: &[f64]) -> Vec<f64> {
    detector(name).expect("known detector").score_batch(ts, vs)
}

fn max_in(scores: &[f64], range: std::ops::Range<usize>) -> f64 {
    scores[range].iter().copied().fold(0.0, f64::max)
}

#[test]
fn scores_are_always_within_0_and_1() {
    let n = 3_000;
    let ts = times(n);
    let mut vs: Vec<f64> = noise(n, 7).iter().map(|x| 100.0 + 10.0 * x).collect();
    vs[1_000] = 1e12;
    vs[1_001] = -1e12;
    vs[2_000] = f64::NAN;
    for &name in DETECTORS {
        for s in run(name, &ts, &vs) {
            assert!((0.0..=1.0).contains(&s), "{name}: {s}");
        }
    }
}

#[test]
fn a_spike_stands_out_from_noise() {
    let n = 2_000;
    let ts = times(n);
    let mut vs: Vec<f64> = noise(n, 11).iter().map(|x| 50.0 + 4.0 * x).collect();
    vs[1_500] = 90.0;
    for name in ["default", "mad", "ewma", "forest"] {
        let s = run(name, &ts, &vs);
        let spike = s[1_500];
        let background = max_in(&s, 600..1_490);
        assert!(spike > background, "{name}: spike {spike} vs background max {background}");
        assert!(spike >= 0.5, "{name}: spike scored only {spike}");
    }
}

#[test]
fn a_level_shift_is_flagged_then_learned() {
    let n = 3_000;
    let ts = times(n);
    let vs: Vec<f64> =
        noise(n, 3).iter().enumerate().map(|(i, x)| if i < 2_000 { 20.0 } else { 60.0 } + 2.0 * x).collect();
    for name in ["default", "mad", "ewma"] {
        let s = run(name, &ts, &vs);
        let at_shift = max_in(&s, 2_000..2_010);
        let before = max_in(&s, 800..1_990);
        let long_after = max_in(&s, 2_600..3_000);
        assert!(at_shift >= 0.5 && at_shift > before, "{name}: shift {at_shift}, before {before}");
        assert!(long_after < at_shift, "{name}: still alarming long after the shift ({long_after})");
    }
}

#[test]
fn a_daily_cycle_is_learned_and_breaks_in_it_are_found() {
    // Ten days of a strong daily cycle; on day 9 the night dip does not happen.
    let per_day = (86_400 / STEP) as usize;
    let n = 10 * per_day;
    let ts = times(n);
    let mut vs: Vec<f64> = (0..n)
        .map(|i| {
            let phase = ((T0 + STEP * i as i64) % 86_400) as f64 / 86_400.0 * std::f64::consts::TAU;
            100.0 + 40.0 * phase.sin()
        })
        .zip(noise(n, 5))
        .map(|(v, e)| v + 2.0 * e)
        .collect();
    let broken = 9 * per_day;
    // Replace the trough of day 9 (values near 60) with the daily mean (100): normal on
    // the whole range, abnormal for that time of day.
    let trough: Vec<usize> = (broken..broken + per_day).filter(|&i| vs[i] < 65.0).collect();
    assert!(trough.len() > 10);
    for &i in &trough {
        vs[i] = 100.0;
    }
    let s = run("seasonal", &ts, &vs);
    let in_break = trough.iter().map(|&i| s[i]).fold(0.0, f64::max);
    let normal_days = max_in(&s, 3 * per_day..9 * per_day);
    assert!(in_break > normal_days, "seasonal: break {in_break} vs normal {normal_days}");
    assert!(in_break >= 0.5);

    // The default detector does not alarm on the cycle itself once it is learned.
    let d = run("default", &ts, &vs);
    let quiet = d[3 * per_day..9 * per_day].iter().filter(|&&x| x >= 0.5).count();
    assert!(quiet <= per_day / 20, "default alarms {quiet} times on a normal cycle");
}

#[test]
fn slow_drift_is_not_an_anomaly_for_adaptive_detectors() {
    let n = 5_000;
    let ts = times(n);
    let vs: Vec<f64> = noise(n, 9).iter().enumerate().map(|(i, x)| 10.0 + 0.01 * i as f64 + 1.0 * x).collect();
    for name in ["default", "ewma", "mad"] {
        let s = run(name, &ts, &vs);
        let alarms = s[1_000..].iter().filter(|&&x| x >= 0.5).count();
        assert!(alarms < 40, "{name}: {alarms} alarms on a slow drift");
    }
}

#[test]
fn gaps_and_constants_never_poison_state() {
    let n = 2_000;
    let ts = times(n);
    // Constant, with a gap in the middle, then a real change.
    let mut vs = vec![5.0; n];
    for v in &mut vs[800..900] {
        *v = f64::NAN;
    }
    for v in &mut vs[1_500..] {
        *v = 9.0;
    }
    for &name in DETECTORS {
        let s = run(name, &ts, &vs);
        assert!(s[800..900].iter().all(|&x| x == 0.0), "{name}: gaps score 0");
        assert!(s.iter().all(|x| x.is_finite()), "{name}: no NaN after gaps or zero variance");
        if name != "seasonal" && name != "forest" {
            assert!(max_in(&s, 200..800) < 0.5, "{name}: a constant series is not anomalous");
            assert!(max_in(&s, 1_500..1_510) >= 0.5, "{name}: a change after a constant stretch is");
        }
    }
}

#[test]
fn irregular_and_repeated_timestamps_are_accepted() {
    let vs: Vec<f64> = noise(1_000, 13).iter().map(|x| 30.0 + x).collect();
    let mut ts = Vec::new();
    let mut t = T0;
    for i in 0..1_000 {
        t += match i % 7 {
            0 => 0,     // repeated
            3 => 3_600, // a gap of an hour
            _ => 17,
        };
        ts.push(t);
    }
    for &name in DETECTORS {
        let s = run(name, &ts, &vs);
        assert_eq!(s.len(), 1_000);
        assert!(s.iter().all(|x| (0.0..=1.0).contains(x)), "{name}");
    }
}

#[test]
fn streaming_and_batch_agree_and_memory_is_bounded() {
    let n = 20_000;
    let ts = times(n);
    let vs: Vec<f64> = noise(n, 17).iter().map(|x| 7.0 + x).collect();
    for &name in DETECTORS {
        let batch = run(name, &ts, &vs);
        let mut d = detector(name).expect("known");
        let stream: Vec<f64> = ts.iter().zip(&vs).map(|(&t, &v)| d.score(t, v)).collect();
        assert_eq!(batch, stream, "{name}");
        let early = {
            let mut d = detector(name).expect("known");
            d.score_batch(&ts[..500], &vs[..500]);
            d.memory_bytes()
        };
        assert!(d.memory_bytes() <= early.max(1) * 2, "{name}: memory grows with series length");
    }
    let mut default = detector("default").expect("known");
    default.score_batch(&ts, &vs);
    assert!(default.memory_bytes() < 8 * 1024, "default detector under 8 KiB: {}", default.memory_bytes());
}

#[test]
fn unknown_detectors_are_errors() {
    let err = detector("prophet").err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("unknown detector \"prophet\"") && err.contains("default"), "{err}");
}
