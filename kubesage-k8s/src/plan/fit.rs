//! Whether planned pods fit a cluster's nodes, node by node, and why not.
//!
//! A node takes a pod when the scheduler's basic filters pass: the node is Ready and not
//! cordoned, every taint with effect `NoSchedule` or `NoExecute` is tolerated, the pod's node
//! selector matches the node's labels, and what is left of its allocatable CPU, memory and pod
//! count (allocatable minus the requests of the pods bound to it that have not finished) holds
//! the pod's requests. How many planned pods a node takes is the least of the three room
//! counts. Affinity, topology spread and ports are not modelled; the answer is an upper
//! bound the scheduler may not reach, never a promise beyond it.

use std::collections::BTreeMap;

use kubesage_core::Cluster;
use kubesage_core::model::{Node, Pod, condition};
use serde::Serialize;

use super::resources::parse_quantity;

/// The pods to place.
#[derive(Debug, Clone, PartialEq)]
pub struct PodShape {
    /// CPU request per pod, in millicores.
    pub cpu_millis: u64,
    /// Memory request per pod, in bytes.
    pub memory_bytes: u64,
    /// How many.
    pub replicas: u32,
    /// The pods' node selector.
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations as `key[=value][:effect]`; a bare `key` tolerates any value and effect.
    pub tolerations: Vec<String>,
}

/// One node's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeFit {
    /// The node.
    pub node: String,
    /// Planned pods it can take (0 when a filter refuses it).
    pub pods: u32,
    /// CPU left, in millicores.
    pub free_cpu_millis: i64,
    /// Memory left, in bytes.
    pub free_memory_bytes: i64,
    /// Pod slots left.
    pub free_pods: i64,
    /// Why it takes no pod (or fewer): empty when it takes at least one and room is not the limit.
    pub reasons: Vec<String>,
}

/// The cluster's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitReport {
    /// Per node, in name order.
    pub nodes: Vec<NodeFit>,
    /// Planned pods the cluster can take in all.
    pub capacity: u32,
    /// Planned pods asked for.
    pub replicas: u32,
    /// Whether all of them fit.
    pub fits: bool,
}

fn tolerates(tolerations: &[String], key: &str, value: &str, effect: &str) -> bool {
    tolerations.iter().any(|t| {
        let (kv, eff) = t.split_once(':').map_or((t.as_str(), None), |(a, b)| (a, Some(b)));
        let (k, v) = kv.split_once('=').map_or((kv, None), |(a, b)| (a, Some(b)));
        (k.is_empty() || k == key) && v.is_none_or(|v| v == value) && eff.is_none_or(|e| e == effect)
    })
}

fn requests(pod: &Pod) -> (f64, f64) {
    let sum = |name: &str| -> f64 {
        let main: f64 = pod
            .spec
            .containers
            .iter()
            .filter_map(|c| c.resources.requests.get(name).and_then(|q| parse_quantity(q)))
            .sum();
        // Init containers run one at a time before the others: the pod reserves the largest.
        let init = pod
            .spec
            .init_containers
            .iter()
            .filter_map(|c| c.resources.requests.get(name).and_then(|q| parse_quantity(q)))
            .fold(0.0, f64::max);
        main.max(init)
    };
    (sum("cpu"), sum("memory"))
}

fn node_fit(node: &Node, pods: &[&Pod], shape: &PodShape) -> NodeFit {
    let name = node.metadata.name.to_string();
    let mut reasons = Vec::new();
    if condition(&node.status.conditions, "Ready").is_none_or(|c| c.status != "True") {
        reasons.push("not Ready".to_owned());
    }
    if node.spec.unschedulable {
        reasons.push("cordoned (unschedulable)".to_owned());
    }
    for t in &node.spec.taints {
        if (t.effect == "NoSchedule" || t.effect == "NoExecute")
            && !tolerates(&shape.tolerations, &t.key, &t.value, &t.effect)
        {
            reasons.push(format!("taint {}={}:{} not tolerated", t.key, t.value, t.effect));
        }
    }
    for (k, v) in &shape.node_selector {
        match node.metadata.labels.get(k.as_str()) {
            Some(have) if have == v => {}
            Some(have) => reasons.push(format!("node selector {k}={v}: the node has {k}={have}")),
            None => reasons.push(format!("node selector {k}={v}: the node has no label {k}")),
        }
    }
    let allocatable = |key: &str| node.status.allocatable.get(key).and_then(|q| parse_quantity(q)).unwrap_or(0.0);
    let (mut used_cpu, mut used_memory) = (0.0, 0.0);
    for pod in pods {
        let (c, m) = requests(pod);
        used_cpu += c;
        used_memory += m;
    }
    let free_cpu_millis = ((allocatable("cpu") - used_cpu) * 1000.0).floor() as i64;
    let free_memory_bytes = (allocatable("memory") - used_memory).floor() as i64;
    let free_pods = allocatable("pods") as i64 - pods.len() as i64;
    let room = |free: i64, each: u64| if each == 0 { i64::MAX } else { free.max(0) / each as i64 };
    let by_cpu = room(free_cpu_millis, shape.cpu_millis);
    let by_memory = room(free_memory_bytes, shape.memory_bytes);
    let by_pods = free_pods.max(0);
    let fit = by_cpu.min(by_memory).min(by_pods);
    if reasons.is_empty() && fit < i64::from(shape.replicas) {
        let limit = if fit == by_cpu {
            format!("CPU: {free_cpu_millis}m free, {}m per pod", shape.cpu_millis)
        } else if fit == by_memory {
            format!("memory: {} MiB free, {} MiB per pod", free_memory_bytes >> 20, shape.memory_bytes >> 20)
        } else {
            format!("pods: {free_pods} slots free")
        };
        reasons.push(format!("room for {fit}: {limit}"));
    }
    let pods_here =
        if reasons.iter().any(|r| !r.starts_with("room for")) { 0 } else { fit.clamp(0, i64::from(u32::MAX)) as u32 };
    NodeFit { node: name, pods: pods_here, free_cpu_millis, free_memory_bytes, free_pods, reasons }
}

