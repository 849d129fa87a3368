//! Sizing a model server from measurement, and the manifests that run it.
//!
//! [`size`] turns a [`ModelProfile`] (what one request costs here, measured by `kubesage plan
//! model`) and [`Targets`] (the request rate and p99 latency asked for) into a
//! [`DeploymentPlan`]; [`manifests`] writes the Deployment, Service, HorizontalPodAutoscaler and
//! PodDisruptionBudget that serve it with `kubesage serve --model-repository`.
//!
//! # The arithmetic, and why
//! - A request costs the model's mean latency on one core plus the server's own work
//!   ([`SERVING_OVERHEAD_SECS`]: HTTP, JSON, routing; measured by `benches/model_serve.rs` at
//!   24–27 µs of server CPU per request). One core then carries `1 / cost` requests/s.
//! - Pods run at [`TARGET_UTILISATION`] of their CPU request at the asked rate: the headroom
//!   absorbs bursts while the autoscaler reacts, and keeps queueing (hence p99) low.
//! - CPU per pod is what the rate needs spread over two pods, rounded up to 100m, between
//!   100m and one core (one core per pod scales out more evenly than large pods); replicas are
//!   at least 2, so a node drain or a rollout never takes the model down (the
//!   PodDisruptionBudget keeps one pod).
//! - No CPU limit: CFS throttling adds tens of milliseconds to the tail of a busy pod, the
//!   opposite of a p99 target; the request already reserves the capacity.
//! - Memory: the measured resident memory of the process with the model loaded, plus
//!   [`MEMORY_HEADROOM_BYTES`] for in-flight requests, rounded up to MiB; the limit is 1.5x
//!   (a large batch allocates its tensors), so a leak ends in a restart, not a sick node.
//! - Latency: more replicas do not make one request faster. When the measured p99 plus the
//!   overhead exceeds the target, the plan says so ([`DeploymentPlan::latency_met`]).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};

/// The server's own CPU per request besides the model (`benches/model_serve.rs`).
pub const SERVING_OVERHEAD_SECS: f64 = 30e-6;
/// The share of its CPU request a pod runs at, at the planned rate.
pub const TARGET_UTILISATION: f64 = 0.6;
/// Memory beyond the measured resident size, for requests in flight.
pub const MEMORY_HEADROOM_BYTES: u64 = 64 << 20;
/// The port `kubesage serve` listens on in the pod.
pub const PORT: i32 = 8080;

/// What serving one model costs, measured on this machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelProfile {
    /// The model's name in the repository.
    pub name: String,
    /// Its version.
    pub version: u64,
    /// The model file's size.
    pub file_bytes: u64,
    /// Resident memory of the process with the model loaded.
    pub resident_bytes: u64,
    /// Mean time of one single-row run on one core, in seconds.
    pub mean_secs: f64,
    /// Median.
    pub p50_secs: f64,
    /// 99th percentile.
    pub p99_secs: f64,
    /// Runs timed.
    pub runs: usize,
}

/// What the deployment must sustain.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// Requests per second at the planned size.
    pub rps: f64,
    /// The p99 latency asked for, in milliseconds.
    pub p99_ms: f64,
    /// The autoscaler's ceiling (default: twice the planned replicas).
    pub max_replicas: Option<u32>,
}

/// The size of the deployment, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentPlan {
    /// Pods at the planned rate (the autoscaler's floor).
    pub replicas: u32,
    /// The autoscaler's ceiling.
    pub max_replicas: u32,
    /// CPU request per pod, in millicores (no limit).
    pub cpu_request_millis: u64,
    /// Memory request per pod.
    pub memory_request_bytes: u64,
    /// Memory limit per pod.
    pub memory_limit_bytes: u64,
    /// Requests/s one pod carries at [`TARGET_UTILISATION`].
    pub pod_capacity_rps: f64,
    /// The expected p99 of one request: the measured model p99 plus the serving overhead.
    pub expected_p99_ms: f64,
    /// Whether that is within the target.
    pub latency_met: bool,
    /// The reasoning, one line each.
    pub notes: Vec<String>,
}

fn round_up(value: u64, step: u64) -> u64 {
    value.div_ceil(step) * step
}

