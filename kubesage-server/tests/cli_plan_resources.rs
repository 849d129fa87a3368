//! `kubesage plan resources` driven as a user would, on a generated usage file whose right
//! answers follow from how it was generated: table, JSON and patches, grouping by a
//! snapshot's owner references, and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kubesage_k8s::plan::resources::vpa::{cpu_buckets, memory_buckets};

const T0: i64 = 1_700_000_000;
const STEP: i64 = 300;
const DAY: i64 = 86_400;
const MIB: f64 = 1024.0 * 1024.0;
const WEB_PODS: [&str; 2] = ["web-7d4b9c8f6d-x2x9k", "web-7d4b9c8f6d-b2c4d"];

fn kubesage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubesage")).args(args).output().expect("run kubesage")
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

/// The end of the histogram bucket holding `value`: what VPA's percentile answers.
fn bucket_end(buckets: kubesage_k8s::plan::resources::histogram::BucketScheme, value: f64) -> f64 {
    buckets.start(buckets.bucket_of(value) + 1)
}

fn ceil_to(value: f64, unit: f64) -> u64 {
    ((value / unit - 1e-9).ceil() * unit) as u64
}

/// Three days of usage every 5 minutes:
/// - `web` (two pods of a Deployment): container `web` at a flat 0.25 cores and 200 MiB,
///   except one 300 MiB reading in the first pod on the second day; container `sidecar` at
///   1 millicore and 20 MB.
/// - `db-0` (a StatefulSet's pod): `postgres` cycling 1..=100 millicores, 1 GiB.
///
/// Plus one row with a NaN CPU value and an empty memory value.
fn usage_csv(dir: &Path) -> PathBuf {
    let mut s = String::from("namespace,pod,container,timestamp,cpu_cores,memory_bytes\n");
    let samples = 3 * DAY / STEP;
    for (p, pod) in WEB_PODS.iter().enumerate() {
        for i in 0..samples {
            let t = T0 + i * STEP;
            let memory = if p == 0 && i == samples / 2 { 300.0 * MIB } else { 200.0 * MIB };
            s.push_str(&format!("shop,{pod},web,{t},0.25,{memory}\n"));
            s.push_str(&format!("shop,{pod},sidecar,{t},1m,20M\n"));
        }
    }
    for i in 0..800 {
        let cpu = ((i % 100) + 1) as f64 / 1000.0;
        s.push_str(&format!("shop,db-0,postgres,{},{cpu},1Gi\n", T0 + i * STEP));
    }
    s.push_str(&format!("shop,db-0,postgres,{},NaN,\n", T0 + 800 * STEP));
    let path = dir.join("usage.csv");
    std::fs::write(&path, s).expect("write");
    path
}

fn container<'a>(plan: &'a serde_json::Value, workload: &str, name: &str) -> &'a serde_json::Value {
    let w = plan["workloads"].as_array().expect("workloads").iter().find(|w| w["workload"]["name"] == workload);
    let w = w.unwrap_or_else(|| panic!("no workload {workload} in {plan}"));
    let c = w["containers"].as_array().expect("containers").iter().find(|c| c["container"] == name);
    c.unwrap_or_else(|| panic!("no container {name} in {w}"))
}

