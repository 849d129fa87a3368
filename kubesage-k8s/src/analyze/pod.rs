//! Pods: scheduling, crashes, OOM kills, image pulls, configuration references, mounts,
//! evictions, probes, and pods stuck terminating.

use kubesage_core::model::{ConfigMap, Container, ContainerStatus, PersistentVolumeClaim, Pod, Secret, condition};
use kubesage_core::time::human_duration;
use kubesage_core::{AnalysisContext, Analyzer, Evidence, Finding, ObjectRef, Resource, ResourceKind, Severity};

use super::{controllers_of, warning_events, with_events};

/// Finds broken pods.
#[derive(Debug, Clone, Copy, Default)]
pub struct PodAnalyzer;

const NAME: &str = "pod";

/// Pending longer than this without a scheduling verdict is worth a warning.
const PENDING_GRACE_SECS: i64 = 300;
/// A pod with a deletion timestamp older than this is stuck.
const TERMINATING_GRACE_SECS: i64 = 600;

impl Analyzer for PodAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn reads(&self) -> &'static [ResourceKind] {
        &[
            ResourceKind::Pod,
            ResourceKind::ReplicaSet,
            ResourceKind::Job,
            ResourceKind::ConfigMap,
            ResourceKind::Secret,
            ResourceKind::PersistentVolumeClaim,
        ]
    }

    fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>) {
        for pod in &cx.cluster.pods {
            analyze_pod(cx, pod, out);
        }
    }
}

