//! The model runtime: ONNX models (scikit-learn exports by skl2onnx among them) loaded with
//! tract and run with a symbolic batch size.
//!
//! [`Model::load`] (or [`Model::from_bytes`]) reads a model once, checks it, and keeps tract's
//! optimised plan; [`Model::run`] is then a pure function of its inputs, safe to call from
//! many threads at once. The model's interface is read from the file: [`Model::inputs`] and
//! [`Model::outputs`] give each tensor's name, [`DataType`] (named as in KServe's Open
//! Inference Protocol) and shape, with `-1` for a dimension fixed only at run time (the batch).
//!
//! # ONNX-ML operators
//! tract 0.23 implements few operators of the `ai.onnx.ml` domain scikit-learn exports use. The
//! missing ones are ours, registered with tract's ONNX loader (see [`ops`] for the list and
//! each operator's semantics), so an export runs as skl2onnx wrote it, without conversion
//! tricks. `ZipMap`, whose output is a sequence of maps, becomes a pass-through of the
//! probability tensor; the output's [`TensorSpec::class_labels`] name its columns.
//!
//! # Untrusted files
//! A model may come from anyone who can upload one, so loading never trusts the file: it is
//! read up to [`MAX_MODEL_BYTES`], decoded (a truncated or non-protobuf file is
//! [`Error::ModelDecode`]), and checked before tract builds anything from it: no tensor may
//! declare more than [`MAX_TENSOR_ELEMENTS`] elements or data other than its shape says, nor
//! live in an external file; no constant shape may ask `ConstantOfShape` or `Expand` for more
//! than that many elements; an operator nobody implements is [`Error::UnsupportedOperator`]
//! before parsing starts. Whatever tract still rejects (or, in a corner, panics on) is
//! [`Error::ModelInvalid`]. Nothing is read from disk besides the model file itself.

pub mod data;
pub mod ops;
pub mod repository;

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use tract_onnx::pb;
use tract_onnx::prelude::*;

use crate::error::{Error, Result};

/// Largest model accepted, file or buffer: a hostile or mistaken upload must not exhaust memory.
pub const MAX_MODEL_BYTES: u64 = 512 << 20;

/// Largest number of elements one tensor of a model may declare (the data must then match).
pub const MAX_TENSOR_ELEMENTS: u64 = 1 << 27;

/// Largest number of nodes in a model, subgraphs included.
pub const MAX_NODES: usize = 1 << 20;

/// Deepest nesting of subgraphs (`Loop`, `If`, `Scan` bodies).
const MAX_GRAPH_DEPTH: usize = 16;

/// Run states a model keeps for reuse: enough for every thread of a busy server.
const KEPT_STATES: usize = 64;

/// The origin named in errors for [`Model::from_bytes`].
const IN_MEMORY: &str = "in-memory model";

/// A tensor's element type, named as in KServe's Open Inference Protocol (v2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DataType {
    /// Booleans.
    Bool,
    /// Unsigned 8-bit integers.
    Uint8,
    /// Unsigned 16-bit integers.
    Uint16,
    /// Unsigned 32-bit integers.
    Uint32,
    /// Unsigned 64-bit integers.
    Uint64,
    /// Signed 8-bit integers.
    Int8,
    /// Signed 16-bit integers.
    Int16,
    /// Signed 32-bit integers.
    Int32,
    /// Signed 64-bit integers.
    Int64,
    /// Half-precision floats.
    Fp16,
    /// Single-precision floats.
    Fp32,
    /// Double-precision floats.
    Fp64,
    /// Strings (`BYTES` in the protocol).
    Bytes,
}

