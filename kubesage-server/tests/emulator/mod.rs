//! Shared by the end-to-end tests: an independent Kubernetes API emulator (kmock's
//! `KubernetesEmulator`, from PyPI, driven by `kube_emulator.py` beside this file) on a
//! loopback port, loaded with the demo cluster's objects.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("KUBESAGE_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with kmock: run scripts/test (it creates .venv with kmock) or set KUBESAGE_TEST_PYTHON"
    );
    venv
}

/// The emulator process; killed when dropped.
pub struct Emulator {
    child: Child,
    /// The loopback port it serves.
    pub port: u16,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_emulator(objects: &std::path::Path, forbid: &[&str]) -> Emulator {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/emulator/kube_emulator.py");
    let mut cmd = Command::new(python());
    cmd.arg(script).arg(objects);
    for f in forbid {
        cmd.arg("--forbid").arg(f);
    }
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start the emulator");
    let stdout = child.stdout.take().expect("emulator stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(port) = line.strip_prefix("PORT ") {
                let _ = tx.send(port.trim().parse::<u16>().ok());
                return;
            }
        }
        let _ = tx.send(None);
    });
    let port = rx
        .recv_timeout(Duration::from_secs(60))
        .ok()
        .flatten()
        .expect("the emulator printed its port (is kmock installed?)");
    Emulator { child, port }
}

/// The demo's objects as a JSON List file. Each gets a `metadata.resourceVersion`: the
/// emulator serves objects as stored, and a watcher cannot resume from an object without one.
pub fn demo_objects() -> tempfile::NamedTempFile {
    let mut list: serde_json::Value =
        serde_saphyr::from_str(kubesage_k8s::source::demo::DEMO_YAML).expect("the demo is valid YAML");
    for item in list["items"].as_array_mut().into_iter().flatten() {
        item["metadata"]["resourceVersion"] = serde_json::Value::String("1".into());
    }
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&serde_json::to_vec(&list).expect("JSON")).expect("write objects");
    file
}

pub fn kubeconfig(port: u16) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    write!(
        file,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: emulator\n  cluster:\n    server: http://127.0.0.1:{port}\n\
         contexts:\n- name: emulator\n  context:\n    cluster: emulator\n    user: ci\ncurrent-context: emulator\n\
         users:\n- name: ci\n  user:\n    token: not-checked\n"
    )
    .expect("write kubeconfig");
    file
}
