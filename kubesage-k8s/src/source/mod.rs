//! Where cluster state comes from: a live API server ([`LiveSource`]), snapshot files
//! ([`SnapshotSource`]) or the demo cluster embedded in the binary ([`demo`]).

pub mod decode;
pub mod demo;
pub mod live;
pub mod snapshot;
pub mod watch;

use std::path::PathBuf;

use kubesage_core::{Cluster, ClusterSource, SourceScope};

pub use decode::decode_document;
pub use live::{LiveOptions, LiveSource};
pub use snapshot::SnapshotSource;
pub use watch::WatchedCluster;

/// Which source a scan reads: the one place that knows all three, for the CLI, the Python
/// module and any other front end.
#[derive(Debug, Clone)]
pub enum SourceChoice {
    /// The demo cluster embedded in the binary.
    Demo,
    /// Snapshot files or folders (`-` for stdin).
    Snapshot(Vec<PathBuf>),
    /// A live cluster.
    Live(LiveOptions),
}

impl SourceChoice {
    /// Connects (for a live cluster) and reads the scope; returns the cluster and a
    /// description of where it came from.
    pub async fn load(&self, scope: &SourceScope) -> crate::Result<(Cluster, String)> {
        match self {
            SourceChoice::Demo => Ok((demo::DemoSource.load(scope).await?, demo::DemoSource.describe())),
            SourceChoice::Snapshot(paths) => {
                let source = SnapshotSource::new(paths.iter().cloned());
                Ok((source.load(scope).await?, source.describe()))
            }
            SourceChoice::Live(options) => {
                let source = LiveSource::connect(options).await?;
                Ok((source.load(scope).await?, source.describe()))
            }
        }
    }
}