impl DataType {
    /// The protocol's name: `BOOL`, `UINT8` … `INT64`, `FP16`, `FP32`, `FP64`, `BYTES`.
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Bool => "BOOL",
            DataType::Uint8 => "UINT8",
            DataType::Uint16 => "UINT16",
            DataType::Uint32 => "UINT32",
            DataType::Uint64 => "UINT64",
            DataType::Int8 => "INT8",
            DataType::Int16 => "INT16",
            DataType::Int32 => "INT32",
            DataType::Int64 => "INT64",
            DataType::Fp16 => "FP16",
            DataType::Fp32 => "FP32",
            DataType::Fp64 => "FP64",
            DataType::Bytes => "BYTES",
        }
    }

    /// The type named `name` in the protocol (as [`DataType::as_str`] spells it).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            DataType::Bool,
            DataType::Uint8,
            DataType::Uint16,
            DataType::Uint32,
            DataType::Uint64,
            DataType::Int8,
            DataType::Int16,
            DataType::Int32,
            DataType::Int64,
            DataType::Fp16,
            DataType::Fp32,
            DataType::Fp64,
            DataType::Bytes,
        ]
        .into_iter()
        .find(|d| d.as_str() == name)
    }

    /// tract's type for it.
    pub fn datum_type(self) -> DatumType {
        match self {
            DataType::Bool => DatumType::Bool,
            DataType::Uint8 => DatumType::U8,
            DataType::Uint16 => DatumType::U16,
            DataType::Uint32 => DatumType::U32,
            DataType::Uint64 => DatumType::U64,
            DataType::Int8 => DatumType::I8,
            DataType::Int16 => DatumType::I16,
            DataType::Int32 => DatumType::I32,
            DataType::Int64 => DatumType::I64,
            DataType::Fp16 => DatumType::F16,
            DataType::Fp32 => DatumType::F32,
            DataType::Fp64 => DatumType::F64,
            DataType::Bytes => DatumType::String,
        }
    }

    /// The protocol's type for a tract type, if it has one.
    pub fn from_datum_type(dt: DatumType) -> Option<Self> {
        Some(match dt {
            DatumType::Bool => DataType::Bool,
            DatumType::U8 => DataType::Uint8,
            DatumType::U16 => DataType::Uint16,
            DatumType::U32 => DataType::Uint32,
            DatumType::U64 => DataType::Uint64,
            DatumType::I8 => DataType::Int8,
            DatumType::I16 => DataType::Int16,
            DatumType::I32 => DataType::Int32,
            DatumType::I64 => DataType::Int64,
            DatumType::F16 => DataType::Fp16,
            DatumType::F32 => DataType::Fp32,
            DatumType::F64 => DataType::Fp64,
            DatumType::String => DataType::Bytes,
            _ => return None,
        })
    }
}

impl std::fmt::Display for DataType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A classifier's class labels, in the order of its probability columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassLabels {
    /// Integer labels.
    Int64(Vec<i64>),
    /// String labels.
    Strings(Vec<String>),
}

impl ClassLabels {
    /// The number of classes.
    pub fn len(&self) -> usize {
        match self {
            ClassLabels::Int64(v) => v.len(),
            ClassLabels::Strings(v) => v.len(),
        }
    }

    /// Whether there is no class.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One input or output of a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    /// The name in the ONNX graph.
    pub name: String,
    /// The element type.
    pub datatype: DataType,
    /// The shape; `-1` for a dimension known only at run time (the batch, usually).
    pub shape: Vec<i64>,
    /// For an output that was a `ZipMap` (a sequence of `{label: probability}` maps in ONNX),
    /// which the runtime returns as the `[rows, classes]` probability tensor: the labels of the
    /// columns. `None` for every other tensor.
    pub class_labels: Option<ClassLabels>,
}

/// What the model file says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelMetadata {
    /// The tool that wrote it (`skl2onnx`).
    pub producer_name: String,
    /// That tool's version.
    pub producer_version: String,
    /// The model's domain, if set.
    pub domain: String,
    /// The model's own version number (0 when unset).
    pub model_version: i64,
    /// Its documentation string.
    pub doc_string: String,
    /// The operator sets it imports: domain (empty: the default `ai.onnx`) to version.
    pub opsets: BTreeMap<String, i64>,
    /// Its free-form `metadata_props`.
    pub properties: BTreeMap<String, String>,
}

/// A loaded, checked and optimised ONNX model. Cheap to clone and share (`Arc` inside).
#[derive(Clone)]
pub struct Model {
    plan: Arc<TypedRunnableModel>,
    /// Run states kept between runs (tract allocates one per run otherwise: its buffers and
    /// per-node state, several microseconds for a small model), at most [`KEPT_STATES`].
    states: Arc<std::sync::Mutex<Vec<TypedSimpleState>>>,
    inputs: Arc<[TensorSpec]>,
    outputs: Arc<[TensorSpec]>,
    metadata: Arc<ModelMetadata>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .field("producer", &self.metadata.producer_name)
            .finish_non_exhaustive()
    }
}

