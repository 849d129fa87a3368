//! The pv analyzer: volumes that failed (reclamation) and released volumes that keep data
//! but cannot be bound again; bound and available volumes are left alone.

mod common;

use common::*;
use kubesage_core::Severity;

const VOLUMES: &str = r#"
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: v1
  kind: PersistentVolume
  metadata:
    annotations:
      pv.kubernetes.io/provisioned-by: pd.csi.storage.gke.io
    creationTimestamp: "2026-04-05T10:00:00Z"
    finalizers:
    - kubernetes.io/pv-protection
    - external-attacher/pd-csi-storage-gke-io
    name: pvc-9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2c
    uid: 1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5e
  spec:
    accessModes:
    - ReadWriteOnce
    capacity:
      storage: 50Gi
    claimRef:
      apiVersion: v1
      kind: PersistentVolumeClaim
      name: data-postgres-0
      namespace: data
      uid: 9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2c
    csi:
      driver: pd.csi.storage.gke.io
      fsType: ext4
      volumeHandle: projects/shop-prod/zones/europe-west1-b/disks/pvc-9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2c
    persistentVolumeReclaimPolicy: Delete
    storageClassName: premium-rwo
    volumeMode: Filesystem
  status:
    lastPhaseTransitionTime: "2026-04-05T10:00:05Z"
    phase: Bound
- apiVersion: v1
  kind: PersistentVolume
  metadata:
    creationTimestamp: "2026-01-15T10:00:00Z"
    labels:
      type: nfs
    name: nfs-archive-01
    uid: 2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6f
  spec:
    accessModes:
    - ReadWriteMany
    capacity:
      storage: 1Ti
    mountOptions:
    - nfsvers=4.1
    nfs:
      path: /exports/archive
      server: 10.20.0.5
    persistentVolumeReclaimPolicy: Retain
    storageClassName: ""
    volumeMode: Filesystem
  status:
    lastPhaseTransitionTime: "2026-01-15T10:00:00Z"
    phase: Available
"#;

#[test]
fn bound_and_available_volumes_have_no_findings() {
    assert_clean(&scan_yaml(VOLUMES, "pv"));
}

#[test]
fn released_volume_is_informational_and_names_its_old_claim() {
    let yaml = edit(
        VOLUMES,
        &[
            ("    persistentVolumeReclaimPolicy: Delete\n", "    persistentVolumeReclaimPolicy: Retain\n"),
            ("    phase: Bound\n", "    phase: Released\n"),
        ],
    );
    let report = scan_yaml(&yaml, "pv");
    let f = finding(&report, "Released");
    assert_eq!(f.severity, Severity::Info);
    assert_object(f, "PersistentVolume", "", "pvc-9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2c");
    assert_eq!(f.analyzer, "pv");
    assert_eq!(
        f.summary,
        "Volume is released from claim data/data-postgres-0 and keeps its data, but cannot be bound again"
    );
    assert_field(f, "spec.persistentVolumeReclaimPolicy", "Retain");
    assert_field(f, "spec.claimRef", "data/data-postgres-0");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn failed_volume_is_a_warning_with_the_reclaimer_message() {
    let yaml = edit(
        VOLUMES,
        &[
            (
                "    persistentVolumeReclaimPolicy: Retain\n    storageClassName: \"\"\n",
                "    persistentVolumeReclaimPolicy: Recycle\n    storageClassName: \"\"\n",
            ),
            (
                "    phase: Available\n",
                "    message: 'recycle failed: unexpected error creating recycler pod: pods \"recycler-for-nfs-archive-01\" is forbidden: exceeded quota: default-quota'\n    phase: Failed\n",
            ),
        ],
    );
    let report = scan_yaml(&yaml, "pv");
    let f = finding(&report, "Failed");
    assert_eq!(f.severity, Severity::Warning);
    assert_object(f, "PersistentVolume", "", "nfs-archive-01");
    assert!(
        f.summary.starts_with("Volume failed: recycle failed: unexpected error creating recycler pod"),
        "{}",
        f.summary
    );
    assert_field(f, "status.phase", "Failed");
    assert_field(f, "spec.persistentVolumeReclaimPolicy", "Recycle");
    assert_evidence(f, "exceeded quota: default-quota");
    assert_eq!(report.findings.len(), 1, "{}", describe(&report));
}

#[test]
fn failed_volume_without_a_message_still_says_what_failed() {
    let yaml = edit(VOLUMES, &[("    phase: Available\n", "    phase: Failed\n")]);
    let report = scan_yaml(&yaml, "pv");
    assert_eq!(finding(&report, "Failed").summary, "Volume failed: reclamation failed");
}
