//! `SVMRegressor` (ai.onnx.ml): scikit-learn's `SVR`/`NuSVR` and `OneClassSVM`. Output
//! `[rows, 1]` `f32`: `Σ coef_v K(x, sv_v) + rho[0]` over `n_supports` support vectors (or
//! `x·coef + rho[0]` when there are none); with `one_class` the sign, `1` or `-1`.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::svm::Kernel;
use super::{PostTransform, check_features, eq_by_arc, rows_dim, rows_f32};

#[derive(Debug)]
struct Params {
    kernel: Kernel,
    /// `[n_supports, features]`; empty in the linear layout.
    support: Vec<f32>,
    coefficients: Vec<f32>,
    features: usize,
    rho: f64,
    one_class: bool,
    post: PostTransform,
}

/// A parsed `SVMRegressor`.
#[derive(Clone, Debug)]
pub(crate) struct SvmRegressor {
    params: Arc<Params>,
}

eq_by_arc!(SvmRegressor, params);

pub(crate) fn parse(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let mut kernel = Kernel::parse(node)?;
    let coefficients = node.get_attr_opt_slice::<f32>("coefficients")?.unwrap_or(&[]).to_vec();
    if coefficients.is_empty() {
        bail!("coefficients are empty");
    }
    let rho = node.get_attr_opt_slice::<f32>("rho")?.and_then(|r| r.first().copied()).map(f64::from);
    let rho = rho.ok_or_else(|| format_err!("rho is empty"))?;
    let n_supports = node.get_attr_opt::<i64>("n_supports")?.unwrap_or(0);
    let n_supports = usize::try_from(n_supports).map_err(|_| format_err!("n_supports is {n_supports}"))?;
    let support = node.get_attr_opt_slice::<f32>("support_vectors")?.unwrap_or(&[]).to_vec();
    let features = if n_supports > 0 {
        if support.is_empty() || support.len() % n_supports != 0 {
            bail!("{} support vector values do not split into {n_supports} vectors", support.len());
        }
        if coefficients.len() < n_supports {
            bail!("{} coefficients for {n_supports} support vectors", coefficients.len());
        }
        support.len() / n_supports
    } else {
        kernel = Kernel::Linear;
        coefficients.len()
    };
    let one_class = node.get_attr_opt::<i64>("one_class")?.unwrap_or(0) != 0;
    let post = PostTransform::parse(node)?;
    let support = if n_supports > 0 { support } else { Vec::new() };
    let params = Params { kernel, support, coefficients, features, rho, one_class, post };
    Ok((expand(SvmRegressor { params: Arc::new(params) }), vec![]))
}

impl Expansion for SvmRegressor {
    fn name(&self) -> StaticName {
        "SVMRegressor".into()
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
        s.equals(&outputs[0].shape[1], 1.to_dim())?;
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.clone(), inputs)
    }
}

impl Op for SvmRegressor {
    fn name(&self) -> StaticName {
        "SVMRegressor".into()
    }

    op_as_typed_op!();
}

impl EvalOp for SvmRegressor {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let (x, rows, width) = rows_f32(&input)?;
        let p = &*self.params;
        if width != p.features {
            bail!("the model has {} features, the input {width}", p.features);
        }
        let mut out = Vec::with_capacity(rows);
        for r in 0..rows {
            let row = &x[r * width..(r + 1) * width];
            let mut v = if p.support.is_empty() {
                p.kernel.apply(row, &p.coefficients)
            } else {
                p.support
                    .chunks_exact(p.features)
                    .zip(&p.coefficients)
                    .map(|(sv, &c)| f64::from(c) * p.kernel.apply(row, sv))
                    .sum()
            } + p.rho;
            if p.one_class {
                v = if v > 0.0 { 1.0 } else { -1.0 };
            }
            let mut one = [v];
            p.post.apply(&mut one);
            out.push(one[0] as f32);
        }
        let out = tract_ndarray::Array2::from_shape_vec((rows, 1), out)?.into_tensor();
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for SvmRegressor {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        check_features(inputs[0], self.params.features, "the support vector machine")?;
        Ok(tvec!(f32::fact([rows_dim(inputs[0])?, 1.to_dim()])))
    }

    as_op!();
}
