//! `TreeEnsembleRegressor` (ai.onnx.ml): decision trees, random forests, gradient boosting and
//! the isolation forest's path lengths. Output `[rows, n_targets]` `f32`: the trees' weights
//! aggregated (`SUM`, `AVERAGE`, `MIN`, `MAX`), plus `base_values`, then `post_transform`.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::rowwise::{Features, OutputSpec, RowOperator, Rowwise, columns, rows_of};
use super::tree::{Aggregate, Forest};
use super::{MAX_CLASSES, PostTransform, floats_attr};

/// A parsed `TreeEnsembleRegressor`.
#[derive(Debug)]
pub(crate) struct TreeEnsembleRegressor {
    forest: Forest,
    /// Empty, or one per target (a single value when there is one target).
    base_values: Vec<f64>,
    post: PostTransform,
}

pub(crate) fn parse(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let n_targets = node.get_attr_opt::<i64>("n_targets")?.unwrap_or(1);
    let n_targets = usize::try_from(n_targets)
        .ok()
        .filter(|&n| (1..=MAX_CLASSES).contains(&n))
        .ok_or_else(|| format_err!("n_targets {n_targets} is out of range 1..={MAX_CLASSES}"))?;
    let aggregate = Aggregate::parse(node.get_attr_opt::<&str>("aggregate_function")?.unwrap_or("SUM"))?;
    let forest = Forest::parse(node, "target", n_targets, aggregate)?;
    let base_values = floats_attr(node, "base_values")?.unwrap_or_default();
    if !base_values.is_empty() && base_values.len() != n_targets {
        bail!("base_values has {} values for {n_targets} targets", base_values.len());
    }
    let post = PostTransform::parse(node)?;
    Ok((Rowwise::expand(TreeEnsembleRegressor { forest, base_values, post }), vec![]))
}

impl RowOperator for TreeEnsembleRegressor {
    const NAME: &'static str = "TreeEnsembleRegressor";
    const READER: &'static str = "the trees";

    fn features(&self) -> Features {
        Features::AtLeast(self.forest.n_features)
    }

    fn outputs(&self) -> TVec<OutputSpec> {
        tvec!(OutputSpec::Columns(DatumType::F32, self.forest.n_targets))
    }

    fn info(&self) -> Vec<String> {
        let f = &self.forest;
        vec![format!("{} trees, {} targets, {} features", f.n_trees(), f.n_targets, f.n_features)]
    }

    fn eval(&self, x: &[f32], rows: usize, width: usize) -> TractResult<TVec<Tensor>> {
        let t = self.forest.n_targets;
        let mut out = Vec::with_capacity(rows * t);
        let mut scores = vec![0f64; t];
        let mut has = vec![false; t];
        for row in rows_of(x, rows, width) {
            self.forest.eval_row(row, &mut scores, &mut has);
            for (s, base) in scores.iter_mut().zip(&self.base_values) {
                *s += base;
            }
            self.post.apply(&mut scores);
            out.extend(scores.iter().map(|&s| s as f32));
        }
        Ok(tvec!(columns(out, rows, t)?))
    }
}
