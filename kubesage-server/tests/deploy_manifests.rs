//! The deployment files checked against the code they deploy: `deploy/kubernetes/*.yaml` and
//! the `Dockerfile`.
//!
//! Manifests drift silently: an analyzer starts reading a new kind and the role does not grant
//! it, a port is renamed and the probes point at nothing, the image's command and the mounted
//! token disagree. Nothing fails until someone deploys. These tests read the files, compare
//! them with what the code says (`analyze::all()`, `ResourceKind::api()`, the crate's
//! version), and finally run KubeSage's own analyzers over its own manifests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kubesage_core::{ResourceKind, ScanOptions, kinds_read};
use serde_json::{Value, json};

/// The folder with the manifests.
fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes")
}

/// Every `*.yaml` file in the folder, by file name, with its documents.
fn manifests() -> BTreeMap<String, Vec<Value>> {
    let dir = deploy_dir();
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("deploy/kubernetes exists") {
        let path = entry.expect("a directory entry").path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml") => {}
            Some("yml") => panic!("{}: name manifests *.yaml, or these checks skip them", path.display()),
            _ => continue,
        }
        let name = path.file_name().and_then(|n| n.to_str()).expect("a UTF-8 file name").to_owned();
        let text = std::fs::read_to_string(&path).expect("a readable manifest");
        let docs: Vec<Value> = serde_saphyr::from_str_multiple::<Value, Vec<Value>>(&text)
            .unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"))
            .into_iter()
            .filter(|d: &Value| !d.is_null())
            .collect();
        assert!(!docs.is_empty(), "{name} has no document");
        files.insert(name, docs);
    }
    assert!(files.len() > 1, "no manifests found in {}", dir.display());
    files
}

/// All Kubernetes objects of every manifest (the Kustomization included).
fn objects() -> Vec<Value> {
    manifests().into_values().flatten().collect()
}

/// The one object of `kind`; fails if there is none or several.
fn the(objects: &[Value], kind: &str) -> Value {
    let found: Vec<&Value> = objects.iter().filter(|o| o["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "expected exactly one {kind} in deploy/kubernetes, found {}", found.len());
    found[0].clone()
}

/// The string at a JSON pointer.
fn text<'v>(value: &'v Value, pointer: &str) -> &'v str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("{pointer} is not a string in {value}"))
}

/// The list at a JSON pointer.
fn list<'v>(value: &'v Value, pointer: &str) -> &'v [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("{pointer} is not a list in {value}"))
}

/// Strings of a list of strings.
fn strings<'v>(value: &'v Value, pointer: &str) -> Vec<&'v str> {
    list(value, pointer).iter().map(|v| v.as_str().unwrap_or_else(|| panic!("{pointer} holds a non-string"))).collect()
}

/// The Deployment's one container.
fn container(deployment: &Value) -> &Value {
    let containers = list(deployment, "/spec/template/spec/containers");
    assert_eq!(containers.len(), 1, "the Deployment runs one container");
    &containers[0]
}

/// The container's port called `http`: `(name, number)`.
fn http_port(deployment: &Value) -> (String, u64) {
    let ports = list(container(deployment), "/ports");
    let http = ports.iter().find(|p| p["name"] == "http").expect("the container declares a port named http");
    let number = http["containerPort"].as_u64().expect("containerPort is a number");
    assert_eq!(http["protocol"], "TCP", "the http port is TCP");
    ("http".to_owned(), number)
}

/// The value after `flag` in an argument list.
fn flag<'a>(args: &[&'a str], flag: &str) -> Option<&'a str> {
    args.iter().position(|a| *a == flag).and_then(|i| args.get(i + 1)).copied()
}

/// The port of a `HOST:PORT` listen address.
fn listen_port(address: &str) -> u64 {
    address.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap_or_else(|| panic!("{address} has no port"))
}

