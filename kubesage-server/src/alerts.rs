//! Alerts from Alertmanager, with the findings and anomalies that explain them.
//!
//! Alertmanager's webhook (payload version 4) posts groups of alerts; each alert's labels
//! name Kubernetes objects the way kube-state-metrics and the Prometheus Operator's rules do
//! (`namespace`, `pod`, `deployment`, `node`, ...). Each alert is stored under its
//! fingerprint with the active findings about those objects (and the findings linked to them
//! as the same root cause) and the anomalies detected in series about them, as they stood
//! when the notification arrived. Later notifications for the same alert (repeats,
//! resolution) update it in place.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use kubesage_core::{Finding, ObjectRef, TrackedFinding, fingerprint};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Alertmanager's webhook payload (version 4).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    /// Payload version; Alertmanager sends `"4"`.
    #[serde(default)]
    pub version: String,
    /// The group's key.
    #[serde(default)]
    pub group_key: String,
    /// Alerts Alertmanager left out because of `max_alerts`.
    #[serde(default, deserialize_with = "count")]
    #[schema(minimum = 0)]
    pub truncated_alerts: i64,
    /// `firing` or `resolved`: the group's status.
    #[serde(default)]
    pub status: String,
    /// The receiver's name.
    #[serde(default)]
    pub receiver: String,
    /// Labels the group is keyed by.
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    /// Labels every alert of the group shares.
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    /// Annotations every alert of the group shares.
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    /// Alertmanager's URL.
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
    /// The alerts.
    pub alerts: Vec<WebhookAlert>,
}

/// A non-negative count, also when a sender writes it as `3.0` (JSON does not tell the two apart).
fn count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    let value = n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64));
    value.filter(|v| *v >= 0).ok_or_else(|| serde::de::Error::custom(format!("expected a count, got {n}")))
}

/// One alert of a webhook payload.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    /// `firing` or `resolved`.
    #[serde(default)]
    pub status: String,
    /// The alert's labels (`alertname`, `namespace`, `pod`, `severity`, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The alert's annotations (`summary`, `description`, `runbook_url`).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When it started firing (RFC 3339).
    #[serde(default)]
    pub starts_at: String,
    /// When it ended (RFC 3339); `0001-01-01T00:00:00Z` while firing.
    #[serde(default)]
    pub ends_at: String,
    /// The link to the rule's expression in Prometheus.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    /// Alertmanager's fingerprint of the label set.
    #[serde(default)]
    pub fingerprint: String,
}

/// A received alert with what KubeSage knows about it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StoredAlert {
    /// Alertmanager's fingerprint (or one computed from the labels when absent).
    pub fingerprint: String,
    /// `firing` or `resolved`, from the latest notification.
    pub status: String,
    /// The alert's labels.
    pub labels: BTreeMap<String, String>,
    /// The alert's annotations.
    pub annotations: BTreeMap<String, String>,
    /// When it started (RFC 3339, as Alertmanager sent it).
    pub starts_at: String,
    /// When it ended, if it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// The rule's link in Prometheus.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub generator_url: String,
    /// The receiver that sent it.
    pub receiver: String,
    /// When KubeSage first received it (RFC 3339).
    pub first_received: String,
    /// When KubeSage last received it (RFC 3339).
    pub last_received: String,
    /// Notifications received for it.
    pub notifications: u64,
    /// The Kubernetes objects its labels name.
    pub objects: Vec<ObjectRef>,
    /// Active findings about those objects and their related findings, when last received.
    pub findings: Vec<TrackedFinding>,
    /// Anomalies detected in series about those objects: posted to `/v1/anomaly/detect`,
    /// or found in the alert's own expression (see `prometheus_check`).
    pub anomalies: Vec<Finding>,
    /// The look at the alert's expression in Prometheus, when a Prometheus is configured and
    /// the generator URL carries the expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_check: Option<PrometheusCheck>,
}

/// What querying the alert's expression in Prometheus found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PrometheusCheck {
    /// The PromQL expression, from the generator URL.
    pub query: String,
    /// `pending`, `done` or `failed`.
    pub status: String,
    /// Series the expression returned.
    pub series: usize,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The PromQL expression in a Prometheus generator URL (`...graph?g0.expr=<expr>&g0.tab=1`).
pub fn expression_of(generator_url: &str) -> Option<String> {
    let query = generator_url.split_once('?')?.1;
    let raw = query.split('&').find_map(|pair| pair.strip_prefix("g0.expr="))?;
    let decoded = percent_decode(raw)?;
    (!decoded.trim().is_empty()).then_some(decoded)
}

/// Decodes `%XX` escapes and `+` (a space in a query string); `None` when malformed.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The alerts received, bounded, least recently updated dropped first.
#[derive(Debug, Default)]
pub struct AlertStore {
    by_fingerprint: HashMap<String, StoredAlert>,
    order: VecDeque<String>,
}

