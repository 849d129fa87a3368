//! `LabelEncoder` (ai.onnx.ml 2 to 4): maps each element through a table, `keys_*` to
//! `values_*` (ints, floats or strings on either side), or to `default_*` when absent. The
//! isolation forest's export uses it (leaf index to path length); so do string-labelled models.
//!
//! Float keys match by value (`-0.0` equals `0.0`, every NaN equals a NaN key).

use std::collections::HashMap;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::elementwise::{ElementOperator, Elementwise};

#[derive(Debug)]
enum Keys {
    Ints(HashMap<i64, usize>),
    Floats(HashMap<u64, usize>),
    Strings(HashMap<String, usize>),
}

#[derive(Debug)]
enum Values {
    Ints(Vec<i64>, i64),
    Floats(Vec<f64>, f64, DatumType),
    Strings(Vec<String>, String),
}

#[derive(Debug)]
struct Table {
    keys: Keys,
    values: Values,
}

/// A parsed `LabelEncoder`.
#[derive(Debug)]
pub(crate) struct LabelEncoder {
    table: Table,
}

/// The bits a float key is looked up by: one NaN, one zero.
fn float_key(x: f64) -> u64 {
    if x.is_nan() {
        f64::NAN.to_bits()
    } else if x == 0.0 {
        0f64.to_bits()
    } else {
        x.to_bits()
    }
}

/// One side of the table, from the opset-2 list attributes or the opset-4 tensor one.
enum Column {
    Ints(Vec<i64>),
    Floats(Vec<f64>, DatumType),
    Strings(Vec<String>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Ints(v) => v.len(),
            Column::Floats(v, _) => v.len(),
            Column::Strings(v) => v.len(),
        }
    }
}

fn column(ctx: &ParsingContext, node: &NodeProto, side: &str) -> TractResult<Column> {
    let ints = node.get_attr_opt_slice::<i64>(&format!("{side}_int64s"))?;
    let floats = node.get_attr_opt_slice::<f32>(&format!("{side}_floats"))?;
    let strings = node.get_attr_opt_tvec::<String>(&format!("{side}_strings"))?;
    let tensor = node.get_attr_opt::<&tract_onnx::pb::TensorProto>(&format!("{side}_tensor"))?;
    match (ints, floats, strings, tensor) {
        (Some(v), None, None, None) => Ok(Column::Ints(v.to_vec())),
        (None, Some(v), None, None) => Ok(Column::Floats(v.iter().map(|&x| f64::from(x)).collect(), DatumType::F32)),
        (None, None, Some(v), None) => Ok(Column::Strings(v.into_iter().collect())),
        (None, None, None, Some(t)) => tensor_column(&ctx.load_tensor(t)?),
        _ => bail!("exactly one of {side}_int64s, {side}_floats, {side}_strings and {side}_tensor must be set"),
    }
}

fn tensor_column(t: &Tensor) -> TractResult<Column> {
    let plain = t.try_as_plain_ram()?;
    Ok(match t.datum_type() {
        DatumType::I64 => Column::Ints(plain.as_slice::<i64>()?.to_vec()),
        DatumType::F32 => {
            Column::Floats(plain.as_slice::<f32>()?.iter().map(|&x| f64::from(x)).collect(), DatumType::F32)
        }
        DatumType::F64 => Column::Floats(plain.as_slice::<f64>()?.to_vec(), DatumType::F64),
        DatumType::String => Column::Strings(plain.as_slice::<String>()?.to_vec()),
        other => bail!("a LabelEncoder table of {other:?} is not supported"),
    })
}

