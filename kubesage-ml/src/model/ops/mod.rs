//! ONNX-ML operators tract 0.23 lacks, or handles differently from scikit-learn, implemented
//! here and registered with tract's ONNX loader ([`register`]).
//!
//! Each file holds one operator: its parser (attributes read and checked once, at load) and
//! what it computes. The operators computed row by row on `[rows, features]` (the tree
//! ensembles and the support vector machines) implement `rowwise::RowOperator` with their
//! arithmetic only; one wrapper, `rowwise::Rowwise`, gives them tract's inference rules (an
//! [`Expansion`]) and the typed operator that runs (`Op`, `EvalOp`, `TypedOp`). The others keep
//! their own: `Scaler` and `ArrayFeatureExtractor` are wired as tract's own operators, `ZipMap`
//! is a pass-through. `Imputer` and `LabelEncoder`, which map a tensor of any shape element by
//! element, share `elementwise::Elementwise` the same way (`elementwise::ElementOperator`).
//!
//! The shape of each follows what onnxruntime computes for the same attributes, checked
//! against scikit-learn by `kubesage-ml/tests/sklearn_parity.rs`; where onnxruntime keeps a
//! quirk that scikit-learn does not have, the file says which one we follow. Arithmetic runs in `f64` and is stored as `f32`, the ONNX outputs' type.
//!
//! Every attribute array is checked against the others before anything is allocated from it,
//! and every index read at run time is checked at load, so a hostile model gets an error from
//! the loader, never a panic or an out-of-bounds read later.

mod array_feature_extractor;
mod elementwise;
mod imputer;
mod label_encoder;
mod rowwise;
mod scaler;
mod svm;
mod svm_classifier;
mod svm_regressor;
mod tree;
mod tree_ensemble_classifier;
mod tree_ensemble_regressor;
mod zip_map;

use tract_onnx::Onnx;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::ClassLabels;

/// The operators this module adds (or replaces: `TreeEnsembleClassifier`, `ArrayFeatureExtractor`).
pub const OPERATORS: &[&str] = &[
    "Scaler",
    "Imputer",
    "TreeEnsembleRegressor",
    "TreeEnsembleClassifier",
    "ZipMap",
    "LabelEncoder",
    "SVMClassifier",
    "SVMRegressor",
    "ArrayFeatureExtractor",
];

/// Registers our operators with an ONNX loader, replacing tract's `TreeEnsembleClassifier`
/// (which rejects the single `base_values` entry of binary gradient boosting exports) and
/// `ArrayFeatureExtractor` (whose output shape differs from the operator's definition).
pub fn register(onnx: &mut Onnx) {
    let reg = &mut onnx.op_register;
    reg.insert("Scaler", scaler::parse);
    reg.insert("Imputer", imputer::parse);
    reg.insert("TreeEnsembleRegressor", tree_ensemble_regressor::parse);
    reg.insert("TreeEnsembleClassifier", tree_ensemble_classifier::parse);
    reg.insert("ZipMap", zip_map::parse);
    reg.insert("LabelEncoder", label_encoder::parse);
    reg.insert("SVMClassifier", svm_classifier::parse);
    reg.insert("SVMRegressor", svm_regressor::parse);
    reg.insert("ArrayFeatureExtractor", array_feature_extractor::parse);
}

/// The largest number of classes or targets an operator may declare: far beyond any real
/// model, small enough that per-row score buffers stay small.
const MAX_CLASSES: usize = 1 << 16;

/// What an operator does to its scores before returning them (`post_transform`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PostTransform {
    /// Scores as computed.
    None,
    /// `1 / (1 + e^-x)` on each score.
    Logistic,
    /// Softmax over a row's scores.
    Softmax,
    /// Softmax over a row's non-zero scores; zero scores stay (almost) zero.
    SoftmaxZero,
}

impl PostTransform {
    /// Reads `post_transform` (default `NONE`). `PROBIT` is refused: no scikit-learn
    /// converter emits it and it needs an inverse error function we do not carry.
    pub(crate) fn parse(node: &NodeProto) -> TractResult<Self> {
        match node.get_attr_opt::<&str>("post_transform")?.unwrap_or("NONE") {
            "NONE" => Ok(PostTransform::None),
            "LOGISTIC" => Ok(PostTransform::Logistic),
            "SOFTMAX" => Ok(PostTransform::Softmax),
            "SOFTMAX_ZERO" => Ok(PostTransform::SoftmaxZero),
            "PROBIT" => bail!("post_transform PROBIT is not supported"),
            other => bail!("unknown post_transform {other:?}"),
        }
    }