#[test]
fn json_recommendations_follow_from_the_usage() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = usage_csv(dir.path());
    let out = kubesage(&["plan", "resources", "--usage", csv.to_str().expect("utf-8"), "--output", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert!(String::from_utf8_lossy(&out.stderr).contains("left out 2 missing"), "the NaN and the empty value");
    assert_eq!(plan["skipped"]["missing"], 2);

    let web = container(&plan, "web", "web");
    assert_eq!(web["pods"], 2);
    assert_eq!(web["cpu_samples"], 2 * 864);
    assert_eq!(web["history_secs"], 3 * DAY - STEP);
    // VPA: a flat 0.25 cores is the end of its bucket plus 15%, in millicores rounded up.
    let cpu_target = ceil_to(bucket_end(cpu_buckets(), 0.25) * 1.15 * 1000.0, 1.0);
    assert_eq!(web["vpa"]["cpu"]["target"], cpu_target);
    assert_eq!(web["vpa"]["recommended"]["cpu_request_millicores"], cpu_target);
    assert_eq!(web["vpa"]["recommended"]["cpu_limit_millicores"], serde_json::Value::Null);
    // Memory: daily peaks per pod, weighted 2, 4, 8 by day. The 300 MiB peak weighs 4 of 28,
    // over the 10% above the 90th percentile, so the target is its bucket; the median is 200 MiB's.
    let memory_target = ceil_to(bucket_end(memory_buckets(), 300.0 * MIB) * 1.15, MIB);
    let memory_lower_raw = bucket_end(memory_buckets(), 200.0 * MIB) * 1.15;
    assert_eq!(web["vpa"]["memory"]["target"], memory_target);
    let lower = web["vpa"]["memory"]["lower"].as_u64().expect("lower");
    assert!(lower as f64 <= memory_lower_raw + MIB && lower as f64 > memory_lower_raw * 0.99, "{lower}");
    // Confidence: 1,728 samples are 1.2 days at VPA's one a minute, less than the 3-day span.
    let confidence = web["vpa"]["confidence"].as_f64().expect("confidence");
    assert!((confidence - 1728.0 / 1440.0).abs() < 1e-9, "{confidence}");
    assert_eq!(web["vpa"]["memory"]["upper"], web["vpa"]["recommended"]["memory_limit_bytes"]);
    // KRR: p95 of a flat 0.25 is 250m; memory is the peak plus 15%, in megabytes.
    assert_eq!(web["simple"]["recommended"]["cpu_request_millicores"], 250);
    let krr_memory = ceil_to(300.0 * MIB * 1.15, 1e6);
    assert_eq!(web["simple"]["recommended"]["memory_request_bytes"], krr_memory);
    assert_eq!(web["simple"]["recommended"]["memory_limit_bytes"], krr_memory);

    // Two containers per pod share VPA's 25m / 250Mi pod minimum.
    let sidecar = container(&plan, "web", "sidecar");
    assert_eq!(sidecar["vpa"]["cpu"]["target"], 13, "12.5m rounded up");
    assert_eq!(sidecar["vpa"]["memory"]["target"], (125.0 * MIB) as u64);
    assert_eq!(sidecar["simple"]["recommended"]["cpu_request_millicores"], 10, "KRR's 10m floor");

    // KRR's p95 of 1..=100 millicores, 8 of each: rank 759.05 of 800, between 95m and 96m.
    let postgres = container(&plan, "db", "postgres");
    assert_eq!(postgres["simple"]["recommended"]["cpu_request_millicores"], 96);
    assert_eq!(postgres["simple"]["recommended"]["memory_request_bytes"], ceil_to(1024.0 * MIB * 1.15, 1e6));
    let db = plan["workloads"].as_array().expect("workloads").iter().find(|w| w["workload"]["name"] == "db");
    assert_eq!(db.map(|w| w["workload"]["kind"].clone()), Some("StatefulSet".into()));
}

#[test]
fn the_table_is_aligned_and_shows_both_methods() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = usage_csv(dir.path());
    let text = stdout(&kubesage(&["plan", "resources", "--usage", csv.to_str().expect("utf-8")]));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("NAMESPACE") && lines[0].contains("CPU REQUEST") && lines[0].contains("CONFIDENCE"));
    let column = |line: &str, name: &str| line.find(name);
    let cpu_at = column(lines[0], "CPU REQUEST").expect("column");
    let rows: Vec<&&str> = lines.iter().filter(|l| l.starts_with("shop")).collect();
    assert_eq!(rows.len(), 6, "three containers, two methods each:\n{text}");
    let cpu_target = ceil_to(bucket_end(cpu_buckets(), 0.25) * 1.15 * 1000.0, 1.0);
    let web_vpa = rows.iter().find(|l| l.contains(" web ") && l.contains(" vpa ")).expect("web vpa row");
    assert_eq!(web_vpa[cpu_at..].split_whitespace().next(), Some(format!("{cpu_target}m").as_str()));
    let web_simple = rows.iter().find(|l| l.contains(" web ") && l.contains(" simple ")).expect("web simple row");
    assert_eq!(web_simple[cpu_at..].split_whitespace().next(), Some("250m"));
    let history = kubesage_core::time::human_duration(3 * DAY - STEP);
    assert!(web_simple.contains("Deployment/web") && web_simple.contains(&format!(" {history} ")), "{web_simple}");
    assert!(text.contains("guessed from pod names") && text.contains("Deployment/web, StatefulSet/db"), "{text}");

    let only =
        stdout(&kubesage(&["plan", "resources", "--usage", csv.to_str().expect("utf-8"), "--strategy", "simple"]));
    assert!(only.lines().filter(|l| l.starts_with("shop")).all(|l| l.contains(" simple ")));
}

