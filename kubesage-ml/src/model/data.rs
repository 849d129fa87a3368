//! Tensors by name with plain Rust vectors, for callers that should not depend on tract:
//! the serving protocol, the Python module, planning.
//!
//! [`Model::infer`] takes and returns [`NamedTensor`]s: inputs are matched to the model's by
//! name (in any order), each must carry the input's [`DataType`] exactly (no silent
//! conversion: a float64 array sent to a float32 input is an error naming both types, as
//! Triton and KServe servers answer), and its shape must fit the declared one. Outputs come
//! back in the model's order, or only those asked for.

use std::panic::{AssertUnwindSafe, catch_unwind};

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::{bail, format_err};

use super::{DataType, Model};
use crate::error::{Error, Result};

/// The elements of a tensor, row-major, in one of the protocol's types.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TensorData {
    /// `BOOL`.
    Bool(Vec<bool>),
    /// `UINT8`.
    Uint8(Vec<u8>),
    /// `UINT16`.
    Uint16(Vec<u16>),
    /// `UINT32`.
    Uint32(Vec<u32>),
    /// `UINT64`.
    Uint64(Vec<u64>),
    /// `INT8`.
    Int8(Vec<i8>),
    /// `INT16`.
    Int16(Vec<i16>),
    /// `INT32`.
    Int32(Vec<i32>),
    /// `INT64`.
    Int64(Vec<i64>),
    /// `FP16`: half-precision values, held here as `f32` (every half value is exactly one)
    /// and rounded to half precision when the tensor is built.
    Fp16(Vec<f32>),
    /// `FP32`.
    Fp32(Vec<f32>),
    /// `FP64`.
    Fp64(Vec<f64>),
    /// `BYTES`: one byte string per element (ONNX string tensors must hold UTF-8).
    Bytes(Vec<Vec<u8>>),
}

/// Applies `$body` to the vector inside any [`TensorData`] variant, bound as `$v`.
macro_rules! each_variant {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            TensorData::Bool($v) => $body,
            TensorData::Uint8($v) => $body,
            TensorData::Uint16($v) => $body,
            TensorData::Uint32($v) => $body,
            TensorData::Uint64($v) => $body,
            TensorData::Int8($v) => $body,
            TensorData::Int16($v) => $body,
            TensorData::Int32($v) => $body,
            TensorData::Int64($v) => $body,
            TensorData::Fp16($v) => $body,
            TensorData::Fp32($v) => $body,
            TensorData::Fp64($v) => $body,
            TensorData::Bytes($v) => $body,
        }
    };
}

impl TensorData {
    /// The protocol type of the elements.
    pub fn datatype(&self) -> DataType {
        match self {
            TensorData::Bool(_) => DataType::Bool,
            TensorData::Uint8(_) => DataType::Uint8,
            TensorData::Uint16(_) => DataType::Uint16,
            TensorData::Uint32(_) => DataType::Uint32,
            TensorData::Uint64(_) => DataType::Uint64,
            TensorData::Int8(_) => DataType::Int8,
            TensorData::Int16(_) => DataType::Int16,
            TensorData::Int32(_) => DataType::Int32,
            TensorData::Int64(_) => DataType::Int64,
            TensorData::Fp16(_) => DataType::Fp16,
            TensorData::Fp32(_) => DataType::Fp32,
            TensorData::Fp64(_) => DataType::Fp64,
            TensorData::Bytes(_) => DataType::Bytes,
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        each_variant!(self, v => v.len())
    }

    /// Whether there is no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn into_tensor(self, shape: &[usize]) -> TractResult<Tensor> {
        fn build<T: Datum>(shape: &[usize], v: Vec<T>) -> TractResult<Tensor> {
            Ok(tract_ndarray::ArrayD::from_shape_vec(shape, v)?.into_tensor())
        }
        match self {
            TensorData::Fp16(v) => build(shape, v.into_iter().map(f16::from_f32).collect()),
            TensorData::Bytes(v) => {
                let strings = v
                    .into_iter()
                    .enumerate()
                    .map(|(i, b)| String::from_utf8(b).map_err(|_| format_err!("element {i} is not valid UTF-8")))
                    .collect::<TractResult<Vec<String>>>()?;
                build(shape, strings)
            }
            TensorData::Bool(v) => build(shape, v),
            TensorData::Uint8(v) => build(shape, v),
            TensorData::Uint16(v) => build(shape, v),
            TensorData::Uint32(v) => build(shape, v),
            TensorData::Uint64(v) => build(shape, v),
            TensorData::Int8(v) => build(shape, v),
            TensorData::Int16(v) => build(shape, v),
            TensorData::Int32(v) => build(shape, v),
            TensorData::Int64(v) => build(shape, v),
            TensorData::Fp32(v) => build(shape, v),
            TensorData::Fp64(v) => build(shape, v),
        }
    }

