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

use super::tree::{Aggregate, Forest};
use super::{
    ClassLabels, PostTransform, check_features, class_labels, eq_by_arc, floats_attr, logistic, rows_dim, rows_f32,
};

#[derive(Debug)]
struct Params {
    forest: Forest,
    labels: ClassLabels,
    base_values: Vec<f64>,
    post: PostTransform,
    /// Two classes, all weights on one of them: the binary layout described above.
    binary_on: Option<usize>,
}

/// A parsed `TreeEnsembleClassifier`.
#[derive(Clone, Debug)]
pub(crate) struct TreeEnsembleClassifier {
    params: Arc<Params>,
}

eq_by_arc!(TreeEnsembleClassifier, params);

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
    Ok((
        expand(TreeEnsembleClassifier { params: Arc::new(Params { forest, labels, base_values, post, binary_on }) }),
        vec![],
    ))
}

impl Expansion for TreeEnsembleClassifier {
    fn name(&self) -> StaticName {
        "TreeEnsembleClassifier".into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(2)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 2)?;
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&outputs[0].datum_type, self.params.labels.datum_type())?;
        s.equals(&outputs[0].rank, 1)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[1].datum_type, DatumType::F32)?;
        s.equals(&outputs[1].rank, 2)?;
        s.equals(&outputs[1].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[1].shape[1], self.params.labels.len().to_dim())?;
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.clone(), inputs)
    }
}

impl Op for TreeEnsembleClassifier {
    fn name(&self) -> StaticName {
        "TreeEnsembleClassifier".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        let f = &self.params.forest;
        Ok(vec![format!("{} trees, {} classes, {} features", f.n_trees(), f.n_targets, f.n_features)])
    }

    op_as_typed_op!();
}

impl EvalOp for TreeEnsembleClassifier {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let (x, rows, width) = rows_f32(&input)?;
        let p = &*self.params;
        let n = p.labels.len();
        if width < p.forest.n_features {
            bail!("the trees read {} features, the input has {width}", p.forest.n_features);
        }
        let mut picks = Vec::with_capacity(rows);
        let mut out = Vec::with_capacity(rows * n);
        let mut scores = vec![0f64; n];
        let mut has = vec![false; n];
        for r in 0..rows {
            p.forest.eval_row(&x[r * width..(r + 1) * width], &mut scores, &mut has);
            if let Some(on) = p.binary_on {
                let base = p.base_values.get(on).or(p.base_values.first()).copied().unwrap_or(0.0);
                let s = scores[on] + base;
                let (label, pair) = if p.forest.weights_all_positive {
                    (usize::from(s > 0.5), [1.0 - s, s])
                } else if p.post == PostTransform::Logistic {
                    (usize::from(s > 0.0), [logistic(-s), logistic(s)])
                } else {
                    (usize::from(s > 0.0), [-s, s])
                };
                picks.push(label);
                out.extend(pair.iter().map(|&v| v as f32));
            } else {
                if p.base_values.len() == n {
                    for k in 0..n {
                        scores[k] += p.base_values[k];
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
                p.post.apply(&mut scores);
                out.extend(scores.iter().map(|&v| v as f32));
            }
        }
        let labels = p.labels.pick(&picks);
        let scores = tract_ndarray::Array2::from_shape_vec((rows, n), out)?.into_tensor();
        Ok(tvec!(labels.into_tvalue(), scores.into_tvalue()))
    }
}

impl TypedOp for TreeEnsembleClassifier {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        check_features(inputs[0], self.params.forest.n_features, "the trees")?;
        let rows = rows_dim(inputs[0])?;
        Ok(tvec!(
            self.params.labels.datum_type().fact([rows.clone()]),
            f32::fact([rows, self.params.labels.len().to_dim()])
        ))
    }

    as_op!();
}
