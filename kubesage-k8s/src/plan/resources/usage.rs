//! Usage history: CPU and memory samples per container instance, from Prometheus or a file.
//!
//! # File formats
//!
//! CSV, with a header naming at least these columns, in any order (others are ignored):
//!
//! ```text
//! namespace,pod,container,timestamp,cpu_cores,memory_bytes
//! shop,web-7d4b9c8f6d-x2x9k,web,1700000000,0.25,268435456
//! shop,web-7d4b9c8f6d-x2x9k,web,2023-11-14T22:18:20Z,0.31,
//! ```
//!
//! `timestamp` is Unix seconds or RFC 3339; `cpu_cores` is cores and `memory_bytes` bytes,
//! each a plain number or a Kubernetes quantity (`250m`, `512Mi`). An empty value or `NaN`
//! is a missing measurement: skipped and counted. Blank lines and lines starting with `#`
//! are ignored. Anything else that is wrong — a missing column, a timestamp or value that
//! does not parse, a negative or infinite value — is an error naming the line.
//!
//! JSON, one object of arrays per container instance (`null` or a missing array for a
//! missing measurement):
//!
//! ```json
//! {"containers": [{"namespace": "shop", "pod": "web-7d4b9c8f6d-x2x9k", "container": "web",
//!   "timestamps": [1700000000, 1700000300], "cpu_cores": [0.25, 0.31],
//!   "memory_bytes": [268435456, null]}]}
//! ```
//!
//! A file whose first non-blank character is `{` is read as JSON, anything else as CSV.

use std::collections::BTreeMap;

use kubesage_core::Series;
use serde::{Deserialize, Serialize};

use super::quantity::parse_quantity;
use crate::error::{Error, Result};

/// One running container: the unit usage is measured for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContainerInstance {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod.
    pub pod: String,
    /// The container's name in the pod spec.
    pub container: String,
}

/// The resources recommendations are made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// CPU, in cores.
    Cpu,
    /// Memory working set, in bytes.
    Memory,
}

/// One container instance's samples, `(Unix seconds, value)` in time order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerSeries {
    /// CPU usage in cores (a rate over a short window).
    pub cpu: Vec<(i64, f64)>,
    /// Memory working set in bytes.
    pub memory: Vec<(i64, f64)>,
}

/// Samples that were left out, by reason: none is dropped without being counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedSamples {
    /// Missing measurements: NaN (Prometheus's gaps), empty or `null` values.
    pub missing: usize,
    /// Values that cannot be usage: negative or infinite (only from Prometheus or the
    /// library API; in a file they are errors).
    pub invalid: usize,
    /// Prometheus series without a `namespace`, `pod` or `container` label, with their points.
    pub unlabelled_points: usize,
}

/// Usage samples of many container instances.
#[derive(Debug, Clone, Default)]
pub struct UsageHistory {
    /// Samples per container instance.
    pub containers: BTreeMap<ContainerInstance, ContainerSeries>,
    /// What was left out.
    pub skipped: SkippedSamples,
}

impl UsageHistory {
    /// An empty history.
    pub fn new() -> UsageHistory {
        UsageHistory::default()
    }

    /// Adds one sample; returns whether it was kept. NaN is counted as missing, a negative
    /// or infinite value as invalid.
    pub fn add(&mut self, instance: &ContainerInstance, resource: Resource, timestamp: i64, value: f64) -> bool {
        if value.is_nan() {
            self.skipped.missing += 1;
            return false;
        }
        if !value.is_finite() || value < 0.0 {
            self.skipped.invalid += 1;
            return false;
        }
        let series = self.containers.entry(instance.clone()).or_default();
        let samples = match resource {
            Resource::Cpu => &mut series.cpu,
            Resource::Memory => &mut series.memory,
        };
        samples.push((timestamp, value));
        true
    }

    /// Sorts every series by time (files need not be in order).
    pub fn sort(&mut self) {
        for s in self.containers.values_mut() {
            s.cpu.sort_by_key(|p| p.0);
            s.memory.sort_by_key(|p| p.0);
        }
    }

    /// Keeps only the containers of `namespace`.
    pub fn retain_namespace(&mut self, namespace: &str) {
        self.containers.retain(|c, _| c.namespace == namespace);
    }

    /// The number of samples kept, CPU and memory together.
    pub fn sample_count(&self) -> usize {
        self.containers.values().map(|s| s.cpu.len() + s.memory.len()).sum()
    }

