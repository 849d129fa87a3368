//! `ZipMap` (ai.onnx.ml): turns a `[rows, classes]` probability tensor into a sequence of
//! maps `{class label: probability}`, one per row. skl2onnx appends it to every classifier
//! unless told `zipmap=False`.
//!
//! tract has no map or sequence values, and a serving protocol (KServe's Open Inference
//! Protocol) carries tensors only, so we pass the probability tensor through unchanged: its
//! columns are the classes in the order of `classlabels_*`, which
//! [`Model`](crate::model::Model) reports as the output's
//! [`class_labels`](crate::model::TensorSpec::class_labels). The same numbers, without
//! building one map per row; a client that wants the maps zips the row with those labels.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::class_labels;

/// A parsed `ZipMap`: a pass-through.
#[derive(Clone, Debug)]
pub(crate) struct ZipMap {
    classes: usize,
}

pub(crate) fn parse(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let labels = class_labels(node, "classlabels_int64s", "classlabels_strings")?;
    Ok((expand(ZipMap { classes: labels.len() }), vec![]))
}

impl Expansion for ZipMap {
    fn name(&self) -> StaticName {
        "ZipMap".into()
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
        s.equals(&inputs[0].shape[1], self.classes.to_dim())?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.equals(&outputs[0].shape, &inputs[0].shape)?;
        Ok(())
    }

    fn wire(&self, _prefix: &str, _model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        Ok(tvec!(inputs[0]))
    }
}