/// The scikit-learn parity fixtures written by `scripts/models/sklearn_fixtures.py`:
/// `$KUBESAGE_SKLEARN_FIXTURES`, else `~/.cache/kubesage/sklearn-fixtures` (where
/// `scripts/test` writes them). An error saying how to build them when they are absent. For
/// the tests and benches of every crate that serve those models.
#[doc(hidden)]
pub fn sklearn_fixtures() -> std::result::Result<std::path::PathBuf, String> {
    let dir = std::env::var_os("KUBESAGE_SKLEARN_FIXTURES")
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache/kubesage/sklearn-fixtures"))
        })
        .ok_or("neither KUBESAGE_SKLEARN_FIXTURES nor HOME is set")?;
    if dir.join("manifest.json").exists() {
        Ok(dir)
    } else {
        Err(format!(
            "no scikit-learn fixtures in {}: run scripts/test (or `python scripts/models/sklearn_fixtures.py --out DIR` \
             with scripts/models/sklearn-requirements.txt installed, and set KUBESAGE_SKLEARN_FIXTURES=DIR)",
            dir.display()
        ))
    }
}

/// tract's ONNX loader with our operators registered.
pub fn onnx_loader() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    ops::register(&mut onnx);
    onnx
}

impl Model {
    /// Loads the model in the file at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        use std::io::Read;
        let origin = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
        let len = file.metadata().map_err(|source| Error::Io { path: path.to_owned(), source })?.len();
        if len > MAX_MODEL_BYTES {
            return Err(Error::ModelTooLarge { origin, bytes: len, limit: MAX_MODEL_BYTES });
        }
        // The size may change under us: never read more than the limit.
        let mut bytes = Vec::with_capacity(len as usize);
        file.take(MAX_MODEL_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| Error::Io { path: path.to_owned(), source })?;
        Self::parse(&bytes, origin)
    }

    /// Loads a model from its bytes (an upload, say).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::parse(bytes, IN_MEMORY.to_owned())
    }

    fn parse(bytes: &[u8], origin: String) -> Result<Self> {
        if bytes.len() as u64 > MAX_MODEL_BYTES {
            return Err(Error::ModelTooLarge { origin, bytes: bytes.len() as u64, limit: MAX_MODEL_BYTES });
        }
        if bytes.is_empty() {
            return Err(Error::ModelDecode { origin, reason: "the file is empty".into() });
        }
        let onnx = onnx_loader();
        let proto = match catch_unwind(AssertUnwindSafe(|| onnx.proto_model_for_read(&mut &*bytes))) {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return Err(Error::ModelDecode { origin, reason: format!("{e:#}") }),
            Err(_) => return Err(Error::ModelDecode { origin, reason: "the protobuf decoder panicked".into() }),
        };
        let invalid = |reason: String| Error::ModelInvalid { origin: origin.clone(), reason };
        let graph = proto.graph.as_ref().ok_or_else(|| invalid("no graph: not an ONNX model".into()))?;
        if graph.node.is_empty() && graph.output.is_empty() {
            return Err(invalid("the graph is empty: not an ONNX model".into()));
        }
        Checker { onnx: &onnx, origin: &origin, nodes: 0 }.graph(graph, 0)?;

        let inputs = input_specs(graph).map_err(invalid)?;
        let zipmaps = zipmap_labels(graph);

        let built = catch_unwind(AssertUnwindSafe(|| -> TractResult<TypedModel> {
            let mut model = onnx.model_for_proto_model(&proto)?;
            for (ix, spec) in inputs.iter().enumerate() {
                let shape: TVec<TDim> =
                    spec.spec
                        .shape
                        .iter()
                        .enumerate()
                        .map(|(axis, &d)| {
                            if d >= 0 { (d as usize).to_dim() } else { model.symbols.sym(&spec.symbols[axis]).to_dim() }
                        })
                        .collect();
                model.set_input_fact(ix, InferenceFact::dt_shape(spec.spec.datatype.datum_type(), shape))?;
            }
            let mut typed = model.into_typed()?;
            // tract types the results of integer casts as symbolic dimensions (TDim); a label
            // output is an int64 tensor to its users.
            let mut outlets = typed.output_outlets()?.to_vec();
            for (ix, outlet) in outlets.iter_mut().enumerate() {
                if typed.outlet_fact(*outlet)?.datum_type == DatumType::TDim {
                    let cast = tract_onnx::tract_hir::tract_core::ops::cast::cast(DatumType::I64);
                    *outlet = typed.wire_node(format!("output_{ix}.as_int64"), cast, &[*outlet])?[0];
                }
            }
            typed.select_output_outlets(&outlets)?;
            typed.into_optimized()
        }));
        let typed = match built {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => return Err(invalid(format!("{e:#}"))),
            Err(_) => return Err(invalid("tract panicked while building this model".into())),
        };

        let mut outputs = Vec::with_capacity(graph.output.len());
        for (ix, out) in graph.output.iter().enumerate() {
            let fact = typed.output_fact(ix).map_err(|e| invalid(format!("{e:#}")))?;
            let datatype = DataType::from_datum_type(fact.datum_type)
                .ok_or_else(|| invalid(format!("output {:?} has type {:?}", out.name, fact.datum_type)))?;
            let shape = fact.shape.iter().map(|d| d.to_i64().unwrap_or(-1)).collect();
            outputs.push(TensorSpec {
                name: out.name.clone(),
                datatype,
                shape,
                class_labels: zipmaps.get(&out.name).cloned(),
            });
        }
        let plan = match catch_unwind(AssertUnwindSafe(|| typed.into_runnable())) {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return Err(invalid(format!("{e:#}"))),
            Err(_) => return Err(invalid("tract panicked while planning this model".into())),
        };
        Ok(Model {
            plan,
            states: Arc::default(),
            inputs: inputs.into_iter().map(|i| i.spec).collect(),
            outputs: outputs.into(),
            metadata: Arc::new(metadata(&proto)),
        })
    }

    /// The model's inputs, in order.
    pub fn inputs(&self) -> &[TensorSpec] {
        &self.inputs
    }

    /// The model's outputs, in order.
    pub fn outputs(&self) -> &[TensorSpec] {
        &self.outputs
    }

    /// What the file says about itself.
    pub fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }

    /// Runs the model on one tensor per input, in [`Model::inputs`] order, and returns one
    /// tensor per output, in [`Model::outputs`] order. Each input must have its declared type
    /// and rank, and its declared size on every fixed dimension.
    ///
    /// ```no_run
    /// use kubesage_ml::model::Model;
    /// use tract_onnx::prelude::*;
    ///
    /// let model = Model::load("model.onnx".as_ref())?;
    /// let rows = tract_ndarray::arr2(&[[5.1f32, 3.5, 1.4, 0.2], [6.2, 3.4, 5.4, 2.3]]);
    /// let outputs = model.run(vec![rows.into_tensor()])?;
    /// let labels = outputs[0].to_plain_array_view::<i64>()?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        if inputs.len() != self.inputs.len() {
            return Err(Error::ModelInput {
                name: String::new(),
                reason: format!("{} tensors given; the model has {} inputs", inputs.len(), self.inputs.len()),
            });
        }
        for (tensor, spec) in inputs.iter().zip(self.inputs.iter()) {
            check_input(tensor, spec)?;
        }
        let values: TVec<TValue> = inputs.into_iter().map(|t| t.into_tvalue()).collect();
        let kept = self.states.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        let run = catch_unwind(AssertUnwindSafe(|| -> TractResult<_> {
            let mut state = match kept {
                Some(state) => state,
                None => self.plan.spawn()?,
            };
            let outputs = state.run(values)?;
            Ok((outputs, state))
        }));
        // A state is kept only after a run that succeeded (tract resets it then); a failed or
        // panicked run's state is dropped.
        let outputs = match run {
            Ok(Ok((outputs, state))) => {
                let mut states = self.states.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if states.len() < KEPT_STATES {
                    states.push(state);
                }
                outputs
            }
            Ok(Err(e)) => return Err(Error::ModelRun(format!("{e:#}"))),
            Err(_) => return Err(Error::ModelRun("tract panicked".into())),
        };
        Ok(outputs.into_iter().map(|v| v.into_tensor()).collect())
    }
}

