//! `Imputer` (ai.onnx.ml): replaces a marker value (NaN for scikit-learn's `SimpleImputer`) by
//! a per-feature value (the mean, median, most frequent or constant it learned).
//!
//! Float inputs (`f32`, or `f64` cast to `f32` as onnxruntime does) use `imputed_value_floats`
//! and `replaced_value_float`; `i64` inputs the `int64s` pair. A NaN marker matches every NaN.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::elementwise::{ElementOperator, Elementwise};

/// The values to put in, by feature (one value: for every feature).
#[derive(Debug)]
enum Imputed {
    Floats { values: Vec<f32>, replaced: f32 },
    Ints { values: Vec<i64>, replaced: i64 },
}

/// A parsed `Imputer`.
#[derive(Debug)]
pub(crate) struct Imputer {
    imputed: Imputed,
}

pub(crate) fn parse(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let floats = node.get_attr_opt_slice::<f32>("imputed_value_floats")?;
    let ints = node.get_attr_opt_slice::<i64>("imputed_value_int64s")?;
    let imputed = match (floats, ints) {
        (Some(f), None) if !f.is_empty() => Imputed::Floats {
            values: f.to_vec(),
            replaced: node.get_attr_opt::<f32>("replaced_value_float")?.unwrap_or(0.0),
        },
        (None, Some(i)) if !i.is_empty() => Imputed::Ints {
            values: i.to_vec(),
            replaced: node.get_attr_opt::<i64>("replaced_value_int64")?.unwrap_or(0),
        },
        _ => bail!("exactly one of imputed_value_floats and imputed_value_int64s must be set, and not empty"),
    };
    Ok((Elementwise::expand(Imputer { imputed }), vec![]))
}

impl ElementOperator for Imputer {
    const NAME: &'static str = "Imputer";

    fn output_type(&self) -> DatumType {
        match self.imputed {
            Imputed::Floats { .. } => DatumType::F32,
            Imputed::Ints { .. } => DatumType::I64,
        }
    }

    fn width(&self) -> Option<usize> {
        let n = match &self.imputed {
            Imputed::Floats { values, .. } => values.len(),
            Imputed::Ints { values, .. } => values.len(),
        };
        (n > 1).then_some(n)
    }

    fn eval(&self, input: TValue) -> TractResult<Tensor> {
        let width = input.shape().last().copied().unwrap_or(1);
        Ok(match &self.imputed {
            Imputed::Floats { values, replaced } => {
                let x = input.cast_to::<f32>()?;
                let mut out = x.into_owned();
                for (i, v) in out.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?.iter_mut().enumerate() {
                    let hit = if replaced.is_nan() { v.is_nan() } else { *v == *replaced };
                    if hit {
                        *v = if values.len() == 1 { values[0] } else { values[i % width] };
                    }
                }
                out
            }
            Imputed::Ints { values, replaced } => {
                if input.datum_type() != DatumType::I64 {
                    bail!("Imputer with int64 values needs an int64 input, got {:?}", input.datum_type());
                }
                let mut out = input.into_tensor();
                for (i, v) in out.try_as_plain_ram_mut()?.as_slice_mut::<i64>()?.iter_mut().enumerate() {
                    if *v == *replaced {
                        *v = if values.len() == 1 { values[0] } else { values[i % width] };
                    }
                }
                out
            }
        })
    }
}
