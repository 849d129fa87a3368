//! scikit-learn models exported by skl2onnx, run by our model runtime, against scikit-learn's own
//! predictions on held-out rows: labels equal, probabilities, scores and values within a
//! tolerance (1e-5 unless a case says why not).
//!
//! `scripts/models/sklearn_fixtures.py` trains and exports the models and writes the expected
//! answers; `scripts/test` runs it into `$KUBESAGE_SKLEARN_FIXTURES` (by default
//! `~/.cache/kubesage/sklearn-fixtures`). Without the fixtures these tests fail and say so,
//! rather than skipping.

use std::path::PathBuf;

use kubesage_ml::Error;
use kubesage_ml::model::{ClassLabels, DataType, Model};
use serde_json::Value;
use tract_onnx::prelude::*;

fn fixtures_dir() -> PathBuf {
    kubesage_ml::model::sklearn_fixtures().unwrap_or_else(|e| panic!("{e}"))
}

fn expected(case: &str) -> Value {
    let path = fixtures_dir().join(case).join("expected.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).expect("expected.json is JSON")
}

fn load(case: &str) -> Model {
    let path = fixtures_dir().join(case).join("model.onnx");
    Model::load(&path).unwrap_or_else(|e| panic!("{case}: {e}"))
}

/// The held-out rows as a `[rows, features]` tensor; `null` is NaN (a missing value).
fn rows(expected: &Value) -> Tensor {
    let rows = expected["rows"].as_array().expect("rows");
    let width = rows[0].as_array().expect("a row").len();
    let flat: Vec<f32> = rows
        .iter()
        .flat_map(|r| r.as_array().expect("a row").iter().map(|v| v.as_f64().map_or(f32::NAN, |x| x as f32)))
        .collect();
    tract_ndarray::Array2::from_shape_vec((rows.len(), width), flat).expect("rectangular rows").into_tensor()
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        Value::Number(n) => vec![n.as_f64().expect("a number")],
        other => panic!("not a number: {other}"),
    }
}

fn labels_of(t: &Tensor) -> Vec<i64> {
    t.cast_to::<i64>().expect("integer labels").to_plain_array_view::<i64>().expect("a view").iter().copied().collect()
}

fn floats_of(t: &Tensor) -> Vec<f64> {
    t.cast_to::<f64>().expect("float outputs").to_plain_array_view::<f64>().expect("a view").iter().copied().collect()
}

/// Runs one case and checks every output it records; returns the largest absolute difference.
fn check(case: &str, tolerance: f64) -> f64 {
    let expected = expected(case);
    let model = load(case);
    let input = model.inputs().first().expect("an input");
    assert_eq!(input.name, expected["input"].as_str().expect("input name"));
    assert_eq!(input.datatype, DataType::Fp32);
    assert_eq!(input.shape.first(), Some(&-1), "{case}: the batch dimension is symbolic");
    let x = rows(&expected);
    let n = x.shape()[0];
    let outputs = model.run(vec![x]).unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(outputs.len(), model.outputs().len());

    let mut worst = 0f64;
    for check in expected["checks"].as_array().expect("checks") {
        let name = check["output"].as_str().expect("output name");
        let ix =
            model.outputs().iter().position(|o| o.name == name).unwrap_or_else(|| panic!("{case}: no output {name}"));
        let got = &outputs[ix];
        let spec = &model.outputs()[ix];
        assert_eq!(got.shape()[0], n, "{case}/{name}: one row out per row in");
        match check["kind"].as_str().expect("kind") {
            "labels" => {
                let want: Vec<i64> =
                    check["expected"].as_array().expect("labels").iter().map(|v| v.as_i64().expect("int")).collect();
                assert_eq!(labels_of(got), want, "{case}/{name}: labels");
            }
            kind => {
                let want = floats(&check["expected"]);
                let have = floats_of(got);
                assert_eq!(have.len(), want.len(), "{case}/{name}: {kind} count (shape {:?})", got.shape());
                for (i, (a, b)) in have.iter().zip(&want).enumerate() {
                    let d = (a - b).abs();
                    worst = worst.max(d);
                    assert!(
                        d <= tolerance,
                        "{case}/{name}: {kind}[{i}] = {a}, scikit-learn {b} (|diff| {d:e} > {tolerance:e})"
                    );
                }
                if check["zipmap"].as_bool() == Some(true) {
                    let classes: Vec<i64> = check["classes"]
                        .as_array()
                        .expect("classes")
                        .iter()
                        .map(|c| c.as_i64().expect("int"))
                        .collect();
                    assert_eq!(
                        spec.class_labels,
                        Some(ClassLabels::Int64(classes)),
                        "{case}/{name}: ZipMap labels in the schema"
                    );
                    assert_eq!(spec.datatype, DataType::Fp32);
                    assert_eq!(spec.shape.len(), 2);
                }
            }
        }
    }
    eprintln!("{case}: {n} rows, max |diff| {worst:.3e}");
    worst
}