fn check_input(tensor: &Tensor, spec: &TensorSpec) -> Result<()> {
    let bad = |reason: String| Error::ModelInput { name: spec.name.clone(), reason };
    if tensor.datum_type() != spec.datatype.datum_type() {
        let given = DataType::from_datum_type(tensor.datum_type()).map_or("unsupported".into(), |d| d.to_string());
        return Err(bad(format!("datatype {given}; the model takes {}", spec.datatype)));
    }
    let shape = tensor.shape();
    let fits = shape.len() == spec.shape.len() && shape.iter().zip(&spec.shape).all(|(&d, &s)| s < 0 || d as i64 == s);
    if !fits {
        return Err(bad(format!("shape {shape:?}; the model takes {:?} (-1: any size)", spec.shape)));
    }
    Ok(())
}

/// An input with the symbol each run-time dimension gets.
struct InputSpec {
    spec: TensorSpec,
    symbols: Vec<String>,
}

/// The graph's inputs (initialisers excluded), from their declared types: fixed dimensions
/// stay, named ones (`dim_param`) become symbols of that name, unnamed ones `batch` on the
/// first axis and `d<axis>` elsewhere.
fn input_specs(graph: &pb::GraphProto) -> std::result::Result<Vec<InputSpec>, String> {
    let initialized: std::collections::HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let mut specs = Vec::new();
    for input in graph.input.iter().filter(|i| !initialized.contains(i.name.as_str())) {
        let Some(pb::type_proto::Value::TensorType(t)) = input.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
            return Err(format!("input {:?} is not a tensor (or has no type)", input.name));
        };
        let datatype = pb::tensor_proto::DataType::try_from(t.elem_type)
            .ok()
            .and_then(|d| DatumType::try_from(d).ok())
            .and_then(DataType::from_datum_type)
            .ok_or_else(|| format!("input {:?} has an unsupported element type ({})", input.name, t.elem_type))?;
        let Some(shape) = &t.shape else {
            return Err(format!("input {:?} has no shape; its rank must be declared", input.name));
        };
        let mut dims = Vec::with_capacity(shape.dim.len());
        let mut symbols = Vec::with_capacity(shape.dim.len());
        for (axis, d) in shape.dim.iter().enumerate() {
            use pb::tensor_shape_proto::dimension::Value;
            match &d.value {
                Some(Value::DimValue(v)) if *v >= 0 => {
                    dims.push(*v);
                    symbols.push(String::new());
                }
                Some(Value::DimParam(p)) if is_identifier(p) => {
                    dims.push(-1);
                    symbols.push(p.clone());
                }
                _ => {
                    dims.push(-1);
                    symbols.push(if axis == 0 { "batch".into() } else { format!("d{axis}") });
                }
            }
        }
        specs.push(InputSpec {
            spec: TensorSpec { name: input.name.clone(), datatype, shape: dims, class_labels: None },
            symbols,
        });
    }
    Ok(specs)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The class labels of each graph output a `ZipMap` produces.
