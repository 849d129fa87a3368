//! `Scaler` (ai.onnx.ml): `y = (x - offset) * scale`, per feature (the last axis) or with one
//! value for all. scikit-learn's `StandardScaler`, `MinMaxScaler`, `RobustScaler` and `MaxAbsScaler`
//! export to it.
//!
//! It is wired as tract's own cast, subtraction and multiplication by constants, so tract's
//! optimiser can fuse it with what follows.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

/// A parsed `Scaler`.
#[derive(Clone, Debug)]
pub(crate) struct Scaler {
    offset: Vec<f32>,
    scale: Vec<f32>,
}

pub(crate) fn parse(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let offset = node.get_attr_opt_slice::<f32>("offset")?.map(<[f32]>::to_vec).unwrap_or_else(|| vec![0.0]);
    let scale = node.get_attr_opt_slice::<f32>("scale")?.map(<[f32]>::to_vec).unwrap_or_else(|| vec![1.0]);
    if offset.is_empty() || scale.is_empty() {
        bail!("offset and scale must not be empty");
    }
    if offset.len() != 1 && scale.len() != 1 && offset.len() != scale.len() {
        bail!(
            "offset has {} values and scale {}: they must match (or one be a single value)",
            offset.len(),
            scale.len()
        );
    }
    Ok((expand(Scaler { offset, scale }), vec![]))
}

impl Scaler {
    /// The number of features the attributes are for (1: any).
    fn width(&self) -> usize {
        self.offset.len().max(self.scale.len())
    }
}

impl Expansion for Scaler {
    fn name(&self) -> StaticName {
        "Scaler".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, DatumType::F32)?;
        s.equals(&outputs[0].shape, &inputs[0].shape)?;
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let mut x = inputs[0];
        let fact = model.outlet_fact(x)?.clone();
        let rank = fact.rank();
        if rank == 0 {
            bail!("Scaler needs at least one axis");
        }
        if self.width() > 1
            && let Ok(w) = fact.shape[rank - 1].to_usize()
            && w != self.width()
        {
            bail!("Scaler has {} values per feature, the input has {w} features", self.width());
        }
        if fact.datum_type != DatumType::F32 {
            x = model.wire_node(format!("{prefix}.to_f32"), tract_core::ops::cast::cast(DatumType::F32), &[x])?[0];
        }
        let mut shape = vec![1usize; rank];
        let constant = |v: &[f32], shape: &mut Vec<usize>| -> TractResult<Arc<Tensor>> {
            shape[rank - 1] = v.len();
            Ok(tensor1(v).into_shape(shape)?.into_arc_tensor())
        };
        let offset = model.add_const(format!("{prefix}.offset"), constant(&self.offset, &mut shape)?)?;
        let scale = model.add_const(format!("{prefix}.scale"), constant(&self.scale, &mut shape)?)?;
        let centred = model.wire_node(format!("{prefix}.sub"), tract_core::ops::math::sub(), &[x, offset])?;
        model.wire_node(format!("{prefix}.mul"), tract_core::ops::math::mul(), &[centred[0], scale])
    }
}
