//! Kubernetes operations for KubeSage: cluster sources and analyzers.
//!
//! - [`source`]: read a cluster live through kube-rs ([`LiveSource`]), from snapshot files
//!   that `kubectl get -o json|yaml` wrote ([`SnapshotSource`]), or from the embedded demo.
//! - [`analyze`]: one analyzer per kind of object, each finding broken workloads with
//!   their evidence.
//!
//! ```
//! # fn main() -> Result<(), kubesage_k8s::Error> {
//! let cluster = kubesage_k8s::source::demo::cluster()?;
//! let report = kubesage_core::scan(&cluster, &kubesage_k8s::analyze::all(), &Default::default())?;
//! assert!(report.summary.critical > 0);
//! # Ok(()) }
//! ```

pub mod analyze;
pub mod error;
pub mod plan;
pub mod prometheus;
pub mod source;

pub use error::{Error, Result};
pub use source::{LiveOptions, LiveSource, SnapshotSource, WatchedCluster};
