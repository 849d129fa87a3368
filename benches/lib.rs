//! Shared code for KubeSage benchmarks: generators of large, realistic cluster snapshots and
//! of CPU-like metric series.

use std::fmt::Write as _;

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