/// Whether every `key: value` of `selector` is among `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_object().expect("a selector is a map");
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The path of the token file the Deployment mounts: mount path plus the Secret item's path.
fn mounted_token_path(deployment: &Value) -> String {
    let volumes = list(deployment, "/spec/template/spec/volumes");
    let volume = volumes
        .iter()
        .find(|v| v.pointer("/secret/secretName") == Some(&json!("kubesage-token")))
        .expect("a volume holds the Secret kubesage-token (the name README.md tells users to create)");
    let items = list(volume, "/secret/items");
    let item = items.iter().find(|i| i["key"] == "token").expect("the volume projects the Secret's key `token`");
    let mount = list(container(deployment), "/volumeMounts")
        .iter()
        .find(|m| m["name"] == volume["name"])
        .expect("the container mounts the token volume");
    assert_eq!(mount["readOnly"], true, "the token is mounted read-only");
    format!("{}/{}", text(mount, "/mountPath").trim_end_matches('/'), text(item, "/path"))
}

/// Fails on any string containing `*` (a wildcard resource, verb or group), naming where.
fn no_wildcard(v: &Value, at: &str) {
    match v {
        Value::String(s) => assert!(!s.contains('*'), "wildcard {s:?} at {at}"),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, x)| no_wildcard(x, &format!("{at}/{i}"))),
        Value::Object(map) => map.iter().for_each(|(k, x)| no_wildcard(x, &format!("{at}/{k}"))),
        _ => {}
    }
}

#[test]
fn kustomization_lists_every_manifest_and_only_those() {
    let files = manifests();
    let kustomization = files.get("kustomization.yaml").expect("deploy/kubernetes has a kustomization.yaml");
    assert_eq!(kustomization[0]["kind"], "Kustomization");
    let listed = strings(&kustomization[0], "/resources");
    let unique: BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(unique.len(), listed.len(), "a resource is listed twice: {listed:?}");
    let on_disk: BTreeSet<&str> = files.keys().map(String::as_str).filter(|f| *f != "kustomization.yaml").collect();
    assert_eq!(unique, on_disk, "kustomization.yaml resources differ from the yaml files in deploy/kubernetes");
    for (name, docs) in &files {
        for doc in docs {
            assert!(
                doc["apiVersion"].is_string() && doc["kind"].is_string(),
                "{name}: a document without apiVersion or kind"
            );
        }
    }
}

#[test]
fn namespaced_objects_live_in_a_namespace_that_enforces_restricted_pod_security() {
    let objects = objects();
    let namespace = the(&objects, "Namespace");
    let name = text(&namespace, "/metadata/name");
    assert_eq!(text(&namespace, "/metadata/labels/pod-security.kubernetes.io~1enforce"), "restricted");
    for o in &objects {
        let kind = text(o, "/kind");
        let Some(namespaced) = ResourceKind::from_name(kind).map(ResourceKind::namespaced).or(match kind {
            "ServiceAccount" | "NetworkPolicy" => Some(true),
            _ => None,
        }) else {
            continue;
        };
        if namespaced {
            assert_eq!(o.pointer("/metadata/namespace"), Some(&json!(name)), "{kind} is not in namespace {name}");
        }
    }
}

#[test]
fn cluster_role_grants_read_only_access_to_exactly_what_the_analyzers_read_except_secrets() {
    let role = the(&objects(), "ClusterRole");

    no_wildcard(&role, "");
    assert!(role.get("aggregationRule").is_none(), "an aggregated role grants whatever other roles add");

    let mut granted = BTreeSet::new();
    let mut groups_seen = BTreeSet::new();
    for rule in list(&role, "/rules") {
        for key in ["resourceNames", "nonResourceURLs"] {
            assert!(rule.get(key).is_none(), "a rule uses {key}: {rule}");
        }
        let groups = strings(rule, "/apiGroups");
        assert_eq!(groups.len(), 1, "one API group per rule, for reading: {rule}");
        assert!(groups_seen.insert(groups[0]), "API group {:?} has two rules", groups[0]);
        let verbs: BTreeSet<&str> = strings(rule, "/verbs").into_iter().collect();
        assert!(verbs.is_subset(&BTreeSet::from(["get", "list", "watch"])), "a verb beyond get, list, watch: {rule}");
        assert!(verbs.contains("list") && verbs.contains("watch"), "the service lists and watches: {rule}");
        for resource in strings(rule, "/resources") {
            assert_ne!(resource, "secrets", "the role must not read Secrets");
            assert!(!resource.contains('/'), "a subresource is granted: {resource}");
            assert!(granted.insert((groups[0], resource)), "{resource} granted twice");
        }
    }

    let analyzers = kubesage_k8s::analyze::all();
    let refs: Vec<&dyn kubesage_core::Analyzer> = analyzers.iter().map(AsRef::as_ref).collect();
    let expected: BTreeSet<(&str, &str)> = kinds_read(&refs)
        .into_iter()
        .filter(|k| *k != ResourceKind::Secret)
        .map(|k| {
            let (group, _, plural, _) = k.api();
            (group, plural)
        })
        .collect();
    let missing: Vec<_> = expected.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "clusterrole.yaml differs from what the analyzers read, as (apiGroup, resource): \
         missing {missing:?}, not read by any analyzer {extra:?}"
    );
}

