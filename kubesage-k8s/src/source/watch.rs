//! Watching a live cluster: a lean in-memory view kept current by kube-runtime watchers.
//!
//! One [`kube::runtime::watcher`] per kind lists, then watches, and on every event the object
//! is decoded into the lean model of `kubesage-core` and stored; the watcher does what a
//! reflector needs (relisting after `410 Gone`, bookmarks, backoff after errors), and this
//! store plays the reflector's `Store`, applying `Init`/`InitApply`/`InitDone` atomically.
//! kube-runtime's own `Store` would keep every full object (managed fields, annotations,
//! the whole spec), several times what the analyzers read, so the lean model is kept
//! instead.
//!
//! Every change marks its kind dirty and wakes whoever waits on [`WatchedCluster::changed`];
//! [`WatchedCluster::take_changes`] hands out a [`Cluster`] with the kinds that changed since
//! the last call, so a caller can re-run only the analyzers that read them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};
use kubesage_core::{AnyObject, Cluster, ResourceKind, SkippedKind, SourceScope};
use serde::Deserialize;
use serde::de::Error as _;
use serde_json::Value;

/// Where a kind's watch stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KindStatus {
    /// The initial list has not completed yet.
    Syncing,
    /// Listed; changes are being watched.
    Synced,
    /// The cluster refused it (forbidden, not served); it is not watched.
    Skipped(String),
}

/// Per-kind counters, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindStats {
    /// The kind.
    pub kind: ResourceKind,
    /// Objects currently held.
    pub objects: usize,
    /// Watch events applied since start.
    pub events: u64,
    /// Errors the watch stream returned (it retries with backoff after each).
    pub errors: u64,
    /// Objects that could not be decoded and were left out.
    pub decode_errors: u64,
    /// Where the watch stands.
    pub status: KindStatus,
}

/// A cluster and what changed in it since the last [`WatchedCluster::take_changes`].
#[derive(Debug)]
pub struct Changes {
    /// Every object held now; synced kinds are marked loaded, refused ones skipped.
    pub cluster: Cluster,
    /// Kinds with changes since the last call.
    pub dirty: BTreeSet<ResourceKind>,
    /// When the oldest of those changes arrived.
    pub oldest_change: Option<Instant>,
}

type Key = (String, String);

#[derive(Debug)]
struct KindState {
    objects: HashMap<Key, AnyObject>,
    buffer: Option<HashMap<Key, AnyObject>>,
    status: KindStatus,
    events: u64,
    errors: u64,
    decode_errors: u64,
}

#[derive(Debug, Default)]
struct Store {
    kinds: BTreeMap<ResourceKind, KindState>,
    dirty: BTreeSet<ResourceKind>,
    oldest_change: Option<Instant>,
}

/// A cluster kept current by watches. Cheap to clone; clones share the view.
#[derive(Debug, Clone)]
pub struct WatchedCluster {
    store: Arc<Mutex<Store>>,
    changed: Arc<tokio::sync::Notify>,
}

