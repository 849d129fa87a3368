//! The Open Inference Protocol's (KServe v2) tensors over REST: the JSON request and response
//! bodies, and the binary tensor data extension Triton's clients use by default.
//!
//! A request is a JSON header, optionally followed by raw tensor bytes: when the
//! `Inference-Header-Content-Length` header is present, the first that many bytes of the body
//! are the JSON and each input whose `parameters.binary_data_size` is set takes its bytes from
//! what follows, in input order (little-endian elements; `BYTES` elements each prefixed by a
//! 4-byte little-endian length). Otherwise the body is JSON alone and each input carries its
//! elements in `data`, flat or nested, which must hold exactly as many elements as `shape`
//! says, each of the declared `datatype` (a number out of the type's range, a fraction for an
//! integer type, a string for a number: errors naming the input and element).
//!
//! The response is JSON, with outputs asked for as binary (`parameters.binary_data` on an
//! output, or `binary_data_output` on the request) appended as raw bytes after it and the
//! JSON's length in `Inference-Header-Content-Length`. JSON cannot carry NaN or infinity: an
//! output holding one must be asked for as binary, and the error says so.

use kubesage_ml::model::DataType;
use kubesage_ml::model::data::{NamedTensor, TensorData};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The header naming the length of the JSON part of a body with binary tensors.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// Largest number of elements one request tensor may declare.
const MAX_ELEMENTS: usize = 1 << 28;

/// An inference request's JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferRequest {
    /// Echoed in the response.
    #[serde(default)]
    pub id: Option<String>,
    /// Request parameters (`binary_data_output`).
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// The input tensors.
    pub inputs: Vec<RequestInput>,
    /// The outputs wanted (all when absent).
    #[serde(default)]
    pub outputs: Vec<RequestOutput>,
}

/// One input tensor of a request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    /// The model input's name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<i64>,
    /// Its datatype (`FP32`, `INT64`, `BYTES`, ...).
    pub datatype: String,
    /// Tensor parameters (`binary_data_size`).
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// The elements, flat or nested, when not sent as binary.
    #[serde(default)]
    pub data: Option<Flat>,
}

/// One output asked for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestOutput {
    /// The model output's name.
    pub name: String,
    /// Output parameters (`binary_data`).
    #[serde(default)]
    pub parameters: Map<String, Value>,
}

/// A JSON element of a tensor, before its datatype is applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// `true` / `false`.
    Bool(bool),
    /// A negative integer.
    Int(i64),
    /// A non-negative integer.
    Uint(u64),
    /// A number with a fraction or exponent.
    Float(f64),
    /// A string.
    Str(String),
}

/// Tensor data as JSON nests it, flattened in row-major order while parsing.
#[derive(Debug, Default, PartialEq)]
pub struct Flat(pub Vec<Scalar>);

impl<'de> Deserialize<'de> for Flat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct FlatVisitor<'a>(&'a mut Vec<Scalar>, usize);

        impl<'de> Visitor<'de> for FlatVisitor<'_> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a tensor's elements: a list of numbers, booleans or strings, flat or nested")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<(), E> {
                self.0.push(Scalar::Bool(v));
                Ok(())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<(), E> {
                self.0.push(if v >= 0 { Scalar::Uint(v as u64) } else { Scalar::Int(v) });
                Ok(())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<(), E> {
                self.0.push(Scalar::Uint(v));
                Ok(())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<(), E> {
                self.0.push(Scalar::Float(v));
                Ok(())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<(), E> {
                self.0.push(Scalar::Str(v.to_owned()));
                Ok(())
            }
            fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<(), E> {
                self.0.push(Scalar::Str(v));
                Ok(())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
                if self.1 > 32 {
                    return Err(de::Error::custom("data nested more than 32 deep"));
                }
                let (out, depth) = (self.0, self.1);
                while seq.next_element_seed(Nested(out, depth + 1))?.is_some() {}
                Ok(())
            }
        }

        struct Nested<'a>(&'a mut Vec<Scalar>, usize);

        impl<'de> de::DeserializeSeed<'de> for Nested<'_> {
            type Value = ();
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
                d.deserialize_any(FlatVisitor(self.0, self.1))
            }
        }

        let mut out = Vec::new();
        d.deserialize_any(FlatVisitor(&mut out, 0))?;
        Ok(Flat(out))
    }
}

