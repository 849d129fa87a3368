//! `kubesage.Model`: the ONNX model runtime from Python — the same code `kubesage serve`
//! runs, so a notebook can check a scikit-learn export before it is served.
//!
//! Inputs are numpy arrays of exactly the model's datatype (as onnxruntime asks: a float64
//! array given to a float32 input is an error naming both, never a silent cast), or arrays of
//! strings for string inputs. Outputs come back as a dict of numpy arrays by output name.

use kubesage_ml::model::data::{NamedTensor, TensorData};
use kubesage_ml::model::{ClassLabels, Model as Runtime};
use numpy::{
    Element, PyArray1, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::{Failure, ModelError};

/// A loaded ONNX model.
#[pyclass(module = "kubesage", frozen)]
pub(crate) struct Model {
    inner: Runtime,
}

fn tensors_info(py: Python<'_>, specs: &[kubesage_ml::model::TensorSpec]) -> PyResult<Py<PyAny>> {
    let list = PyList::empty(py);
    for spec in specs {
        let d = PyDict::new(py);
        d.set_item("name", &spec.name)?;
        d.set_item("datatype", spec.datatype.as_str())?;
        d.set_item("shape", spec.shape.clone())?;
        match &spec.class_labels {
            Some(ClassLabels::Int64(l)) => d.set_item("class_labels", l.clone())?,
            Some(ClassLabels::Strings(l)) => d.set_item("class_labels", l.clone())?,
            None => {}
        }
        list.append(d)?;
    }
    Ok(list.into_any().unbind())
}

/// Reads one numpy array of element type `T` into a vector, when the array has that type.
fn read<T: Element + Copy>(obj: &Bound<'_, PyAny>) -> Option<(Vec<usize>, Vec<T>)> {
    let array = obj.extract::<PyReadonlyArrayDyn<'_, T>>().ok()?;
    let view = array.as_array();
    Some((view.shape().to_vec(), view.iter().copied().collect()))
}

fn to_tensor(name: &str, obj: &Bound<'_, PyAny>) -> PyResult<NamedTensor> {
    let bad = |reason: String| ModelError::new_err(format!("input {name:?}: {reason}"));
    let array = obj.cast::<PyUntypedArray>().map_err(|_| bad("expected a numpy array".into()))?;
    let kind = array.dtype().kind();
    let (shape, data) = if kind == b'U' || kind == b'O' || kind == b'S' {
        let shape = array.shape().to_vec();
        let items: Vec<Bound<'_, PyAny>> = obj.call_method0("ravel")?.call_method0("tolist")?.extract()?;
        let mut strings = Vec::with_capacity(items.len());
        for item in items {
            if let Ok(s) = item.extract::<String>() {
                strings.push(s.into_bytes());
            } else if let Ok(b) = item.cast::<PyBytes>() {
                strings.push(b.as_bytes().to_vec());
            } else {
                return Err(bad("a string array holds something other than str or bytes".into()));
            }
        }
        (shape, TensorData::Bytes(strings))
    } else if let Some((s, v)) = read::<f32>(obj) {
        (s, TensorData::Fp32(v))
    } else if let Some((s, v)) = read::<f64>(obj) {
        (s, TensorData::Fp64(v))
    } else if let Some((s, v)) = read::<i64>(obj) {
        (s, TensorData::Int64(v))
    } else if let Some((s, v)) = read::<i32>(obj) {
        (s, TensorData::Int32(v))
    } else if let Some((s, v)) = read::<bool>(obj) {
        (s, TensorData::Bool(v))
    } else if let Some((s, v)) = read::<u8>(obj) {
        (s, TensorData::Uint8(v))
    } else if let Some((s, v)) = read::<i8>(obj) {
        (s, TensorData::Int8(v))
    } else if let Some((s, v)) = read::<i16>(obj) {
        (s, TensorData::Int16(v))
    } else if let Some((s, v)) = read::<u16>(obj) {
        (s, TensorData::Uint16(v))
    } else if let Some((s, v)) = read::<u32>(obj) {
        (s, TensorData::Uint32(v))
    } else if let Some((s, v)) = read::<u64>(obj) {
        (s, TensorData::Uint64(v))
    } else {
        return Err(bad(format!("numpy dtype {} is not supported", array.dtype())));
    };
    NamedTensor::new(name, shape, data).map_err(|e| Failure::Ml(e).into())
}

fn to_numpy(py: Python<'_>, t: NamedTensor) -> PyResult<Py<PyAny>> {
    fn shaped<T: Element>(py: Python<'_>, v: Vec<T>, shape: &[usize]) -> PyResult<Py<PyAny>> {
        let flat: Bound<'_, PyArray1<T>> = PyArray1::from_vec(py, v);
        let array: Bound<'_, PyArrayDyn<T>> = flat.reshape(shape.to_vec())?;
        Ok(array.into_any().unbind())
    }
    let shape = t.shape;
    match t.data {
        TensorData::Bool(v) => shaped(py, v, &shape),
        TensorData::Uint8(v) => shaped(py, v, &shape),
        TensorData::Uint16(v) => shaped(py, v, &shape),
        TensorData::Uint32(v) => shaped(py, v, &shape),
        TensorData::Uint64(v) => shaped(py, v, &shape),
        TensorData::Int8(v) => shaped(py, v, &shape),
        TensorData::Int16(v) => shaped(py, v, &shape),
        TensorData::Int32(v) => shaped(py, v, &shape),
        TensorData::Int64(v) => shaped(py, v, &shape),
        TensorData::Fp16(v) | TensorData::Fp32(v) => shaped(py, v, &shape),
        TensorData::Fp64(v) => shaped(py, v, &shape),
        TensorData::Bytes(v) => {
            let strings: Vec<String> = v.into_iter().map(|b| String::from_utf8_lossy(&b).into_owned()).collect();
            let numpy = py.import("numpy")?;
            Ok(numpy.call_method1("array", (strings,))?.call_method1("reshape", (shape,))?.unbind())
        }
        other => Err(ModelError::new_err(format!(
            "output {:?}: datatype {} has no numpy equivalent",
            t.name,
            other.datatype()
        ))),
    }
}

#[pymethods]
impl Model {
    /// Loads the ONNX model at `path` (checked before it is parsed; a hostile or broken file
    /// raises ModelError).
    #[new]
    fn new(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        let inner = py.detach(|| Runtime::load(&path)).map_err(Failure::Ml)?;
        Ok(Model { inner })
    }

    /// Loads a model from its bytes.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let owned = data.to_vec();
        let inner = py.detach(move || Runtime::from_bytes(&owned)).map_err(Failure::Ml)?;
        Ok(Model { inner })
    }

    /// The inputs: dicts with `name`, `datatype` (`FP32`, `INT64`, `BYTES`, ...) and `shape`
    /// (`-1` for a dimension given at run time, the batch).
    #[getter]
    fn inputs(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        tensors_info(py, self.inner.inputs())
    }

    /// The outputs, likewise; a classifier's probabilities also carry `class_labels`.
    #[getter]
    fn outputs(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        tensors_info(py, self.inner.outputs())
    }

    /// Runs the model. `inputs` is one array (for a model with one input) or a dict of arrays
    /// by input name; `outputs` picks outputs by name (default: all). Returns a dict of
    /// numpy arrays by output name, in the order asked.
    #[pyo3(signature = (inputs, outputs = None))]
    fn run(&self, py: Python<'_>, inputs: &Bound<'_, PyAny>, outputs: Option<Vec<String>>) -> PyResult<Py<PyAny>> {
        let tensors = if let Ok(dict) = inputs.cast::<PyDict>() {
            let mut tensors = Vec::with_capacity(dict.len());
            for (k, v) in dict.iter() {
                let name: String = k.extract()?;
                tensors.push(to_tensor(&name, &v)?);
            }
            tensors
        } else {
            let specs = self.inner.inputs();
            let [only] = specs else {
                return Err(ModelError::new_err(format!(
                    "the model has {} inputs: pass a dict of arrays by name",
                    specs.len()
                )));
            };
            vec![to_tensor(&only.name, inputs)?]
        };
        let wanted = outputs.unwrap_or_default();
        let model = self.inner.clone();
        let results = py
            .detach(move || {
                let names: Vec<&str> = wanted.iter().map(String::as_str).collect();
                model.infer(tensors, &names)
            })
            .map_err(Failure::Ml)?;
        let dict = PyDict::new(py);
        for t in results {
            let name = t.name.clone();
            dict.set_item(name, to_numpy(py, t)?)?;
        }
        Ok(dict.into_any().unbind())
    }

    fn __repr__(&self) -> String {
        let describe = |specs: &[kubesage_ml::model::TensorSpec]| {
            specs.iter().map(|s| format!("{}: {} {:?}", s.name, s.datatype, s.shape)).collect::<Vec<_>>().join(", ")
        };
        format!("<Model inputs=[{}] outputs=[{}]>", describe(self.inner.inputs()), describe(self.inner.outputs()))
    }
}
