//! Python bindings for KubeSage (`import kubesage`), built with maturin.
//!
//! Each function is a thin wrapper: arguments are checked and borrowed (numpy arrays are
//! read in place, never copied), the GIL is released for the work itself, and results come
//! back as numpy arrays or plain Python objects. Every error becomes one exception class
//! under `KubeSageError`, in one place ([`to_py_err`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use kubesage_core::{CompactString, ScanOptions, Selector, SourceScope};
use kubesage_k8s::LiveOptions;
use kubesage_k8s::source::SourceChoice;
use numpy::{AllowTypeChange, PyArray1, PyArrayLike1, PyReadonlyArray1};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

create_exception!(kubesage, KubeSageError, PyException, "Base class of every KubeSage error.");
create_exception!(kubesage, InvalidInputError, KubeSageError, "An argument or input series is malformed.");
create_exception!(kubesage, SnapshotError, KubeSageError, "A snapshot file could not be read or decoded.");
create_exception!(kubesage, ClusterError, KubeSageError, "A live cluster could not be reached or read.");
create_exception!(kubesage, DetectorError, KubeSageError, "A detector name is unknown or a detector failed.");
create_exception!(kubesage, PrometheusError, KubeSageError, "Prometheus could not be reached or refused a query.");
create_exception!(
    kubesage,
    ModelError,
    KubeSageError,
    "A model file cannot be used (broken, hostile, unsupported), or inputs do not fit it."
);

mod model;

/// Maps every Rust error of the crates to its Python exception.
pub(crate) enum Failure {
    K8s(kubesage_k8s::Error),
    Core(kubesage_core::Error),
    Ml(kubesage_ml::Error),
    Input(String),
}

impl From<kubesage_k8s::Error> for Failure {
    fn from(e: kubesage_k8s::Error) -> Self {
        Failure::K8s(e)
    }
}
impl From<kubesage_core::Error> for Failure {
    fn from(e: kubesage_core::Error) -> Self {
        Failure::Core(e)
    }
}
impl From<kubesage_ml::Error> for Failure {
    fn from(e: kubesage_ml::Error) -> Self {
        Failure::Ml(e)
    }
}

fn to_py_err(f: Failure) -> PyErr {
    use kubesage_k8s::Error as K;
    match f {
        Failure::K8s(e) => {
            let text = kubesage_core::error::display_chain(&e);
            match e {
                K::Io { .. } | K::TooLarge { .. } | K::Decode { .. } | K::NotKubernetes { .. } | K::EmptyFolder(_) => {
                    SnapshotError::new_err(text)
                }
                K::PrometheusUnreachable { .. }
                | K::PrometheusQuery { .. }
                | K::PrometheusResponse(_)
                | K::PrometheusUrl { .. } => PrometheusError::new_err(text),
                K::Core(_) => InvalidInputError::new_err(text),
                _ => ClusterError::new_err(text),
            }
        }
        Failure::Core(e) => InvalidInputError::new_err(kubesage_core::error::display_chain(&e)),
        Failure::Ml(e) => match e {
            kubesage_ml::Error::UnknownDetector { .. } => DetectorError::new_err(e.to_string()),
            kubesage_ml::Error::Model { .. }
            | kubesage_ml::Error::ModelTooLarge { .. }
            | kubesage_ml::Error::ModelDecode { .. }
            | kubesage_ml::Error::ModelInvalid { .. }
            | kubesage_ml::Error::UnsupportedOperator { .. }
            | kubesage_ml::Error::ModelInput { .. }
            | kubesage_ml::Error::ModelRun(_) => ModelError::new_err(kubesage_core::error::display_chain(&e)),
            other => InvalidInputError::new_err(kubesage_core::error::display_chain(&other)),
        },
        Failure::Input(text) => InvalidInputError::new_err(text),
    }
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        to_py_err(f)
    }
}

fn json_to_py(py: Python<'_>, v: &serde_json::Value) -> PyResult<Py<PyAny>> {
    use serde_json::Value as V;
    Ok(match v {
        V::Null => py.None(),
        V::Bool(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
        V::Number(n) => match n.as_i64() {
            Some(i) => i.into_pyobject(py)?.into_any().unbind(),
            None => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any().unbind(),
        },
        V::String(s) => s.into_pyobject(py)?.into_any().unbind(),
        V::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any().unbind()
        }
        V::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, json_to_py(py, item)?)?;
            }
            dict.into_any().unbind()
        }
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// A problem found on one Kubernetes object.
#[pyclass(module = "kubesage", frozen)]
struct Finding {
    inner: kubesage_core::Finding,
}