/// A parsed request: the tensors, and what to answer.
#[derive(Debug)]
pub struct Decoded {
    /// Echoed in the response.
    pub id: Option<String>,
    /// The input tensors.
    pub inputs: Vec<NamedTensor>,
    /// The outputs asked for, with whether each is wanted as binary when the request says
    /// (`None`: as `binary_by_default`); empty: all outputs.
    pub outputs: Vec<(String, Option<bool>)>,
    /// Every output as binary unless it says otherwise.
    pub binary_by_default: bool,
}

fn bad(message: String) -> Error {
    Error::BadRequest(message)
}

fn flag(parameters: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match parameters.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(bad(format!("parameter {key}: expected true or false, got {other}"))),
    }
}

/// Parses a request body: JSON alone, or (`header_length` given) JSON then binary tensors.
pub fn decode(body: &[u8], header_length: Option<usize>) -> Result<Decoded> {
    let (json, mut binary) = match header_length {
        Some(n) if n <= body.len() => body.split_at(n),
        Some(n) => {
            return Err(bad(format!("{HEADER_LENGTH} is {n}, longer than the {}-byte body", body.len())));
        }
        None => (body, &[][..]),
    };
    let request: InferRequest =
        serde_json::from_slice(json).map_err(|e| bad(format!("the request is not a valid inference request: {e}")))?;
    let mut inputs = Vec::with_capacity(request.inputs.len());
    for input in request.inputs {
        let datatype = DataType::from_name(&input.datatype)
            .ok_or_else(|| bad(format!("input {:?}: unknown datatype {:?}", input.name, input.datatype)))?;
        let shape = input
            .shape
            .iter()
            .map(|&d| usize::try_from(d))
            .collect::<std::result::Result<Vec<usize>, _>>()
            .map_err(|_| bad(format!("input {:?}: negative dimension in shape {:?}", input.name, input.shape)))?;
        let count =
            shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).filter(|&c| c <= MAX_ELEMENTS).ok_or_else(
                || bad(format!("input {:?}: shape {:?} is over {MAX_ELEMENTS} elements", input.name, input.shape)),
            )?;
        let binary_size = match input.parameters.get("binary_data_size") {
            None => None,
            Some(v) => Some(
                v.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| bad(format!("input {:?}: binary_data_size must be a byte count", input.name)))?,
            ),
        };
        let data = match (binary_size, input.data) {
            (Some(_), Some(_)) => {
                return Err(bad(format!("input {:?}: both data and binary_data_size are given", input.name)));
            }
            (None, None) => return Err(bad(format!("input {:?}: no data", input.name))),
            (None, Some(flat)) => from_json(&input.name, datatype, flat.0, count)?,
            (Some(size), None) => {
                if header_length.is_none() {
                    return Err(bad(format!(
                        "input {:?}: binary_data_size without an {HEADER_LENGTH} header",
                        input.name
                    )));
                }
                if size > binary.len() {
                    return Err(bad(format!(
                        "input {:?}: binary_data_size {size} is more than the {} bytes left in the body",
                        input.name,
                        binary.len()
                    )));
                }
                let (bytes, rest) = binary.split_at(size);
                binary = rest;
                from_binary(&input.name, datatype, bytes, count)?
            }
        };
        inputs.push(NamedTensor::new(input.name, shape, data)?);
    }
    if !binary.is_empty() {
        return Err(bad(format!("{} bytes of binary data are not claimed by any input", binary.len())));
    }
    let outputs = request
        .outputs
        .iter()
        .map(|o| Ok((o.name.clone(), flag(&o.parameters, "binary_data")?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Decoded {
        id: request.id,
        inputs,
        outputs,
        binary_by_default: flag(&request.parameters, "binary_data_output")?.unwrap_or(false),
    })
}

fn from_json(name: &str, datatype: DataType, data: Vec<Scalar>, count: usize) -> Result<TensorData> {
    if data.len() != count {
        return Err(bad(format!("input {name:?}: {} elements given, the shape holds {count}", data.len())));
    }
    let element = |i: usize, s: &Scalar| bad(format!("input {name:?}: element {i} ({s:?}) is not a valid {datatype}"));
    macro_rules! ints {
        ($variant:ident, $t:ty) => {
            TensorData::$variant(
                data.iter()
                    .enumerate()
                    .map(|(i, s)| {
                        match s {
                            Scalar::Int(v) => <$t>::try_from(*v).ok(),
                            Scalar::Uint(v) => <$t>::try_from(*v).ok(),
                            _ => None,
                        }
                        .ok_or_else(|| element(i, s))
                    })
                    .collect::<Result<_>>()?,
            )
        };
    }
    let float = |i: usize, s: &Scalar| match s {
        Scalar::Float(v) => Ok(*v),
        Scalar::Int(v) => Ok(*v as f64),
        Scalar::Uint(v) => Ok(*v as f64),
        _ => Err(element(i, s)),
    };
    Ok(match datatype {
        DataType::Bool => TensorData::Bool(
            data.iter()
                .enumerate()
                .map(|(i, s)| if let Scalar::Bool(b) = s { Ok(*b) } else { Err(element(i, s)) })
                .collect::<Result<_>>()?,
        ),
        DataType::Uint8 => ints!(Uint8, u8),
        DataType::Uint16 => ints!(Uint16, u16),
        DataType::Uint32 => ints!(Uint32, u32),
        DataType::Uint64 => ints!(Uint64, u64),
        DataType::Int8 => ints!(Int8, i8),
        DataType::Int16 => ints!(Int16, i16),
        DataType::Int32 => ints!(Int32, i32),
        DataType::Int64 => ints!(Int64, i64),
        DataType::Fp16 => TensorData::Fp16(
            data.iter().enumerate().map(|(i, s)| float(i, s).map(|v| v as f32)).collect::<Result<_>>()?,
        ),
        DataType::Fp32 => TensorData::Fp32(
            data.iter().enumerate().map(|(i, s)| float(i, s).map(|v| v as f32)).collect::<Result<_>>()?,
        ),
        DataType::Fp64 => TensorData::Fp64(data.iter().enumerate().map(|(i, s)| float(i, s)).collect::<Result<_>>()?),
        DataType::Bytes => TensorData::Bytes(
            data.into_iter()
                .enumerate()
                .map(|(i, s)| match s {
                    Scalar::Str(v) => Ok(v.into_bytes()),
                    other => Err(element(i, &other)),
                })
                .collect::<Result<_>>()?,
        ),
        _ => return Err(bad(format!("input {name:?}: datatype {datatype} is not supported"))),
    })
}

/// The size in bytes of one element of a fixed-size datatype.
fn element_size(datatype: DataType) -> Option<usize> {
    Some(match datatype {
        DataType::Bool | DataType::Uint8 | DataType::Int8 => 1,
        DataType::Uint16 | DataType::Int16 | DataType::Fp16 => 2,
        DataType::Uint32 | DataType::Int32 | DataType::Fp32 => 4,
        DataType::Uint64 | DataType::Int64 | DataType::Fp64 => 8,
        _ => return None,
    })
}

fn from_binary(name: &str, datatype: DataType, bytes: &[u8], count: usize) -> Result<TensorData> {
    if datatype == DataType::Bytes {
        let mut items = Vec::with_capacity(count.min(bytes.len() / 4));
        let mut rest = bytes;
        while !rest.is_empty() {
            let Some((len, tail)) = rest.split_first_chunk::<4>() else {
                return Err(bad(format!("input {name:?}: a BYTES element's length is cut short")));
            };
            let len = u32::from_le_bytes(*len) as usize;
            if len > tail.len() {
                return Err(bad(format!("input {name:?}: a BYTES element of {len} bytes runs past the data")));
            }
            let (item, tail) = tail.split_at(len);
            items.push(item.to_vec());
            rest = tail;
        }
        if items.len() != count {
            return Err(bad(format!("input {name:?}: {} BYTES elements sent, the shape holds {count}", items.len())));
        }
        return Ok(TensorData::Bytes(items));
    }
    let size = element_size(datatype)
        .ok_or_else(|| bad(format!("input {name:?}: datatype {datatype} is not supported as binary data")))?;
    if bytes.len() != count * size {
        return Err(bad(format!(
            "input {name:?}: {} bytes sent, the shape holds {count} {datatype} elements ({} bytes)",
            bytes.len(),
            count * size
        )));
    }
    macro_rules! le {
        ($variant:ident, $t:ty, $n:expr) => {
            TensorData::$variant(
                bytes
                    .chunks_exact($n)
                    .map(|c| {
                        let mut a = [0u8; $n];
                        a.copy_from_slice(c);
                        <$t>::from_le_bytes(a)
                    })
                    .collect(),
            )
        };
    }
    Ok(match datatype {
        DataType::Bool => TensorData::Bool(bytes.iter().map(|&b| b != 0).collect()),
        DataType::Uint8 => TensorData::Uint8(bytes.to_vec()),
        DataType::Int8 => TensorData::Int8(bytes.iter().map(|&b| b as i8).collect()),
        DataType::Uint16 => le!(Uint16, u16, 2),
        DataType::Int16 => le!(Int16, i16, 2),
        DataType::Fp16 => {
            TensorData::Fp16(bytes.chunks_exact(2).map(|c| half_to_f32(u16::from_le_bytes([c[0], c[1]]))).collect())
        }
        DataType::Uint32 => le!(Uint32, u32, 4),
        DataType::Int32 => le!(Int32, i32, 4),
        DataType::Fp32 => le!(Fp32, f32, 4),
        DataType::Uint64 => le!(Uint64, u64, 8),
        DataType::Int64 => le!(Int64, i64, 8),
        DataType::Fp64 => le!(Fp64, f64, 8),
        _ => return Err(bad(format!("input {name:?}: datatype {datatype} is not supported as binary data"))),
    })
}

/// IEEE 754 half precision bits to `f32` (exact: every half value is an `f32`).
fn half_to_f32(bits: u16) -> f32 {
    let sign = if bits & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = f32::from(bits & 0x3ff);
    match exponent {
        0 => sign * fraction * 2f32.powi(-24),
        31 if fraction == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        e => sign * (1.0 + fraction / 1024.0) * 2f32.powi(e - 15),
    }
}

/// `f32` to IEEE 754 half precision bits, rounding to nearest even.
fn f32_to_half(value: f32) -> u16 {
    let bits = value.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exponent = ((bits >> 23) & 0xff) as i32;
    let mantissa = bits & 0x7f_ffff;
    if exponent == 0xff {
        return sign | 0x7c00 | if mantissa != 0 { 0x200 } else { 0 };
    }
    let e = exponent - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = mantissa | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = m >> shift;
        let rem = m & ((1 << shift) - 1);
        let midpoint = 1 << (shift - 1);
        let round = rem > midpoint || (rem == midpoint && half & 1 == 1);
        return sign | (half + u32::from(round)) as u16;
    }
    let half = ((e as u32) << 10) | (mantissa >> 13);
    let rem = mantissa & 0x1fff;
    let round = rem > 0x1000 || (rem == 0x1000 && half & 1 == 1);
    sign | (half + u32::from(round)) as u16
}