fn analyze_pod<'a>(cx: &AnalysisContext<'a>, pod: &'a Pod, out: &mut Vec<Finding>) {
    let me = pod.object_ref();
    let (ns, name) = (pod.metadata.namespace.as_str(), pod.metadata.name.as_str());
    let owners = controllers_of(cx, pod);
    let start = out.len();

    if pod.status.phase == "Succeeded" {
        return;
    }
    if pod.status.phase == "Failed" {
        if pod.status.reason == "Evicted" {
            out.push(
                Finding::new(NAME, "Evicted", Severity::Warning, me.clone(), format!("Pod was evicted: {}", first_sentence(&pod.status.message)))
                    .with_evidence(Evidence::field("status.phase", "Failed"))
                    .with_evidence(Evidence::field("status.reason", "Evicted"))
                    .with_evidence(Evidence::field("status.message", &pod.status.message))
                    .with_step("Evicted pods are not restarted; their controller made replacements. Check node pressure and the pod's requests against its real usage.")
                    .with_step(format!("Delete the leftover pod once understood: kubectl delete pod -n {ns} {name}")),
            );
        } else if !owners.iter().any(|o| o.kind == "Job") {
            let mut f =
                Finding::new(NAME, "Failed", Severity::Warning, me.clone(), "Pod failed and will not be restarted")
                    .with_evidence(Evidence::field("status.phase", "Failed"));
            if !pod.status.reason.is_empty() {
                f = f.with_evidence(Evidence::field("status.reason", &pod.status.reason));
            }
            f = terminated_evidence(f, pod);
            out.push(f.with_step(format!("kubectl logs -n {ns} {name} --all-containers")));
        }
        link_all(&mut out[start..], &owners);
        return;
    }

    if let Some(deleted) = cx.age(pod.metadata.deletion_timestamp.as_deref())
        && deleted > TERMINATING_GRACE_SECS
    {
        out.push(
                Finding::new(NAME, "StuckTerminating", Severity::Warning, me.clone(), format!("Pod has been terminating for {}", human_duration(deleted)))
                    .with_evidence(Evidence::field("metadata.deletionTimestamp", pod.metadata.deletion_timestamp.as_deref().unwrap_or_default()))
                    .with_step("Check finalizers and whether the node is reachable; a pod on a lost node is only removed once the node is.")
                    .with_step(format!("kubectl get pod -n {ns} {name} -o jsonpath='{{.metadata.finalizers}}'")),
            );
    }

    let missing = missing_references(cx, pod);
    let events = cx.index.events("Pod", ns, name);
    let mut config_error_reported = false;
    let mut mount_reported = false;

    // Scheduling.
    if let Some(sched) = condition(&pod.status.conditions, "PodScheduled").filter(|c| c.status == "False") {
        let fail_events = warning_events(cx, "Pod", ns, name, &["FailedScheduling"], 2);
        let mut f = Finding::new(
            NAME,
            "Unschedulable",
            Severity::Critical,
            me.clone(),
            format!("Pod cannot be scheduled: {}", first_sentence(&sched.message)),
        )
        .with_evidence(Evidence::condition(sched));
        f = with_events(f, &fail_events);
        for step in scheduling_steps(&sched.message) {
            f = f.with_step(step);
        }
        for claim in claims(pod) {
            f = f.with_link(ObjectRef::new("PersistentVolumeClaim", ns, claim));
        }
        out.push(f);
    } else if pod.status.phase == "Pending" && pod.spec.node_name.is_empty() {
        let age = cx.age(pod.metadata.creation_timestamp.as_deref()).unwrap_or(0);
        if age > PENDING_GRACE_SECS {
            out.push(
                Finding::new(
                    NAME,
                    "Pending",
                    Severity::Warning,
                    me.clone(),
                    format!("Pod has been pending for {} without being scheduled", human_duration(age)),
                )
                .with_evidence(Evidence::field("status.phase", "Pending"))
                .with_step("Check that the scheduler named in spec.schedulerName is running."),
            );
        }
    }

    // Volumes that cannot be mounted.
    let mount_events = warning_events(cx, "Pod", ns, name, &["FailedMount", "FailedAttachVolume"], 3);
    if !mount_events.is_empty() && !pod.is_ready() {
        let mut f = Finding::new(
            NAME,
            "FailedMount",
            Severity::Critical,
            me.clone(),
            format!("Volumes cannot be mounted: {}", first_sentence(&mount_events[0].message)),
        );
        f = with_events(f, &mount_events);
        for m in missing.iter().filter(|m| m.in_volume) {
            f = f.with_evidence(Evidence::message(&m.text));
        }
        for claim in claims(pod) {
            f = f.with_link(ObjectRef::new("PersistentVolumeClaim", ns, claim));
        }
        out.push(f.with_step(format!("kubectl describe pod -n {ns} {name}")));
        mount_reported = true;
    }

    // Containers.
    for cs in pod.all_container_statuses() {
        let container = pod.spec.containers.iter().chain(&pod.spec.init_containers).find(|c| c.name == cs.name);
        let waiting = cs.state.waiting.as_ref().map(|w| w.reason.as_str()).unwrap_or_default();
        let last = cs.last_state.terminated.as_ref();
        let oom = last.is_some_and(|t| t.reason == "OOMKilled")
            || cs.state.terminated.as_ref().is_some_and(|t| t.reason == "OOMKilled");
        match waiting {
            "CrashLoopBackOff" | "RunContainerError" if oom => {
                out.push(oom_finding(pod, cs, container, Severity::Critical))
            }
            "CrashLoopBackOff" => {
                let exit = last
                    .map(|t| {
                        format!(
                            "; last exit code {} ({})",
                            t.exit_code,
                            if t.reason.is_empty() { "no reason" } else { &t.reason }
                        )
                    })
                    .unwrap_or_default();
                let mut f = Finding::new(
                    NAME,
                    "CrashLoopBackOff",
                    Severity::Critical,
                    me.clone(),
                    format!("Container {} is crash-looping (restarted {} times{exit})", cs.name, cs.restart_count),
                )
                .with_evidence(Evidence::field(status_path(pod, cs, "state.waiting.reason"), "CrashLoopBackOff"))
                .with_evidence(Evidence::field(status_path(pod, cs, "restartCount"), cs.restart_count));
                if let Some(t) = last {
                    f = f.with_evidence(Evidence::field(
                        status_path(pod, cs, "lastState.terminated.exitCode"),
                        t.exit_code,
                    ));
                    if !t.message.is_empty() {
                        f = f.with_evidence(Evidence::field(
                            status_path(pod, cs, "lastState.terminated.message"),
                            &t.message,
                        ));
                    }
                    if let Some(hint) = exit_code_hint(t.exit_code) {
                        f = f.with_evidence(Evidence::message(hint));
                    }
                }
                f = with_events(f, &warning_events(cx, "Pod", ns, name, &["BackOff"], 1));
                out.push(f.with_step(format!("kubectl logs -n {ns} {name} -c {} --previous", cs.name)).with_step(
                    "Fix the error the previous run logged; the kubelet keeps restarting it with growing back-off.",
                ));
            }
            "ImagePullBackOff" | "ErrImagePull" | "InvalidImageName" | "ErrImageNeverPull" => {
                let image = container.map(|c| c.image.as_str()).unwrap_or(cs.image.as_str());
                let pull_events = warning_events(cx, "Pod", ns, name, &["Failed"], 2);
                let mut f = Finding::new(
                    NAME,
                    "ImagePullBackOff",
                    Severity::Critical,
                    me.clone(),
                    format!("Image {image} for container {} cannot be pulled", cs.name),
                )
                .with_evidence(Evidence::field(status_path(pod, cs, "state.waiting.reason"), waiting))
                .with_evidence(Evidence::field("spec.containers[].image", image));
                if let Some(msg) = cs.state.waiting.as_ref().map(|w| w.message.as_str()).filter(|m| !m.is_empty()) {
                    f = f.with_evidence(Evidence::field(status_path(pod, cs, "state.waiting.message"), msg));
                }
                f = with_events(f, &pull_events);
                let not_found = pull_events
                    .iter()
                    .any(|e| e.message.contains("not found") || e.message.contains("manifest unknown"));
                let denied =
                    pull_events.iter().any(|e| e.message.contains("denied") || e.message.contains("unauthorized"));
                if not_found {
                    f = f.with_step("The tag or digest does not exist in the registry: check the image reference for typos and that the build was pushed.");
                } else if denied {
                    f = f.with_step("The registry refused the pull: add or fix imagePullSecrets for this namespace's service account.");
                } else {
                    f = f.with_step(
                        "Check the image reference, registry reachability from the node, and imagePullSecrets.",
                    );
                }
                out.push(f);
            }
            "CreateContainerConfigError" => {
                let msg = cs.state.waiting.as_ref().map(|w| w.message.as_str()).unwrap_or_default();
                let mut f = Finding::new(
                    NAME,
                    "CreateContainerConfigError",
                    Severity::Critical,
                    me.clone(),
                    format!(
                        "Container {} cannot start: {}",
                        cs.name,
                        if msg.is_empty() { "its configuration is invalid" } else { msg }
                    ),
                )
                .with_evidence(Evidence::field(status_path(pod, cs, "state.waiting.reason"), waiting));
                if !msg.is_empty() {
                    f = f.with_evidence(Evidence::field(status_path(pod, cs, "state.waiting.message"), msg));
                }
                for m in
                    missing.iter().filter(|m| m.container.as_deref() == Some(cs.name.as_str()) || m.container.is_none())
                {
                    f = f.with_evidence(Evidence::message(&m.text));
                }
                out.push(
                    f.with_step("Create the missing ConfigMap or Secret (or key), or mark the reference optional."),
                );
                config_error_reported = true;
            }
            "CreateContainerError" | "RunContainerError" | "ContainerCannotRun" => {
                let msg = cs.state.waiting.as_ref().map(|w| w.message.as_str()).unwrap_or_default();
                out.push(
                    Finding::new(
                        NAME,
                        "ContainerCannotRun",
                        Severity::Critical,
                        me.clone(),
                        format!("Container {} cannot be started: {}", cs.name, first_sentence(msg)),
                    )
                    .with_evidence(Evidence::field(status_path(pod, cs, "state.waiting.reason"), waiting))
                    .with_evidence(Evidence::field(status_path(pod, cs, "state.waiting.message"), msg))
                    .with_step("Check the command, entrypoint and security context of the container."),
                );
            }
            _ if oom && cs.restart_count > 0 => out.push(oom_finding(pod, cs, container, Severity::Warning)),
            _ => {}
        }
    }

    // Probes, from events.
    let probe_events = warning_events(cx, "Pod", ns, name, &["Unhealthy"], 20);
    let readiness: Vec<_> =
        probe_events.iter().copied().filter(|e| e.message.starts_with("Readiness probe failed")).take(2).collect();
    let liveness: Vec<_> =
        probe_events.iter().copied().filter(|e| e.message.starts_with("Liveness probe failed")).take(2).collect();
    let crashing = out[start..].iter().any(|f| f.reason == "CrashLoopBackOff" || f.reason == "OOMKilled");
    if !readiness.is_empty() && !pod.is_ready() && pod.status.phase == "Running" {
        let mut f = Finding::new(
            NAME,
            "ReadinessProbeFailing",
            Severity::Warning,
            me.clone(),
            format!("Pod is running but not ready: {}", first_sentence(&readiness[0].message)),
        );
        if let Some(c) = condition(&pod.status.conditions, "Ready") {
            f = f.with_evidence(Evidence::condition(c));
        }
        out.push(
            with_events(f, &readiness)
                .with_step("The pod gets no Service traffic until the probe passes: check the probe's path and port, and what the app reports there.")
                .with_step(format!("kubectl logs -n {ns} {name}")),
        );
    }
    let restarts: i64 = pod.status.container_statuses.iter().map(|c| c.restart_count).sum();
    // A miss below the failure threshold restarts nothing: only report kills.
    let killed = restarts > 0 || events.iter().any(|e| e.reason == "Killing" && e.message.contains("liveness"));
    if !liveness.is_empty() && !crashing && killed {
        let mut f = Finding::new(
            NAME,
            "LivenessProbeFailing",
            Severity::Warning,
            me.clone(),
            format!("Liveness probe fails and the kubelet restarts the container ({restarts} restarts)"),
        )
        .with_evidence(Evidence::field("status.containerStatuses[].restartCount", restarts));
        f = with_events(f, &liveness);
        if let Some(kill) = events.iter().find(|e| e.reason == "Killing") {
            f = f.with_evidence(Evidence::event(kill));
        }
        out.push(f.with_step("A liveness probe that times out under load kills healthy pods: check its timeoutSeconds and failureThreshold against the app's latency."));
    }

    // Unresolved references on a pod whose containers have not (yet) failed on them.
    if !config_error_reported && !mount_reported && !missing.is_empty() && pod.status.phase != "Failed" {
        let mut f = Finding::new(
            NAME,
            "MissingReference",
            Severity::Warning,
            me.clone(),
            format!("Pod references {} that does not exist", missing[0].what),
        );
        for m in &missing {
            f = f.with_evidence(Evidence::message(&m.text));
        }
        out.push(f.with_step("The pod will fail to start again on its next restart or reschedule: create the object or drop the reference."));
    }

    link_all(&mut out[start..], &owners);
}

