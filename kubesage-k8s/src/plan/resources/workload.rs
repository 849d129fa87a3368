//! Which workload a pod belongs to, and what its containers request today.
//!
//! With a cluster (live, snapshot or demo) the owner references decide: a pod owned by a
//! ReplicaSet that a Deployment owns belongs to the Deployment; StatefulSets, DaemonSets and
//! Jobs own their pods directly (a Job a CronJob owns belongs to the CronJob). Current
//! requests and limits come from the workload's pod template, or from the pod when the
//! workload itself is not in the cluster read.
//!
//! Without a cluster, or for a pod the cluster does not hold, the pod name decides: the
//! `-<pod-template-hash>-<suffix>` a Deployment's pods carry, the `-<ordinal>` of a
//! StatefulSet's, or the `-<suffix>` of a DaemonSet's or Job's are stripped.

use std::collections::{BTreeMap, HashMap};

use kubesage_core::Cluster;
use kubesage_core::model::{Container, PodTemplate};
use serde::{Deserialize, Serialize};

use super::quantity::parse_quantity;

/// A workload: what a patch applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WorkloadRef {
    /// The namespace.
    pub namespace: String,
    /// `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `CronJob`, `ReplicaSet`, `Pod`; `None`
    /// when guessed from a pod name that does not say (a DaemonSet's or a Job's pods look alike).
    pub kind: Option<String>,
    /// The workload's name.
    pub name: String,
}

/// Requests and limits of one container, CPU in millicores and memory in bytes; `None`
/// where unset or unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceValues {
    /// CPU request, millicores.
    pub cpu_request_millicores: Option<u64>,
    /// CPU limit, millicores.
    pub cpu_limit_millicores: Option<u64>,
    /// Memory request, bytes.
    pub memory_request_bytes: Option<u64>,
    /// Memory limit, bytes.
    pub memory_limit_bytes: Option<u64>,
}

impl ResourceValues {
    /// A container spec's requests and limits. Kubernetes defaults an unset request to the
    /// limit; that is applied here too. Quantities that do not parse are left unknown.
    pub fn of(container: &Container) -> ResourceValues {
        let get =
            |map: &BTreeMap<kubesage_core::CompactString, kubesage_core::CompactString>, key: &str, scale: f64| {
                map.get(key).and_then(|q| parse_quantity(q)).map(|v| (v * scale).ceil() as u64)
            };
        let r = &container.resources;
        let cpu_limit = get(&r.limits, "cpu", 1000.0);
        let memory_limit = get(&r.limits, "memory", 1.0);
        ResourceValues {
            cpu_request_millicores: get(&r.requests, "cpu", 1000.0).or(cpu_limit),
            cpu_limit_millicores: cpu_limit,
            memory_request_bytes: get(&r.requests, "memory", 1.0).or(memory_limit),
            memory_limit_bytes: memory_limit,
        }
    }
}

/// A pod's workload and its containers' current resources.
#[derive(Debug, Clone, PartialEq)]
pub struct PodWorkload {
    /// The workload.
    pub workload: WorkloadRef,
    /// Current requests and limits per container name.
    pub containers: BTreeMap<String, ResourceValues>,
}

/// Pods of a cluster mapped to their workloads.
#[derive(Debug, Clone, Default)]
pub struct ClusterWorkloads {
    pods: HashMap<(String, String), PodWorkload>,
}

impl ClusterWorkloads {
    /// Follows every pod's controller references up to its top-level workload.
    pub fn from_cluster(cluster: &Cluster) -> ClusterWorkloads {
        let key = |ns: &str, name: &str| (ns.to_owned(), name.to_owned());
        let mut templates: HashMap<(&str, String, String), &PodTemplate> = HashMap::new();
        for d in &cluster.deployments {
            templates.insert(
                ("Deployment", d.metadata.namespace.to_string(), d.metadata.name.to_string()),
                &d.spec.template,
            );
        }
        for s in &cluster.stateful_sets {
            templates.insert(
                ("StatefulSet", s.metadata.namespace.to_string(), s.metadata.name.to_string()),
                &s.spec.template,
            );
        }
        for s in &cluster.daemon_sets {
            templates
                .insert(("DaemonSet", s.metadata.namespace.to_string(), s.metadata.name.to_string()), &s.spec.template);
        }
        let replica_set_owner: HashMap<(String, String), (String, String)> = cluster
            .replica_sets
            .iter()
            .filter_map(|rs| {
                let owner = rs.metadata.owner_references.iter().find(|o| o.controller)?;
                Some((key(&rs.metadata.namespace, &rs.metadata.name), (owner.kind.to_string(), owner.name.to_string())))
            })
            .collect();
        let job_owner: HashMap<(String, String), (String, String)> = cluster
            .jobs
            .iter()
            .filter_map(|job| {
                let owner = job.metadata.owner_references.iter().find(|o| o.controller)?;
                Some((
                    key(&job.metadata.namespace, &job.metadata.name),
                    (owner.kind.to_string(), owner.name.to_string()),
                ))
            })
            .collect();

        let mut pods = HashMap::new();
        for pod in &cluster.pods {
            let ns = pod.metadata.namespace.to_string();
            let (mut kind, mut name) = match pod.metadata.owner_references.iter().find(|o| o.controller) {
                Some(o) => (o.kind.to_string(), o.name.to_string()),
                None => ("Pod".to_owned(), pod.metadata.name.to_string()),
            };
            let parents = match kind.as_str() {
                "ReplicaSet" => &replica_set_owner,
                "Job" => &job_owner,
                _ => &HashMap::new(),
            };
            if let Some((k, n)) = parents.get(&key(&ns, &name)) {
                (kind, name) = (k.clone(), n.clone());
            }
            let template = templates.get(&(kind.as_str(), ns.clone(), name.clone()));
            let specs = template.map(|t| &t.spec.containers).unwrap_or(&pod.spec.containers);
            let containers = specs.iter().map(|c| (c.name.to_string(), ResourceValues::of(c))).collect();
            let workload = WorkloadRef { namespace: ns.clone(), kind: Some(kind), name };
            pods.insert((ns, pod.metadata.name.to_string()), PodWorkload { workload, containers });
        }
        ClusterWorkloads { pods }
    }

