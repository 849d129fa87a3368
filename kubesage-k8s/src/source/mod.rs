//! Where cluster state comes from: a live API server ([`LiveSource`]), snapshot files
//! ([`SnapshotSource`]) or the demo cluster embedded in the binary ([`demo`]).

pub mod decode;
pub mod demo;
pub mod live;
pub mod snapshot;

pub use decode::decode_document;
pub use live::{LiveOptions, LiveSource};
pub use snapshot::SnapshotSource;
