//! Decoding the Prometheus HTTP API's JSON envelope into [`Series`].
//!
//! Answers are decoded straight into these types, not into a `serde_json::Value` first: a
//! range query over many series is mostly `[1715000000, "0.25"]` pairs, and reading each
//! pair into two floats without an intermediate string or map keeps memory close to the
//! size of the result.

use std::collections::BTreeMap;
use std::fmt;

use kubesage_core::{CompactString, Series};
use serde::Deserialize;
use serde::de::{self, IgnoredAny, SeqAccess, Visitor};

/// The envelope every `/api/v1` answer shares.
#[derive(Debug, Deserialize)]
pub(super) struct Envelope {
    pub status: String,
    pub data: Option<Data>,
    #[serde(rename = "errorType")]
    pub error_type: Option<String>,
    pub error: Option<String>,
}

/// `data` of a query answer, tagged by `resultType`.
#[derive(Debug, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
pub(super) enum Data {
    Matrix(Vec<RangeSeries>),
    Vector(Vec<InstantSample>),
    Scalar(Sample),
    String(IgnoredAny),
}

/// One series of a `matrix` result.
#[derive(Debug, Deserialize)]
pub(super) struct RangeSeries {
    #[serde(default)]
    metric: BTreeMap<CompactString, CompactString>,
    values: Option<Vec<Sample>>,
    histograms: Option<IgnoredAny>,
}

/// One element of a `vector` result.
#[derive(Debug, Deserialize)]
pub(super) struct InstantSample {
    #[serde(default)]
    metric: BTreeMap<CompactString, CompactString>,
    value: Option<Sample>,
    histogram: Option<IgnoredAny>,
}

/// `[unix_seconds, "value"]`, read as (timestamp, value) with the value already a float.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sample {
    timestamp: i64,
    value: f64,
}

impl<'de> Deserialize<'de> for Sample {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SampleVisitor;
        impl<'de> Visitor<'de> for SampleVisitor {
            type Value = Sample;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a [timestamp, \"value\"] pair")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Sample, A::Error> {
                let time: f64 = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let value: SampleValue = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                if !time.is_finite() {
                    return Err(de::Error::custom("sample timestamp is not finite"));
                }
                // Prometheus times have millisecond resolution; series keep whole seconds.
                // `as` saturates, and no real timestamp is near i64's range.
                Ok(Sample { timestamp: time.floor() as i64, value: value.0 })
            }
        }
        deserializer.deserialize_seq(SampleVisitor)
    }
}

/// A sample value: Prometheus sends floats as strings so that `NaN` and `±Inf` survive JSON.
struct SampleValue(f64);

impl<'de> Deserialize<'de> for SampleValue {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl Visitor<'_> for ValueVisitor {
            type Value = SampleValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sample value as a string (\"1.5\", \"NaN\", \"+Inf\")")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<SampleValue, E> {
                let v: f64 = s.parse().map_err(|_| E::custom(format_args!("sample value {s:?} is not a number")))?;
                Ok(SampleValue(gap_if_not_finite(v)))
            }
        }
        deserializer.deserialize_str(ValueVisitor)
    }
}

/// `NaN` stays `NaN`; `+Inf` and `-Inf` (a division by zero in a ratio, an empty
/// histogram bucket) become `NaN` as well. A detector cannot score an infinity, and the
/// core's convention is that `NaN` marks a gap: the point is kept, its time preserved, and
/// it is neither scored nor learned from.
fn gap_if_not_finite(v: f64) -> f64 {
    if v.is_finite() { v } else { f64::NAN }
}

/// Turns a successful answer's data into series. `Err` carries a description of what is
/// unusable in it.
pub(super) fn into_series(data: Data) -> Result<Vec<Series>, String> {
    const HISTOGRAMS: &str = "native histogram samples are not supported; \
                              query a float series instead (e.g. histogram_quantile(...) or histogram_count(...))";
    match data {
        Data::Matrix(result) => result
            .into_iter()
            .map(|s| match (s.values, s.histograms) {
                (None, Some(_)) => Err(HISTOGRAMS.to_owned()),
                (values, _) => {
                    let values = values.unwrap_or_default();
                    Ok(Series {
                        labels: s.metric,
                        timestamps: values.iter().map(|p| p.timestamp).collect(),
                        values: values.iter().map(|p| p.value).collect(),
                    })
                }
            })
            .collect(),
        Data::Vector(result) => result
            .into_iter()
            .map(|s| match (s.value, s.histogram) {
                (Some(p), _) => Ok(Series { labels: s.metric, timestamps: vec![p.timestamp], values: vec![p.value] }),
                (None, Some(_)) => Err(HISTOGRAMS.to_owned()),
                (None, None) => Err("a vector element has neither `value` nor `histogram`".to_owned()),
            })
            .collect(),
        Data::Scalar(p) => Ok(vec![Series::new(vec![p.timestamp], vec![p.value])]),
        Data::String(_) => Err("the query evaluates to a string, not to series".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(json: &str) -> Result<Vec<Series>, String> {
        let envelope: Envelope = serde_json::from_str(json).map_err(|e| e.to_string())?;
        into_series(envelope.data.ok_or("no data")?)
    }

    #[test]
    fn values_are_floats_and_non_finite_values_are_gaps() {
        let got = decode(
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},
                "values":[[1.5,"1"],[2,"NaN"],[3,"+Inf"],[4,"-Inf"],[5,"-2.5e3"]]}]}}"#,
        )
        .expect("decodes");
        assert_eq!(got[0].timestamps, [1, 2, 3, 4, 5]);
        let v = &got[0].values;
        assert_eq!((v[0], v[4]), (1.0, -2500.0));
        assert!(v[1].is_nan() && v[2].is_nan() && v[3].is_nan());
    }

    #[test]
    fn malformed_samples_are_errors() {
        for sample in [r#"[1,1]"#, r#"[1]"#, r#"[1,"1",2]"#, r#"["x","1"]"#, r#"[1,"one"]"#, r#"{"t":1}"#] {
            let json = format!(r#"{{"status":"success","data":{{"resultType":"scalar","result":{sample}}}}}"#);
            assert!(decode(&json).is_err(), "{sample}");
        }
    }

    #[test]
    fn histograms_and_strings_are_refused_with_a_reason() {
        let hist = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},
            "histogram":[1,{"count":"1","sum":"1","buckets":[]}]}]}}"#;
        assert!(decode(hist).expect_err("histogram").contains("histogram"));
        let string = r#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#;
        assert!(decode(string).expect_err("string").contains("string"));
    }
}