fn link_all(findings: &mut [Finding], owners: &[ObjectRef]) {
    for f in findings {
        for o in owners {
            if !f.links.contains(o) {
                f.links.push(o.clone());
            }
        }
    }
}

fn oom_finding(pod: &Pod, cs: &ContainerStatus, container: Option<&Container>, severity: Severity) -> Finding {
    let limit = container.and_then(|c| c.resources.limits.get("memory")).map(|l| l.as_str());
    let summary = match limit {
        Some(l) => format!(
            "Container {} was OOMKilled: it used more than its {l} memory limit (restarted {} times)",
            cs.name, cs.restart_count
        ),
        None => format!(
            "Container {} was OOMKilled by the node (restarted {} times); it has no memory limit",
            cs.name, cs.restart_count
        ),
    };
    let mut f = Finding::new(NAME, "OOMKilled", severity, pod.object_ref(), summary)
        .with_evidence(Evidence::field(status_path(pod, cs, "lastState.terminated.reason"), "OOMKilled"))
        .with_evidence(Evidence::field(status_path(pod, cs, "restartCount"), cs.restart_count));
    if let Some(t) = cs.last_state.terminated.as_ref() {
        f = f.with_evidence(Evidence::field(status_path(pod, cs, "lastState.terminated.exitCode"), t.exit_code));
    }
    if let Some(l) = limit {
        f = f.with_evidence(Evidence::field(format!("spec.containers[{}].resources.limits.memory", cs.name), l));
    }
    f.with_step("Raise the memory limit to the container's real peak (with headroom), or find what makes it grow.")
        .with_step(
            "Exit code 137 with reason OOMKilled means the kernel killed it; the app's logs usually end abruptly.",
        )
}