/// Sizes the deployment (see the module's documentation for the arithmetic).
pub fn size(profile: &ModelProfile, targets: &Targets) -> Result<DeploymentPlan> {
    if !(targets.rps.is_finite() && targets.rps > 0.0) {
        return Err(Error::Plan(format!("the request rate must be positive, got {}", targets.rps)));
    }
    if !(targets.p99_ms.is_finite() && targets.p99_ms > 0.0) {
        return Err(Error::Plan(format!("the p99 target must be positive, got {} ms", targets.p99_ms)));
    }
    if !(profile.mean_secs.is_finite() && profile.mean_secs >= 0.0 && profile.p99_secs.is_finite()) {
        return Err(Error::Plan("the model's measured latency is not a number".into()));
    }
    let cost = profile.mean_secs + SERVING_OVERHEAD_SECS;
    let per_core = 1.0 / cost;
    let cores = targets.rps * cost / TARGET_UTILISATION;
    let half = (cores / 2.0 * 1000.0).ceil() as u64;
    let cpu_request_millis = round_up(half, 100).clamp(100, 1000);
    let replicas = ((cores * 1000.0 / cpu_request_millis as f64).ceil() as u32).max(2);
    let max_replicas = targets.max_replicas.unwrap_or(replicas * 2).max(replicas);
    let memory_request_bytes = round_up(profile.resident_bytes + MEMORY_HEADROOM_BYTES, 1 << 20);
    let memory_limit_bytes = round_up(memory_request_bytes * 3 / 2, 1 << 20);
    let pod_capacity_rps = per_core * cpu_request_millis as f64 / 1000.0 * TARGET_UTILISATION;
    let expected_p99_ms = (profile.p99_secs + SERVING_OVERHEAD_SECS) * 1000.0;
    let latency_met = expected_p99_ms <= targets.p99_ms;
    let mut notes = vec![
        format!(
            "one request costs {:.1} µs of CPU ({:.1} µs model mean + {:.0} µs serving): {:.0} requests/s per core",
            cost * 1e6,
            profile.mean_secs * 1e6,
            SERVING_OVERHEAD_SECS * 1e6,
            per_core
        ),
        format!(
            "{} requests/s at {:.0}% utilisation needs {:.2} cores: {replicas} pods of {cpu_request_millis}m \
             ({pod_capacity_rps:.0} requests/s each), at least 2 for availability",
            targets.rps,
            TARGET_UTILISATION * 100.0,
            cores
        ),
        format!(
            "memory: {} MiB resident with the model loaded + {} MiB headroom; limit 1.5x",
            profile.resident_bytes >> 20,
            MEMORY_HEADROOM_BYTES >> 20
        ),
        "no CPU limit: throttling would add to the tail latency; the request reserves the capacity".into(),
    ];
    if latency_met {
        notes.push(format!("expected p99 {expected_p99_ms:.3} ms, within the {} ms target", targets.p99_ms));
    } else {
        notes.push(format!(
            "expected p99 {expected_p99_ms:.3} ms exceeds the {} ms target: more replicas do not make one request \
             faster (a smaller model, or batching on the client, would)",
            targets.p99_ms
        ));
    }
    Ok(DeploymentPlan {
        replicas,
        max_replicas,
        cpu_request_millis,
        memory_request_bytes,
        memory_limit_bytes,
        pod_capacity_rps,
        expected_p99_ms,
        latency_met,
        notes,
    })
}

/// Where the pods find the model, and what they run.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// The namespace.
    pub namespace: String,
    /// The `kubesage` image the pods run.
    pub image: String,
    /// An OCI image holding `<name>/<version>/model.onnx`, mounted as an image volume
    /// (Kubernetes 1.33+); `None`: a PersistentVolumeClaim `<name>-models` to copy it into.
    pub model_image: Option<String>,
}