/// The elements of an output as JSON numbers, booleans or strings.
struct JsonData<'a>(&'a TensorData);

impl Serialize for JsonData<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        fn all<S: Serializer, T: Serialize>(s: S, v: &[T]) -> std::result::Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(v.len()))?;
            for x in v {
                seq.serialize_element(x)?;
            }
            seq.end()
        }
        match self.0 {
            TensorData::Bool(v) => all(s, v),
            TensorData::Uint8(v) => all(s, v),
            TensorData::Uint16(v) => all(s, v),
            TensorData::Uint32(v) => all(s, v),
            TensorData::Uint64(v) => all(s, v),
            TensorData::Int8(v) => all(s, v),
            TensorData::Int16(v) => all(s, v),
            TensorData::Int32(v) => all(s, v),
            TensorData::Int64(v) => all(s, v),
            TensorData::Fp16(v) | TensorData::Fp32(v) => all(s, v),
            TensorData::Fp64(v) => all(s, v),
            TensorData::Bytes(v) => {
                let mut seq = s.serialize_seq(Some(v.len()))?;
                for x in v {
                    seq.serialize_element(&String::from_utf8_lossy(x))?;
                }
                seq.end()
            }
            _ => Err(serde::ser::Error::custom("a datatype the protocol cannot carry")),
        }
    }
}

