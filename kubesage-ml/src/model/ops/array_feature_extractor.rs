//! `ArrayFeatureExtractor` (ai.onnx.ml), replacing tract's: picks elements of the last axis of
//! `X` by index, `Y`. tract 0.23 reads it as a `Gather` (the output takes `Y`'s shape), so a
//! scalar index drops the axis; the operator's definition (and onnxruntime) keeps it: the output
//! is `X`'s shape with the last axis replaced by the number of indices, and `[1, n]` for a 1-D
//! `X`. skl2onnx relies on the latter (a scalar index per class in `SVC`'s `decision_function`
//! graph, then a `Concat` on axis 1).
//!
//! Wired as tract's own `Gather` after flattening the indices, so it optimises as tract's does.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::tract_core::ops::array::Gather;

/// A parsed `ArrayFeatureExtractor`.
#[derive(Clone, Debug)]
pub(crate) struct ArrayFeatureExtractor;

pub(crate) fn parse(_ctx: &ParsingContext, _node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((expand(ArrayFeatureExtractor), vec![]))
}

impl Expansion for ArrayFeatureExtractor {
    fn name(&self) -> StaticName {
        "ArrayFeatureExtractor".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.given_2(&inputs[0].shape, &inputs[1].shape, move |s, x, y| {
            let count = y.iter().fold(TDim::from(1), |acc, d| acc * d);
            let mut shape: TVec<TDim> = if x.len() <= 1 { tvec![1.into()] } else { x[..x.len() - 1].into() };
            shape.push(count);
            s.equals(&outputs[0].shape, shape)
        })
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let (x, mut y) = (inputs[0], inputs[1]);
        let x_rank = model.outlet_fact(x)?.rank();
        if x_rank == 0 {
            bail!("ArrayFeatureExtractor needs an input with at least one axis");
        }
        let y_fact = model.outlet_fact(y)?.clone();
        if y_fact.datum_type != DatumType::I64 {
            y = model.wire_node(format!("{prefix}.indices_i64"), tract_core::ops::cast::cast(DatumType::I64), &[y])?[0];
        }
        if y_fact.rank() != 1 {
            let from: TVec<TDim> = y_fact.shape.iter().cloned().collect();
            let count = from.iter().fold(TDim::from(1), |acc, d| acc * d);
            y = model.wire_node(format!("{prefix}.flatten_indices"), AxisOp::Reshape(0, from, tvec![count]), &[y])?[0];
        }
        let mut z = model.wire_node(prefix, Gather::new(x_rank - 1), &[x, y])?;
        if x_rank == 1 {
            z = model.wire_node(format!("{prefix}.add_row_axis"), AxisOp::Add(0), &z)?;
        }
        Ok(z)
    }
}