impl WatchedCluster {
    /// A view of `kinds` with nothing listed yet; feed it with [`WatchedCluster::apply`], or
    /// use [`WatchedCluster::start`] to have watchers do so.
    pub fn new(kinds: impl IntoIterator<Item = ResourceKind>) -> Self {
        let kinds = kinds
            .into_iter()
            .map(|k| {
                let state = KindState {
                    objects: HashMap::new(),
                    buffer: None,
                    status: KindStatus::Syncing,
                    events: 0,
                    errors: 0,
                    decode_errors: 0,
                };
                (k, state)
            })
            .collect();
        WatchedCluster {
            store: Arc::new(Mutex::new(Store { kinds, ..Store::default() })),
            changed: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Starts one watcher per kind of `scope` on the current tokio runtime. The tasks run
    /// until the runtime shuts down; errors are retried with kube-runtime's default backoff,
    /// except a refusal of the initial list (403, 404), which marks the kind skipped.
    pub fn start(client: kube::Client, scope: &SourceScope) -> Self {
        let view = WatchedCluster::new(scope.kinds.iter().copied());
        for &kind in &scope.kinds {
            let view = view.clone();
            let client = client.clone();
            let namespace = scope.namespace.clone();
            tokio::spawn(async move { view.run(client, kind, namespace.as_deref()).await });
        }
        view
    }

    async fn run(&self, client: kube::Client, kind: ResourceKind, namespace: Option<&str>) {
        let (group, version, plural, namespaced) = kind.api();
        let resource = ApiResource {
            group: group.to_owned(),
            version: version.to_owned(),
            api_version: if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") },
            kind: kind.name().to_owned(),
            plural: plural.to_owned(),
        };
        let api: kube::Api<DynamicObject> = match namespace {
            Some(ns) if namespaced => kube::Api::namespaced_with(client, ns, &resource),
            _ => kube::Api::all_with(client, &resource),
        };
        let mut stream = watcher(api, watcher::Config::default().page_size(500)).default_backoff().boxed();
        while let Some(item) = stream.next().await {
            match item {
                Ok(event) => self.apply(kind, event),
                Err(watcher::Error::InitialListFailed(kube::Error::Api(status)))
                    if matches!(status.code, 403 | 404) && !self.is_kind_synced(kind) =>
                {
                    let reason = if status.code == 403 {
                        format!("forbidden: {}", status.message)
                    } else {
                        format!("not served by this cluster ({})", resource.api_version)
                    };
                    tracing::warn!(kind = kind.name(), %reason, "not watching this kind");
                    self.set_status(kind, KindStatus::Skipped(reason));
                    return;
                }
                Err(e) => {
                    tracing::warn!(kind = kind.name(), error = %kubesage_core::error::display_chain(&e), "watch error; retrying");
                    if let Some(state) = self.lock().kinds.get_mut(&kind) {
                        state.errors += 1;
                    }
                }
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than losing the view, so a poisoned lock is used as is.
        self.store.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn is_kind_synced(&self, kind: ResourceKind) -> bool {
        self.lock().kinds.get(&kind).is_some_and(|s| s.status == KindStatus::Synced)
    }

    fn set_status(&self, kind: ResourceKind, status: KindStatus) {
        let mut store = self.lock();
        if let Some(state) = store.kinds.get_mut(&kind) {
            state.status = status;
        }
        mark(&mut store, kind);
        drop(store);
        self.changed.notify_one();
    }

    /// Applies one watcher event for `kind`. Objects that do not decode are counted and left
    /// out (the rest of the kind stays current).
    pub fn apply(&self, kind: ResourceKind, event: watcher::Event<DynamicObject>) {
        let mut store = self.lock();
        let Some(state) = store.kinds.get_mut(&kind) else { return };
        state.events += 1;
        let mut changed = true;
        match event {
            watcher::Event::Init => {
                state.buffer = Some(HashMap::new());
                changed = false;
            }
            watcher::Event::InitApply(object) => {
                changed = false;
                match decode(kind, &object) {
                    Some((key, decoded)) => {
                        state.buffer.get_or_insert_with(HashMap::new).insert(key, decoded);
                    }
                    None => state.decode_errors += 1,
                }
            }
            watcher::Event::InitDone => {
                state.objects = state.buffer.take().unwrap_or_default();
                state.status = KindStatus::Synced;
            }
            watcher::Event::Apply(object) => match decode(kind, &object) {
                Some((key, decoded)) => {
                    state.objects.insert(key, decoded);
                }
                None => {
                    state.decode_errors += 1;
                    changed = false;
                }
            },
            watcher::Event::Delete(object) => {
                state.objects.remove(&key_of(&object));
            }
        }
        if changed {
            mark(&mut store, kind);
            drop(store);
            self.changed.notify_one();
        }
    }

    /// Waits until something changed since the last [`WatchedCluster::take_changes`] (returns
    /// at once if a change is already pending).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Whether every kind has been listed once or refused.
    pub fn is_synced(&self) -> bool {
        self.lock().kinds.values().all(|s| s.status != KindStatus::Syncing)
    }

    /// The whole view and the kinds that changed since the last call, or `None` when
    /// nothing changed.
    pub fn take_changes(&self) -> Option<Changes> {
        let mut store = self.lock();
        if store.dirty.is_empty() {
            return None;
        }
        let dirty = std::mem::take(&mut store.dirty);
        let oldest_change = store.oldest_change.take();
        let mut cluster = Cluster::new();
        for (kind, state) in &store.kinds {
            match &state.status {
                KindStatus::Synced => {
                    for object in state.objects.values() {
                        cluster.insert(object.clone());
                    }
                    cluster.loaded.insert(*kind);
                }
                KindStatus::Skipped(reason) => {
                    cluster.skipped.push(SkippedKind { kind: kind.name().to_owned(), reason: reason.clone() })
                }
                KindStatus::Syncing => {}
            }
        }
        drop(store);
        cluster.observed_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok());
        Some(Changes { cluster, dirty, oldest_change })
    }

    /// Counters per kind.
    pub fn stats(&self) -> Vec<KindStats> {
        self.lock()
            .kinds
            .iter()
            .map(|(kind, s)| KindStats {
                kind: *kind,
                objects: s.objects.len(),
                events: s.events,
                errors: s.errors,
                decode_errors: s.decode_errors,
                status: s.status.clone(),
            })
            .collect()
    }
}

fn mark(store: &mut Store, kind: ResourceKind) {
    store.dirty.insert(kind);
    store.oldest_change.get_or_insert_with(Instant::now);
}

fn key_of(object: &DynamicObject) -> Key {
    (object.metadata.namespace.clone().unwrap_or_default(), object.metadata.name.clone().unwrap_or_default())
}

fn decode(kind: ResourceKind, object: &DynamicObject) -> Option<(Key, AnyObject)> {
    let value = match serde_json::to_value(object) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(kind = kind.name(), error = %e, "cannot re-encode a watched object");
            return None;
        }
    };
    match decode_value(kind, &value) {
        Ok(decoded) => Some((key_of(object), decoded)),
        Err(e) => {
            tracing::warn!(kind = kind.name(), object = ?key_of(object), error = %e, "cannot decode a watched object");
            None
        }
    }
}

/// Decodes one object of a known kind from its JSON form.
pub fn decode_value(kind: ResourceKind, value: &Value) -> Result<AnyObject, serde_json::Error> {
    use ResourceKind as K;
    use kubesage_core::model::*;
    macro_rules! de {
        ($ty:ty, $variant:ident) => {
            <$ty>::deserialize(value).map(AnyObject::$variant)
        };
    }
    match kind {
        K::Pod => de!(Pod, Pod),
        K::Deployment => de!(Deployment, Deployment),
        K::ReplicaSet => de!(ReplicaSet, ReplicaSet),
        K::StatefulSet => de!(StatefulSet, StatefulSet),
        K::DaemonSet => de!(DaemonSet, DaemonSet),
        K::Job => de!(Job, Job),
        K::CronJob => de!(CronJob, CronJob),
        K::Service => de!(Service, Service),
        K::Endpoints => de!(Endpoints, Endpoints),
        K::EndpointSlice => de!(EndpointSlice, EndpointSlice),
        K::Ingress => de!(Ingress, Ingress),
        K::IngressClass => de!(IngressClass, IngressClass),
        K::PersistentVolumeClaim => de!(PersistentVolumeClaim, PersistentVolumeClaim),
        K::PersistentVolume => de!(PersistentVolume, PersistentVolume),
        K::StorageClass => de!(StorageClass, StorageClass),
        K::ConfigMap => de!(ConfigMap, ConfigMap),
        K::Secret => de!(Secret, Secret),
        K::Node => de!(Node, Node),
        K::Namespace => de!(Namespace, Namespace),
        K::HorizontalPodAutoscaler => de!(HorizontalPodAutoscaler, HorizontalPodAutoscaler),
        K::PodDisruptionBudget => de!(PodDisruptionBudget, PodDisruptionBudget),
        K::ValidatingWebhookConfiguration => de!(WebhookConfiguration, ValidatingWebhookConfiguration),
        K::MutatingWebhookConfiguration => de!(WebhookConfiguration, MutatingWebhookConfiguration),
        K::Event => de!(Event, Event),
        other => Err(serde_json::Error::custom(format!("KubeSage does not decode {}", other.name()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, phase: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}")},
            "spec": {"containers": [{"name": "app", "image": "app:1"}]},
            "status": {"phase": phase}
        }))
        .expect("a pod")
    }

    fn pods(changes: &Changes) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> =
            changes.cluster.pods.iter().map(|p| (p.metadata.name.to_string(), p.status.phase.to_string())).collect();
        v.sort();
        v
    }