impl AlertStore {
    /// Stores or updates an alert, keeping at most `max`.
    pub fn upsert(&mut self, alert: StoredAlert, max: usize) {
        let key = alert.fingerprint.clone();
        if self.by_fingerprint.insert(key.clone(), alert).is_some() {
            self.order.retain(|k| *k != key);
        }
        self.order.push_back(key);
        while self.order.len() > max.max(1) {
            if let Some(old) = self.order.pop_front() {
                self.by_fingerprint.remove(&old);
            }
        }
    }

    /// An alert by fingerprint.
    pub fn get(&self, fingerprint: &str) -> Option<&StoredAlert> {
        self.by_fingerprint.get(fingerprint)
    }

    /// Alerts, most recently updated first.
    pub fn iter(&self) -> impl Iterator<Item = &StoredAlert> {
        self.order.iter().rev().filter_map(|k| self.by_fingerprint.get(k))
    }

    /// Changes a stored alert in place; false when it is no longer stored.
    pub fn update(&mut self, fingerprint: &str, change: impl FnOnce(&mut StoredAlert)) -> bool {
        match self.by_fingerprint.get_mut(fingerprint) {
            Some(alert) => {
                change(alert);
                true
            }
            None => false,
        }
    }

    /// How many alerts are stored.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Label names that name an object of a kind, as kube-state-metrics and common alert rules
/// spell them. `job` and `service` are deliberately absent: on scraped series they name the
/// scrape job and the Service that was scraped (`kube-state-metrics`), not the subject.
const OBJECT_LABELS: &[(&str, &str)] = &[
    ("pod", "Pod"),
    ("deployment", "Deployment"),
    ("statefulset", "StatefulSet"),
    ("daemonset", "DaemonSet"),
    ("replicaset", "ReplicaSet"),
    ("job_name", "Job"),
    ("cronjob", "CronJob"),
    ("persistentvolumeclaim", "PersistentVolumeClaim"),
    ("horizontalpodautoscaler", "HorizontalPodAutoscaler"),
    ("ingress", "Ingress"),
];

/// The objects an alert's labels name, and the namespace when they name only that.
pub fn objects_of(labels: &BTreeMap<String, String>) -> (Vec<ObjectRef>, Option<String>) {
    let get = |k: &str| labels.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let namespace = get("namespace").or_else(|| get("exported_namespace"));
    let mut objects = Vec::new();
    if let Some(ns) = namespace {
        for (label, kind) in OBJECT_LABELS {
            if let Some(name) = get(label) {
                objects.push(ObjectRef::new(*kind, ns, name));
            }
        }
    }
    for label in ["node", "kubernetes_node"] {
        if let Some(node) = get(label) {
            objects.push(ObjectRef::new("Node", "", node));
            break;
        }
    }
    if let Some(pv) = get("persistentvolume") {
        objects.push(ObjectRef::new("PersistentVolume", "", pv));
    }
    let namespace_only = objects.is_empty().then(|| namespace.map(str::to_owned)).flatten();
    (objects, namespace_only)
}

/// Most findings attached to one alert that names only a namespace.
const NAMESPACE_FINDINGS: usize = 20;

/// The findings that bear on an alert: those about the objects it names, the findings
/// linked to them as the same root cause, or (for an alert naming only a namespace) the most
/// severe findings in that namespace.
pub fn findings_for(
    objects: &[ObjectRef],
    namespace_only: Option<&str>,
    active: &[TrackedFinding],
) -> Vec<TrackedFinding> {
    let mut chosen: BTreeSet<usize> = BTreeSet::new();
    let index: HashMap<&str, usize> = active.iter().enumerate().map(|(i, t)| (t.finding.id.as_str(), i)).collect();
    for (i, t) in active.iter().enumerate() {
        if objects.contains(&t.finding.object) {
            chosen.insert(i);
            chosen.extend(t.finding.related.iter().filter_map(|id| index.get(id.as_str()).copied()));
        }
    }
    if let Some(ns) = namespace_only {
        // `active` is most severe first, so the first ones are the ones to show.
        chosen.extend(
            active
                .iter()
                .enumerate()
                .filter(|(_, t)| t.finding.object.namespace.as_deref() == Some(ns))
                .map(|(i, _)| i)
                .take(NAMESPACE_FINDINGS),
        );
    }
    chosen.into_iter().map(|i| active[i].clone()).collect()
}

/// The anomaly findings about the alert's objects (or its namespace).
pub fn anomalies_for<'a>(
    objects: &[ObjectRef],
    namespace_only: Option<&str>,
    anomalies: impl Iterator<Item = &'a Finding>,
) -> Vec<Finding> {
    anomalies
        .filter(|a| {
            objects.contains(&a.object)
                || namespace_only.is_some_and(|ns| {
                    a.object.namespace.as_deref() == Some(ns) || (a.object.kind == "Namespace" && a.object.name == ns)
                })
        })
        .cloned()
        .collect()
}