#[test]
fn cluster_role_binding_gives_the_role_to_the_deployment_service_account() {
    let objects = objects();
    let (role, binding) = (the(&objects, "ClusterRole"), the(&objects, "ClusterRoleBinding"));
    let (account, deployment) = (the(&objects, "ServiceAccount"), the(&objects, "Deployment"));

    assert_eq!(text(&binding, "/roleRef/apiGroup"), "rbac.authorization.k8s.io");
    assert_eq!(text(&binding, "/roleRef/kind"), "ClusterRole");
    assert_eq!(text(&binding, "/roleRef/name"), text(&role, "/metadata/name"), "the binding names another role");
    let subjects = list(&binding, "/subjects");
    assert_eq!(subjects.len(), 1, "the role is bound to the service's account only");
    assert_eq!(text(&subjects[0], "/kind"), "ServiceAccount");
    assert_eq!(text(&subjects[0], "/name"), text(&account, "/metadata/name"));
    assert_eq!(text(&subjects[0], "/namespace"), text(&account, "/metadata/namespace"));

    assert_eq!(text(&deployment, "/spec/template/spec/serviceAccountName"), text(&account, "/metadata/name"));
    assert_eq!(text(&deployment, "/metadata/namespace"), text(&account, "/metadata/namespace"));
    assert_eq!(
        deployment.pointer("/spec/template/spec/automountServiceAccountToken"),
        Some(&json!(true)),
        "the service reads the cluster with the account's token"
    );
}

#[test]
fn deployment_probes_resources_and_security_context() {
    let deployment = the(&objects(), "Deployment");
    let pod = &deployment["spec"]["template"];
    let c = container(&deployment);
    let (port_name, port) = http_port(&deployment);

    // One replica: the service's state is in memory (see the comment in deployment.yaml).
    assert_eq!(deployment.pointer("/spec/replicas"), Some(&json!(1)));
    assert!(
        selects(&deployment["spec"]["selector"]["matchLabels"], &pod["metadata"]["labels"]),
        "the Deployment's selector does not match its own pod template"
    );
    assert_eq!(text(c, "/image"), format!("ghcr.io/kubesage/kubesage:{}", env!("CARGO_PKG_VERSION")));

    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe} checks the wrong path");
        assert_eq!(get["port"], json!(port_name), "{probe} must use the named port {port_name}");
    }
    let startup = &c["startupProbe"];
    let allowed = startup["periodSeconds"].as_u64().unwrap_or(10) * startup["failureThreshold"].as_u64().unwrap_or(3);
    assert!(allowed >= 120, "the startup probe allows only {allowed}s");

    let resources = &c["resources"];
    for pointer in ["/requests/cpu", "/requests/memory", "/limits/memory"] {
        assert!(resources.pointer(pointer).is_some_and(Value::is_string), "resources{pointer} is not set");
    }
    assert!(resources.pointer("/limits/cpu").is_none(), "no CPU limit: throttling only slows probes down");

    let (pod_sc, sc) = (&pod["spec"]["securityContext"], &c["securityContext"]);
    let either = |key: &str| sc.get(key).or_else(|| pod_sc.get(key)).cloned().unwrap_or(Value::Null);
    assert_eq!(either("runAsNonRoot"), true);
    assert_eq!(either("runAsUser"), 65532, "the distroless nonroot user");
    assert_eq!(either("seccompProfile")["type"], "RuntimeDefault");
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert!(strings(sc, "/capabilities/drop").contains(&"ALL"), "capabilities are not all dropped");

    let env = list(c, "/env");
    assert!(
        env.iter().any(|e| e["name"] == "KUBESAGE_LOG_FORMAT" && e["value"] == "json"),
        "logs are not JSON: KUBESAGE_LOG_FORMAT=json is missing"
    );
    assert_eq!(pod.pointer("/spec/terminationGracePeriodSeconds"), Some(&json!(30)));

    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/path"], "/metrics");
    assert_eq!(annotations["prometheus.io/port"], json!(port.to_string()), "Prometheus would scrape another port");
}

