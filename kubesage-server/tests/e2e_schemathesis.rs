//! The OpenAPI document against the service it describes: schemathesis (PyPI) reads
//! `/openapi.json` from a running `kubesage serve` and sends every operation generated
//! requests, valid and invalid, checking that nothing answers 5xx, that every status,
//! content type, header and body conforms to the document, that data outside the schema is
//! refused and data inside it accepted (see `schemathesis.toml` for the two operations where
//! the last cannot hold), and the stateful links between operations.
//!
//! Needs the virtualenv `scripts/test` makes (kmock and schemathesis); without it this test
//! fails and says so, rather than skipping.

mod emulator;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn schemathesis_finds_no_server_errors_or_schema_violations() {
    let python = emulator::python();
    let schemathesis = python.with_file_name("schemathesis");
    assert!(
        schemathesis.exists(),
        "{} is missing: run scripts/test (it installs schemathesis)",
        schemathesis.display()
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let token = "schemathesis-7c1d";
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, token).expect("write the token file");
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_kubesage"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--token-file"])
        .arg(&token_file)
        .env("KUBESAGE_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start kubesage serve");
    let stdout = server.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).expect("read the address");
    let base = first.trim().strip_prefix("listening on ").expect("`listening on URL`").to_owned();

    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis.toml");
    // A fixed seed keeps CI reproducible; change it locally to explore other inputs.
    let output = Command::new(&schemathesis)
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{base}/openapi.json")])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", "60", "--workers", "2", "--seed", "20261122", "--no-color"])
        .current_dir(dir.path())
        .output()
        .expect("run schemathesis");
    let _ = server.kill();
    let _ = server.wait();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("Tested: 13"), "every operation was tested:\n{report}");
    assert!(!report.contains("failures"), "{report}");
}
