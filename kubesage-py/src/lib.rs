//! Python bindings for KubeSage (`import kubesage`), built with maturin.
//!
//! The module grows with the Rust crates; today it reports its version.

use pyo3::prelude::*;

/// The compiled extension behind the `kubesage` Python package.
#[pymodule]
fn _kubesage(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
