//! `SVMRegressor` (ai.onnx.ml): scikit-learn's `SVR`/`NuSVR` and `OneClassSVM`. Output
//! `[rows, 1]` `f32`: `Σ coef_v K(x, sv_v) + rho[0]` over `n_supports` support vectors (or
//! `x·coef + rho[0]` when there are none); with `one_class` the sign, `1` or `-1`.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::PostTransform;
use super::rowwise::{Features, OutputSpec, RowOperator, Rowwise, columns, rows_of};
use super::svm::Kernel;

/// A parsed `SVMRegressor`.
#[derive(Debug)]
pub(crate) struct SvmRegressor {
    kernel: Kernel,
    /// `[n_supports, features]`; empty in the linear layout.
    support: Vec<f32>,
    coefficients: Vec<f32>,
    features: usize,
    rho: f64,
    one_class: bool,
    post: PostTransform,
}

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
    let op = SvmRegressor { kernel, support, coefficients, features, rho, one_class, post };
    Ok((Rowwise::expand(op), vec![]))
}

impl RowOperator for SvmRegressor {
    const NAME: &'static str = "SVMRegressor";
    const READER: &'static str = "the support vector machine";

    fn features(&self) -> Features {
        Features::Exactly(self.features)
    }

    fn outputs(&self) -> TVec<OutputSpec> {
        tvec!(OutputSpec::Columns(DatumType::F32, 1))
    }

    fn eval(&self, x: &[f32], rows: usize, width: usize) -> TractResult<TVec<Tensor>> {
        let mut out = Vec::with_capacity(rows);
        for row in rows_of(x, rows, width) {
            let mut v = if self.support.is_empty() {
                self.kernel.apply(row, &self.coefficients)
            } else {
                self.support
                    .chunks_exact(self.features)
                    .zip(&self.coefficients)
                    .map(|(sv, &c)| f64::from(c) * self.kernel.apply(row, sv))
                    .sum()
            } + self.rho;
            if self.one_class {
                v = if v > 0.0 { 1.0 } else { -1.0 };
            }
            let mut one = [v];
            self.post.apply(&mut one);
            out.push(one[0] as f32);
        }
        Ok(tvec!(columns(out, rows, 1)?))
    }
}