    /// Builds a history from the answers of a CPU and a memory range query whose series
    /// carry `namespace`, `pod` and `container` labels. Gaps (NaN) and impossible values
    /// are counted in [`UsageHistory::skipped`], as are series without those labels.
    pub fn from_prometheus(cpu: &[Series], memory: &[Series]) -> UsageHistory {
        let mut history = UsageHistory::new();
        for (resource, all) in [(Resource::Cpu, cpu), (Resource::Memory, memory)] {
            for series in all {
                let label = |name: &str| series.labels.get(name).map(|v| v.to_string()).filter(|v| !v.is_empty());
                let (Some(namespace), Some(pod), Some(container)) =
                    (label("namespace"), label("pod"), label("container"))
                else {
                    history.skipped.unlabelled_points += series.values.len();
                    continue;
                };
                let instance = ContainerInstance { namespace, pod, container };
                for (&t, &v) in series.timestamps.iter().zip(&series.values) {
                    history.add(&instance, resource, t, v);
                }
            }
        }
        history.sort();
        history
    }

    /// Reads a usage file (see the module docs for both formats); `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<UsageHistory> {
        let mut history =
            if text.trim_start().starts_with('{') { parse_json(text, origin)? } else { parse_csv(text, origin)? };
        history.sort();
        if history.containers.is_empty() {
            return Err(usage_error(origin, None, "no usage samples".to_owned()));
        }
        Ok(history)
    }
}

fn usage_error(origin: &str, line: Option<usize>, reason: String) -> Error {
    Error::UsageHistory { origin: origin.to_owned(), line, reason }
}

/// The CSV columns a usage file must have.
pub const CSV_COLUMNS: [&str; 6] = ["namespace", "pod", "container", "timestamp", "cpu_cores", "memory_bytes"];

fn parse_csv(text: &str, origin: &str) -> Result<UsageHistory> {
    let mut history = UsageHistory::new();
    let mut columns: Option<[usize; 6]> = None;
    let mut width = 0;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = trimmed.split(',').map(|f| f.trim().trim_matches('"').trim()).collect();
        let Some(at) = columns else {
            let mut found = [0; 6];
            for (slot, name) in found.iter_mut().zip(CSV_COLUMNS) {
                *slot = fields.iter().position(|f| f.eq_ignore_ascii_case(name)).ok_or_else(|| {
                    usage_error(
                        origin,
                        Some(line),
                        format!("the header has no `{name}` column; expected {}", CSV_COLUMNS.join(",")),
                    )
                })?;
            }
            columns = Some(found);
            width = fields.len();
            continue;
        };
        if fields.len() != width {
            return Err(usage_error(
                origin,
                Some(line),
                format!("{} fields where the header has {width}", fields.len()),
            ));
        }
        let [ns, pod, container, time, cpu, memory] = at.map(|i| fields[i]);
        for (name, value) in [("namespace", ns), ("pod", pod), ("container", container)] {
            if value.is_empty() {
                return Err(usage_error(origin, Some(line), format!("`{name}` is empty")));
            }
        }
        let timestamp = parse_timestamp(time).ok_or_else(|| {
            usage_error(origin, Some(line), format!("timestamp {time:?} is not Unix seconds or RFC 3339"))
        })?;
        let instance =
            ContainerInstance { namespace: ns.to_owned(), pod: pod.to_owned(), container: container.to_owned() };
        for (resource, name, value) in [(Resource::Cpu, "cpu_cores", cpu), (Resource::Memory, "memory_bytes", memory)] {
            match parse_value(value) {
                Value::Missing => history.skipped.missing += 1,
                Value::Number(v) => {
                    history.add(&instance, resource, timestamp, v);
                }
                Value::Bad => {
                    return Err(usage_error(
                        origin,
                        Some(line),
                        format!("{name} {value:?} is not a non-negative number or quantity"),
                    ));
                }
            }
        }
    }
    if columns.is_none() {
        return Err(usage_error(origin, None, format!("no header line ({})", CSV_COLUMNS.join(","))));
    }
    Ok(history)
}

enum Value {
    Missing,
    Number(f64),
    Bad,
}

fn parse_value(text: &str) -> Value {
    if text.is_empty() || text.eq_ignore_ascii_case("nan") {
        return Value::Missing;
    }
    match parse_quantity(text) {
        Some(v) => Value::Number(v),
        // Plain numbers in scientific notation with a negative exponent are still numbers.
        None => match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Value::Number(v),
            _ => Value::Bad,
        },
    }
}