pub(crate) fn parse(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let keys = column(ctx, node, "keys")?;
    let values = column(ctx, node, "values")?;
    if keys.len() != values.len() {
        bail!("{} keys for {} values", keys.len(), values.len());
    }
    let keys = match keys {
        Column::Ints(v) => Keys::Ints(v.into_iter().enumerate().map(|(i, k)| (k, i)).collect()),
        Column::Floats(v, _) => Keys::Floats(v.into_iter().enumerate().map(|(i, k)| (float_key(k), i)).collect()),
        Column::Strings(v) => Keys::Strings(v.into_iter().enumerate().map(|(i, k)| (k, i)).collect()),
    };
    let default_tensor = match node.get_attr_opt::<&tract_onnx::pb::TensorProto>("default_tensor")? {
        Some(t) => Some(tensor_column(&ctx.load_tensor(t)?)?),
        None => None,
    };
    let values = match values {
        Column::Ints(v) => {
            let default = match default_tensor {
                Some(Column::Ints(d)) if d.len() == 1 => d[0],
                Some(_) => bail!("default_tensor must be one int64"),
                None => node.get_attr_opt::<i64>("default_int64")?.unwrap_or(-1),
            };
            Values::Ints(v, default)
        }
        Column::Floats(v, dt) => {
            let default = match default_tensor {
                Some(Column::Floats(d, _)) if d.len() == 1 => d[0],
                Some(_) => bail!("default_tensor must be one float"),
                None => node.get_attr_opt::<f32>("default_float")?.map_or(-0.0, f64::from),
            };
            Values::Floats(v, default, dt)
        }
        Column::Strings(v) => {
            let default = match default_tensor {
                Some(Column::Strings(mut d)) if d.len() == 1 => d.remove(0),
                Some(_) => bail!("default_tensor must be one string"),
                None => node.get_attr_opt::<String>("default_string")?.unwrap_or_else(|| "_Unused".into()),
            };
            Values::Strings(v, default)
        }
    };
    Ok((Elementwise::expand(LabelEncoder { table: Table { keys, values } }), vec![]))
}

impl LabelEncoder {
    /// The row of each element's key in the table (`None`: absent).
    fn lookup(&self, input: &Tensor) -> TractResult<Vec<Option<usize>>> {
        let dt = input.datum_type();
        Ok(match &self.table.keys {
            Keys::Ints(map) => {
                // tract types integer casts as TDim (symbolic integers): those are integers too.
                if !dt.is_integer() && dt != DatumType::TDim {
                    bail!("LabelEncoder with int64 keys needs an integer input, got {dt:?}");
                }
                let x = input.cast_to::<i64>()?;
                x.try_as_plain_ram()?.as_slice::<i64>()?.iter().map(|k| map.get(k).copied()).collect()
            }
            Keys::Floats(map) => {
                if !dt.is_float() {
                    bail!("LabelEncoder with float keys needs a float input, got {dt:?}");
                }
                let x = input.cast_to::<f64>()?;
                x.try_as_plain_ram()?.as_slice::<f64>()?.iter().map(|&k| map.get(&float_key(k)).copied()).collect()
            }
            Keys::Strings(map) => {
                if dt != DatumType::String {
                    bail!("LabelEncoder with string keys needs a string input, got {dt:?}");
                }
                input.try_as_plain_ram()?.as_slice::<String>()?.iter().map(|k| map.get(k).copied()).collect()
            }
        })
    }
}

impl ElementOperator for LabelEncoder {
    const NAME: &'static str = "LabelEncoder";

    fn output_type(&self) -> DatumType {
        match &self.table.values {
            Values::Ints(..) => DatumType::I64,
            Values::Floats(_, _, dt) => *dt,
            Values::Strings(..) => DatumType::String,
        }
    }

    fn eval(&self, input: TValue) -> TractResult<Tensor> {
        let rows = self.lookup(&input)?;
        let shape = input.shape();
        let output = match &self.table.values {
            Values::Ints(v, d) => {
                tract_ndarray::ArrayD::from_shape_vec(shape, rows.iter().map(|r| r.map_or(*d, |i| v[i])).collect())?
                    .into_tensor()
            }
            Values::Floats(v, d, DatumType::F64) => {
                tract_ndarray::ArrayD::from_shape_vec(shape, rows.iter().map(|r| r.map_or(*d, |i| v[i])).collect())?
                    .into_tensor()
            }
            Values::Floats(v, d, _) => tract_ndarray::ArrayD::from_shape_vec(
                shape,
                rows.iter().map(|r| r.map_or(*d, |i| v[i]) as f32).collect(),
            )?
            .into_tensor(),
            Values::Strings(v, d) => tract_ndarray::ArrayD::from_shape_vec(
                shape,
                rows.iter().map(|r| r.map_or_else(|| d.clone(), |i| v[i].clone())).collect(),
            )?
            .into_tensor(),
        };
        Ok(output)
    }
}