#[test]
fn patches_parse_and_carry_the_recommended_quantities() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = usage_csv(dir.path());
    let text = stdout(&kubesage(&["plan", "resources", "--usage", csv.to_str().expect("utf-8"), "-o", "patch"]));
    assert!(text.contains("# kubectl patch deployment web -n shop --type strategic"), "{text}");
    let docs: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(&text).expect("YAML documents");
    assert_eq!(docs.len(), 2, "one per workload");
    let containers = |doc: &serde_json::Value| doc["spec"]["template"]["spec"]["containers"].as_array().cloned();
    let web = docs.iter().filter_map(containers).flatten().find(|c| c["name"] == "web").expect("web container");
    let cpu_target = ceil_to(bucket_end(cpu_buckets(), 0.25) * 1.15 * 1000.0, 1.0);
    let memory_target = ceil_to(bucket_end(memory_buckets(), 300.0 * MIB) * 1.15, MIB);
    assert_eq!(web["resources"]["requests"]["cpu"], format!("{cpu_target}m"));
    assert_eq!(web["resources"]["requests"]["memory"], format!("{}Mi", memory_target / (1 << 20)));
    assert!(web["resources"]["limits"].get("cpu").is_none(), "no CPU limit without a current ratio");

    let simple = stdout(&kubesage(&[
        "plan",
        "resources",
        "--usage",
        csv.to_str().expect("utf-8"),
        "-o",
        "patch",
        "--strategy",
        "simple",
    ]));
    let docs: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(&simple).expect("YAML documents");
    let web = docs.iter().filter_map(containers).flatten().find(|c| c["name"] == "web").expect("web container");
    let krr_mb = ceil_to(300.0 * MIB * 1.15, 1e6) / 1_000_000;
    assert_eq!(web["resources"]["requests"]["cpu"], "250m");
    assert_eq!(web["resources"]["limits"]["memory"], format!("{krr_mb}M"));
}

const SNAPSHOT: &str = r#"
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: storefront, namespace: shop, uid: d1}
  spec:
    selector: {matchLabels: {app: web}}
    template:
      metadata: {labels: {app: web}}
      spec:
        containers:
        - name: web
          image: web:1
          resources:
            requests: {cpu: "1", memory: 1Gi}
            limits: {cpu: "2", memory: 1Gi}
        - name: sidecar
          image: sidecar:1
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata:
    name: web-7d4b9c8f6d
    namespace: shop
    uid: r1
    ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: storefront, uid: d1, controller: true}]
  spec: {selector: {matchLabels: {app: web}}}
- apiVersion: v1
  kind: Pod
  metadata:
    name: web-7d4b9c8f6d-x2x9k
    namespace: shop
    uid: p1
    ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d4b9c8f6d, uid: r1, controller: true}]
  spec: {containers: [{name: web, image: web:1}, {name: sidecar, image: sidecar:1}]}
- apiVersion: v1
  kind: Pod
  metadata:
    name: web-7d4b9c8f6d-b2c4d
    namespace: shop
    uid: p2
    ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d4b9c8f6d, uid: r1, controller: true}]
  spec: {containers: [{name: web, image: web:1}, {name: sidecar, image: sidecar:1}]}
"#;