    /// The workload of pod `pod` in `namespace`, if the cluster holds the pod.
    pub fn pod(&self, namespace: &str, pod: &str) -> Option<&PodWorkload> {
        self.pods.get(&(namespace.to_owned(), pod.to_owned()))
    }

    /// The number of pods known.
    pub fn len(&self) -> usize {
        self.pods.len()
    }

    /// Whether no pod is known.
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }
}

/// The characters Kubernetes uses in generated name suffixes and pod-template hashes
/// (no vowels, no `0`, `1`, `3`: `bcdfghjklmnpqrstvwxz2456789`).
fn is_generated(segment: &str, lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&segment.len()) && segment.bytes().all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
}

/// Guesses a pod's workload from its name alone.
///
/// ```
/// use kubesage_k8s::plan::resources::workload_from_pod_name;
/// let w = workload_from_pod_name("shop", "web-7d4b9c8f6d-x2x9k");
/// assert_eq!((w.kind.as_deref(), w.name.as_str()), (Some("Deployment"), "web"));
/// let w = workload_from_pod_name("shop", "db-0");
/// assert_eq!((w.kind.as_deref(), w.name.as_str()), (Some("StatefulSet"), "db"));
/// let w = workload_from_pod_name("monitoring", "node-exporter-x2x9k");
/// assert_eq!((w.kind, w.name.as_str()), (None, "node-exporter"));
/// ```
pub fn workload_from_pod_name(namespace: &str, pod: &str) -> WorkloadRef {
    let parts: Vec<&str> = pod.split('-').collect();
    let n = parts.len();
    let (kind, name) = if n >= 3 && is_generated(parts[n - 1], 5..=5) && is_generated(parts[n - 2], 6..=10) {
        (Some("Deployment"), parts[..n - 2].join("-"))
    } else if n >= 2 && !parts[n - 1].is_empty() && parts[n - 1].bytes().all(|b| b.is_ascii_digit()) {
        (Some("StatefulSet"), parts[..n - 1].join("-"))
    } else if n >= 2 && is_generated(parts[n - 1], 5..=5) {
        (None, parts[..n - 1].join("-"))
    } else {
        (Some("Pod"), pod.to_owned())
    };
    WorkloadRef { namespace: namespace.to_owned(), kind: kind.map(str::to_owned), name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_names_without_generated_suffixes_stay_pods() {
        let w = workload_from_pod_name("n", "standalone");
        assert_eq!((w.kind.as_deref(), w.name.as_str()), (Some("Pod"), "standalone"));
        // "aeiou" cannot be generated: vowels are never used.
        let w = workload_from_pod_name("n", "my-app-aeiou");
        assert_eq!(w.name, "my-app-aeiou");
        let w = workload_from_pod_name("n", "api-server-5f6b7c8d9-abcde");
        assert_eq!(w.name, "api-server-5f6b7c8d9-abcde", "a vowel in the suffix");
        let w = workload_from_pod_name("n", "api-server-5f6b7c8d9-bcdfg");
        assert_eq!((w.kind.as_deref(), w.name.as_str()), (Some("Deployment"), "api-server"));
    }

    #[test]
    fn requests_default_to_limits_and_bad_quantities_are_unknown() {
        let yaml = r#"{"name":"c","resources":{"limits":{"cpu":"500m","memory":"1Gi"},"requests":{"memory":"lots"}}}"#;
        let c: Container = serde_json::from_str(yaml).expect("container");
        let v = ResourceValues::of(&c);
        assert_eq!(v.cpu_request_millicores, Some(500));
        assert_eq!(v.cpu_limit_millicores, Some(500));
        assert_eq!(v.memory_request_bytes, Some(1 << 30), "unparseable request falls back to the limit");
    }
}
