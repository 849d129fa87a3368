//! `TreeEnsembleClassifier` (ai.onnx.ml), replacing tract's: outputs the label `[rows]` (`i64` or
//! string) and the scores `[rows, classes]` `f32`.
//!
//! tract 0.23's version requires `base_values` to have one value per class, which rejects
//! skl2onnx's binary gradient boosting (one value, the log-odds prior). Ours follows
//! onnxruntime's reading of the binary case, where all leaves weigh class 0 and that weight
//! `s` is the positive class's score:
//! * all weights non-negative (decision trees, random forests: `s` is P(class 1)): the label is
//!   class 1 when `s > 0.5`, the scores `[1 - s, s]`;
//! * some weights negative (gradient boosting: `s` is a log-odds, plus the one base value): the
//!   label is class 1 when `s > 0`, the scores `[σ(-s), σ(s)]` with `LOGISTIC`, else `[-s, s]`.
//!
//! Otherwise each class sums its own weights plus its base value, the label is the first class
//! with the highest score (as numpy's `argmax`), and `post_transform` applies to all scores.
//! (onnxruntime writes `[s, -s]` for a negative binary label without a post transform; we keep
//! `[-s, s]`, the same layout as every other row.)

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::rowwise::{Features, OutputSpec, RowOperator, Rowwise, columns, rows_of};
use super::tree::{Aggregate, Forest};
use super::{ClassLabels, PostTransform, class_labels, floats_attr, logistic};

/// A parsed `TreeEnsembleClassifier`.
#[derive(Debug)]
pub(crate) struct TreeEnsembleClassifier {
    forest: Forest,
    labels: ClassLabels,
    base_values: Vec<f64>,
    post: PostTransform,
    /// Two classes, all weights on one of them: the binary layout described above.
    binary_on: Option<usize>,
}

pub(crate) fn parse(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let labels = class_labels(node, "classlabels_int64s", "classlabels_strings")?;
    let n = labels.len();
    let forest = Forest::parse(node, "class", n, Aggregate::Sum)?;
    let base_values = floats_attr(node, "base_values")?.unwrap_or_default();
    if !base_values.is_empty() && base_values.len() != n && !(n == 2 && base_values.len() == 1) {
        bail!("base_values has {} values for {n} classes", base_values.len());
    }
    let post = PostTransform::parse(node)?;
    let used: Vec<usize> = (0..n).filter(|&k| forest.used_targets[k]).collect();
    let binary_on = (n == 2 && used.len() == 1).then(|| used[0]);
    Ok((Rowwise::expand(TreeEnsembleClassifier { forest, labels, base_values, post, binary_on }), vec![]))
}

impl RowOperator for TreeEnsembleClassifier {
    const NAME: &'static str = "TreeEnsembleClassifier";
    const READER: &'static str = "the trees";

    fn features(&self) -> Features {
        Features::AtLeast(self.forest.n_features)
    }

    fn outputs(&self) -> TVec<OutputSpec> {
        tvec!(OutputSpec::PerRow(self.labels.datum_type()), OutputSpec::Columns(DatumType::F32, self.labels.len()))
    }

    fn info(&self) -> Vec<String> {
        let f = &self.forest;
        vec![format!("{} trees, {} classes, {} features", f.n_trees(), f.n_targets, f.n_features)]
    }

    fn eval(&self, x: &[f32], rows: usize, width: usize) -> TractResult<TVec<Tensor>> {
        let n = self.labels.len();
        let mut picks = Vec::with_capacity(rows);
        let mut out = Vec::with_capacity(rows * n);
        let mut scores = vec![0f64; n];
        let mut has = vec![false; n];
        for row in rows_of(x, rows, width) {
            self.forest.eval_row(row, &mut scores, &mut has);
            if let Some(on) = self.binary_on {
                let base = self.base_values.get(on).or(self.base_values.first()).copied().unwrap_or(0.0);
                let s = scores[on] + base;
                let (label, pair) = if self.forest.weights_all_positive {
                    (usize::from(s > 0.5), [1.0 - s, s])
                } else if self.post == PostTransform::Logistic {
                    (usize::from(s > 0.0), [logistic(-s), logistic(s)])
                } else {
                    (usize::from(s > 0.0), [-s, s])
                };
                picks.push(label);
                out.extend(pair.iter().map(|&v| v as f32));
            } else {
                if self.base_values.len() == n {
                    for k in 0..n {
                        scores[k] += self.base_values[k];
                        has[k] = true;
                    }
                }
                let mut best: Option<usize> = None;
                for k in 0..n {
                    if has[k] && best.is_none_or(|b| scores[k] > scores[b]) {
                        best = Some(k);
                    }
                }
                picks.push(best.unwrap_or(0));
                self.post.apply(&mut scores);
                out.extend(scores.iter().map(|&v| v as f32));
            }
        }
        Ok(tvec!(self.labels.pick(&picks), columns(out, rows, n)?))
    }
}
