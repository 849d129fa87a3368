//! The core of KubeSage: the domain model and the pipeline, with no I/O.
//!
//! KubeSage finds what is broken in a Kubernetes cluster and says why, with evidence.
//! This crate holds what every face of it shares (the Rust API, the CLI and server, the
//! Python module): [`Finding`]s and their [`Evidence`], lean typed views of the cluster
//! objects analyzers read ([`model`], gathered in a [`Cluster`]), configuration, label
//! selectors, and the traits the other crates implement ([`ClusterSource`], [`Analyzer`],
//! [`LlmProvider`]) with the orchestration written against them ([`scan`]).
//!
//! Nothing here opens a file, a socket or a runtime: `kubesage-k8s` reads clusters and
//! snapshots and implements the analyzers, and the outer crates wire them together. That
//! keeps the core fast to compile, easy to test, and usable from any executor.
//!
//! ```
//! use kubesage_core::{Cluster, ScanOptions, scan};
//! # let analyzers: Vec<Box<dyn kubesage_core::Analyzer>> = Vec::new();
//! let report = scan(&Cluster::new(), &analyzers, &ScanOptions::default()).expect("no analyzer names given");
//! assert!(report.findings.is_empty());
//! ```

pub mod anomaly;
pub mod cluster;
pub mod config;
pub mod error;
pub mod finding;
pub mod llm;
pub mod model;
pub mod pipeline;
pub mod selector;
pub mod time;
pub mod tracking;

pub use anomaly::{AnomalyPoint, Detector, Series, anomaly_finding};
pub use cluster::{AnyObject, Cluster, ClusterIndex, Resource, ResourceKind, SkippedKind};
pub use compact_str::CompactString;
pub use config::Config;
pub use error::{Error, Result};
pub use finding::{Evidence, Finding, ObjectRef, Severity, fingerprint};
pub use llm::{ChatMessage, ChatRequest, ChatResponse, LlmProvider, Role, ToolCall, ToolChoice, ToolSpec, Usage};
pub use pipeline::{
    AnalysisContext, Analyzer, ClusterSource, Report, ScanOptions, SourceScope, Summary, assemble, kinds_read, scan,
    select_analyzers,
};
pub use selector::Selector;
pub use tracking::{FindingStatus, FindingTracker, TrackedFinding};