fn zipmap_labels(graph: &pb::GraphProto) -> HashMap<String, ClassLabels> {
    let mut found = HashMap::new();
    for node in graph.node.iter().filter(|n| n.op_type == "ZipMap") {
        let Some(out) = node.output.first() else { continue };
        let labels = node.attribute.iter().find_map(|a| match a.name.as_str() {
            "classlabels_int64s" => Some(ClassLabels::Int64(a.ints.clone())),
            "classlabels_strings" => {
                Some(ClassLabels::Strings(a.strings.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect()))
            }
            _ => None,
        });
        if let Some(labels) = labels {
            found.insert(out.clone(), labels);
        }
    }
    found
}

fn metadata(proto: &pb::ModelProto) -> ModelMetadata {
    ModelMetadata {
        producer_name: proto.producer_name.clone(),
        producer_version: proto.producer_version.clone(),
        domain: proto.domain.clone(),
        model_version: proto.model_version,
        doc_string: proto.doc_string.clone(),
        opsets: proto.opset_import.iter().map(|o| (o.domain.clone(), o.version)).collect(),
        properties: proto.metadata_props.iter().map(|p| (p.key.clone(), p.value.clone())).collect(),
    }
}

/// Walks a decoded model before tract builds anything from it (see the module's documentation).
struct Checker<'a> {
    onnx: &'a tract_onnx::Onnx,
    origin: &'a str,
    nodes: usize,
}