#[pymethods]
impl Finding {
    /// Stable fingerprint: the same problem has the same id on the next scan.
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }
    /// The analyzer that reported it.
    #[getter]
    fn analyzer(&self) -> &str {
        &self.inner.analyzer
    }
    /// A short machine-readable reason, such as `CrashLoopBackOff`.
    #[getter]
    fn reason(&self) -> &str {
        &self.inner.reason
    }
    /// `critical`, `warning` or `info`.
    #[getter]
    fn severity(&self) -> &'static str {
        self.inner.severity.as_str()
    }
    /// The object: `{"kind", "namespace", "name"}` (namespace is None for cluster objects).
    #[getter]
    fn object(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &to_json(&self.inner.object))
    }
    /// One sentence a person can act on.
    #[getter]
    fn summary(&self) -> &str {
        &self.inner.summary
    }
    /// The evidence, as dicts with a `type` key (`field`, `condition`, `event`, `message`).
    #[getter]
    fn evidence(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &to_json(&self.inner.evidence))
    }
    /// Suggested next steps.
    #[getter]
    fn next_steps(&self) -> Vec<String> {
        self.inner.next_steps.clone()
    }
    /// Ids of findings that share a root cause.
    #[getter]
    fn related(&self) -> Vec<String> {
        self.inner.related.clone()
    }
    /// The finding as a dict, in the shape of `kubesage scan --output json`.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &to_json(&self.inner))
    }
    fn __repr__(&self) -> String {
        format!("<Finding {} {} {}: {}>", self.inner.severity, self.inner.object, self.inner.reason, self.inner.summary)
    }
}

/// The result of a scan.
#[pyclass(module = "kubesage", frozen)]
struct ScanResult {
    report: kubesage_core::Report,
    source: String,
}

#[pymethods]
impl ScanResult {
    /// Findings, most severe first.
    #[getter]
    fn findings(&self) -> Vec<Finding> {
        self.report.findings.iter().map(|f| Finding { inner: f.clone() }).collect()
    }
    /// Counts by severity and objects examined by kind.
    #[getter]
    fn summary(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &to_json(&self.report.summary))
    }
    /// Kinds that could not be read, with the reason.
    #[getter]
    fn skipped(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &to_json(&self.report.skipped))
    }
    /// Notes about the input (ignored kinds, missing timestamps).
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.report.warnings.clone()
    }
    /// Where the cluster state came from.
    #[getter]
    fn source(&self) -> &str {
        &self.source
    }
    /// The whole result as a dict, in the shape of `kubesage scan --output json`.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let mut v = to_json(&self.report);
        if let serde_json::Value::Object(m) = &mut v {
            m.insert("source".into(), serde_json::Value::String(self.source.clone()));
        }
        json_to_py(py, &v)
    }
    fn __len__(&self) -> usize {
        self.report.findings.len()
    }
    fn __repr__(&self) -> String {
        let s = &self.report.summary;
        format!("<ScanResult of {}: {} critical, {} warning, {} info>", self.source, s.critical, s.warning, s.info)
    }
}