/// The fingerprint to store an alert under: Alertmanager's, or (for senders that leave it
/// out) a stable hash of the sorted labels.
pub fn alert_key(alert: &WebhookAlert) -> String {
    if !alert.fingerprint.is_empty() {
        return alert.fingerprint.clone();
    }
    let text: Vec<String> = alert.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    fingerprint("alert", &text.join(","), &ObjectRef::new("Alert", "", ""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubesage_core::{FindingStatus, Severity};

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn tracked(kind: &str, ns: &str, name: &str) -> TrackedFinding {
        TrackedFinding {
            finding: Finding::new("x", "Broken", Severity::Critical, ObjectRef::new(kind, ns, name), "broken"),
            status: FindingStatus::Active,
            first_seen: String::new(),
            last_seen: String::new(),
            resolved_at: None,
        }
    }

    #[test]
    fn labels_name_objects_and_job_is_not_a_kubernetes_job() {
        let (objects, ns) = objects_of(&labels(&[
            ("alertname", "KubePodCrashLooping"),
            ("namespace", "shop"),
            ("pod", "cart-1"),
            ("job", "kube-state-metrics"),
            ("node", "n1"),
        ]));
        assert_eq!(objects, vec![ObjectRef::new("Pod", "shop", "cart-1"), ObjectRef::new("Node", "", "n1")]);
        assert_eq!(ns, None);
        let (objects, ns) = objects_of(&labels(&[("alertname", "KubeQuotaExceeded"), ("namespace", "shop")]));
        assert!(objects.is_empty());
        assert_eq!(ns.as_deref(), Some("shop"));
        let (objects, ns) = objects_of(&labels(&[("alertname", "Watchdog")]));
        assert!(objects.is_empty() && ns.is_none());
    }

    #[test]
    fn related_findings_come_along_and_namespace_alerts_get_the_namespace() {
        let mut pod = tracked("Pod", "shop", "cart-1");
        let deploy = tracked("Deployment", "shop", "cart");
        let other = tracked("Pod", "billing", "x");
        pod.finding.related = vec![deploy.finding.id.clone()];
        let active = vec![pod.clone(), deploy.clone(), other.clone()];
        let got = findings_for(&[ObjectRef::new("Pod", "shop", "cart-1")], None, &active);
        let ids: Vec<&str> = got.iter().map(|t| t.finding.id.as_str()).collect();
        assert_eq!(ids, [pod.finding.id.as_str(), deploy.finding.id.as_str()]);
        let got = findings_for(&[], Some("billing"), &active);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].finding.id, other.finding.id);
        assert!(findings_for(&[ObjectRef::new("Pod", "shop", "nope")], None, &active).is_empty());
    }

    #[test]
    fn the_store_is_bounded_and_updates_in_place() {
        let mut store = AlertStore::default();
        let alert = |fp: &str| StoredAlert {
            fingerprint: fp.to_owned(),
            status: "firing".into(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            starts_at: String::new(),
            ends_at: None,
            generator_url: String::new(),
            receiver: String::new(),
            first_received: String::new(),
            last_received: String::new(),
            notifications: 1,
            objects: Vec::new(),
            findings: Vec::new(),
            anomalies: Vec::new(),
            prometheus_check: None,
        };
        store.upsert(alert("a"), 2);
        store.upsert(alert("b"), 2);
        store.upsert(alert("a"), 2);
        store.upsert(alert("c"), 2);
        let order: Vec<&str> = store.iter().map(|a| a.fingerprint.as_str()).collect();
        assert_eq!(order, ["c", "a"]);
        assert!(store.get("b").is_none());
    }

    #[test]
    fn expressions_come_out_of_generator_urls() {
        let url = "http://prometheus:9090/graph?g0.expr=rate%28container_cpu_usage%7Bpod%3D%22a+b%22%7D%5B5m%5D%29+%3E+1&g0.tab=1";
        assert_eq!(expression_of(url).as_deref(), Some("rate(container_cpu_usage{pod=\"a b\"}[5m]) > 1"));
        assert_eq!(expression_of("http://p/graph?g0.tab=1"), None);
        assert_eq!(expression_of("http://p/graph"), None);
        assert_eq!(expression_of("http://p/graph?g0.expr=%ZZ"), None);
        assert_eq!(expression_of("http://p/graph?g0.expr=%E2%82"), None, "truncated UTF-8");
        assert_eq!(expression_of("http://p/graph?g0.expr="), None);
    }

    #[test]
    fn alerts_without_a_fingerprint_get_a_stable_one() {
        let a = WebhookAlert {
            status: "firing".into(),
            labels: labels(&[("alertname", "X"), ("pod", "p")]),
            annotations: BTreeMap::new(),
            starts_at: String::new(),
            ends_at: String::new(),
            generator_url: String::new(),
            fingerprint: String::new(),
        };
        let mut b = a.clone();
        assert_eq!(alert_key(&a), alert_key(&b));
        b.labels.insert("pod".into(), "q".into());
        assert_ne!(alert_key(&a), alert_key(&b));
        b.fingerprint = "abc".into();
        assert_eq!(alert_key(&b), "abc");
    }
}
