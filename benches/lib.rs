//! Shared code for KubeSage benchmarks: generators of large, realistic cluster snapshots, of
//! CPU-like metric series and of embedding-like vectors; sentences from the runbook corpus;
//! and what the side-by-side benches need to hand the same inputs to a Python peer.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Sizes of a generated snapshot.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotSize {
    /// Deployments; each gets `pods / deployments` pods.
    pub deployments: usize,
    /// Pods.
    pub pods: usize,
    /// Events, spread over the pods.
    pub events: usize,
    /// Nodes the pods run on.
    pub nodes: usize,
}

impl SnapshotSize {
    /// The size the cluster-analysis issue names: 10,000 pods, 2,000 Deployments, 50,000 events.
    pub const TARGET: SnapshotSize = SnapshotSize { deployments: 2_000, pods: 10_000, events: 50_000, nodes: 50 };
}

/// Generates `kubectl get nodes,deployments,pods,events -A -o json` output: a `List` with
/// objects shaped like a real cluster's (full container specs with env, probes, resources
/// and mounts; conditions; container statuses), about 1 pod in 25 crash-looping and 1 in
/// 100 unschedulable, so analyzers have real work.
pub fn generate(size: SnapshotSize) -> String {
    let mut s = String::with_capacity(size.pods * 3_200 + size.events * 900 + size.deployments * 2_000);
    s.push_str("{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n");
    let mut first = true;
    let mut sep = |s: &mut String| {
        if !first {
            s.push_str(",\n");
        }
        first = false;
    };
    for n in 0..size.nodes {
        sep(&mut s);
        let _ = write!(
            s,
            r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"node-{n}","uid":"node-uid-{n}","labels":{{"kubernetes.io/hostname":"node-{n}","node.kubernetes.io/instance-type":"m5.2xlarge","topology.kubernetes.io/zone":"eu-west-1a"}},"creationTimestamp":"2026-10-01T00:00:00Z"}},"spec":{{"podCIDR":"10.244.{n}.0/24","providerID":"aws:///eu-west-1a/i-0{n:07}"}},"status":{{"allocatable":{{"cpu":"7910m","memory":"31Gi","pods":"110"}},"capacity":{{"cpu":"8","memory":"32Gi","pods":"110"}},"conditions":[{{"type":"MemoryPressure","status":"False","reason":"KubeletHasSufficientMemory","message":"kubelet has sufficient memory available","lastHeartbeatTime":"2026-11-20T09:59:30Z","lastTransitionTime":"2026-10-01T00:00:00Z"}},{{"type":"DiskPressure","status":"False","reason":"KubeletHasNoDiskPressure","message":"kubelet has no disk pressure","lastHeartbeatTime":"2026-11-20T09:59:30Z","lastTransitionTime":"2026-10-01T00:00:00Z"}},{{"type":"Ready","status":"True","reason":"KubeletReady","message":"kubelet is posting ready status","lastHeartbeatTime":"2026-11-20T09:59:30Z","lastTransitionTime":"2026-10-01T00:00:00Z"}}],"nodeInfo":{{"kubeletVersion":"v1.31.2","containerRuntimeVersion":"containerd://1.7.22","osImage":"Ubuntu 24.04 LTS"}}}}}}"#
        );
    }
    let per = size.pods.div_ceil(size.deployments.max(1));
    for d in 0..size.deployments {
        sep(&mut s);
        let unavailable = (0..per).filter(|i| pod_state(d * per + i) != 0).count();
        let available = per - unavailable;
        let _ = write!(
            s,
            r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"app-{d}","namespace":"team-{ns}","uid":"dep-uid-{d}","generation":3,"labels":{{"app.kubernetes.io/name":"app-{d}","app.kubernetes.io/part-of":"team-{ns}"}},"annotations":{{"deployment.kubernetes.io/revision":"3"}},"creationTimestamp":"2026-10-02T00:00:00Z"}},"spec":{{"replicas":{per},"selector":{{"matchLabels":{{"app.kubernetes.io/name":"app-{d}"}}}},"strategy":{{"type":"RollingUpdate","rollingUpdate":{{"maxSurge":"25%","maxUnavailable":"25%"}}}},"template":{{"metadata":{{"labels":{{"app.kubernetes.io/name":"app-{d}"}}}},"spec":{{"containers":[{{"name":"app","image":"registry.example.com/team-{ns}/app-{d}:1.{d}.0","ports":[{{"name":"http","containerPort":8080,"protocol":"TCP"}}],"resources":{{"requests":{{"cpu":"100m","memory":"128Mi"}},"limits":{{"memory":"256Mi"}}}},"readinessProbe":{{"httpGet":{{"path":"/ready","port":"http"}},"periodSeconds":10}}}}]}}}}}},"status":{{"observedGeneration":3,"replicas":{per},"updatedReplicas":{per},"readyReplicas":{available},"availableReplicas":{available},"conditions":[{{"type":"Available","status":"{avail}","reason":"MinimumReplicasAvailable","message":"Deployment has minimum availability.","lastTransitionTime":"2026-11-01T00:00:00Z","lastUpdateTime":"2026-11-01T00:00:00Z"}},{{"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable","message":"ReplicaSet \"app-{d}-5d9f8c7b6\" has successfully progressed.","lastTransitionTime":"2026-10-02T00:00:00Z","lastUpdateTime":"2026-11-01T00:00:00Z"}}]}}}}"#,
            ns = d % 40,
            avail = if available > 0 { "True" } else { "False" },
        );
    }
    for p in 0..size.pods {
        sep(&mut s);
        let d = p / per;
        let node = p % size.nodes.max(1);
        let ns = d % 40;
        let state = pod_state(p);
        let (phase, ready, container_status, sched) = match state {
            1 => (
                "Running",
                "False",
                format!(r#"{{"name":"app","ready":false,"started":false,"restartCount":{rc},"image":"registry.example.com/team-{ns}/app-{d}:1.{d}.0","imageID":"registry.example.com/team-{ns}/app-{d}@sha256:4f1c2b","containerID":"containerd://9b1c{p:08x}","state":{{"waiting":{{"reason":"CrashLoopBackOff","message":"back-off 5m0s restarting failed container=app pod=app-{d}-5d9f8c7b6-{p}"}}}},"lastState":{{"terminated":{{"exitCode":1,"reason":"Error","startedAt":"2026-11-20T09:50:00Z","finishedAt":"2026-11-20T09:50:03Z","containerID":"containerd://8a0b{p:08x}"}}}}}}"#, rc = 5 + p % 20),
                String::new(),
            ),
            2 => (
                "Pending",
                "False",
                String::new(),
                r#",{"type":"PodScheduled","status":"False","reason":"Unschedulable","message":"0/50 nodes are available: 50 Insufficient memory. preemption: 0/50 nodes are available: 50 No preemption victims found for incoming pod.","lastProbeTime":null,"lastTransitionTime":"2026-11-20T09:00:00Z"}"#.to_owned(),
            ),
            _ => (
                "Running",
                "True",
                format!(r#"{{"name":"app","ready":true,"started":true,"restartCount":0,"image":"registry.example.com/team-{ns}/app-{d}:1.{d}.0","imageID":"registry.example.com/team-{ns}/app-{d}@sha256:4f1c2b","containerID":"containerd://9b1c{p:08x}","state":{{"running":{{"startedAt":"2026-11-01T00:00:05Z"}}}},"lastState":{{}}}}"#),
                String::new(),
            ),
        };
        let node_name = if state == 2 { String::new() } else { format!(r#""nodeName":"node-{node}","#) };
        let statuses = if container_status.is_empty() {
            String::new()
        } else {
            format!(r#","containerStatuses":[{container_status}]"#)
        };
        let _ = write!(
            s,
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"app-{d}-5d9f8c7b6-{p}","generateName":"app-{d}-5d9f8c7b6-","namespace":"team-{ns}","uid":"pod-uid-{p}","resourceVersion":"{rv}","labels":{{"app.kubernetes.io/name":"app-{d}","pod-template-hash":"5d9f8c7b6"}},"annotations":{{"kubectl.kubernetes.io/restartedAt":"2026-11-01T00:00:00Z","prometheus.io/scrape":"true"}},"ownerReferences":[{{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"app-{d}-5d9f8c7b6","uid":"rs-uid-{d}","controller":true,"blockOwnerDeletion":true}}],"creationTimestamp":"2026-11-01T00:00:00Z"}},"spec":{{"containers":[{{"name":"app","image":"registry.example.com/team-{ns}/app-{d}:1.{d}.0","imagePullPolicy":"IfNotPresent","args":["--port=8080","--log-format=json"],"env":[{{"name":"LOG_LEVEL","value":"info"}},{{"name":"POD_NAME","valueFrom":{{"fieldRef":{{"apiVersion":"v1","fieldPath":"metadata.name"}}}}}},{{"name":"POD_NAMESPACE","valueFrom":{{"fieldRef":{{"apiVersion":"v1","fieldPath":"metadata.namespace"}}}}}}],"ports":[{{"name":"http","containerPort":8080,"protocol":"TCP"}}],"resources":{{"requests":{{"cpu":"100m","memory":"128Mi"}},"limits":{{"memory":"256Mi"}}}},"readinessProbe":{{"httpGet":{{"path":"/ready","port":"http","scheme":"HTTP"}},"periodSeconds":10,"timeoutSeconds":1,"successThreshold":1,"failureThreshold":3}},"livenessProbe":{{"httpGet":{{"path":"/healthz","port":"http","scheme":"HTTP"}},"initialDelaySeconds":10,"periodSeconds":10,"timeoutSeconds":1,"successThreshold":1,"failureThreshold":3}},"volumeMounts":[{{"name":"kube-api-access-{p}","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","readOnly":true}}],"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}}],"dnsPolicy":"ClusterFirst",{node_name}"restartPolicy":"Always","schedulerName":"default-scheduler","serviceAccountName":"default","terminationGracePeriodSeconds":30,"tolerations":[{{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}},{{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}}],"volumes":[{{"name":"kube-api-access-{p}","projected":{{"defaultMode":420,"sources":[{{"serviceAccountToken":{{"expirationSeconds":3607,"path":"token"}}}},{{"configMap":{{"name":"kube-root-ca.crt","items":[{{"key":"ca.crt","path":"ca.crt"}}]}}}},{{"downwardAPI":{{"items":[{{"path":"namespace","fieldRef":{{"apiVersion":"v1","fieldPath":"metadata.namespace"}}}}]}}}}]}}}}]}},"status":{{"phase":"{phase}","conditions":[{{"type":"Initialized","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-11-01T00:00:01Z"}},{{"type":"Ready","status":"{ready}","lastProbeTime":null,"lastTransitionTime":"2026-11-01T00:00:10Z"}},{{"type":"ContainersReady","status":"{ready}","lastProbeTime":null,"lastTransitionTime":"2026-11-01T00:00:10Z"}}{sched}],"hostIP":"10.0.{node}.10","podIP":"10.244.{node}.{ip}","podIPs":[{{"ip":"10.244.{node}.{ip}"}}],"qosClass":"Burstable","startTime":"2026-11-01T00:00:01Z"{statuses}}}}}"#,
            rv = 100_000 + p,
            ip = p % 250 + 2,
        );
    }
    let reasons = [
        ("Normal", "Scheduled", "Successfully assigned {ns}/{pod} to node-{node}", "default-scheduler"),
        ("Normal", "Pulled", "Container image \"registry.example.com/app:1.0\" already present on machine", "kubelet"),
        ("Normal", "Created", "Created container app", "kubelet"),
        ("Normal", "Started", "Started container app", "kubelet"),
        ("Warning", "BackOff", "Back-off restarting failed container app in pod {pod}_{ns}({uid})", "kubelet"),
    ];
    for e in 0..size.events {
        sep(&mut s);
        let p = (e * 7919) % size.pods.max(1);
        let d = p / per;
        let ns = format!("team-{}", d % 40);
        let pod = format!("app-{d}-5d9f8c7b6-{p}");
        let (kind, reason, template, component) = reasons[e % reasons.len()];
        let message = template
            .replace("{ns}", &ns)
            .replace("{pod}", &pod)
            .replace("{node}", &(p % size.nodes.max(1)).to_string())
            .replace("{uid}", &format!("pod-uid-{p}"));
        let message = serde_json::to_string(&message).unwrap_or_default();
        let _ = write!(
            s,
            r#"{{"apiVersion":"v1","kind":"Event","metadata":{{"name":"{pod}.18a{e:07x}","namespace":"{ns}","uid":"ev-uid-{e}","resourceVersion":"{rv}","creationTimestamp":"2026-11-20T09:{m:02}:{sec:02}Z"}},"involvedObject":{{"apiVersion":"v1","kind":"Pod","name":"{pod}","namespace":"{ns}","uid":"pod-uid-{p}","resourceVersion":"{prv}","fieldPath":"spec.containers{{app}}"}},"reason":"{reason}","message":{message},"source":{{"component":"{component}","host":"node-{node}"}},"firstTimestamp":"2026-11-20T09:00:00Z","lastTimestamp":"2026-11-20T09:{m:02}:{sec:02}Z","count":{count},"type":"{kind}","eventTime":null,"reportingComponent":"{component}","reportingInstance":"node-{node}"}}"#,
            rv = 900_000 + e,
            prv = 100_000 + p,
            m = e % 60,
            sec = (e / 60) % 60,
            count = 1 + e % 9,
            node = p % size.nodes.max(1),
        );
    }
    s.push_str("\n    ],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n");
    s
}

/// 0 healthy, 1 crash-looping, 2 unschedulable.
fn pod_state(p: usize) -> u8 {
    if p % 25 == 7 {
        1
    } else if p % 100 == 42 {
        2
    } else {
        0
    }
}

/// A day-cycled CPU-like series at 5-minute steps from a fixed seed: `50 + 20 sin(day)`, noise
/// of +-2, and a spike of 40 every `spike_every` points. The same `n` and `spike_every` give
/// the same series on every run.
pub fn cpu_series(n: usize, spike_every: usize) -> (Vec<i64>, Vec<f64>) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut noise = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let t0 = 1_700_000_000i64;
    let ts: Vec<i64> = (0..n as i64).map(|i| t0 + 300 * i).collect();
    let vs: Vec<f64> = (0..n)
        .map(|i| {
            let day = (i as f64 * 300.0 / 86_400.0 * std::f64::consts::TAU).sin();
            let spike = if i % spike_every.max(1) == spike_every.max(1) - 1 { 40.0 } else { 0.0 };
            50.0 + 20.0 * day + 4.0 * noise() + spike
        })
        .collect();
    (ts, vs)
}

/// The repository root (the folder above `benches/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The public runbook corpus in `shared/data/runbooks` beside the repository.
pub fn runbook_dir() -> PathBuf {
    repo_root().join("../shared/data/runbooks")
}

/// The interpreter that runs the side-by-side scripts: `$KUBESAGE_BENCH_PYTHON`, else the
/// venv `scripts/models/requirements.txt` is installed into, `<repo>/.venv-models`.
pub fn bench_python() -> PathBuf {
    match std::env::var_os("KUBESAGE_BENCH_PYTHON").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => repo_root().join(".venv-models/bin/python"),
    }
}

/// Up to `n` sentences of prose from the Markdown runbooks under `dir`, in a fixed order
/// (files sorted by path, then document order): each passage's lines outside code fences and
/// tables, list markers stripped, split after `. `, kept when they have at least four words.
/// The same corpus gives the same list on every run.
pub fn runbook_sentences(dir: &Path, n: usize) -> std::io::Result<Vec<String>> {
    let mut files = Vec::new();
    markdown_files(dir, &mut files)?;
    files.sort();
    let mut out = Vec::with_capacity(n);
    for path in files {
        let text = std::fs::read_to_string(&path)?;
        let source = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().into_owned();
        for chunk in kubesage_ml::rag::chunk::chunk_markdown(&source, &text) {
            let mut in_fence = false;
            for line in chunk.text.lines() {
                let line = line.trim();
                if line.starts_with("```") || line.starts_with("~~~") {
                    in_fence = !in_fence;
                    continue;
                }
                if in_fence || line.starts_with('|') || line.starts_with('<') {
                    continue;
                }
                let line = line.trim_start_matches(['-', '*', '>', ' ']);
                let line = line.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ')').trim();
                for sentence in line.split_inclusive(". ") {
                    let sentence = sentence.trim();
                    if sentence.split_whitespace().count() >= 4 {
                        out.push(sentence.to_owned());
                        if out.len() == n {
                            return Ok(out);
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            markdown_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
    Ok(())
}

/// Latent dimensions of [`embedding_like`] vectors.
pub const LATENT_DIM: usize = 24;
/// Topics (clusters) in the latent space of [`embedding_like`] vectors.
pub const LATENT_TOPICS: usize = 40;

/// A deterministic generator (SplitMix64), so generated data needs no dependency.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn symmetric(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }
}

/// `n` unit vectors of dimension `dim` shaped like sentence embeddings: a point scattered
/// around one of [`LATENT_TOPICS`] topic centres in a [`LATENT_DIM`]-dimensional space,
/// mapped to `dim` dimensions by a fixed random projection, plus a little isotropic noise.
/// Real sentence embeddings have a low intrinsic dimension, which is what HNSW relies on;
/// uniform noise in 384 dimensions is a worst case no real collection resembles. Topics and
/// projection are the same for every `seed`, so base vectors and queries drawn with two
/// seeds come from one distribution.
pub fn embedding_like(seed: u64, n: usize, dim: usize) -> Vec<Vec<f32>> {
    let mut fixed = SplitMix::new(0x0b5e_55ed);
    let projection: Vec<Vec<f32>> = (0..LATENT_DIM).map(|_| unit((0..dim).map(|_| fixed.normal()).collect())).collect();
    let topics: Vec<Vec<f32>> = (0..LATENT_TOPICS).map(|_| (0..LATENT_DIM).map(|_| fixed.normal()).collect()).collect();
    let mut rng = SplitMix::new(seed);
    (0..n)
        .map(|_| {
            let topic = &topics[(rng.next_u64() % LATENT_TOPICS as u64) as usize];
            // Noise of 0.1 a dimension is about a third of the vector's length at 384
            // dimensions. Among 20,000 vectors the nearest neighbour of a query is then at a
            // similarity near 0.77 (MiniLM embeddings of the 1,315 runbook sentences: 0.71,
            // exact duplicates aside).
            let mut v: Vec<f32> = (0..dim).map(|_| 0.1 * rng.normal()).collect();
            for (row, centre) in projection.iter().zip(topic) {
                let z = centre + 0.8 * rng.normal();
                for (x, p) in v.iter_mut().zip(row) {
                    *x += z * p;
                }
            }
            unit(v)
        })
        .collect()
}

fn unit(v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
    v.into_iter().map(|x| x / norm).collect()
}

/// Writes `rows` as one flat array of little-endian `f32`, row after row (what
/// `numpy.fromfile(path, "<f4").reshape(-1, dim)` reads).
pub fn write_f32_le(path: &Path, rows: &[Vec<f32>]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for x in rows.iter().flatten() {
        out.write_all(&x.to_le_bytes())?;
    }
    out.flush()
}

/// Reads a flat little-endian `f32` file as rows of `dim`; fails when the length is not a
/// whole number of rows.
pub fn read_f32_le(path: &Path, dim: usize) -> std::io::Result<Vec<Vec<f32>>> {
    let bytes = std::fs::read(path)?;
    let row_bytes = dim.max(1) * 4;
    if bytes.len() % row_bytes != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {} bytes is not a whole number of {dim}-float rows", path.display(), bytes.len()),
        ));
    }
    Ok(bytes
        .chunks_exact(row_bytes)
        .map(|row| row.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        .collect())
}

/// Runs `script` (a path under `benches/`) with [`bench_python`] and `args`, and returns the
/// JSON object on the last line of its standard output. The error says why the peer could
/// not be run, for a bench to print as `skipped: ...`.
pub fn run_python_peer(script: &str, args: &[&std::ffi::OsStr]) -> Result<serde_json::Value, String> {
    let python = bench_python();
    if !python.exists() {
        return Err(format!(
            "no Python at {} (set KUBESAGE_BENCH_PYTHON, or create the venv: python3 -m venv .venv-models && \
             .venv-models/bin/pip install -r scripts/models/requirements.txt)",
            python.display()
        ));
    }
    let script = repo_root().join("benches").join(script);
    let output = std::process::Command::new(&python)
        .arg(&script)
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run {}: {e}", python.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("{} {} failed ({}): {}", python.display(), script.display(), output.status, stdout.trim()));
    }
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    serde_json::from_str(last).map_err(|e| format!("{} printed no JSON result line ({e}): {last}", script.display()))
}

/// A closed-loop HTTP/1.1 load generator (hyper) for the service benches: each connection is
/// kept alive and sends one request, reads the whole answer, and sends the next. Used by
/// `serve_load` (the cluster service) and `model_serve` (model serving against FastAPI).
pub mod http_load {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    use hyper::client::conn::http1::SendRequest;
    use hyper::header::{CONNECTION, CONTENT_TYPE, HOST};
    use hyper::{Method, Request};
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpStream;

    /// Any failure of an exchange.
    pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

    /// One kind of request, sent over and over.
    #[derive(Debug, Clone)]
    pub struct Target {
        /// The method.
        pub method: Method,
        /// Path and query.
        pub path: String,
        /// The body, sent as `application/json` when not empty.
        pub body: Bytes,
    }

    impl Target {
        /// `GET path`.
        pub fn get(path: &str) -> Target {
            Target { method: Method::GET, path: path.to_owned(), body: Bytes::new() }
        }

        /// `POST path` with a JSON body.
        pub fn post_json(path: &str, body: impl Into<Bytes>) -> Target {
            Target { method: Method::POST, path: path.to_owned(), body: body.into() }
        }

        /// `METHOD path`.
        pub fn label(&self) -> String {
            format!("{} {}", self.method, self.path)
        }
    }

    /// A finished exchange: the status, the body, and whether the server closes the connection.
    #[derive(Debug)]
    pub struct Answer {
        /// The status code.
        pub status: u16,
        /// The whole body.
        pub body: Bytes,
        /// The answer said `Connection: close`.
        pub close: bool,
    }

    /// Opens a connection to `addr` (`HOST:PORT`), with Nagle's algorithm off.
    pub async fn connect(addr: &str) -> Result<SendRequest<Full<Bytes>>, BoxError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Sends `target` over `sender` and reads the whole answer.
    pub async fn send(sender: &mut SendRequest<Full<Bytes>>, addr: &str, target: &Target) -> Result<Answer, BoxError> {
        let mut request = Request::builder().method(target.method.clone()).uri(target.path.as_str()).header(HOST, addr);
        if !target.body.is_empty() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let response = sender.send_request(request.body(Full::new(target.body.clone()))?).await?;
        let status = response.status().as_u16();
        let close = response.headers().get(CONNECTION).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Answer { status, body, close })
    }

    /// One request on a fresh connection.
    pub async fn once(addr: &str, target: &Target) -> Result<Answer, BoxError> {
        let mut sender = connect(addr).await?;
        send(&mut sender, addr, target).await
    }

    /// An error and its causes, `: `-separated.
    pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
        let mut text = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }

    /// What one connection (or all of them, merged) saw within the measured window.
    #[derive(Debug, Default)]
    pub struct Tally {
        /// Latencies in µs by status code.
        pub latencies: BTreeMap<u16, Vec<u32>>,
        /// Requests that failed without an answer (reset, timeout).
        pub errors: u64,
        /// What those failures were, by message.
        pub error_kinds: BTreeMap<String, u64>,
        /// Connections opened again after the server closed one.
        pub reconnects: u64,
        /// The largest answer's body, in bytes.
        pub body_bytes: usize,
    }

    impl Tally {
        /// Adds `other`'s counts and latencies to these.
        pub fn merge(&mut self, other: Tally) {
            for (status, mut l) in other.latencies {
                self.latencies.entry(status).or_default().append(&mut l);
            }
            self.errors += other.errors;
            for (kind, n) in other.error_kinds {
                *self.error_kinds.entry(kind).or_default() += n;
            }
            self.reconnects += other.reconnects;
            self.body_bytes = self.body_bytes.max(other.body_bytes);
        }

        /// Answers with `status`.
        pub fn count(&self, status: u16) -> usize {
            self.latencies.get(&status).map_or(0, Vec::len)
        }

        /// Answers of any status.
        pub fn answered(&self) -> usize {
            self.latencies.values().map(Vec::len).sum()
        }

        /// Every answer's latency, in µs, sorted.
        pub fn sorted_latencies(&self) -> Vec<u32> {
            let mut all: Vec<u32> = self.latencies.values().flatten().copied().collect();
            all.sort_unstable();
            all
        }
    }

    /// How long a load runs and what each request may take.
    #[derive(Debug, Clone, Copy)]
    pub struct Window {
        /// Load before measuring: connections open, caches and the server's pools fill.
        pub warm_up: Duration,
        /// The measured time.
        pub measure: Duration,
        /// What a request may take before it counts as failed (and its connection is dropped).
        pub request_timeout: Duration,
    }

    /// One connection in a closed loop until `end`; only exchanges that start after
    /// `measure_from` and finish by `end` are counted.
    async fn closed_loop(
        addr: Arc<str>,
        target: Arc<Target>,
        measure_from: Instant,
        end: Instant,
        request_timeout: Duration,
    ) -> Tally {
        let mut tally = Tally::default();
        let mut sender: Option<SendRequest<Full<Bytes>>> = None;
        while Instant::now() < end {
            let ready = match sender.as_mut() {
                Some(s) => s.ready().await.is_ok(),
                None => false,
            };
            let s = match sender.as_mut() {
                Some(s) if ready => s,
                _ => {
                    if sender.take().is_some() && Instant::now() >= measure_from {
                        tally.reconnects += 1;
                    }
                    match connect(&addr).await {
                        Ok(s) => sender.insert(s),
                        Err(_) => {
                            tally.errors += u64::from(Instant::now() >= measure_from);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    }
                }
            };
            let start = Instant::now();
            let result = tokio::time::timeout(request_timeout, send(s, &addr, &target)).await;
            let done = Instant::now();
            let counted = start >= measure_from && done <= end;
            match result {
                Ok(Ok(answer)) => {
                    if counted {
                        let micros = u32::try_from((done - start).as_micros()).unwrap_or(u32::MAX);
                        tally.latencies.entry(answer.status).or_default().push(micros);
                        tally.body_bytes = tally.body_bytes.max(answer.body.len());
                    }
                    if answer.close {
                        sender = None;
                        tally.reconnects += u64::from(counted);
                    }
                }
                Ok(Err(e)) => {
                    if counted {
                        tally.errors += 1;
                        *tally.error_kinds.entry(chain(e.as_ref())).or_default() += 1;
                    }
                    sender = None;
                }
                Err(_) => {
                    if counted {
                        tally.errors += 1;
                        *tally.error_kinds.entry("timed out".to_owned()).or_default() += 1;
                    }
                    sender = None;
                }
            }
        }
        tally
    }

    /// `connections` closed loops on `target` for the warm-up and then the measured time.
    pub async fn load(addr: &str, target: Target, connections: usize, window: Window) -> Tally {
        let addr: Arc<str> = addr.into();
        let target = Arc::new(target);
        let measure_from = Instant::now() + window.warm_up;
        let end = measure_from + window.measure;
        let tasks: Vec<_> = (0..connections)
            .map(|_| tokio::spawn(closed_loop(addr.clone(), target.clone(), measure_from, end, window.request_timeout)))
            .collect();
        let mut tally = Tally::default();
        for task in tasks {
            tally.merge(task.await.expect("a load task panicked"));
        }
        tally
    }

    /// Nearest-rank percentile of sorted latencies (µs), in ms; NaN when there are none.
    pub fn percentile(sorted: &[u32], p: f64) -> f64 {
        if sorted.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        f64::from(sorted[rank - 1]) / 1e3
    }
}