fn terminated_evidence(mut f: Finding, pod: &Pod) -> Finding {
    for cs in pod.all_container_statuses() {
        if let Some(t) = &cs.state.terminated {
            f = f.with_evidence(Evidence::field(status_path(pod, cs, "state.terminated.exitCode"), t.exit_code));
            if !t.reason.is_empty() {
                f = f.with_evidence(Evidence::field(status_path(pod, cs, "state.terminated.reason"), &t.reason));
            }
        }
    }
    f
}

/// `status.containerStatuses[api].restartCount`, naming the container by name.
fn status_path(pod: &Pod, cs: &ContainerStatus, field: &str) -> String {
    let list = if pod.status.init_container_statuses.iter().any(|c| std::ptr::eq(c, cs)) {
        "initContainerStatuses"
    } else {
        "containerStatuses"
    };
    format!("status.{list}[{}].{field}", cs.name)
}

fn exit_code_hint(code: i64) -> Option<&'static str> {
    Some(match code {
        1 => "exit code 1: the application exited with an error; its logs say why",
        2 => "exit code 2: misuse of a shell command or bad arguments",
        126 => "exit code 126: the command is not executable",
        127 => "exit code 127: the command was not found in the image",
        137 => "exit code 137: killed by SIGKILL (OOM kill or a failed liveness probe)",
        139 => "exit code 139: segmentation fault",
        143 => "exit code 143: terminated by SIGTERM",
        _ => return None,
    })
}