/// Checks where `shape`'s pods fit in `cluster`.
pub fn fit(cluster: &Cluster, shape: &PodShape) -> FitReport {
    let mut by_node: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
    for pod in &cluster.pods {
        let done = pod.status.phase == "Succeeded" || pod.status.phase == "Failed";
        if !pod.spec.node_name.is_empty() && !done {
            by_node.entry(pod.spec.node_name.as_str()).or_default().push(pod);
        }
    }
    let mut nodes: Vec<NodeFit> = cluster
        .nodes
        .iter()
        .map(|n| node_fit(n, by_node.get(n.metadata.name.as_str()).map_or(&[][..], Vec::as_slice), shape))
        .collect();
    nodes.sort_by(|a, b| a.node.cmp(&b.node));
    let capacity = nodes.iter().map(|n| n.pods).fold(0u32, u32::saturating_add);
    FitReport { nodes, capacity, replicas: shape.replicas, fits: capacity >= shape.replicas }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, cpu: &str, memory: &str, extra: serde_json::Value) -> Node {
        let mut v = serde_json::json!({
            "metadata": {"name": name, "labels": {"pool": "general"}},
            "spec": {},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]}
        });
        merge(&mut v, extra);
        serde_json::from_value(v).expect("node")
    }

    fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    fn pod(node: &str, cpu: &str, memory: &str, phase: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("p-{node}-{cpu}"), "namespace": "x"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]},
            "status": {"phase": phase}
        }))
        .expect("pod")
    }

    fn shape(replicas: u32) -> PodShape {
        PodShape {
            cpu_millis: 500,
            memory_bytes: 512 << 20,
            replicas,
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
        }
    }

    #[test]
    fn room_is_allocatable_minus_running_requests() {
        let cluster = Cluster {
            nodes: vec![node("a", "2", "4Gi", serde_json::json!({}))],
            pods: vec![pod("a", "900m", "1Gi", "Running"), pod("a", "1", "1Gi", "Succeeded")],
            ..Cluster::default()
        };
        let r = fit(&cluster, &shape(3));
        // 2000m - 900m = 1100m: two pods of 500m (memory would allow six).
        assert_eq!(r.nodes[0].free_cpu_millis, 1100);
        assert_eq!(r.nodes[0].free_memory_bytes, 3 << 30);
        assert_eq!(r.nodes[0].pods, 2);
        assert!(r.nodes[0].reasons[0].starts_with("room for 2: CPU"), "{:?}", r.nodes[0].reasons);
        assert_eq!((r.capacity, r.fits), (2, false));
        assert!(fit(&cluster, &shape(2)).fits);
    }

    #[test]
    fn filters_refuse_nodes_with_reasons() {
        let cluster = Cluster {
            nodes: vec![
                node("cordoned", "8", "16Gi", serde_json::json!({"spec": {"unschedulable": true}})),
                node(
                    "tainted",
                    "8",
                    "16Gi",
                    serde_json::json!({"spec": {"taints": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]}}),
                ),
                node(
                    "notready",
                    "8",
                    "16Gi",
                    serde_json::json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
                ),
                node("other-pool", "8", "16Gi", serde_json::json!({"metadata": {"labels": {"pool": "batch"}}})),
                node(
                    "soft-taint",
                    "1",
                    "16Gi",
                    serde_json::json!({"spec": {"taints": [{"key": "x", "effect": "PreferNoSchedule"}]}}),
                ),
            ],
            ..Cluster::default()
        };
        let mut s = shape(4);
        s.node_selector.insert("pool".into(), "general".into());
        let r = fit(&cluster, &s);
        let reasons: BTreeMap<&str, String> = r.nodes.iter().map(|n| (n.node.as_str(), n.reasons.join("; "))).collect();
        assert_eq!(reasons["cordoned"], "cordoned (unschedulable)");
        assert_eq!(reasons["tainted"], "taint gpu=yes:NoSchedule not tolerated");
        assert_eq!(reasons["notready"], "not Ready");
        assert_eq!(reasons["other-pool"], "node selector pool=general: the node has pool=batch");
        assert!(reasons["soft-taint"].starts_with("room for 2"), "PreferNoSchedule only prefers");
        assert_eq!(r.capacity, 2);
        s.tolerations.push("gpu=yes:NoSchedule".into());
        // Tolerated, the tainted node takes 8000m / 500m = 16 pods.
        assert_eq!(fit(&cluster, &s).capacity, 2 + 16);
        s.tolerations = vec!["gpu".into()];
        assert_eq!(fit(&cluster, &s).capacity, 18, "a bare key tolerates any value and effect");
        s.tolerations = vec!["gpu=no".into()];
        assert_eq!(fit(&cluster, &s).capacity, 2, "another value is not tolerated");
    }

    #[test]
    fn the_demo_cluster_answers() {
        let cluster = crate::source::demo::cluster().expect("demo");
        let r = fit(&cluster, &shape(2));
        assert_eq!(r.nodes.len(), cluster.nodes.len());
        assert!(r.nodes.iter().all(|n| n.pods == 0 || n.reasons.iter().all(|x| x.starts_with("room for"))));
    }
}