#[test]
fn a_snapshot_groups_by_owner_and_supplies_current_values() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = usage_csv(dir.path());
    let snapshot = dir.path().join("cluster.yaml");
    std::fs::write(&snapshot, SNAPSHOT).expect("write");
    let (csv, snapshot) = (csv.to_str().expect("utf-8"), snapshot.to_str().expect("utf-8"));
    let out = kubesage(&["plan", "resources", "--usage", csv, "--snapshot", snapshot, "-o", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    // db-0 is not in the snapshot: grouped by name, and said so.
    assert!(String::from_utf8_lossy(&out.stderr).contains("shop/db-0"));
    let w = plan["workloads"].as_array().expect("workloads").iter().find(|w| w["workload"]["name"] == "storefront");
    let w = w.expect("the Deployment named by the owner references, not by the pod names");
    assert_eq!((w["workload"]["kind"].as_str(), w["grouped_by"].as_str()), (Some("Deployment"), Some("owner")));
    let web = container(&plan, "storefront", "web");
    assert_eq!(web["current"]["cpu_request_millicores"], 1000);
    assert_eq!(web["current"]["cpu_limit_millicores"], 2000);
    assert_eq!(web["current"]["memory_limit_bytes"], 1u64 << 30);
    let target = web["vpa"]["recommended"]["cpu_request_millicores"].as_u64().expect("target");
    assert_eq!(web["vpa"]["recommended"]["cpu_limit_millicores"], 2 * target, "the 2:1 ratio is kept");
    assert_eq!(web["vpa"]["change"]["cpu_request_millicores"], target as i64 - 1000);
    assert_eq!(web["simple"]["change"]["cpu_request_millicores"], 250 - 1000);
    let sidecar = container(&plan, "storefront", "sidecar");
    assert_eq!(sidecar["current"]["cpu_request_millicores"], serde_json::Value::Null);

    let table = stdout(&kubesage(&["plan", "resources", "--usage", csv, "--snapshot", snapshot]));
    let row =
        table.lines().find(|l| l.contains("Deployment/storefront") && l.contains(" simple ") && l.contains(" web "));
    assert!(row.is_some_and(|r| r.contains("1 -> 250m")), "current -> recommended:\n{table}");
}

#[test]
fn bad_input_fails_with_the_line_and_a_clear_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.csv");
    std::fs::write(
        &path,
        "namespace,pod,container,timestamp,cpu_cores,memory_bytes\nn,p,c,60,0.1,1\nn,p,c,120,-0.1,1\n",
    )
    .expect("write");
    let out = kubesage(&["plan", "resources", "--usage", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.csv, line 3") && err.contains("cpu_cores"), "{err}");

    let out = kubesage(&["plan", "resources"]);
    assert_eq!(out.status.code(), Some(2), "neither --usage nor --prometheus");
    let out = kubesage(&["plan", "resources", "--usage", "/nonexistent/usage.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/usage.csv"));

    let csv = usage_csv(dir.path());
    let out = kubesage(&["plan", "resources", "--usage", csv.to_str().expect("utf-8"), "-n", "elsewhere"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no CPU or memory samples in namespace elsewhere"));
}

/// Two days of flat usage, as the JSON arrays format, for pods of the demo cluster: two of
/// the `cart` Deployment's, one of the `db-backup` CronJob's Job, `postgres-0`.
fn demo_usage_json(dir: &Path) -> PathBuf {
    let times: Vec<i64> = (0..2 * DAY / STEP).map(|i| T0 + i * STEP).collect();
    let container = |ns: &str, pod: &str, name: &str, cpu: f64, memory: f64| {
        serde_json::json!({"namespace": ns, "pod": pod, "container": name, "timestamps": times,
            "cpu_cores": vec![cpu; times.len()], "memory_bytes": vec![memory; times.len()]})
    };
    let doc = serde_json::json!({"containers": [
        container("shop", "cart-6d4b8c7f9b-64qwl", "cart", 0.2, 100.0 * MIB),
        container("shop", "cart-6d4b8c7f9b-85wz6", "cart", 0.2, 100.0 * MIB),
        container("data", "db-backup-29918970-7qs44", "backup", 0.5, 200.0 * MIB),
        container("data", "postgres-0", "postgres", 0.3, 900.0 * MIB),
    ]});
    let path = dir.join("usage.json");
    std::fs::write(&path, doc.to_string()).expect("write");
    path
}

#[test]
fn the_demo_cluster_names_owners_and_patches_a_cronjob_in_its_job_template() {
    let dir = tempfile::tempdir().expect("temp dir");
    let usage = demo_usage_json(dir.path());
    let usage = usage.to_str().expect("utf-8");
    let plan: serde_json::Value =
        serde_json::from_str(&stdout(&kubesage(&["plan", "resources", "--usage", usage, "--demo", "-o", "json"])))
            .expect("json");
    let kinds: Vec<(String, String, String)> = plan["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .map(|w| {
            let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            (s(&w["workload"]["kind"]), s(&w["workload"]["name"]), s(&w["grouped_by"]))
        })
        .collect();
    for expected in [("CronJob", "db-backup"), ("StatefulSet", "postgres"), ("Deployment", "cart")] {
        assert!(
            kinds.iter().any(|(k, n, g)| (k.as_str(), n.as_str(), g.as_str()) == (expected.0, expected.1, "owner")),
            "{expected:?} in {kinds:?}"
        );
    }
    // The demo's cart template: requests 300m / 96Mi, limits 1 / 128Mi.
    let cart = container(&plan, "cart", "cart");
    assert_eq!(cart["pods"], 2);
    assert_eq!(cart["current"]["cpu_request_millicores"], 300);
    assert_eq!(cart["current"]["memory_limit_bytes"], 128 * (1 << 20));
    let target = cart["vpa"]["recommended"]["cpu_request_millicores"].as_u64().expect("target") as f64;
    let limit = cart["vpa"]["recommended"]["cpu_limit_millicores"].as_u64().expect("limit") as f64;
    assert!(limit >= target * 1000.0 / 300.0 && limit < target * 1000.0 / 300.0 + 1.0, "ratio kept: {target} {limit}");
    assert_eq!(cart["simple"]["change"]["cpu_request_millicores"], 200 - 300);

    let text = stdout(&kubesage(&["plan", "resources", "--usage", usage, "--demo", "-o", "patch"]));
    assert!(text.contains("# kubectl patch cronjob db-backup -n data --type strategic"), "{text}");
    let docs: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(&text).expect("YAML documents");
    assert_eq!(docs.len(), 3);
    let backup = docs
        .iter()
        .find_map(|d| d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"].as_array())
        .expect("a CronJob patch through spec.jobTemplate");
    assert_eq!(backup[0]["name"], "backup");
    assert!(docs.iter().all(|d| d["spec"].get("template").is_some() != d["spec"].get("jobTemplate").is_some()));
}