/// Unix seconds (a fraction is rounded down) or RFC 3339.
fn parse_timestamp(text: &str) -> Option<i64> {
    if text.starts_with("now") {
        return None;
    }
    crate::prometheus::parse_time(text, 0)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonUsage {
    containers: Vec<JsonContainer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonContainer {
    namespace: String,
    pod: String,
    container: String,
    timestamps: Vec<JsonTime>,
    #[serde(default)]
    cpu_cores: Option<Vec<Option<f64>>>,
    #[serde(default)]
    memory_bytes: Option<Vec<Option<f64>>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonTime {
    Seconds(f64),
    Text(String),
}

fn parse_json(text: &str, origin: &str) -> Result<UsageHistory> {
    let usage: JsonUsage = serde_json::from_str(text)
        .map_err(|e| usage_error(origin, Some(e.line()), format!("not a usage document: {e}")))?;
    let mut history = UsageHistory::new();
    for (index, c) in usage.containers.into_iter().enumerate() {
        let what = format!("containers[{index}] ({}/{}/{})", c.namespace, c.pod, c.container);
        if c.namespace.is_empty() || c.pod.is_empty() || c.container.is_empty() {
            return Err(usage_error(origin, None, format!("{what}: namespace, pod and container must not be empty")));
        }
        let mut timestamps = Vec::with_capacity(c.timestamps.len());
        for (i, t) in c.timestamps.iter().enumerate() {
            let parsed = match t {
                JsonTime::Seconds(s) if s.is_finite() => Some(s.floor() as i64),
                JsonTime::Seconds(_) => None,
                JsonTime::Text(s) => parse_timestamp(s),
            };
            timestamps.push(parsed.ok_or_else(|| {
                usage_error(origin, None, format!("{what}: timestamps[{i}] is not Unix seconds or RFC 3339"))
            })?);
        }
        let instance = ContainerInstance { namespace: c.namespace, pod: c.pod, container: c.container };
        for (resource, name, values) in
            [(Resource::Cpu, "cpu_cores", c.cpu_cores), (Resource::Memory, "memory_bytes", c.memory_bytes)]
        {
            let Some(values) = values else {
                history.skipped.missing += timestamps.len();
                continue;
            };
            if values.len() != timestamps.len() {
                return Err(usage_error(
                    origin,
                    None,
                    format!("{what}: {} {name} for {} timestamps", values.len(), timestamps.len()),
                ));
            }
            for (i, (&t, v)) in timestamps.iter().zip(values).enumerate() {
                match v {
                    None => history.skipped.missing += 1,
                    Some(v) if v >= 0.0 && v.is_finite() => {
                        history.add(&instance, resource, t, v);
                    }
                    Some(v) => {
                        return Err(usage_error(origin, None, format!("{what}: {name}[{i}] = {v} is negative")));
                    }
                }
            }
        }
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_line(result: Result<UsageHistory>) -> (Option<usize>, String) {
        match result {
            Err(Error::UsageHistory { line, reason, .. }) => (line, reason),
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn csv_rows_become_sorted_series_and_gaps_are_counted() {
        let text = "# exported\nnamespace,pod,container,timestamp,cpu_cores,memory_bytes\n\
                    shop,web-1,web,1700000300,0.5,256Mi\n\
                    shop,web-1,web,1700000000,250m,\n\
                    shop,web-1,web,2023-11-14T22:23:20Z,NaN,1000\n";
        let h = UsageHistory::parse(text, "u.csv").expect("parses");
        let s = &h.containers
            [&ContainerInstance { namespace: "shop".into(), pod: "web-1".into(), container: "web".into() }];
        assert_eq!(s.cpu, vec![(1_700_000_000, 0.25), (1_700_000_300, 0.5)]);
        assert_eq!(s.memory, vec![(1_700_000_300, 268_435_456.0), (1_700_000_600, 1000.0)]);
        assert_eq!(h.skipped.missing, 2);
    }

    #[test]
    fn columns_may_come_in_any_order() {
        let text = "timestamp,memory_bytes,cpu_cores,container,pod,namespace,extra\n60,10,1,c,p,n,x\n";
        let h = UsageHistory::parse(text, "u.csv").expect("parses");
        assert_eq!(h.sample_count(), 2);
    }

    #[test]
    fn malformed_csv_lines_are_errors_with_their_line() {
        let header = "namespace,pod,container,timestamp,cpu_cores,memory_bytes\n";
        let cases = [
            (format!("{header}n,p,c,60,1,1\nn,p,c,60,1\n"), 3, "fields"),
            (format!("{header}\n\nn,p,c,yesterday,1,1\n"), 4, "timestamp"),
            (format!("{header}n,p,c,60,-0.5,1\n"), 2, "cpu_cores"),
            (format!("{header}n,p,c,60,1,lots\n"), 2, "memory_bytes"),
            (format!("{header}n,p,c,60,inf,1\n"), 2, "cpu_cores"),
            (format!("{header},p,c,60,1,1\n"), 2, "namespace"),
            ("namespace,pod,timestamp,cpu_cores,memory_bytes\n".to_owned(), 1, "container"),
        ];
        for (text, line, word) in cases {
            let (got, reason) = err_line(UsageHistory::parse(&text, "u.csv"));
            assert_eq!(got, Some(line), "{text}");
            assert!(reason.contains(word), "{reason} should name {word}");
        }
        let (line, reason) = err_line(UsageHistory::parse("", "u.csv"));
        assert_eq!(line, None);
        assert!(reason.contains("header"));
        let (_, reason) = err_line(UsageHistory::parse(header, "u.csv"));
        assert!(reason.contains("no usage samples"));
    }

    #[test]
    fn the_error_message_names_file_and_line() {
        let text = "namespace,pod,container,timestamp,cpu_cores,memory_bytes\nn,p,c,60,x,1\n";
        let message = UsageHistory::parse(text, "usage.csv").expect_err("bad").to_string();
        assert!(message.starts_with("usage.csv, line 2: "), "{message}");
    }

    #[test]
    fn json_arrays_are_read_with_nulls_as_gaps() {
        let text = r#"{"containers":[{"namespace":"n","pod":"p","container":"c",
            "timestamps":[60,"1970-01-01T00:02:00Z",180],"cpu_cores":[0.1,null,0.3],"memory_bytes":[1,2,3]}]}"#;
        let h = UsageHistory::parse(text, "u.json").expect("parses");
        let s = h.containers.values().next().expect("one container");
        assert_eq!(s.cpu, vec![(60, 0.1), (180, 0.3)]);
        assert_eq!(s.memory.len(), 3);
        assert_eq!(h.skipped.missing, 1);
    }

    #[test]
    fn malformed_json_is_an_error() {
        let bad = [
            (
                r#"{"containers":[{"namespace":"n","pod":"p","container":"c","timestamps":[1,2],"cpu_cores":[1]}]}"#,
                "1 cpu_cores for 2",
            ),
            (
                r#"{"containers":[{"namespace":"n","pod":"p","container":"c","timestamps":[1],"cpu_cores":[-1]}]}"#,
                "negative",
            ),
            (r#"{"containers":[{"namespace":"n","pod":"p","container":"c","timestamps":["soon"]}]}"#, "timestamps[0]"),
            ("{\n\"containers\": [\n{\"pod\": 3}]}", "line"),
        ];
        for (text, word) in bad {
            let message = UsageHistory::parse(text, "u.json").expect_err(text).to_string();
            assert!(message.contains(word), "{message} should contain {word}");
        }
        let (line, _) = err_line(UsageHistory::parse("{\n\"containers\": [\n{\"pod\": 3}]}", "u.json"));
        assert_eq!(line, Some(3));
    }

    #[test]
    fn prometheus_gaps_and_impossible_values_are_counted_not_kept() {
        let mut cpu = Series::new(vec![0, 60, 120, 180], vec![0.1, f64::NAN, -1.0, 0.2]);
        for (k, v) in [("namespace", "n"), ("pod", "p"), ("container", "c")] {
            cpu.labels.insert(k.into(), v.into());
        }
        let unlabelled = Series::new(vec![0, 60], vec![1.0, 2.0]);
        let h = UsageHistory::from_prometheus(&[cpu, unlabelled], &[]);
        assert_eq!(h.containers.values().next().map(|s| s.cpu.clone()), Some(vec![(0, 0.1), (180, 0.2)]));
        assert_eq!(h.skipped, SkippedSamples { missing: 1, invalid: 1, unlabelled_points: 2 });
    }
}