/// Scans the demo cluster, snapshot files, or a live cluster for broken workloads.
#[pyfunction]
#[pyo3(signature = (demo=false, snapshot=None, kubeconfig=None, context=None, namespace=None, selector=None, analyzers=None))]
#[allow(clippy::too_many_arguments)]
fn scan(
    py: Python<'_>,
    demo: bool,
    snapshot: Option<Vec<PathBuf>>,
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    namespace: Option<String>,
    selector: Option<String>,
    analyzers: Option<Vec<String>>,
) -> PyResult<ScanResult> {
    if demo && snapshot.is_some() {
        return Err(Failure::Input("give demo=True or snapshot=..., not both".into()).into());
    }
    let result: Result<(kubesage_core::Report, String), Failure> = py.detach(move || {
        let all = kubesage_k8s::analyze::all();
        let names = analyzers.unwrap_or_default();
        let selected = kubesage_core::select_analyzers(&all, &names)?;
        let scope = SourceScope { namespace: namespace.clone(), kinds: kubesage_core::kinds_read(&selected) };
        let selector = selector.as_deref().map(Selector::parse).transpose()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::Input(format!("cannot start a runtime: {e}")))?;
        let choice = match (demo, snapshot) {
            (true, _) => SourceChoice::Demo,
            (false, Some(paths)) => SourceChoice::Snapshot(paths),
            (false, None) => SourceChoice::Live(LiveOptions { kubeconfig, context, ..LiveOptions::default() }),
        };
        let (cluster, source) = runtime.block_on(choice.load(&scope))?;
        let options = ScanOptions { namespace, selector, analyzers: names, now: None };
        Ok((kubesage_core::scan(&cluster, &all, &options)?, source))
    });
    let (report, source) = result?;
    Ok(ScanResult { report, source })
}

fn borrow_series<'a>(
    values: &'a PyReadonlyArray1<'_, f64>,
    timestamps: Option<&'a PyReadonlyArray1<'_, i64>>,
) -> Result<(&'a [f64], Option<&'a [i64]>), Failure> {
    let v = values.as_slice().map_err(|_| Failure::Input("values must be a contiguous 1-D array".into()))?;
    let t = match timestamps {
        Some(t) => Some(t.as_slice().map_err(|_| Failure::Input("timestamps must be a contiguous 1-D array".into()))?),
        None => None,
    };
    if let Some(t) = t
        && t.len() != v.len()
    {
        return Err(Failure::Input(format!("{} values but {} timestamps", v.len(), t.len())));
    }
    Ok((v, t))
}

/// Converts any 1-D array-like (lists, other dtypes) to the element type, as numpy would;
/// what numpy cannot convert is an [`InvalidInputError`].
fn array_like<'a, 'py, T>(obj: &'a Bound<'py, PyAny>, what: &str) -> PyResult<PyArrayLike1<'py, T, AllowTypeChange>>
where
    T: numpy::Element + 'py,
    Vec<T>: FromPyObject<'a, 'py>,
{
    obj.extract().map_err(|e| InvalidInputError::new_err(format!("{what} must be a 1-D numeric array: {e}")))
}

/// Seconds between points when no timestamps are given.
const DEFAULT_STEP: i64 = 60;

fn run_detector(d: &mut dyn kubesage_core::Detector, values: &[f64], timestamps: Option<&[i64]>) -> Vec<f64> {
    match timestamps {
        Some(t) => d.score_batch(t, values),
        None => values.iter().enumerate().map(|(i, &v)| d.score(i as i64 * DEFAULT_STEP, v)).collect(),
    }
}

/// Scores a whole series with a fresh detector; returns one score in [0, 1] per value.
#[pyfunction]
#[pyo3(signature = (values, timestamps=None, detector="default"))]
fn detect<'py>(
    py: Python<'py>,
    values: PyReadonlyArray1<'py, f64>,
    timestamps: Option<PyReadonlyArray1<'py, i64>>,
    detector: &str,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let mut d = kubesage_ml::anomaly::detector(detector).map_err(Failure::from)?;
    let (v, t) = borrow_series(&values, timestamps.as_ref())?;
    let scores = py.detach(|| run_detector(d.as_mut(), v, t));
    Ok(PyArray1::from_vec(py, scores))
}

/// A streaming detector for one series.
#[pyclass(module = "kubesage")]
struct Detector {
    inner: Box<dyn kubesage_core::Detector>,
    name: String,
    /// Where the implicit clock stands for points given without timestamps, so a stream
    /// fed in chunks keeps moving forward.
    next_t: i64,
}