    /// Applies the transform to one row of scores.
    pub(crate) fn apply(self, scores: &mut [f64]) {
        match self {
            PostTransform::None => {}
            PostTransform::Logistic => scores.iter_mut().for_each(|s| *s = logistic(*s)),
            PostTransform::Softmax => {
                let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut sum = 0.0;
                for s in scores.iter_mut() {
                    *s = (*s - max).exp();
                    sum += *s;
                }
                scores.iter_mut().for_each(|s| *s /= sum);
            }
            PostTransform::SoftmaxZero => {
                let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut sum = 0.0;
                for s in scores.iter_mut() {
                    if s.abs() > 1e-7 {
                        *s = (*s - max).exp();
                        sum += *s;
                    } else {
                        *s *= (-max).exp();
                    }
                }
                if sum > 0.0 {
                    scores.iter_mut().for_each(|s| *s /= sum);
                }
            }
        }
    }
}

/// The logistic function, without overflow for large negative inputs.
pub(crate) fn logistic(x: f64) -> f64 {
    if x >= 0.0 { 1.0 / (1.0 + (-x).exp()) } else { x.exp() / (1.0 + x.exp()) }
}

/// Reads a list-of-floats attribute, or its `<name>_as_tensor` double variant (ai.onnx.ml 3),
/// as `f64`. `None` when neither is present.
pub(crate) fn floats_attr(node: &NodeProto, name: &str) -> TractResult<Option<Vec<f64>>> {
    if let Some(v) = node.get_attr_opt_slice::<f32>(name)? {
        return Ok(Some(v.iter().map(|&x| f64::from(x)).collect()));
    }
    let tensor_name = format!("{name}_as_tensor");
    if let Some(t) = node.get_attr_opt::<&tract_onnx::pb::TensorProto>(&tensor_name)? {
        if !t.double_data.is_empty() {
            return Ok(Some(t.double_data.clone()));
        }
        if !t.float_data.is_empty() {
            return Ok(Some(t.float_data.iter().map(|&x| f64::from(x)).collect()));
        }
        if !t.raw_data.is_empty() {
            // data_type 11 is DOUBLE, 1 FLOAT; little-endian, as ONNX stores raw data.
            return match t.data_type {
                11 if t.raw_data.len() % 8 == 0 => Ok(Some(
                    t.raw_data
                        .chunks_exact(8)
                        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                        .collect(),
                )),
                1 if t.raw_data.len() % 4 == 0 => Ok(Some(
                    t.raw_data
                        .chunks_exact(4)
                        .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                        .collect(),
                )),
                _ => bail!("attribute {tensor_name}: raw data of type {} and {} bytes", t.data_type, t.raw_data.len()),
            };
        }
        return Ok(Some(Vec::new()));
    }
    Ok(None)
}

/// Reads a list-of-ints attribute as indices (each in `0..=u32::MAX`).
pub(crate) fn indices_attr(node: &NodeProto, name: &str) -> TractResult<Vec<u32>> {
    node.get_attr_slice::<i64>(name)?
        .iter()
        .map(|&i| u32::try_from(i).map_err(|_| format_err!("attribute {name}: {i} is not a valid index")))
        .collect()
}

/// The class labels of a classifier: `<prefix>_int64s` or `<prefix>_strings`, exactly one.
pub(crate) fn class_labels(node: &NodeProto, ints: &str, strings: &str) -> TractResult<ClassLabels> {
    let labels = match (node.get_attr_opt_slice::<i64>(ints)?, node.get_attr_opt_tvec::<String>(strings)?) {
        (Some(v), None) => ClassLabels::Int64(v.to_vec()),
        (None, Some(v)) => ClassLabels::Strings(v.into_iter().collect()),
        (None, None) => bail!("neither {ints} nor {strings} is set"),
        (Some(_), Some(_)) => bail!("both {ints} and {strings} are set"),
    };
    if labels.is_empty() || labels.len() > MAX_CLASSES {
        bail!("{} class labels; expected 1 to {MAX_CLASSES}", labels.len());
    }
    Ok(labels)
}

impl ClassLabels {
    /// The datum type of a label tensor.
    pub(crate) fn datum_type(&self) -> DatumType {
        match self {
            ClassLabels::Int64(_) => DatumType::I64,
            ClassLabels::Strings(_) => DatumType::String,
        }
    }

    /// A 1-D tensor of the labels at `picks` (indices into the labels, checked by the caller).
    pub(crate) fn pick(&self, picks: &[usize]) -> Tensor {
        match self {
            ClassLabels::Int64(v) => tensor1(&picks.iter().map(|&i| v[i]).collect::<Vec<_>>()),
            ClassLabels::Strings(v) => tensor1(&picks.iter().map(|&i| v[i].clone()).collect::<Vec<_>>()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let mut s = [1.0, 2.0, 3.0];
        PostTransform::Softmax.apply(&mut s);
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(s[0] < s[1] && s[1] < s[2]);
    }

    #[test]
    fn logistic_is_stable_at_the_extremes() {
        assert_eq!(logistic(-1000.0), 0.0);
        assert_eq!(logistic(1000.0), 1.0);
        assert!((logistic(0.0) - 0.5).abs() < 1e-15);
    }
}
