//! `kubesage plan model` and `kubesage plan fit` through the real binary, on a real
//! scikit-learn export (the random forest of scripts/models/sklearn_fixtures.py, in
//! `$KUBESAGE_SKLEARN_FIXTURES`) and the embedded demo cluster.

use std::process::{Command, Output};

use serde_json::Value;

fn kubesage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesage")).args(args).output().expect("run kubesage")
}

fn forest() -> String {
    let dir = kubesage_ml::model::sklearn_fixtures().unwrap_or_else(|e| panic!("{e}"));
    dir.join("forest_classifier_binary/model.onnx").display().to_string()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn plan_model_measures_and_writes_manifests_that_parse() {
    let model = forest();
    let out =
        kubesage(&["plan", "model", &model, "--rps", "500", "--p99-ms", "20", "--name", "forest", "--runs", "300"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    assert!(yaml.starts_with("# measured here"), "{yaml}");
    let docs: Vec<Value> =
        yaml.split("\n---\n").skip(1).map(|d| serde_saphyr::from_str(d).expect("a YAML document")).collect();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().expect("kind")).collect();
    assert_eq!(
        kinds,
        ["PersistentVolumeClaim", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"]
    );
    assert!(text(&out.stderr).contains("plan: one request costs"));

    let out = kubesage(&["plan", "model", &model, "--rps", "50000", "--p99-ms", "20", "-o", "json", "--runs", "300"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let (replicas, cpu) =
        (v["plan"]["replicas"].as_u64().expect("replicas"), v["plan"]["cpu_request_millis"].as_u64().expect("cpu"));
    let capacity = v["plan"]["pod_capacity_rps"].as_f64().expect("capacity");
    assert!(replicas as f64 * capacity >= 50_000.0, "{v}");
    assert!((100..=1000).contains(&cpu));
    assert_eq!(v["profile"]["name"], "model", "the file's stem names it");
    assert_eq!(v["manifests"][1]["spec"]["replicas"], replicas);
    assert!(v["profile"]["resident_bytes"].as_u64().expect("rss") > 1 << 20);
}

#[test]
fn plan_model_says_when_latency_cannot_be_met_and_refuses_bad_input() {
    let model = forest();
    let out = kubesage(&["plan", "model", &model, "--rps", "10", "--p99-ms", "0.000001", "--runs", "100"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("more replicas do not make one request faster"));

    let out = kubesage(&["plan", "model", &model, "--rps", "0", "--p99-ms", "20"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--rps 0"), "{}", text(&out.stderr));

    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("broken.onnx");
    std::fs::write(&broken, b"\x08\x07 definitely not protobuf").expect("write");
    let out = kubesage(&["plan", "model", broken.to_str().expect("utf-8"), "--rps", "10", "--p99-ms", "20"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not a readable ONNX model"), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("panicked"));
}

#[test]
fn plan_fit_on_the_demo_cluster() {
    // The demo's Ready, schedulable node-b has 100m of CPU left; node-a is overcommitted.
    let out = kubesage(&["plan", "fit", "--demo", "--cpu", "50m", "--memory", "64Mi", "--replicas", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("fits: room for 2 of the 2 pods"), "{}", text(&out.stdout));

    let out =
        kubesage(&["plan", "fit", "--demo", "--cpu", "500m", "--memory", "512Mi", "--replicas", "3", "-o", "json"]);
    assert_eq!(out.status.code(), Some(3));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["fits"], false);
    let reasons: Vec<String> = report["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .flat_map(|n| n["reasons"].as_array().expect("reasons").iter().map(|r| r.as_str().expect("str").to_owned()))
        .collect();
    assert!(reasons.iter().any(|r| r == "not Ready"), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.starts_with("cordoned")), "{reasons:?}");

    let out = kubesage(&["plan", "fit", "--demo", "--cpu", "lots", "--memory", "1Gi", "--replicas", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--cpu \"lots\""));
    let out = kubesage(&["plan", "fit", "--cpu", "1", "--memory", "1Gi", "--replicas", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("needs a cluster"));
}