#[test]
fn service_and_network_policy_reach_the_container_port() {
    let objects = objects();
    let (deployment, service) = (the(&objects, "Deployment"), the(&objects, "Service"));
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let (port_name, port) = http_port(&deployment);

    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert!(selects(&service["spec"]["selector"], labels), "the Service selects no pod of the Deployment");
    let ports = list(&service, "/spec/ports");
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["port"], port);
    let target = &ports[0]["targetPort"];
    assert!(*target == json!(port_name) || *target == json!(port), "the Service targets {target}, not the container");

    let policy = the(&objects, "NetworkPolicy");
    assert!(selects(&policy["spec"]["podSelector"]["matchLabels"], labels), "the policy does not cover the pod");
    assert!(strings(&policy, "/spec/policyTypes").contains(&"Ingress"));
    let rules = list(&policy, "/spec/ingress");
    assert!(!rules.is_empty(), "a policy without ingress rules blocks the service entirely");
    for rule in rules {
        // A rule without ports admits every port.
        let ports = list(rule, "/ports");
        assert!(!ports.is_empty(), "an ingress rule admits all ports: {rule}");
        for p in ports {
            assert!(p["port"] == json!(port) || p["port"] == json!(port_name), "ingress to another port: {p}");
            assert_eq!(p["protocol"], "TCP");
        }
    }
}

#[test]
fn dockerfile_runs_serve_with_the_token_the_deployment_mounts() {
    let dockerfile = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Dockerfile"))
        .expect("the Dockerfile at the repository root");
    let instruction = |name: &str| -> &str {
        let found: Vec<&str> =
            dockerfile.lines().filter_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' '))).collect();
        assert_eq!(found.len(), 1, "expected one {name} in the Dockerfile, found {found:?}");
        found[0].trim()
    };
    let exec_form = |name: &str| -> Vec<String> {
        serde_json::from_str(instruction(name)).unwrap_or_else(|e| panic!("{name} is not in exec (JSON) form: {e}"))
    };

    let deployment = the(&objects(), "Deployment");
    let (_, port) = http_port(&deployment);
    let token = mounted_token_path(&deployment);

    assert_eq!(exec_form("ENTRYPOINT"), ["/kubesage"]);
    let cmd = exec_form("CMD");
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    assert_eq!(cmd.first(), Some(&"serve"), "the image does not run `kubesage serve`: {cmd:?}");
    let listen = flag(&cmd, "--listen").expect("CMD passes --listen");
    assert_eq!(listen_port(listen), port, "the image listens on another port than the container declares");
    assert_eq!(flag(&cmd, "--token-file"), Some(token.as_str()), "the image reads the token elsewhere than mounted");
    assert_eq!(instruction("EXPOSE"), port.to_string());
    assert_eq!(instruction("USER"), "65532:65532");

    // The Deployment spells the command out; it must agree with the image.
    let args = strings(container(&deployment), "/args");
    assert_eq!(args.first(), Some(&"serve"));
    assert_eq!(flag(&args, "--listen").map(listen_port), Some(port));
    assert_eq!(flag(&args, "--token-file"), Some(token.as_str()), "the Deployment reads the token elsewhere");

    let builder = dockerfile.lines().find(|l| l.starts_with("FROM rust:")).expect("a rust builder stage");
    let rust_version = env!("CARGO_PKG_RUST_VERSION");
    assert!(
        builder.starts_with(&format!("FROM rust:{rust_version}-")),
        "the builder is not the workspace's rust-version {rust_version}: {builder}"
    );
    assert!(dockerfile.lines().any(|l| l == "FROM gcr.io/distroless/cc-debian12:nonroot"));
}

