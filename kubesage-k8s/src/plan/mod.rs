//! Deployment planning: how to run a workload at the right size.
//!
//! - [`manifests`]: the Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget
//!   that serve a model with `kubesage serve`, sized from a measured profile.
//! - [`apply`]: their server-side apply through kube-rs, dry run and diff first.
//! - [`fit`]: whether planned pods fit a cluster's nodes, and why not.
//! - [`resources`]: CPU and memory requests and limits per container from usage history.

pub mod apply;
pub mod fit;
pub mod manifests;
pub mod resources;