    #[test]
    fn init_is_applied_atomically_then_changes_mark_the_kind_dirty() {
        let view = WatchedCluster::new([ResourceKind::Pod, ResourceKind::Node]);
        assert!(!view.is_synced());
        view.apply(ResourceKind::Pod, watcher::Event::Init);
        view.apply(ResourceKind::Pod, watcher::Event::InitApply(pod("a", "Running")));
        assert!(view.take_changes().is_none(), "a half-listed kind is not a change");
        view.apply(ResourceKind::Pod, watcher::Event::InitDone);
        let changes = view.take_changes().expect("the list completed");
        assert_eq!(changes.dirty, BTreeSet::from([ResourceKind::Pod]));
        assert!(changes.cluster.is_loaded(ResourceKind::Pod));
        assert!(!changes.cluster.is_loaded(ResourceKind::Node), "nodes are still syncing");
        assert_eq!(pods(&changes), [("a".to_owned(), "Running".to_owned())]);
        assert!(!view.is_synced());

        view.apply(ResourceKind::Node, watcher::Event::Init);
        view.apply(ResourceKind::Node, watcher::Event::InitDone);
        assert!(view.is_synced());
        view.apply(ResourceKind::Pod, watcher::Event::Apply(pod("a", "Failed")));
        view.apply(ResourceKind::Pod, watcher::Event::Apply(pod("b", "Pending")));
        let changes = view.take_changes().expect("changes");
        assert_eq!(changes.dirty, BTreeSet::from([ResourceKind::Pod, ResourceKind::Node]));
        assert!(changes.oldest_change.is_some());
        assert_eq!(pods(&changes), [("a".into(), "Failed".into()), ("b".into(), "Pending".into())]);

        view.apply(ResourceKind::Pod, watcher::Event::Delete(pod("a", "Failed")));
        let changes = view.take_changes().expect("a delete is a change");
        assert_eq!(pods(&changes), [("b".to_owned(), "Pending".to_owned())]);
        assert!(view.take_changes().is_none());
    }

