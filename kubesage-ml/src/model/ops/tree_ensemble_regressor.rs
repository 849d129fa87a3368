//! `TreeEnsembleRegressor` (ai.onnx.ml): decision trees, random forests, gradient boosting and
//! the isolation forest's path lengths. Output `[rows, n_targets]` `f32`: the trees' weights
//! aggregated (`SUM`, `AVERAGE`, `MIN`, `MAX`), plus `base_values`, then `post_transform`.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::tree::{Aggregate, Forest};
use super::{MAX_CLASSES, PostTransform, check_features, eq_by_arc, floats_attr, rows_dim, rows_f32};

#[derive(Debug)]
struct Params {
    forest: Forest,
    /// Empty, or one per target (a single value when there is one target).
    base_values: Vec<f64>,
    post: PostTransform,
}

/// A parsed `TreeEnsembleRegressor`.
#[derive(Clone, Debug)]
pub(crate) struct TreeEnsembleRegressor {
    params: Arc<Params>,
}

eq_by_arc!(TreeEnsembleRegressor, params);

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
    Ok((expand(TreeEnsembleRegressor { params: Arc::new(Params { forest, base_values, post }) }), vec![]))
}

impl Expansion for TreeEnsembleRegressor {
    fn name(&self) -> StaticName {
        "TreeEnsembleRegressor".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&outputs[0].datum_type, DatumType::F32)?;
        s.equals(&outputs[0].rank, 2)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[0].shape[1], self.params.forest.n_targets.to_dim())?;
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.clone(), inputs)
    }
}

impl Op for TreeEnsembleRegressor {
    fn name(&self) -> StaticName {
        "TreeEnsembleRegressor".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        let f = &self.params.forest;
        Ok(vec![format!("{} trees, {} targets, {} features", f.n_trees(), f.n_targets, f.n_features)])
    }

    op_as_typed_op!();
}

impl EvalOp for TreeEnsembleRegressor {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let (x, rows, width) = rows_f32(&input)?;
        let p = &*self.params;
        let t = p.forest.n_targets;
        if width < p.forest.n_features {
            bail!("the trees read {} features, the input has {width}", p.forest.n_features);
        }
        let mut out = Vec::with_capacity(rows * t);
        let mut scores = vec![0f64; t];
        let mut has = vec![false; t];
        for r in 0..rows {
            let row = &x[r * width..(r + 1) * width];
            p.forest.eval_row(row, &mut scores, &mut has);
            for (k, s) in scores.iter_mut().enumerate() {
                *s += p.base_values.get(k).copied().unwrap_or(0.0);
            }
            p.post.apply(&mut scores);
            out.extend(scores.iter().map(|&s| s as f32));
        }
        let out = tract_ndarray::Array2::from_shape_vec((rows, t), out)?;
        Ok(tvec!(out.into_tensor().into_tvalue()))
    }
}

impl TypedOp for TreeEnsembleRegressor {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        check_features(inputs[0], self.params.forest.n_features, "the trees")?;
        Ok(tvec!(f32::fact([rows_dim(inputs[0])?, self.params.forest.n_targets.to_dim()])))
    }

    as_op!();
}