impl Checker<'_> {
    fn invalid(&self, reason: String) -> Error {
        Error::ModelInvalid { origin: self.origin.to_owned(), reason }
    }

    fn graph(&mut self, graph: &pb::GraphProto, depth: usize) -> Result<()> {
        if depth > MAX_GRAPH_DEPTH {
            return Err(self.invalid(format!("subgraphs nested more than {MAX_GRAPH_DEPTH} deep")));
        }
        if !graph.sparse_initializer.is_empty() {
            return Err(self.invalid("sparse initializers are not supported".into()));
        }
        let mut constants: HashMap<&str, &pb::TensorProto> = HashMap::new();
        for t in &graph.initializer {
            self.tensor(t, &t.name)?;
            constants.insert(t.name.as_str(), t);
        }
        self.nodes += graph.node.len();
        if self.nodes > MAX_NODES {
            return Err(self.invalid(format!("more than {MAX_NODES} nodes")));
        }
        for node in &graph.node {
            let name =
                if node.name.is_empty() { node.output.first().cloned().unwrap_or_default() } else { node.name.clone() };
            if !self.onnx.op_register.0.contains_key(&node.op_type) {
                return Err(Error::UnsupportedOperator {
                    origin: self.origin.to_owned(),
                    op: node.op_type.clone(),
                    domain: node.domain.clone(),
                    node: name,
                });
            }
            for a in &node.attribute {
                if let Some(t) = &a.t {
                    self.tensor(t, &format!("attribute {} of node {name:?}", a.name))?;
                    if node.op_type == "Constant"
                        && let Some(out) = node.output.first()
                    {
                        constants.insert(out.as_str(), t);
                    }
                }
                for t in &a.tensors {
                    self.tensor(t, &format!("attribute {} of node {name:?}", a.name))?;
                }
                if let Some(g) = &a.g {
                    self.graph(g, depth + 1)?;
                }
                for g in &a.graphs {
                    self.graph(g, depth + 1)?;
                }
            }
            // Operators whose output size is a constant input's values.
            let shape_input = match node.op_type.as_str() {
                "ConstantOfShape" => node.input.first(),
                "Expand" => node.input.get(1),
                _ => None,
            };
            if let Some(t) = shape_input.and_then(|i| constants.get(i.as_str())) {
                let volume = t.int64_data.iter().copied().chain(raw_i64s(t)).try_fold(1u64, |acc, d| {
                    u64::try_from(d).ok().and_then(|d| acc.checked_mul(d)).filter(|&v| v <= MAX_TENSOR_ELEMENTS)
                });
                if volume.is_none() {
                    return Err(self.invalid(format!(
                        "node {name:?} ({}) asks for a tensor of more than {MAX_TENSOR_ELEMENTS} elements",
                        node.op_type
                    )));
                }
            }
        }
        Ok(())
    }

    fn tensor(&self, t: &pb::TensorProto, what: &str) -> Result<()> {
        let external = t.data_location == Some(pb::tensor_proto::DataLocation::External as i32);
        if external || !t.external_data.is_empty() {
            return Err(self.invalid(format!("tensor {what:?} {}: external data is not supported", t.name)));
        }
        let elements = t.dims.iter().try_fold(1u64, |acc, &d| {
            u64::try_from(d).ok().and_then(|d| acc.checked_mul(d)).filter(|&v| v <= MAX_TENSOR_ELEMENTS)
        });
        let Some(elements) = elements else {
            return Err(self.invalid(format!(
                "tensor {what:?} {} declares shape {:?}: negative, or over {MAX_TENSOR_ELEMENTS} elements",
                t.name, t.dims
            )));
        };
        let dt = pb::tensor_proto::DataType::try_from(t.data_type).ok().and_then(|d| DatumType::try_from(d).ok());
        let Some(dt) = dt else {
            return Err(self.invalid(format!("tensor {what:?} {}: unsupported element type {}", t.name, t.data_type)));
        };
        let stored = if !t.raw_data.is_empty() {
            let size = dt.size_of() as u64;
            if size == 0 || !(t.raw_data.len() as u64).is_multiple_of(size) {
                return Err(self.invalid(format!("tensor {what:?} {}: raw data of type {dt:?} not supported", t.name)));
            }
            t.raw_data.len() as u64 / size
        } else {
            (t.float_data.len()
                + t.int32_data.len()
                + t.int64_data.len()
                + t.double_data.len()
                + t.uint64_data.len()
                + t.string_data.len()) as u64
        };
        if stored != elements {
            return Err(self.invalid(format!(
                "tensor {what:?} {}: shape {:?} declares {elements} elements but {stored} are stored (truncated or forged)",
                t.name, t.dims
            )));
        }
        Ok(())
    }
}

/// The int64 values of a tensor stored as raw little-endian bytes.
fn raw_i64s(t: &pb::TensorProto) -> impl Iterator<Item = i64> + '_ {
    let is_i64 = t.data_type == pb::tensor_proto::DataType::Int64 as i32;
    t.raw_data
        .chunks_exact(8)
        .filter(move |_| is_i64)
        .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
}

#[cfg(test)]
mod tests;