#[derive(Serialize)]
struct ResponseOutput<'a> {
    name: &'a str,
    datatype: &'static str,
    shape: &'a [usize],
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<BinarySize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<JsonData<'a>>,
}

#[derive(Serialize)]
struct BinarySize {
    binary_data_size: usize,
}

#[derive(Serialize)]
struct InferResponse<'a> {
    model_name: &'a str,
    model_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    outputs: Vec<ResponseOutput<'a>>,
}

/// An encoded response: the body, and the JSON part's length when binary data follows it.
#[derive(Debug)]
pub struct Encoded {
    /// The body.
    pub body: Vec<u8>,
    /// `Some(json length)` when binary tensors follow the JSON.
    pub header_length: Option<usize>,
}

fn binary_bytes(data: &TensorData) -> Vec<u8> {
    fn le<const N: usize, T: Copy>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
        let mut out = Vec::with_capacity(v.len() * N);
        for &x in v {
            out.extend_from_slice(&f(x));
        }
        out
    }
    match data {
        TensorData::Bool(v) => v.iter().map(|&b| u8::from(b)).collect(),
        TensorData::Uint8(v) => v.clone(),
        TensorData::Int8(v) => v.iter().map(|&x| x as u8).collect(),
        TensorData::Uint16(v) => le(v, u16::to_le_bytes),
        TensorData::Int16(v) => le(v, i16::to_le_bytes),
        TensorData::Fp16(v) => le(v, |x| f32_to_half(x).to_le_bytes()),
        TensorData::Uint32(v) => le(v, u32::to_le_bytes),
        TensorData::Int32(v) => le(v, i32::to_le_bytes),
        TensorData::Fp32(v) => le(v, f32::to_le_bytes),
        TensorData::Uint64(v) => le(v, u64::to_le_bytes),
        TensorData::Int64(v) => le(v, i64::to_le_bytes),
        TensorData::Fp64(v) => le(v, f64::to_le_bytes),
        TensorData::Bytes(v) => {
            let mut out = Vec::with_capacity(v.iter().map(|b| b.len() + 4).sum());
            for b in v {
                out.extend_from_slice(&(b.len() as u32).to_le_bytes());
                out.extend_from_slice(b);
            }
            out
        }
        _ => Vec::new(),
    }
}