fn scheduling_steps(message: &str) -> Vec<String> {
    let mut steps = Vec::new();
    if message.contains("Insufficient") {
        steps.push(
            "No node has room for the pod's requests: lower the requests, or add nodes or a larger node pool."
                .to_owned(),
        );
    }
    if message.contains("untolerated taint") {
        steps.push("Some nodes are tainted (often NotReady or unreachable): fix those nodes or add a toleration if the pod may run there.".to_owned());
    }
    if message.contains("unschedulable") {
        steps.push("Some nodes are cordoned: uncordon them when their maintenance is done.".to_owned());
    }
    if message.contains("didn't match Pod's node affinity") || message.contains("node selector") {
        steps.push("No node carries the labels the pod's nodeSelector or affinity requires.".to_owned());
    }
    if message.contains("PersistentVolumeClaim") {
        steps.push("A claim the pod uses is not bound: see the PersistentVolumeClaim's finding.".to_owned());
    }
    if steps.is_empty() {
        steps.push("Read the scheduler's message above; kubectl describe pod shows the same verdict.".to_owned());
    }
    steps
}

fn first_sentence(s: &str) -> &str {
    let s = s.trim();
    if s.is_empty() {
        return "no message";
    }
    match s.find(". ") {
        Some(i) if i > 20 => &s[..i],
        _ => s,
    }
}

fn claims(pod: &Pod) -> impl Iterator<Item = &str> {
    pod.spec.volumes.iter().filter_map(|v| v.persistent_volume_claim.as_ref().map(|c| c.claim_name.as_str()))
}

struct Missing {
    /// A short phrase: `Secret ledger-db-credentials`.
    what: String,
    /// A sentence of evidence.
    text: String,
    /// The container whose env refers to it; `None` for volumes.
    container: Option<String>,
    /// Whether the reference is a volume.
    in_volume: bool,
}

