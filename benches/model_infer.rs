//! Model inference: `Model::run` on scikit-learn exports (trees, forests, gradient boosting,
//! logistic regression behind an imputer and a scaler, support vector machines, an isolation
//! forest), one row at a time and in batches of 256 rows. Prints the latency per row of each.
//!
//! The models are the parity fixtures of `kubesage-ml/tests/sklearn_parity.rs`, read from
//! `$KUBESAGE_SKLEARN_FIXTURES/<case>/model.onnx` (default `~/.cache/kubesage/sklearn-fixtures`),
//! with their held-out rows (`expected.json`) as inputs. Without them the bench says how to
//! build them and stops.
//!
//! Run: `cargo bench -p kubesage-benches --bench model_infer` (`KUBESAGE_MODEL_CASES=svr,...`
//! measures only the cases named, for a profiler).

use std::hint::black_box;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use kubesage_ml::model::Model;
use serde_json::Value;
use tract_onnx::prelude::*;

/// The fixture cases measured: one of each operator family the runtime implements.
const CASES: &[&str] = &[
    "forest_classifier_binary",
    "forest_classifier_multiclass_zipmap",
    "logreg_multiclass",
    "gradient_boosting_binary",
    "svc_binary",
    "imputer_scaler_logreg",
    "svr",
    "isolation_forest",
];

/// Rows per batch.
const BATCH: usize = 256;

/// A single-row latency above this many microseconds is worth a look.
const SINGLE_ROW_BUDGET_US: f64 = 50.0;

/// A loaded case: the model, one row, and `BATCH` rows (the held-out rows, repeated).
struct Case {
    name: &'static str,
    model: Model,
    one: Tensor,
    batch: Tensor,
}

fn load_case(dir: &Path, name: &'static str) -> Result<Case, String> {
    let model = Model::load(&dir.join(name).join("model.onnx")).map_err(|e| format!("{name}: {e}"))?;
    let path = dir.join(name).join("expected.json");
    let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let expected: Value = serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let rows: Vec<Vec<f32>> = expected["rows"]
        .as_array()
        .ok_or_else(|| format!("{}: no rows", path.display()))?
        .iter()
        .map(|row| {
            // `null` is a missing value, NaN to the model.
            row.as_array()
                .map(|r| r.iter().map(|v| v.as_f64().map_or(f32::NAN, |x| x as f32)).collect())
                .ok_or_else(|| format!("{}: a row is not an array", path.display()))
        })
        .collect::<Result<_, _>>()?;
    let width = rows.first().map(Vec::len).ok_or_else(|| format!("{}: no rows", path.display()))?;
    if rows.iter().any(|r| r.len() != width) {
        return Err(format!("{}: rows of different lengths", path.display()));
    }
    let tensor = |n: usize| -> Result<Tensor, String> {
        let flat: Vec<f32> = rows.iter().cycle().take(n).flatten().copied().collect();
        tract_ndarray::Array2::from_shape_vec((n, width), flat).map(IntoTensor::into_tensor).map_err(|e| e.to_string())
    };
    let case = Case { name, model, one: tensor(1)?, batch: tensor(BATCH)? };
    // Both inputs must run before they are timed.
    for input in [&case.one, &case.batch] {
        case.model.run(vec![input.clone()]).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(case)
}

/// The median time of one call of `f`, in seconds, over calls made for about `budget`.
fn median_secs(budget: Duration, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut times = Vec::new();
    while times.len() < 11 || (start.elapsed() < budget && times.len() < 100_000) {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() -> ExitCode {
    let Ok(dir) = kubesage_ml::model::sklearn_fixtures() else {
        println!(
            "model_infer: no scikit-learn fixtures (set KUBESAGE_SKLEARN_FIXTURES or HOME). Build them with\n  \
             python3 -m venv .venv-sklearn && .venv-sklearn/bin/pip install -r scripts/models/sklearn-requirements.txt\n  \
             .venv-sklearn/bin/python scripts/models/sklearn_fixtures.py --out ~/.cache/kubesage/sklearn-fixtures\n\
             (scripts/test does the same); skipped."
        );
        return ExitCode::SUCCESS;
    };
    let only = std::env::var("KUBESAGE_MODEL_CASES").unwrap_or_default();
    let wanted = |name: &&&str| only.is_empty() || only.split(',').any(|c| c.trim() == **name);
    let cases = match CASES.iter().filter(wanted).map(|name| load_case(&dir, name)).collect::<Result<Vec<_>, _>>() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("model_infer: {e}");
            return ExitCode::FAILURE;
        }
    };

    let mut c = Criterion::default().configure_from_args();
    for case in &cases {
        let mut group = c.benchmark_group(format!("model_infer/{}", case.name));
        for (rows, input) in [(1, &case.one), (BATCH, &case.batch)] {
            group.throughput(Throughput::Elements(rows as u64));
            group.bench_with_input(BenchmarkId::new("rows", rows), input, |b, x| {
                b.iter(|| black_box(case.model.run(vec![black_box(x).clone()])))
            });
        }
        group.finish();
    }

    // The figures, measured plainly: median latency per call and per row.
    println!("Model::run, median over ~1 s each (input tensor clone included):");
    println!("  {:<36} {:>12} {:>16} {:>14}", "case", "1 row (µs)", "256 rows (µs)", "µs/row @256");
    let mut over = Vec::new();
    for case in &cases {
        let run = |x: &Tensor| {
            black_box(case.model.run(vec![x.clone()]).map(|o| o.len()).unwrap_or(0));
        };
        let one = median_secs(Duration::from_secs(1), || run(&case.one)) * 1e6;
        let batch = median_secs(Duration::from_secs(1), || run(&case.batch)) * 1e6;
        println!("  {:<36} {one:>12.1} {batch:>16.1} {:>14.2}", case.name, batch / BATCH as f64);
        if one > SINGLE_ROW_BUDGET_US {
            over.push(case.name);
        }
    }
    if over.is_empty() {
        println!("every single-row latency is under {SINGLE_ROW_BUDGET_US} µs");
    } else {
        println!("single-row latency over {SINGLE_ROW_BUDGET_US} µs: {}", over.join(", "));
    }
    ExitCode::SUCCESS
}