    fn from_tensor(t: &Tensor) -> TractResult<Self> {
        let plain = t.try_as_plain_ram()?;
        Ok(match t.datum_type() {
            DatumType::Bool => TensorData::Bool(plain.as_slice::<bool>()?.to_vec()),
            DatumType::U8 => TensorData::Uint8(plain.as_slice::<u8>()?.to_vec()),
            DatumType::U16 => TensorData::Uint16(plain.as_slice::<u16>()?.to_vec()),
            DatumType::U32 => TensorData::Uint32(plain.as_slice::<u32>()?.to_vec()),
            DatumType::U64 => TensorData::Uint64(plain.as_slice::<u64>()?.to_vec()),
            DatumType::I8 => TensorData::Int8(plain.as_slice::<i8>()?.to_vec()),
            DatumType::I16 => TensorData::Int16(plain.as_slice::<i16>()?.to_vec()),
            DatumType::I32 => TensorData::Int32(plain.as_slice::<i32>()?.to_vec()),
            DatumType::I64 => TensorData::Int64(plain.as_slice::<i64>()?.to_vec()),
            DatumType::F16 => TensorData::Fp16(plain.as_slice::<f16>()?.iter().map(|h| h.to_f32()).collect()),
            DatumType::F32 => TensorData::Fp32(plain.as_slice::<f32>()?.to_vec()),
            DatumType::F64 => TensorData::Fp64(plain.as_slice::<f64>()?.to_vec()),
            DatumType::String => {
                TensorData::Bytes(plain.as_slice::<String>()?.iter().map(|s| s.as_bytes().to_vec()).collect())
            }
            other => bail!("an output of type {other:?}, which the protocol cannot carry"),
        })
    }
}

/// A tensor by name: the unit of [`Model::infer`].
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    /// The input's or output's name in the model.
    pub name: String,
    /// Its shape; the product of the dimensions is the number of elements.
    pub shape: Vec<usize>,
    /// Its elements, row-major.
    pub data: TensorData,
}

impl NamedTensor {
    /// A tensor, checking that `shape` holds exactly the elements of `data`.
    pub fn new(name: impl Into<String>, shape: Vec<usize>, data: TensorData) -> Result<Self> {
        let name = name.into();
        let volume = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if volume != Some(data.len()) {
            return Err(Error::ModelInput {
                name,
                reason: format!("shape {shape:?} does not hold the {} elements given", data.len()),
            });
        }
        Ok(NamedTensor { name, shape, data })
    }
}

impl Model {
    /// Runs the model on inputs given by name (every input once, any order) and returns the
    /// outputs named in `outputs`, in that order, or every output in the model's order when
    /// `outputs` is empty. Each input must have its declared [`DataType`] and a shape that
    /// fits the declared one; an unknown, missing or repeated name is an error naming it.
    pub fn infer(&self, inputs: Vec<NamedTensor>, outputs: &[&str]) -> Result<Vec<NamedTensor>> {
        let wanted: Vec<usize> = outputs
            .iter()
            .map(|name| {
                self.outputs.iter().position(|o| o.name == *name).ok_or_else(|| Error::ModelInput {
                    name: (*name).to_owned(),
                    reason: format!("no such output; the model's are {}", names(self.outputs.iter().map(|o| &o.name))),
                })
            })
            .collect::<Result<_>>()?;
        let mut slots: Vec<Option<NamedTensor>> = vec![None; self.inputs.len()];
        for tensor in inputs {
            let Some(ix) = self.inputs.iter().position(|s| s.name == tensor.name) else {
                return Err(Error::ModelInput {
                    reason: format!("no such input; the model's are {}", names(self.inputs.iter().map(|i| &i.name))),
                    name: tensor.name,
                });
            };
            if slots[ix].is_some() {
                return Err(Error::ModelInput { name: tensor.name, reason: "given twice".into() });
            }
            slots[ix] = Some(tensor);
        }
        let mut tensors = Vec::with_capacity(slots.len());
        for (slot, spec) in slots.into_iter().zip(self.inputs.iter()) {
            let Some(t) = slot else {
                return Err(Error::ModelInput { name: spec.name.clone(), reason: "missing".into() });
            };
            let given = t.data.datatype();
            if given != spec.datatype {
                return Err(Error::ModelInput {
                    name: t.name,
                    reason: format!("datatype {given}; the model takes {}", spec.datatype),
                });
            }
            let NamedTensor { name, shape, data } = t;
            let tensor = data
                .into_tensor(&shape)
                .map_err(|e| Error::ModelInput { name: name.clone(), reason: format!("{e:#}") })?;
            tensors.push(tensor);
        }
        let results = self.run(tensors)?;
        let pick: Vec<usize> = if wanted.is_empty() { (0..results.len()).collect() } else { wanted };
        pick.into_iter()
            .map(|ix| {
                let (tensor, spec) = (&results[ix], &self.outputs[ix]);
                let data = catch_unwind(AssertUnwindSafe(|| TensorData::from_tensor(tensor)))
                    .map_err(|_| Error::ModelRun(format!("output {}: reading it panicked", spec.name)))?
                    .map_err(|e| Error::ModelRun(format!("output {}: {e:#}", spec.name)))?;
                Ok(NamedTensor { name: spec.name.clone(), shape: tensor.shape().to_vec(), data })
            })
            .collect()
    }
}