/// References from a pod to ConfigMaps, Secrets (and their keys) and claims that do not
/// resolve. Only kinds that were read are checked.
fn missing_references<'a>(cx: &AnalysisContext<'a>, pod: &'a Pod) -> Vec<Missing> {
    let ns = pod.metadata.namespace.as_str();
    let cms = cx.cluster.is_loaded(ResourceKind::ConfigMap);
    let secrets = cx.cluster.is_loaded(ResourceKind::Secret);
    let pvcs = cx.cluster.is_loaded(ResourceKind::PersistentVolumeClaim);
    let mut out = Vec::new();
    let mut push = |what: String, text: String, container: Option<&str>, in_volume: bool| {
        if !out.iter().any(|m: &Missing| m.text == text) {
            out.push(Missing { what, text, container: container.map(str::to_owned), in_volume });
        }
    };
    for c in pod.spec.init_containers.iter().chain(&pod.spec.containers) {
        for env in &c.env {
            let Some(src) = &env.value_from else { continue };
            if let Some(r) = src.config_map_key_ref.as_ref().filter(|r| !r.optional && cms) {
                match cx.get::<ConfigMap>(ns, &r.name) {
                    None => push(
                        format!("ConfigMap {}", r.name),
                        format!(
                            "env {} of container {} reads ConfigMap {ns}/{} which does not exist",
                            env.name, c.name, r.name
                        ),
                        Some(&c.name),
                        false,
                    ),
                    Some(cm) if !cm.has_key(&r.key) => push(
                        format!("key {} of ConfigMap {}", r.key, r.name),
                        format!(
                            "env {} of container {} reads key {} of ConfigMap {ns}/{}, which has no such key (keys: {})",
                            env.name,
                            c.name,
                            r.key,
                            r.name,
                            cm.data_keys.join(", ")
                        ),
                        Some(&c.name),
                        false,
                    ),
                    Some(_) => {}
                }
            }
            if let Some(r) = src.secret_key_ref.as_ref().filter(|r| !r.optional && secrets) {
                match cx.get::<Secret>(ns, &r.name) {
                    None => push(
                        format!("Secret {}", r.name),
                        format!(
                            "env {} of container {} reads Secret {ns}/{} which does not exist",
                            env.name, c.name, r.name
                        ),
                        Some(&c.name),
                        false,
                    ),
                    Some(s) if !s.has_key(&r.key) => push(
                        format!("key {} of Secret {}", r.key, r.name),
                        format!(
                            "env {} of container {} reads key {} of Secret {ns}/{}, which has no such key",
                            env.name, c.name, r.key, r.name
                        ),
                        Some(&c.name),
                        false,
                    ),
                    Some(_) => {}
                }
            }
        }
        for from in &c.env_from {
            if let Some(r) = from
                .config_map_ref
                .as_ref()
                .filter(|r| !r.optional && cms && cx.get::<ConfigMap>(ns, &r.name).is_none())
            {
                push(
                    format!("ConfigMap {}", r.name),
                    format!("envFrom of container {} loads ConfigMap {ns}/{} which does not exist", c.name, r.name),
                    Some(&c.name),
                    false,
                );
            }
            if let Some(r) =
                from.secret_ref.as_ref().filter(|r| !r.optional && secrets && cx.get::<Secret>(ns, &r.name).is_none())
            {
                push(
                    format!("Secret {}", r.name),
                    format!("envFrom of container {} loads Secret {ns}/{} which does not exist", c.name, r.name),
                    Some(&c.name),
                    false,
                );
            }
        }
    }
    for v in &pod.spec.volumes {
        let projected = v.projected.iter().flat_map(|p| p.sources.iter());
        let cm_refs = v.config_map.iter().chain(projected.clone().filter_map(|s| s.config_map.as_ref()));
        let secret_refs = v.secret.iter().chain(projected.filter_map(|s| s.secret.as_ref()));
        for r in cm_refs.filter(|r| !r.optional && cms) {
            if cx.get::<ConfigMap>(ns, &r.name).is_none() {
                push(
                    format!("ConfigMap {}", r.name),
                    format!("volume {} mounts ConfigMap {ns}/{} which does not exist", v.name, r.name),
                    None,
                    true,
                );
            }
        }
        for r in secret_refs.filter(|r| !r.optional && secrets) {
            if cx.get::<Secret>(ns, &r.name).is_none() {
                push(
                    format!("Secret {}", r.name),
                    format!("volume {} mounts Secret {ns}/{} which does not exist", v.name, r.name),
                    None,
                    true,
                );
            }
        }
        if let Some(claim) = v.persistent_volume_claim.as_ref().filter(|_| pvcs)
            && cx.get::<PersistentVolumeClaim>(ns, &claim.claim_name).is_none()
        {
            push(
                format!("PersistentVolumeClaim {}", claim.claim_name),
                format!("volume {} uses PersistentVolumeClaim {ns}/{} which does not exist", v.name, claim.claim_name),
                None,
                true,
            );
        }
    }
    out
}
