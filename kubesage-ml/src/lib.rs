//! KubeSage models: anomaly detection on cluster metrics ([`anomaly`]) and, as their issues
//! land, local embeddings, retrieval and model serving.
//!
//! The crate depends only on `kubesage-core`, whose [`Detector`](kubesage_core::Detector)
//! trait it implements; it never talks to a cluster or a metrics server itself.

pub mod anomaly;
pub mod embed;
pub mod error;
pub mod index;
pub mod llm;
pub mod model;
pub mod rag;

pub use error::{Error, Result};