#[pymethods]
impl Detector {
    #[new]
    #[pyo3(signature = (name="default"))]
    fn new(name: &str) -> PyResult<Self> {
        Ok(Detector {
            inner: kubesage_ml::anomaly::detector(name).map_err(Failure::from)?,
            name: name.to_owned(),
            next_t: 0,
        })
    }
    /// The detector's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }
    /// Bytes of state held for the series.
    #[getter]
    fn memory_bytes(&self) -> usize {
        self.inner.memory_bytes()
    }
    /// Scores the next point (timestamp in Unix seconds); NaN is a gap and scores 0.
    fn score(&mut self, timestamp: i64, value: f64) -> f64 {
        self.next_t = timestamp.saturating_add(DEFAULT_STEP);
        self.inner.score(timestamp, value)
    }
    /// Scores the next points of the series, continuing from the state so far. Without
    /// timestamps, points are one minute apart, continuing the series' clock.
    #[pyo3(signature = (values, timestamps=None))]
    fn score_batch<'py>(
        &mut self,
        py: Python<'py>,
        values: &Bound<'py, PyAny>,
        timestamps: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let values: PyArrayLike1<'py, f64, AllowTypeChange> = array_like(values, "values")?;
        let timestamps: Option<PyArrayLike1<'py, i64, AllowTypeChange>> =
            timestamps.map(|t| array_like(t, "timestamps")).transpose()?;
        let (v, t) = borrow_series(&values, timestamps.as_deref())?;
        let start = self.next_t;
        self.next_t = match t {
            Some(t) => t.last().map_or(start, |&last| last.saturating_add(DEFAULT_STEP)),
            None => start.saturating_add(v.len() as i64 * DEFAULT_STEP),
        };
        let d = self.inner.as_mut();
        let scores = py.detach(|| match t {
            Some(t) => d.score_batch(t, v),
            None => v.iter().enumerate().map(|(i, &x)| d.score(start + i as i64 * DEFAULT_STEP, x)).collect(),
        });
        Ok(PyArray1::from_vec(py, scores))
    }
    fn __repr__(&self) -> String {
        format!("<Detector {}>", self.name)
    }
}

/// One detector per series, keyed by the series' labels, with a bounded number of series.
#[pyclass(module = "kubesage")]
struct DetectorBank {
    inner: kubesage_ml::anomaly::bank::DetectorBank,
}

fn labels(map: BTreeMap<String, String>) -> kubesage_ml::anomaly::bank::Labels {
    map.into_iter().map(|(k, v)| (CompactString::from(k), CompactString::from(v))).collect()
}

#[pymethods]
impl DetectorBank {
    #[new]
    #[pyo3(signature = (detector="default", max_series=100_000))]
    fn new(detector: &str, max_series: usize) -> PyResult<Self> {
        kubesage_ml::anomaly::detector(detector).map_err(Failure::from)?;
        let name = detector.to_owned();
        let make = move || {
            kubesage_ml::anomaly::detector(&name)
                .unwrap_or_else(|_| Box::new(kubesage_ml::anomaly::ensemble::DefaultDetector::default()))
        };
        Ok(DetectorBank { inner: kubesage_ml::anomaly::bank::DetectorBank::new(max_series, make) })
    }
    /// Scores the next point of the series with these labels.
    fn score(&mut self, labels: BTreeMap<String, String>, timestamp: i64, value: f64) -> f64 {
        self.inner.score(&self::labels(labels), timestamp, value)
    }
    /// Scores the next points of one series.
    fn score_series<'py>(
        &mut self,
        py: Python<'py>,
        labels: BTreeMap<String, String>,
        values: &Bound<'py, PyAny>,
        timestamps: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let values: PyArrayLike1<'py, f64, AllowTypeChange> = array_like(values, "values")?;
        let timestamps: PyArrayLike1<'py, i64, AllowTypeChange> = array_like(timestamps, "timestamps")?;
        let (v, t) = borrow_series(&values, Some(&timestamps))?;
        let key = self::labels(labels);
        let bank = &mut self.inner;
        let scores = py.detach(|| bank.score_series(&key, t.unwrap_or_default(), v));
        Ok(PyArray1::from_vec(py, scores))
    }
    /// Series followed now.
    fn __len__(&self) -> usize {
        self.inner.len()
    }
    /// Bytes held by all detectors.
    #[getter]
    fn memory_bytes(&self) -> usize {
        self.inner.memory_bytes()
    }
}