    #[test]
    fn a_relist_replaces_the_kind_and_drops_objects_deleted_meanwhile() {
        let view = WatchedCluster::new([ResourceKind::Pod]);
        view.apply(ResourceKind::Pod, watcher::Event::Init);
        view.apply(ResourceKind::Pod, watcher::Event::InitApply(pod("a", "Running")));
        view.apply(ResourceKind::Pod, watcher::Event::InitApply(pod("b", "Running")));
        view.apply(ResourceKind::Pod, watcher::Event::InitDone);
        view.take_changes();
        view.apply(ResourceKind::Pod, watcher::Event::Init);
        view.apply(ResourceKind::Pod, watcher::Event::InitApply(pod("b", "Running")));
        let during = view.take_changes();
        assert!(during.is_none(), "the old list stays in force while relisting");
        view.apply(ResourceKind::Pod, watcher::Event::InitDone);
        let changes = view.take_changes().expect("relisted");
        assert_eq!(pods(&changes), [("b".to_owned(), "Running".to_owned())]);
    }

    #[test]
    fn undecodable_objects_are_counted_and_left_out() {
        let view = WatchedCluster::new([ResourceKind::Pod]);
        view.apply(ResourceKind::Pod, watcher::Event::Init);
        view.apply(ResourceKind::Pod, watcher::Event::InitDone);
        view.take_changes();
        let bad: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "bad", "namespace": "shop"},
            "spec": {"containers": "not a list"}
        }))
        .expect("dynamic objects accept anything");
        view.apply(ResourceKind::Pod, watcher::Event::Apply(bad));
        assert!(view.take_changes().is_none());
        let stats = view.stats();
        assert_eq!(stats[0].decode_errors, 1);
        assert_eq!(stats[0].objects, 0);
        assert_eq!(stats[0].events, 3);
    }

    #[test]
    fn skipped_kinds_count_as_synced_and_are_reported() {
        let view = WatchedCluster::new([ResourceKind::Secret]);
        view.set_status(ResourceKind::Secret, KindStatus::Skipped("forbidden: no".into()));
        assert!(view.is_synced());
        let changes = view.take_changes().expect("a status change");
        assert!(!changes.cluster.is_loaded(ResourceKind::Secret));
        assert_eq!(changes.cluster.skipped[0].kind, "Secret");
    }
}
