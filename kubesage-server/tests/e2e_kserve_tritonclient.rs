//! End to end: the real `kubesage serve --model-repository DIR`, driven by NVIDIA's own
//! Open Inference Protocol client, `tritonclient.http` (PyPI `tritonclient[http]`), through
//! `tests/kserve/tritonclient_check.py`: health, server and model metadata, the repository
//! index, inference with binary and JSON tensors both ways compared with scikit-learn's
//! predictions, errors for a wrong shape or datatype, unload and load, and a model copied
//! into the folder while the server runs.
//!
//! Needs Python with tritonclient (`scripts/test` installs scripts/test-requirements.txt into
//! `.venv` and sets `KUBESAGE_TEST_PYTHON`) and the scikit-learn fixtures (`scripts/test`
//! writes them to `$KUBESAGE_SKLEARN_FIXTURES`). Without either this test fails and says so.

mod service;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The fixture copied to each `name/version` of the repository before the server starts;
/// the script checks the same layout.
const LAYOUT: [(&str, &str, &str); 3] = [
    ("forest", "1", "forest_classifier_binary"),
    ("logreg", "1", "logreg_multiclass"),
    ("logreg", "2", "logreg_binary"),
];

fn python() -> PathBuf {
    let python = std::env::var_os("KUBESAGE_TEST_PYTHON").filter(|p| !p.is_empty()).map(PathBuf::from);
    let Some(python) = python else {
        panic!(
            "KUBESAGE_TEST_PYTHON is not set: run scripts/test, which installs scripts/test-requirements.txt \
             (tritonclient[http]) into .venv and sets it, or set it to a Python with those packages"
        )
    };
    assert!(python.exists(), "KUBESAGE_TEST_PYTHON={} does not exist", python.display());
    python
}

fn fixtures_dir() -> PathBuf {
    kubesage_ml::model::sklearn_fixtures().unwrap_or_else(|e| panic!("{e}"))
}

fn copy_model(fixtures: &Path, case: &str, repository: &Path, name: &str, version: &str) {
    let target = repository.join(name).join(version);
    std::fs::create_dir_all(&target).expect("create the model's folder");
    let source = fixtures.join(case).join("model.onnx");
    std::fs::copy(&source, target.join("model.onnx")).unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
}

#[test]
fn tritonclient_drives_the_model_server() {
    let python = python();
    let fixtures = fixtures_dir();
    let repository = tempfile::tempdir().expect("a temporary folder");
    for (name, version, case) in LAYOUT {
        copy_model(&fixtures, case, repository.path(), name, version);
    }
    let repository_arg = repository.path().to_str().expect("a UTF-8 temporary path");
    let mut server = service::serve(&["--model-repository", repository_arg]);

    // Models load in the background after the server starts listening; readiness says when
    // they are all in.
    service::wait_for("the model server to be ready", std::time::Duration::from_secs(60), || {
        let (status, _) = service::http(server.addr, "GET", "/v2/health/ready", &[], b"");
        (status == 200).then_some(())
    });

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kserve/tritonclient_check.py");
    let output = Command::new(&python)
        .arg(&script)
        .args(["--url", &server.addr.to_string(), "--repository", repository_arg])
        .arg("--fixtures")
        .arg(&fixtures)
        .output()
        .unwrap_or_else(|e| panic!("run {} {}: {e}", python.display(), script.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "tritonclient_check.py exited with {}:\n{stdout}\n{stderr}\n(a ModuleNotFoundError means \
         KUBESAGE_TEST_PYTHON lacks scripts/test-requirements.txt)",
        output.status
    );
    assert!(stdout.contains("all tritonclient checks passed"), "the script did not finish its checks:\n{stdout}");
    assert!(
        matches!(server.proc.0.try_wait(), Ok(None)),
        "the server exited during the checks (a panic would show above)"
    );
}
