//! Snapshot files and folders: size limits, folder walking, merging, and I/O errors.

use kubesage_core::{ClusterSource, SourceScope};
use kubesage_k8s::{Error, SnapshotSource};

const POD: &str =
    r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"x"},"status":{"phase":"Running"}}"#;

#[test]
fn files_over_the_limit_are_refused_before_reading() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("big.json");
    std::fs::write(&path, POD).expect("write");
    let source = SnapshotSource::new([&path]).max_bytes(10);
    match source.read() {
        Err(Error::TooLarge { size, limit, .. }) => {
            assert_eq!(limit, 10);
            assert_eq!(size, POD.len() as u64);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(SnapshotSource::new([&path]).read().is_ok());
}

#[test]
fn folders_are_walked_in_order_skipping_hidden_and_other_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("ns/shop")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join(".git")).expect("mkdir");
    std::fs::write(dir.path().join("ns/shop/pods.json"), POD).expect("write");
    std::fs::write(
        dir.path().join("nodes.yml"),
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\nspec:\n  unschedulable: true\n",
    )
    .expect("write");
    std::fs::write(dir.path().join(".git/junk.json"), "{not json").expect("write");
    std::fs::write(dir.path().join(".hidden.json"), "{not json").expect("write");
    std::fs::write(dir.path().join("README.md"), "# not a snapshot").expect("write");
    let cluster = SnapshotSource::new([dir.path()]).read().expect("the folder reads");
    assert_eq!(cluster.pods.len(), 1);
    assert_eq!(cluster.nodes.len(), 1);
}

#[test]
fn several_files_merge_and_errors_name_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    let bad = dir.path().join("bad.json");
    std::fs::write(&a, POD).expect("write");
    std::fs::write(&b, POD.replace("\"a\"", "\"b\"")).expect("write");
    std::fs::write(&bad, &POD[..40]).expect("write");
    let cluster = SnapshotSource::new([&a, &b]).read().expect("two files");
    let names: Vec<&str> = cluster.pods.iter().map(|p| p.metadata.name.as_str()).collect();
    assert_eq!(names, vec!["a", "b"]);
    match SnapshotSource::new([&a, &bad]).read() {
        Err(Error::Decode { origin, reason }) => {
            assert!(origin.ends_with("bad.json"), "{origin}");
            assert!(reason.contains("truncated"), "{reason}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[test]
fn missing_paths_are_io_errors() {
    let err = SnapshotSource::new(["/nonexistent/dir/snap.json"]).read();
    assert!(matches!(err, Err(Error::Io { path, .. }) if path.ends_with("snap.json")));
}

#[tokio::test]
async fn loads_through_the_cluster_source_trait() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("s.json");
    std::fs::write(&path, POD).expect("write");
    let source = SnapshotSource::new([&path]);
    assert!(source.describe().starts_with("snapshot "));
    let cluster = source.load(&SourceScope::default()).await.expect("loads");
    assert_eq!(cluster.pods.len(), 1);
}
