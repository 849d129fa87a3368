//! Series as CSV: `timestamp,value` in, `timestamp,value,anomaly_score[,label]` out.
//!
//! Timestamps may be Unix seconds, RFC 3339, or `YYYY-MM-DD HH:MM:SS` (taken as UTC, as NAB
//! writes them). Empty or `NaN` values are gaps. A header row is recognised by a first
//! field that is not a timestamp.

use std::fmt::Write as _;

use kubesage_core::time::parse_rfc3339;

use crate::error::{Error, Result};

/// A parsed series, with the timestamps as they were written (for writing results back).
#[derive(Debug, Clone, Default)]
pub struct CsvSeries {
    /// Timestamps as written.
    pub raw_timestamps: Vec<String>,
    /// Timestamps, Unix seconds.
    pub timestamps: Vec<i64>,
    /// Values; gaps are `NaN`.
    pub values: Vec<f64>,
}

/// Parses a timestamp in any of the accepted forms.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    if let Ok(f) = s.parse::<f64>() {
        return f.is_finite().then_some(f.floor() as i64);
    }
    parse_rfc3339(s).or_else(|| {
        // NAB's form: no zone, optional fraction.
        let (main, _) = s.split_once('.').unwrap_or((s, ""));
        if main.len() == 19 { parse_rfc3339(&format!("{main}Z")) } else { None }
    })
}

/// Reads `timestamp,value` rows (further columns are ignored).
pub fn read_series(text: &str, origin: &str) -> Result<CsvSeries> {
    let mut out = CsvSeries::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |reason: String| Error::Csv { origin: origin.to_owned(), line: i + 1, reason };
        let mut fields = line.split(',');
        let ts = fields.next().unwrap_or_default().trim().trim_matches('"');
        let Some(t) = parse_timestamp(ts) else {
            if out.timestamps.is_empty() && i == 0 {
                continue; // header
            }
            return Err(err(format!("{ts:?} is not a timestamp")));
        };
        let raw_value = fields.next().ok_or_else(|| err("expected timestamp,value".into()))?.trim().trim_matches('"');
        let value = if raw_value.is_empty() || raw_value.eq_ignore_ascii_case("nan") {
            f64::NAN
        } else {
            raw_value.parse::<f64>().map_err(|_| err(format!("{raw_value:?} is not a number")))?
        };
        if value.is_infinite() {
            return Err(err("infinite value".into()));
        }
        out.raw_timestamps.push(ts.to_owned());
        out.timestamps.push(t);
        out.values.push(value);
    }
    if out.timestamps.is_empty() {
        return Err(Error::Csv { origin: origin.to_owned(), line: 0, reason: "no data rows".into() });
    }
    Ok(out)
}

/// Writes `timestamp,value,anomaly_score` rows, plus `label` when labels are given.
pub fn write_scores(series: &CsvSeries, scores: &[f64], labels: Option<&[u8]>) -> String {
    let mut s = String::with_capacity(series.values.len() * 40);
    s.push_str(if labels.is_some() {
        "timestamp,value,anomaly_score,label\n"
    } else {
        "timestamp,value,anomaly_score\n"
    });
    for (i, ((ts, v), score)) in series.raw_timestamps.iter().zip(&series.values).zip(scores).enumerate() {
        let value = if v.is_nan() { String::new() } else { format!("{v}") };
        let _ = write!(s, "{ts},{value},{score:.6}");
        if let Some(l) = labels {
            let _ = write!(s, ",{}", l.get(i).copied().unwrap_or(0));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nab_files_with_headers_and_gaps() {
        let text = "timestamp,value\n2014-04-01 00:00:00,20.5\n2014-04-01 00:05:00,\n2014-04-01 00:10:00,NaN\n2014-04-01 00:15:00,3e2\n";
        let s = read_series(text, "t.csv").expect("parses");
        assert_eq!(s.timestamps, vec![1_396_310_400, 1_396_310_700, 1_396_311_000, 1_396_311_300]);
        assert_eq!(s.values[0], 20.5);
        assert!(s.values[1].is_nan() && s.values[2].is_nan());
        assert_eq!(s.values[3], 300.0);
        let out = write_scores(&s, &[0.0, 0.0, 0.0, 0.5], Some(&[0, 0, 0, 1]));
        assert!(out.starts_with("timestamp,value,anomaly_score,label\n2014-04-01 00:00:00,20.5,0.000000,0\n"));
        assert!(out.ends_with("2014-04-01 00:15:00,300,0.500000,1\n"));
    }

    #[test]
    fn other_timestamp_forms() {
        assert_eq!(parse_timestamp("1700000000"), Some(1_700_000_000));
        assert_eq!(parse_timestamp("1700000000.5"), Some(1_700_000_000));
        assert_eq!(parse_timestamp("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(parse_timestamp("2023-11-14 22:13:20.000000"), Some(1_700_000_000));
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn bad_rows_are_errors_with_line_numbers() {
        for (text, line) in [("t,v\n1,2\nx,3\n", 3), ("1,abc\n", 1), ("1\n", 1), ("1,inf\n", 1)] {
            match read_series(text, "f.csv") {
                Err(Error::Csv { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: expected a CSV error, got {other:?}"),
            }
        }
        assert!(read_series("timestamp,value\n", "f.csv").is_err());
    }
}