/// The Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget for a plan, in
/// that order (with the PersistentVolumeClaim first when the model is not in an image).
pub fn manifests(profile: &ModelProfile, plan: &DeploymentPlan, placement: &Placement) -> Vec<Value> {
    let name = format!("{}-model", profile.name);
    let labels: BTreeMap<&str, &str> =
        [("app.kubernetes.io/name", name.as_str()), ("app.kubernetes.io/managed-by", "kubesage")].into();
    let selector = json!({ "app.kubernetes.io/name": name });
    let meta = |kind_name: &str| json!({"name": kind_name, "namespace": placement.namespace, "labels": labels});
    let claim = format!("{}-models", profile.name);
    let volume = match &placement.model_image {
        Some(image) => json!({"name": "models", "image": {"reference": image, "pullPolicy": "IfNotPresent"}}),
        None => json!({"name": "models", "persistentVolumeClaim": {"claimName": claim, "readOnly": true}}),
    };
    let probe = |path: &str, period: i32| json!({"httpGet": {"path": path, "port": "http"}, "periodSeconds": period, "timeoutSeconds": 3, "failureThreshold": 3});
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(&name),
        "spec": {
            "replicas": plan.replicas,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": false,
                    "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "kubesage",
                        "image": placement.image,
                        "args": ["serve", "--model-repository", "/models", "--listen", format!("0.0.0.0:{PORT}"), "--allow-unauthenticated"],
                        "ports": [{"name": "http", "containerPort": PORT}],
                        "resources": {
                            "requests": {"cpu": format!("{}m", plan.cpu_request_millis), "memory": format!("{}Mi", plan.memory_request_bytes >> 20)},
                            "limits": {"memory": format!("{}Mi", plan.memory_limit_bytes >> 20)}
                        },
                        "startupProbe": {"httpGet": {"path": "/v2/health/ready", "port": "http"}, "periodSeconds": 2, "failureThreshold": 60},
                        "livenessProbe": probe("/v2/health/live", 10),
                        "readinessProbe": probe("/v2/health/ready", 5),
                        "volumeMounts": [{"name": "models", "mountPath": "/models", "readOnly": true}],
                        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}}
                    }],
                    "volumes": [volume]
                }
            }
        }
    });
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(&name),
        "spec": {"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
    });
    let hpa = json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(&name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": plan.replicas,
            "maxReplicas": plan.max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": (TARGET_UTILISATION * 100.0) as i32}}}]
        }
    });
    let pdb = json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(&name),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}}
    });
    let mut all = Vec::new();
    if placement.model_image.is_none() {
        all.push(json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": meta(&claim),
            "spec": {
                "accessModes": ["ReadOnlyMany"],
                "resources": {"requests": {"storage": format!("{}Mi", round_up(profile.file_bytes * 2 + (16 << 20), 1 << 20) >> 20)}}
            }
        }));
    }
    all.extend([deployment, service, hpa, pdb]);
    all
}