fn names<'a>(it: impl Iterator<Item = &'a String>) -> String {
    it.map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::{FLOAT, add_model, floats_bytes, tensor};

    fn adder() -> Model {
        Model::from_bytes(&add_model(tensor("c", FLOAT, &[3], &floats_bytes(&[1.0, 2.0, 3.0])))).expect("loads")
    }

    fn x(rows: usize) -> NamedTensor {
        NamedTensor::new("x", vec![rows, 3], TensorData::Fp32(vec![0.5; rows * 3])).expect("tensor")
    }

    #[test]
    fn inputs_by_name_give_outputs_by_name() {
        let out = adder().infer(vec![x(2)], &[]).expect("runs");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, "y");
        assert_eq!(out[0].shape, vec![2, 3]);
        assert_eq!(out[0].data, TensorData::Fp32(vec![1.5, 2.5, 3.5, 1.5, 2.5, 3.5]));
        let picked = adder().infer(vec![x(1)], &["y"]).expect("runs");
        assert_eq!(picked[0].data.datatype(), DataType::Fp32);
    }

    #[test]
    fn wrong_names_types_and_shapes_are_named_errors() {
        let m = adder();
        let err = |inputs: Vec<NamedTensor>, outputs: &[&str]| match m.infer(inputs, outputs) {
            Err(Error::ModelInput { name, reason }) => format!("{name}: {reason}"),
            other => panic!("expected an input error, got {other:?}"),
        };
        let wrong = NamedTensor::new("z", vec![1, 3], TensorData::Fp32(vec![0.0; 3])).expect("tensor");
        assert!(err(vec![wrong], &[]).contains("no such input; the model's are \"x\""));
        assert_eq!(err(vec![], &[]), "x: missing");
        assert_eq!(err(vec![x(1), x(1)], &[]), "x: given twice");
        assert!(err(vec![x(1)], &["nope"]).starts_with("nope: no such output"));
        let doubles = NamedTensor::new("x", vec![1, 3], TensorData::Fp64(vec![0.0; 3])).expect("tensor");
        assert_eq!(err(vec![doubles], &[]), "x: datatype FP64; the model takes FP32");
        let narrow = NamedTensor::new("x", vec![3, 2], TensorData::Fp32(vec![0.0; 6])).expect("tensor");
        assert!(err(vec![narrow], &[]).contains("shape [3, 2]"));
        assert!(matches!(
            NamedTensor::new("x", vec![2, 3], TensorData::Fp32(vec![0.0; 5])),
            Err(Error::ModelInput { .. })
        ));
        assert!(matches!(
            NamedTensor::new("x", vec![usize::MAX, 3], TensorData::Fp32(vec![])),
            Err(Error::ModelInput { .. })
        ));
    }

    #[test]
    fn every_type_round_trips_through_a_tensor() {
        let cases = vec![
            TensorData::Bool(vec![true, false]),
            TensorData::Uint8(vec![0, 255]),
            TensorData::Uint16(vec![1, u16::MAX]),
            TensorData::Uint32(vec![2, u32::MAX]),
            TensorData::Uint64(vec![3, u64::MAX]),
            TensorData::Int8(vec![-128, 127]),
            TensorData::Int16(vec![i16::MIN, 5]),
            TensorData::Int32(vec![i32::MIN, 6]),
            TensorData::Int64(vec![i64::MIN, 7]),
            TensorData::Fp16(vec![0.5, -2.0]),
            TensorData::Fp32(vec![0.25, f32::MAX]),
            TensorData::Fp64(vec![0.125, f64::MIN_POSITIVE]),
            TensorData::Bytes(vec![b"ok".to_vec(), "é".as_bytes().to_vec()]),
        ];
        for data in cases {
            let t = data.clone().into_tensor(&[2, 1]).expect("builds");
            assert_eq!(t.shape(), &[2, 1]);
            assert_eq!(DataType::from_datum_type(t.datum_type()), Some(data.datatype()));
            assert_eq!(TensorData::from_tensor(&t).expect("reads"), data);
        }
        let bad = TensorData::Bytes(vec![vec![0xff, 0xfe]]).into_tensor(&[1]);
        assert!(bad.is_err_and(|e| e.to_string().contains("not valid UTF-8")));
    }
}