/// Runs a Prometheus range query; returns `(labels, timestamps, values)` per series.
#[pyfunction]
#[pyo3(signature = (url, query, start, end, step, timeout=30.0))]
#[allow(clippy::type_complexity)]
fn prometheus_query_range<'py>(
    py: Python<'py>,
    url: String,
    query: String,
    start: i64,
    end: i64,
    step: u64,
    timeout: f64,
) -> PyResult<Vec<(BTreeMap<String, String>, Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<f64>>)>> {
    if !(timeout.is_finite() && timeout > 0.0) {
        return Err(Failure::Input("timeout must be a positive number of seconds".into()).into());
    }
    let series: Result<Vec<kubesage_core::Series>, Failure> = py.detach(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::Input(format!("cannot start a runtime: {e}")))?;
        runtime.block_on(async {
            let client = kubesage_k8s::prometheus::PrometheusClient::new(&url, Duration::from_secs_f64(timeout))?;
            Ok(client.query_range(&query, start, end, step).await?)
        })
    });
    Ok(series?
        .into_iter()
        .map(|s| {
            let labels = s.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            (labels, PyArray1::from_vec(py, s.timestamps), PyArray1::from_vec(py, s.values))
        })
        .collect())
}

/// The names of the detectors; the first is the default.
#[pyfunction]
fn detectors() -> Vec<&'static str> {
    kubesage_ml::anomaly::DETECTORS.to_vec()
}

/// The names of the analyzers.
#[pyfunction]
fn analyzers() -> Vec<&'static str> {
    kubesage_k8s::analyze::names()
}

/// The built-in knowledge base plus the runbook index at `index` (or the default one).
fn knowledge(index: Option<PathBuf>) -> Result<kubesage_ml::rag::index::PassageIndex, Failure> {
    let path = index.or_else(kubesage_ml::rag::index::default_index_path);
    let mut ix = match path {
        Some(p) => kubesage_ml::rag::index::PassageIndex::load(&p)?,
        None => kubesage_ml::rag::index::PassageIndex::new(),
    };
    kubesage_ml::rag::kb::add_builtin(&mut ix);
    Ok(ix)
}

/// Searches the built-in knowledge base and the runbook index; a list of dicts with
/// `source`, `heading`, `score` and `text`, best first.
#[pyfunction]
#[pyo3(signature = (text, top=5, index=None))]
fn kb_search(py: Python<'_>, text: String, top: usize, index: Option<PathBuf>) -> PyResult<Py<PyAny>> {
    if text.trim().is_empty() {
        return Err(Failure::Input("text must not be empty".into()).into());
    }
    let hits = py.detach(move || knowledge(index).map(|ix| ix.search(&text, top)))?;
    json_to_py(py, &to_json(&hits))
}

/// Explains a finding offline, from the knowledge base, the runbook index and its evidence:
/// a dict with `finding`, `mode`, `answer` (Markdown) and `sources`.
#[pyfunction]
#[pyo3(signature = (finding, index=None))]
fn explain(py: Python<'_>, finding: &Finding, index: Option<PathBuf>) -> PyResult<Py<PyAny>> {
    let finding = finding.inner.clone();
    let explanation = py.detach(move || {
        let ix = knowledge(index)?;
        let passages = kubesage_ml::rag::explain::retrieve(&finding, &ix, 4);
        Ok::<_, Failure>(kubesage_ml::rag::explain::offline(&finding, &passages))
    })?;
    json_to_py(py, &to_json(&explanation))
}

/// The compiled extension behind the `kubesage` Python package.
#[pymodule]
fn _kubesage(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("KubeSageError", py.get_type::<KubeSageError>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    m.add("SnapshotError", py.get_type::<SnapshotError>())?;
    m.add("ClusterError", py.get_type::<ClusterError>())?;
    m.add("DetectorError", py.get_type::<DetectorError>())?;
    m.add("PrometheusError", py.get_type::<PrometheusError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add_class::<model::Model>()?;
    m.add_class::<Finding>()?;
    m.add_class::<ScanResult>()?;
    m.add_class::<Detector>()?;
    m.add_class::<DetectorBank>()?;
    m.add_function(wrap_pyfunction!(scan, m)?)?;
    m.add_function(wrap_pyfunction!(detect, m)?)?;
    m.add_function(wrap_pyfunction!(prometheus_query_range, m)?)?;
    m.add_function(wrap_pyfunction!(detectors, m)?)?;
    m.add_function(wrap_pyfunction!(analyzers, m)?)?;
    m.add_function(wrap_pyfunction!(kb_search, m)?)?;
    m.add_function(wrap_pyfunction!(explain, m)?)?;
    Ok(())
}
