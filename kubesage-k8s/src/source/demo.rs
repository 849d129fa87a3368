//! The demo cluster embedded in the binary: a realistic snapshot of a cluster with many
//! distinct problems and healthy objects around them, so `kubesage scan --demo` shows
//! what KubeSage does with no cluster and no credentials.

use kubesage_core::{Cluster, ClusterSource, SourceScope};

use super::decode::decode_document;
use crate::error::{Error, Result};

/// The demo snapshot, as `kubectl get ... -A -o yaml` prints it.
pub const DEMO_YAML: &str = include_str!("demo.yaml");

/// Decodes the embedded demo cluster.
pub fn cluster() -> Result<Cluster> {
    decode_document(DEMO_YAML.as_bytes(), "demo")
}

/// The demo as a [`ClusterSource`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DemoSource;

impl ClusterSource for DemoSource {
    type Error = Error;

    fn describe(&self) -> String {
        "embedded demo cluster".to_owned()
    }

    async fn load(&self, _scope: &SourceScope) -> Result<Cluster> {
        cluster()
    }
}