/// Decodes the manifests as KubeSage reads a snapshot, with `status` set on the Deployment if
/// given, plus the `extra` objects.
fn as_cluster(deployment_status: Option<&Value>, extra: &[Value]) -> kubesage_core::Cluster {
    let mut cluster = kubesage_core::Cluster::new();
    let manifests = manifests().into_iter().flat_map(|(name, docs)| docs.into_iter().map(move |d| (name.clone(), d)));
    let extra = extra.iter().map(|o| ("extra object".to_owned(), o.clone()));
    for (origin, mut doc) in manifests.chain(extra) {
        if let Some(status) = deployment_status.filter(|_| doc["kind"] == "Deployment") {
            doc["status"] = status.clone();
        }
        let bytes = serde_json::to_vec(&doc).expect("an object serialises");
        let decoded = kubesage_k8s::source::decode_document(&bytes, &origin)
            .unwrap_or_else(|e| panic!("KubeSage cannot decode {origin}: {e}"));
        cluster.merge(decoded);
    }
    cluster
}

/// `(analyzer, reason, kind, name)` of every finding.
fn scan(cluster: &kubesage_core::Cluster) -> (Vec<(String, String, String, String)>, kubesage_core::Report) {
    let report = kubesage_core::pipeline::scan(cluster, &kubesage_k8s::analyze::all(), &ScanOptions::default())
        .expect("the scan runs");
    let found = report
        .findings
        .iter()
        .map(|f| (f.analyzer.clone(), f.reason.clone(), f.object.kind.clone(), f.object.name.clone()))
        .collect();
    (found, report)
}

#[test]
fn kubesage_finds_nothing_wrong_with_its_own_manifests() {
    // As applied: objects without status. The only finding is the one a status-less
    // Deployment must produce: 0 of 1 replicas available, as for a Deployment the controller
    // has not yet acted on. Pods are not in the files, so the Service analyzer makes no claim
    // about its selector (kinds not read are never reported missing).
    let (found, report) = scan(&as_cluster(None, &[]));
    let s = |x: &str| x.to_owned();
    assert_eq!(
        found,
        [(s("deployment"), s("Unavailable"), s("Deployment"), s("kubesage"))],
        "{}",
        serde_json::to_string_pretty(&report.findings).expect("findings serialise")
    );
    assert!(
        report.findings[0].evidence.contains(&kubesage_core::Evidence::field("status.availableReplicas", 0)),
        "the finding is not (only) about the missing status: {:?}",
        report.findings[0].evidence
    );

    // As running: the pod the Deployment would create, ready; the Deployment's status to
    // match; and the token Secret README.md tells users to create. Now the Service analyzer
    // checks its selector and named target port against the pod, and the pod analyzer
    // checks that the Secret the pod mounts exists; nothing may be reported (which also shows
    // the finding above came from the missing status alone).
    let deployment = the(&objects(), "Deployment");
    let namespace = text(&deployment, "/metadata/namespace");
    let mut template = deployment["spec"]["template"].clone();
    template["metadata"]["name"] = json!("kubesage-0");
    template["metadata"]["namespace"] = json!(namespace);
    template["spec"]["nodeName"] = json!("node-1");
    let container_name = text(container(&deployment), "/name");
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": template["metadata"],
        "spec": template["spec"],
        "status": {
            "phase": "Running",
            "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}],
            "containerStatuses": [{
                "name": container_name, "ready": true, "restartCount": 0, "state": {"running": {}}
            }],
        },
    });
    let status = json!({"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1});
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "kubesage-token", "namespace": namespace},
        "data": {"token": "c2VjcmV0"},
    });
    let cluster = as_cluster(Some(&status), &[pod, secret]);
    let (found, report) = scan(&cluster);
    assert!(
        found.is_empty(),
        "KubeSage reports problems with its own running deployment: {}",
        serde_json::to_string_pretty(&report.findings).expect("findings serialise")
    );
    assert!(cluster.is_loaded(ResourceKind::Pod) && cluster.is_loaded(ResourceKind::Secret), "the checks above ran");
}