/// The manifests as one YAML stream (`---` between documents).
pub fn to_yaml(manifests: &[Value]) -> Result<String> {
    let mut out = String::new();
    for m in manifests {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(m).map_err(|e| Error::Plan(format!("writing YAML: {e}")))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(mean_us: f64, p99_us: f64) -> ModelProfile {
        ModelProfile {
            name: "forest".into(),
            version: 1,
            file_bytes: 7 << 20,
            resident_bytes: 40 << 20,
            mean_secs: mean_us * 1e-6,
            p50_secs: mean_us * 1e-6,
            p99_secs: p99_us * 1e-6,
            runs: 1000,
        }
    }

    fn targets(rps: f64, p99_ms: f64) -> Targets {
        Targets { rps, p99_ms, max_replicas: None }
    }

    #[test]
    fn a_small_load_gets_two_small_pods() {
        // 100 rps x 40 µs / 0.6 = 6.7 millicores: the floor of 100m and 2 pods.
        let p = size(&profile(10.0, 20.0), &targets(100.0, 20.0)).expect("plan");
        assert_eq!((p.replicas, p.cpu_request_millis, p.max_replicas), (2, 100, 4));
        assert!(p.latency_met);
        assert_eq!(p.memory_request_bytes, (40 << 20) + MEMORY_HEADROOM_BYTES);
        assert_eq!(p.memory_limit_bytes, p.memory_request_bytes * 3 / 2);
    }

    #[test]
    fn a_large_load_scales_out_in_one_core_pods() {
        // 50,000 rps x 70 µs / 0.6 = 5.83 cores: 6 pods of 1000m (capacity 8,571 rps each).
        let p = size(&profile(40.0, 80.0), &targets(50_000.0, 20.0)).expect("plan");
        assert_eq!(p.cpu_request_millis, 1000);
        assert_eq!(p.replicas, 6);
        assert!((p.pod_capacity_rps - 0.6 / 70e-6).abs() < 1e-6);
        assert!(f64::from(p.replicas) * p.pod_capacity_rps >= 50_000.0);
        // In between: 2 pods, CPU rounded up to 100m.
        let mid = size(&profile(40.0, 80.0), &targets(10_000.0, 20.0)).expect("plan");
        assert_eq!((mid.replicas, mid.cpu_request_millis), (2, 600));
    }

    #[test]
    fn a_latency_target_replicas_cannot_meet_is_reported() {
        let p = size(&profile(3_000.0, 25_000.0), &targets(10.0, 20.0)).expect("plan");
        assert!(!p.latency_met);
        assert!((p.expected_p99_ms - 25.03).abs() < 1e-9);
        assert!(p.notes.iter().any(|n| n.contains("more replicas do not make one request faster")));
    }

    #[test]
    fn nonsense_targets_are_errors() {
        for (rps, p99) in [(0.0, 20.0), (-5.0, 20.0), (f64::NAN, 20.0), (10.0, 0.0), (10.0, f64::INFINITY)] {
            assert!(matches!(size(&profile(1.0, 2.0), &targets(rps, p99)), Err(Error::Plan(_))), "{rps} {p99}");
        }
    }

    #[test]
    fn manifests_parse_as_the_kubernetes_types() {
        use k8s_openapi::api::apps::v1::Deployment;
        use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
        use k8s_openapi::api::policy::v1::PodDisruptionBudget;
        let prof = profile(40.0, 80.0);
        let plan = size(&prof, &Targets { rps: 20_000.0, p99_ms: 20.0, max_replicas: Some(9) }).expect("plan");
        let placement = Placement { namespace: "ml".into(), image: "kubesage:test".into(), model_image: None };
        let yaml = to_yaml(&manifests(&prof, &plan, &placement)).expect("yaml");
        let docs: Vec<Value> = yaml
            .split("---\n")
            .filter(|d| !d.trim().is_empty())
            .map(|d| serde_saphyr::from_str(d).expect("each document parses"))
            .collect();
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().expect("kind")).collect();
        assert_eq!(
            kinds,
            ["PersistentVolumeClaim", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"]
        );

        let d: Deployment = serde_json::from_value(docs[1].clone()).expect("a Deployment");
        let spec = d.spec;
        assert_eq!(spec.replicas, Some(plan.replicas as i32));
        let pod = spec.template.spec.expect("pod spec");
        let c = &pod.containers[0];
        let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref()).expect("requests");
        assert_eq!(requests["cpu"].0, format!("{}m", plan.cpu_request_millis));
        let limits = c.resources.as_ref().and_then(|r| r.limits.as_ref()).expect("limits");
        assert!(!limits.contains_key("cpu"), "no CPU limit");
        assert_eq!(
            c.args.as_deref().map(|a| a[..3].to_vec()),
            Some(vec!["serve".into(), "--model-repository".into(), "/models".into()])
        );
        let ready = c.readiness_probe.as_ref().and_then(|p| p.http_get.as_ref()).expect("readiness");
        assert_eq!(ready.path.as_deref(), Some("/v2/health/ready"));
        let volume = &pod.volumes.expect("volumes")[0];
        assert_eq!(volume.persistent_volume_claim.as_ref().map(|c| c.claim_name.as_str()), Some("forest-models"));

        let hpa: HorizontalPodAutoscaler = serde_json::from_value(docs[3].clone()).expect("an HPA");
        let hspec = hpa.spec;
        assert_eq!((hspec.min_replicas, hspec.max_replicas), (Some(plan.replicas as i32), 9));
        let pdb: PodDisruptionBudget = serde_json::from_value(docs[4].clone()).expect("a PDB");
        assert!(pdb.spec.and_then(|s| s.max_unavailable).is_some());

        let with_image = Placement { model_image: Some("registry/models:1".into()), ..placement };
        let docs = manifests(&prof, &plan, &with_image);
        assert_eq!(docs[0]["kind"], "Deployment", "no claim when the model comes in an image");
        assert_eq!(docs[0]["spec"]["template"]["spec"]["volumes"][0]["image"]["reference"], "registry/models:1");
    }
}