/// Probabilities, scores and values: within 1e-5 of scikit-learn. The graphs compute in `f32`
/// (inputs, thresholds and coefficients are `f32` in ONNX-ML), scikit-learn in `f64`; the
/// fixtures' rows are `f32`-exact, so no row falls on the other side of a tree threshold.
///
/// KNN and IsolationForest need no looser bound here: KNN's probabilities are vote fractions
/// (k/5), exact whenever the same neighbours are found, and `f32` distances could only change
/// the neighbours on a near tie, which these rows do not have (a tie would show as a whole
/// vote, 0.2, not as rounding); the isolation forest's score, `0.5 - 2^(-E[path]/c(n))`, is a
/// handful of `f32` operations on exact path lengths. Observed: below 3e-7 for every case.
const TOLERANCE: f64 = 1e-5;

macro_rules! parity {
    ($($test:ident: $case:literal $(, $tolerance:expr)?;)*) => {$(
        #[test]
        fn $test() {
            #[allow(unused_variables)]
            let tolerance = TOLERANCE;
            $(let tolerance = $tolerance;)?
            check($case, tolerance);
        }
    )*};
}

parity! {
    logistic_regression_binary: "logreg_binary";
    logistic_regression_binary_zipmap: "logreg_binary_zipmap";
    logistic_regression_multiclass: "logreg_multiclass";
    logistic_regression_multiclass_zipmap: "logreg_multiclass_zipmap";
    standard_scaler_pipeline: "scaler_logreg";
    mean_imputer_pipeline_with_nan: "imputer_scaler_logreg";
    median_imputer_pipeline_with_nan: "imputer_median_linreg";
    decision_tree_classifier_binary: "tree_classifier_binary";
    decision_tree_classifier_multiclass: "tree_classifier_multiclass";
    decision_tree_regressor: "tree_regressor";
    random_forest_classifier_binary: "forest_classifier_binary";
    random_forest_classifier_multiclass: "forest_classifier_multiclass";
    random_forest_classifier_multiclass_zipmap: "forest_classifier_multiclass_zipmap";
    random_forest_regressor: "forest_regressor";
    gradient_boosting_classifier_binary: "gradient_boosting_binary";
    gradient_boosting_classifier_binary_zipmap: "gradient_boosting_binary_zipmap";
    gradient_boosting_classifier_multiclass: "gradient_boosting_multiclass";
    gradient_boosting_regressor: "gradient_boosting_regressor";
    linear_regression: "linear_regression";
    svc_binary_probabilities: "svc_binary";
    svc_multiclass_probabilities: "svc_multiclass";
    svc_linear_decision_function: "svc_linear_scores";
    svr_pipeline: "svr";
    knn_classifier: "knn_classifier";
    knn_regressor: "knn_regressor";
    isolation_forest: "isolation_forest";
}

#[test]
fn every_fixture_case_is_checked() {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(fixtures_dir().join("manifest.json")).expect("manifest")).expect("JSON");
    let source = include_str!("sklearn_parity.rs");
    for case in manifest["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        assert!(source.contains(&format!("\"{name}\"")), "fixture case {name} has no parity test");
    }
}

#[test]
fn one_row_at_a_time_gives_the_same_answers_as_the_batch() {
    for case in ["forest_classifier_multiclass", "gradient_boosting_binary", "svc_multiclass", "isolation_forest"] {
        let expected = expected(case);
        let model = load(case);
        let x = rows(&expected);
        let batch = model.run(vec![x.clone()]).expect("batch");
        for r in 0..x.shape()[0].min(5) {
            let one = x.slice(0, r, r + 1).expect("a row");
            let single = model.run(vec![one]).expect("one row");
            for (b, s) in batch.iter().zip(&single) {
                let b = b.slice(0, r, r + 1).expect("a row");
                assert_eq!(&b, s, "{case}: row {r}");
            }
        }
    }
}

#[test]
fn inputs_that_do_not_match_the_schema_are_typed_errors() {
    let model = load("forest_classifier_binary");
    let wrong_width = tract_ndarray::Array2::<f32>::zeros((2, 5)).into_tensor();
    assert!(matches!(model.run(vec![wrong_width]), Err(Error::ModelInput { .. })));
    let wrong_type = tract_ndarray::Array2::<f64>::zeros((2, 6)).into_tensor();
    assert!(matches!(model.run(vec![wrong_type]), Err(Error::ModelInput { .. })));
    assert!(matches!(model.run(vec![]), Err(Error::ModelInput { .. })));
    let empty = tract_ndarray::Array2::<f32>::zeros((0, 6)).into_tensor();
    let out = model.run(vec![empty]).expect("an empty batch runs");
    assert_eq!(out[0].shape(), &[0]);
}

#[test]
fn truncated_and_random_files_are_decode_errors() {
    let bytes = std::fs::read(fixtures_dir().join("gradient_boosting_multiclass/model.onnx")).expect("model");
    for cut in [1, 7, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        match Model::from_bytes(&bytes[..cut]) {
            Err(Error::ModelDecode { .. } | Error::ModelInvalid { .. }) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // Deterministic noise (xorshift).
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for len in [16, 1000, 100_000] {
        let noise: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        match Model::from_bytes(&noise) {
            Err(Error::ModelDecode { .. } | Error::ModelInvalid { .. } | Error::UnsupportedOperator { .. }) => {}
            other => panic!("{len} random bytes: {other:?}"),
        }
    }
}