fn non_finite(data: &TensorData) -> bool {
    match data {
        TensorData::Fp16(v) | TensorData::Fp32(v) => v.iter().any(|x| !x.is_finite()),
        TensorData::Fp64(v) => v.iter().any(|x| !x.is_finite()),
        _ => false,
    }
}

/// Encodes the outputs (`binary[i]`: output `i` as binary data) for `model` at `version`.
pub fn encode(
    model: &str,
    version: u64,
    id: Option<&str>,
    outputs: &[NamedTensor],
    binary: &[bool],
) -> Result<Encoded> {
    let mut tail = Vec::new();
    let mut parts = Vec::with_capacity(outputs.len());
    for (out, &as_binary) in outputs.iter().zip(binary) {
        let datatype = out.data.datatype().as_str();
        if as_binary {
            let bytes = binary_bytes(&out.data);
            parts.push(ResponseOutput {
                name: &out.name,
                datatype,
                shape: &out.shape,
                parameters: Some(BinarySize { binary_data_size: bytes.len() }),
                data: None,
            });
            tail.extend_from_slice(&bytes);
        } else {
            if non_finite(&out.data) {
                return Err(bad(format!(
                    "output {:?} holds NaN or infinity, which JSON cannot carry; ask for it as binary data",
                    out.name
                )));
            }
            parts.push(ResponseOutput {
                name: &out.name,
                datatype,
                shape: &out.shape,
                parameters: None,
                data: Some(JsonData(&out.data)),
            });
        }
    }
    let response = InferResponse { model_name: model, model_version: version.to_string(), id, outputs: parts };
    let mut body = serde_json::to_vec(&response).map_err(|e| Error::Internal(format!("encoding a response: {e}")))?;
    let header_length = (!tail.is_empty() || binary.iter().any(|&b| b)).then_some(body.len());
    body.extend_from_slice(&tail);
    Ok(Encoded { body, header_length })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(v: serde_json::Value) -> Result<Decoded> {
        decode(&serde_json::to_vec(&v).expect("json"), None)
    }

    fn message(r: Result<Decoded>) -> String {
        match r {
            Err(Error::BadRequest(m)) => m,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn nested_and_flat_data_give_the_same_tensor() {
        let nested = json(serde_json::json!({"id": "r1", "inputs": [
            {"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2.5], [-3, 4e0]]}]}))
        .expect("decodes");
        let flat = json(serde_json::json!({"inputs": [
            {"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2.5, -3, 4]}]}))
        .expect("decodes");
        assert_eq!(nested.inputs, flat.inputs);
        assert_eq!(nested.inputs[0].data, TensorData::Fp32(vec![1.0, 2.5, -3.0, 4.0]));
        assert_eq!(nested.id.as_deref(), Some("r1"));
    }

    #[test]
    fn every_datatype_decodes_from_json_and_checks_its_range() {
        let cases = [
            ("BOOL", serde_json::json!([true, false]), TensorData::Bool(vec![true, false])),
            ("UINT8", serde_json::json!([0, 255]), TensorData::Uint8(vec![0, 255])),
            ("UINT16", serde_json::json!([0, 65535]), TensorData::Uint16(vec![0, 65535])),
            ("UINT32", serde_json::json!([0, 4294967295u64]), TensorData::Uint32(vec![0, u32::MAX])),
            ("UINT64", serde_json::json!([0, u64::MAX]), TensorData::Uint64(vec![0, u64::MAX])),
            ("INT8", serde_json::json!([-128, 127]), TensorData::Int8(vec![-128, 127])),
            ("INT16", serde_json::json!([-32768, 1]), TensorData::Int16(vec![i16::MIN, 1])),
            ("INT32", serde_json::json!([-5, 1]), TensorData::Int32(vec![-5, 1])),
            ("INT64", serde_json::json!([i64::MIN, 1]), TensorData::Int64(vec![i64::MIN, 1])),
            ("FP16", serde_json::json!([0.5, 2]), TensorData::Fp16(vec![0.5, 2.0])),
            ("FP32", serde_json::json!([0.25, 1]), TensorData::Fp32(vec![0.25, 1.0])),
            ("FP64", serde_json::json!([0.1, -1]), TensorData::Fp64(vec![0.1, -1.0])),
            ("BYTES", serde_json::json!(["a", "é"]), TensorData::Bytes(vec![b"a".to_vec(), "é".as_bytes().to_vec()])),
        ];
        for (datatype, data, expected) in cases {
            let d =
                json(serde_json::json!({"inputs": [{"name": "x", "shape": [2], "datatype": datatype, "data": data}]}))
                    .expect(datatype);
            assert_eq!(d.inputs[0].data, expected, "{datatype}");
        }
        let out_of_range = [
            ("UINT8", serde_json::json!([256, 0])),
            ("INT8", serde_json::json!([-129, 0])),
            ("INT32", serde_json::json!([1.5, 0])),
            ("UINT64", serde_json::json!([-1, 0])),
            ("BOOL", serde_json::json!([1, 0])),
            ("FP32", serde_json::json!(["1", 0])),
            ("BYTES", serde_json::json!([1, "a"])),
        ];
        for (datatype, data) in out_of_range {
            let m = message(json(
                serde_json::json!({"inputs": [{"name": "x", "shape": [2], "datatype": datatype, "data": data}]}),
            ));
            assert!(m.contains("element 0") && m.contains(datatype), "{datatype}: {m}");
        }
    }

    #[test]
    fn malformed_requests_are_named_errors() {
        let cases = [
            (
                serde_json::json!({"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1, 2]}]}),
                "2 elements given, the shape holds 3",
            ),
            (
                serde_json::json!({"inputs": [{"name": "x", "shape": [-1], "datatype": "FP32", "data": []}]}),
                "negative dimension",
            ),
            (
                serde_json::json!({"inputs": [{"name": "x", "shape": [1], "datatype": "FLOAT", "data": [1]}]}),
                "unknown datatype \"FLOAT\"",
            ),
            (serde_json::json!({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]}), "no data"),
            (
                serde_json::json!({"inputs": [{"name": "x", "shape": [4294967296u64, 4294967296u64], "datatype": "FP32", "data": []}]}),
                "over",
            ),
            (
                serde_json::json!({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1], "parameters": {"binary_data_size": 4}}]}),
                "both data and binary_data_size",
            ),
            (
                serde_json::json!({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": 4}}]}),
                "without an inference-header-content-length",
            ),
            (
                serde_json::json!({"inputs": [], "outputs": [{"name": "y", "parameters": {"binary_data": "yes"}}]}),
                "binary_data: expected true or false",
            ),
            (serde_json::json!({"inputs": [], "extra": 1}), "unknown field"),
            (
                serde_json::json!({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": {"a": 1}}]}),
                "a tensor's elements",
            ),
        ];
        for (body, expected) in cases {
            let m = message(json(body.clone()));
            assert!(m.contains(expected), "{body}: {m}");
        }
        assert!(message(decode(b"{not json", None)).contains("not a valid inference request"));
        let deep = format!(
            "{{\"inputs\":[{{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":{}1{}}}]}}",
            "[".repeat(40),
            "]".repeat(40)
        );
        assert!(message(decode(deep.as_bytes(), None)).contains("nested more than 32 deep"));
    }

    fn with_binary(header: serde_json::Value, tail: &[u8]) -> Result<Decoded> {
        let mut body = serde_json::to_vec(&header).expect("json");
        let n = body.len();
        body.extend_from_slice(tail);
        decode(&body, Some(n))
    }

    #[test]
    fn binary_tensors_follow_the_json_in_input_order() {
        let mut tail: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|f| f.to_le_bytes()).collect();
        for s in ["ab", ""] {
            tail.extend_from_slice(&(s.len() as u32).to_le_bytes());
            tail.extend_from_slice(s.as_bytes());
        }
        tail.extend_from_slice(&[0x00, 0x38]); // 0.5 in half precision
        let d = with_binary(
            serde_json::json!({"inputs": [
                {"name": "x", "shape": [1, 2], "datatype": "FP32", "parameters": {"binary_data_size": 8}},
                {"name": "s", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 10}},
                {"name": "h", "shape": [1], "datatype": "FP16", "parameters": {"binary_data_size": 2}}],
             "parameters": {"binary_data_output": true}}),
            &tail,
        )
        .expect("decodes");
        assert_eq!(d.inputs[0].data, TensorData::Fp32(vec![1.5, -2.0]));
        assert_eq!(d.inputs[1].data, TensorData::Bytes(vec![b"ab".to_vec(), Vec::new()]));
        assert_eq!(d.inputs[2].data, TensorData::Fp16(vec![0.5]));
        assert!(d.binary_by_default);

        let one = |size: usize, tail: &[u8], datatype: &str, shape: usize| {
            with_binary(
                serde_json::json!({"inputs": [{"name": "x", "shape": [shape], "datatype": datatype, "parameters": {"binary_data_size": size}}]}),
                tail,
            )
        };
        assert!(message(one(8, &[0; 4], "FP32", 2)).contains("more than the 4 bytes left"));
        assert!(
            message(one(4, &[0; 4], "FP32", 2)).contains("4 bytes sent, the shape holds 2 FP32 elements (8 bytes)")
        );
        assert!(message(one(4, &[0; 8], "FP32", 1)).contains("4 bytes of binary data are not claimed"));
        assert!(message(one(3, &[9, 0, 0], "BYTES", 1)).contains("cut short"));
        assert!(message(one(5, &[9, 0, 0, 0, 1], "BYTES", 1)).contains("runs past the data"));
        assert!(message(decode(b"{}", Some(10))).contains("longer than the 2-byte body"));
    }

    #[test]
    fn half_precision_conversions_agree_both_ways() {
        for bits in [0u16, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x8400, 0x7c00] {
            assert_eq!(f32_to_half(half_to_f32(bits)), bits, "{bits:#06x}");
        }
        assert_eq!(half_to_f32(0x3c00), 1.0);
        assert_eq!(half_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f32_to_half(65520.0), 0x7c00, "rounds past the largest half to infinity");
        assert!(half_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn responses_carry_json_or_binary_outputs() {
        let outputs = vec![
            NamedTensor::new("label", vec![2], TensorData::Int64(vec![1, 0])).expect("t"),
            NamedTensor::new("p", vec![2, 2], TensorData::Fp32(vec![0.25, 0.75, 1.0, 0.0])).expect("t"),
        ];
        let e = encode("forest", 3, Some("q"), &outputs, &[false, false]).expect("encodes");
        assert_eq!(e.header_length, None);
        let v: serde_json::Value = serde_json::from_slice(&e.body).expect("json");
        assert_eq!(v["model_name"], "forest");
        assert_eq!(v["model_version"], "3");
        assert_eq!(v["id"], "q");
        assert_eq!(v["outputs"][1]["data"], serde_json::json!([0.25, 0.75, 1.0, 0.0]));
        assert_eq!(v["outputs"][1]["shape"], serde_json::json!([2, 2]));
        assert_eq!(v["outputs"][0]["datatype"], "INT64");

        let e = encode("forest", 3, None, &outputs, &[false, true]).expect("encodes");
        let n = e.header_length.expect("binary follows");
        let v: serde_json::Value = serde_json::from_slice(&e.body[..n]).expect("json");
        assert_eq!(v["outputs"][1]["parameters"]["binary_data_size"], 16);
        assert!(v["outputs"][1].get("data").is_none());
        let floats: Vec<f32> =
            e.body[n..].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        assert_eq!(floats, vec![0.25, 0.75, 1.0, 0.0]);

        let nan = vec![NamedTensor::new("p", vec![1], TensorData::Fp64(vec![f64::NAN])).expect("t")];
        assert!(
            matches!(encode("m", 1, None, &nan, &[false]), Err(Error::BadRequest(m)) if m.contains("ask for it as binary"))
        );
        assert!(encode("m", 1, None, &nan, &[true]).is_ok());
    }
}
