//! A cluster's state at one moment: the objects of every kind KubeSage reads, the events
//! about them, and a record of what could not be read.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use compact_str::CompactString;

use serde::{Deserialize, Serialize};

use crate::finding::ObjectRef;
use crate::model::*;

/// Every kind KubeSage reads, with where the API serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ResourceKind {
    /// core/v1 Pod.
    Pod,
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 ReplicaSet.
    ReplicaSet,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 DaemonSet.
    DaemonSet,
    /// batch/v1 Job.
    Job,
    /// batch/v1 CronJob.
    CronJob,
    /// core/v1 Service.
    Service,
    /// core/v1 Endpoints.
    Endpoints,
    /// discovery.k8s.io/v1 EndpointSlice.
    EndpointSlice,
    /// networking.k8s.io/v1 Ingress.
    Ingress,
    /// networking.k8s.io/v1 IngressClass.
    IngressClass,
    /// core/v1 PersistentVolumeClaim.
    PersistentVolumeClaim,
    /// core/v1 PersistentVolume.
    PersistentVolume,
    /// storage.k8s.io/v1 StorageClass.
    StorageClass,
    /// core/v1 ConfigMap.
    ConfigMap,
    /// core/v1 Secret.
    Secret,
    /// core/v1 Node.
    Node,
    /// core/v1 Namespace.
    Namespace,
    /// autoscaling/v2 HorizontalPodAutoscaler.
    HorizontalPodAutoscaler,
    /// policy/v1 PodDisruptionBudget.
    PodDisruptionBudget,
    /// admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration.
    ValidatingWebhookConfiguration,
    /// admissionregistration.k8s.io/v1 MutatingWebhookConfiguration.
    MutatingWebhookConfiguration,
    /// core/v1 Event.
    Event,
}

impl ResourceKind {
    /// All kinds, in a fixed order.
    pub const ALL: [ResourceKind; 24] = [
        ResourceKind::Pod,
        ResourceKind::Deployment,
        ResourceKind::ReplicaSet,
        ResourceKind::StatefulSet,
        ResourceKind::DaemonSet,
        ResourceKind::Job,
        ResourceKind::CronJob,
        ResourceKind::Service,
        ResourceKind::Endpoints,
        ResourceKind::EndpointSlice,
        ResourceKind::Ingress,
        ResourceKind::IngressClass,
        ResourceKind::PersistentVolumeClaim,
        ResourceKind::PersistentVolume,
        ResourceKind::StorageClass,
        ResourceKind::ConfigMap,
        ResourceKind::Secret,
        ResourceKind::Node,
        ResourceKind::Namespace,
        ResourceKind::HorizontalPodAutoscaler,
        ResourceKind::PodDisruptionBudget,
        ResourceKind::ValidatingWebhookConfiguration,
        ResourceKind::MutatingWebhookConfiguration,
        ResourceKind::Event,
    ];

    /// `(group, version, plural, namespaced)` of the API resource.
    pub const fn api(self) -> (&'static str, &'static str, &'static str, bool) {
        use ResourceKind::*;
        match self {
            Pod => ("", "v1", "pods", true),
            Deployment => ("apps", "v1", "deployments", true),
            ReplicaSet => ("apps", "v1", "replicasets", true),
            StatefulSet => ("apps", "v1", "statefulsets", true),
            DaemonSet => ("apps", "v1", "daemonsets", true),
            Job => ("batch", "v1", "jobs", true),
            CronJob => ("batch", "v1", "cronjobs", true),
            Service => ("", "v1", "services", true),
            Endpoints => ("", "v1", "endpoints", true),
            EndpointSlice => ("discovery.k8s.io", "v1", "endpointslices", true),
            Ingress => ("networking.k8s.io", "v1", "ingresses", true),
            IngressClass => ("networking.k8s.io", "v1", "ingressclasses", false),
            PersistentVolumeClaim => ("", "v1", "persistentvolumeclaims", true),
            PersistentVolume => ("", "v1", "persistentvolumes", false),
            StorageClass => ("storage.k8s.io", "v1", "storageclasses", false),
            ConfigMap => ("", "v1", "configmaps", true),
            Secret => ("", "v1", "secrets", true),
            Node => ("", "v1", "nodes", false),
            Namespace => ("", "v1", "namespaces", false),
            HorizontalPodAutoscaler => ("autoscaling", "v2", "horizontalpodautoscalers", true),
            PodDisruptionBudget => ("policy", "v1", "poddisruptionbudgets", true),
            ValidatingWebhookConfiguration => {
                ("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", false)
            }
            MutatingWebhookConfiguration => {
                ("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", false)
            }
            Event => ("", "v1", "events", true),
        }
    }

    /// The kind's name as the API spells it (`PersistentVolumeClaim`).
    pub fn name(self) -> &'static str {
        use ResourceKind::*;
        match self {
            Pod => "Pod",
            Deployment => "Deployment",
            ReplicaSet => "ReplicaSet",
            StatefulSet => "StatefulSet",
            DaemonSet => "DaemonSet",
            Job => "Job",
            CronJob => "CronJob",
            Service => "Service",
            Endpoints => "Endpoints",
            EndpointSlice => "EndpointSlice",
            Ingress => "Ingress",
            IngressClass => "IngressClass",
            PersistentVolumeClaim => "PersistentVolumeClaim",
            PersistentVolume => "PersistentVolume",
            StorageClass => "StorageClass",
            ConfigMap => "ConfigMap",
            Secret => "Secret",
            Node => "Node",
            Namespace => "Namespace",
            HorizontalPodAutoscaler => "HorizontalPodAutoscaler",
            PodDisruptionBudget => "PodDisruptionBudget",
            ValidatingWebhookConfiguration => "ValidatingWebhookConfiguration",
            MutatingWebhookConfiguration => "MutatingWebhookConfiguration",
            Event => "Event",
        }
    }

    /// Looks a kind up by its API name.
    pub fn from_name(kind: &str) -> Option<ResourceKind> {
        ResourceKind::ALL.into_iter().find(|k| k.name() == kind)
    }

    /// Whether objects of this kind live in namespaces.
    pub fn namespaced(self) -> bool {
        self.api().3
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A kind the source could not read, and why. Analyses that need it are weaker, not wrong:
/// analyzers never claim an object is missing when its kind was not read.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedKind {
    /// The kind.
    pub kind: String,
    /// Why it was skipped (`forbidden: ...`, `not served by this cluster`).
    pub reason: String,
}

/// The objects of one cluster, as of one moment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)] // one field per kind, named after it
pub struct Cluster {
    pub pods: Vec<Pod>,
    pub deployments: Vec<Deployment>,
    pub replica_sets: Vec<ReplicaSet>,
    pub stateful_sets: Vec<StatefulSet>,
    pub daemon_sets: Vec<DaemonSet>,
    pub jobs: Vec<Job>,
    pub cron_jobs: Vec<CronJob>,
    pub services: Vec<Service>,
    pub endpoints: Vec<Endpoints>,
    pub endpoint_slices: Vec<EndpointSlice>,
    pub ingresses: Vec<Ingress>,
    pub ingress_classes: Vec<IngressClass>,
    pub persistent_volume_claims: Vec<PersistentVolumeClaim>,
    pub persistent_volumes: Vec<PersistentVolume>,
    pub storage_classes: Vec<StorageClass>,
    pub config_maps: Vec<ConfigMap>,
    pub secrets: Vec<Secret>,
    pub nodes: Vec<Node>,
    pub namespaces: Vec<Namespace>,
    pub horizontal_pod_autoscalers: Vec<HorizontalPodAutoscaler>,
    pub pod_disruption_budgets: Vec<PodDisruptionBudget>,
    pub validating_webhooks: Vec<WebhookConfiguration>,
    pub mutating_webhooks: Vec<WebhookConfiguration>,
    pub events: Vec<Event>,
    /// Kinds whose complete list is present (possibly empty). Absence checks use only these.
    pub loaded: BTreeSet<ResourceKind>,
    /// Kinds that could not be read.
    pub skipped: Vec<SkippedKind>,
    /// Objects of kinds KubeSage does not analyse, counted by `apiVersion/kind`.
    pub ignored: BTreeMap<String, usize>,
    /// When the state was observed (Unix seconds), if known.
    pub observed_at: Option<i64>,
}

/// A Kubernetes object type KubeSage stores in a [`Cluster`].
pub trait Resource: Sized + 'static {
    /// Its kind.
    const KIND: ResourceKind;
    /// Its metadata.
    fn meta(&self) -> &ObjectMeta;
    /// All objects of this kind in the cluster.
    fn all(cluster: &Cluster) -> &[Self];
    /// The cluster's list of this kind, to add to.
    fn all_mut(cluster: &mut Cluster) -> &mut Vec<Self>;
    /// A reference to this object.
    fn object_ref(&self) -> ObjectRef {
        ObjectRef::new(Self::KIND.name(), &self.meta().namespace, self.meta().name.clone())
    }
}

macro_rules! resource {
    ($ty:ty, $kind:ident, $field:ident) => {
        impl Resource for $ty {
            const KIND: ResourceKind = ResourceKind::$kind;
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn all(cluster: &Cluster) -> &[Self] {
                &cluster.$field
            }
            fn all_mut(cluster: &mut Cluster) -> &mut Vec<Self> {
                &mut cluster.$field
            }
        }
    };
}

resource!(Pod, Pod, pods);
resource!(Deployment, Deployment, deployments);
resource!(ReplicaSet, ReplicaSet, replica_sets);
resource!(StatefulSet, StatefulSet, stateful_sets);
resource!(DaemonSet, DaemonSet, daemon_sets);
resource!(Job, Job, jobs);
resource!(CronJob, CronJob, cron_jobs);
resource!(Service, Service, services);
resource!(Endpoints, Endpoints, endpoints);
resource!(EndpointSlice, EndpointSlice, endpoint_slices);
resource!(Ingress, Ingress, ingresses);
resource!(IngressClass, IngressClass, ingress_classes);
resource!(PersistentVolumeClaim, PersistentVolumeClaim, persistent_volume_claims);
resource!(PersistentVolume, PersistentVolume, persistent_volumes);
resource!(StorageClass, StorageClass, storage_classes);
resource!(ConfigMap, ConfigMap, config_maps);
resource!(Secret, Secret, secrets);
resource!(Node, Node, nodes);
resource!(Namespace, Namespace, namespaces);
resource!(HorizontalPodAutoscaler, HorizontalPodAutoscaler, horizontal_pod_autoscalers);
resource!(PodDisruptionBudget, PodDisruptionBudget, pod_disruption_budgets);
resource!(Event, Event, events);

/// One decoded object of any kind KubeSage reads.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // one variant per kind
pub enum AnyObject {
    Pod(Pod),
    Deployment(Deployment),
    ReplicaSet(ReplicaSet),
    StatefulSet(StatefulSet),
    DaemonSet(DaemonSet),
    Job(Job),
    CronJob(CronJob),
    Service(Service),
    Endpoints(Endpoints),
    EndpointSlice(EndpointSlice),
    Ingress(Ingress),
    IngressClass(IngressClass),
    PersistentVolumeClaim(PersistentVolumeClaim),
    PersistentVolume(PersistentVolume),
    StorageClass(StorageClass),
    ConfigMap(ConfigMap),
    Secret(Secret),
    Node(Node),
    Namespace(Namespace),
    HorizontalPodAutoscaler(HorizontalPodAutoscaler),
    PodDisruptionBudget(PodDisruptionBudget),
    ValidatingWebhookConfiguration(WebhookConfiguration),
    MutatingWebhookConfiguration(WebhookConfiguration),
    Event(Event),
    /// A kind KubeSage does not read (`apiVersion/kind`).
    Other(String),
}

impl Cluster {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one object and marks its kind as loaded.
    pub fn insert(&mut self, object: AnyObject) {
        use AnyObject as A;
        let kind = match object {
            A::Pod(o) => push(self, o),
            A::Deployment(o) => push(self, o),
            A::ReplicaSet(o) => push(self, o),
            A::StatefulSet(o) => push(self, o),
            A::DaemonSet(o) => push(self, o),
            A::Job(o) => push(self, o),
            A::CronJob(o) => push(self, o),
            A::Service(o) => push(self, o),
            A::Endpoints(o) => push(self, o),
            A::EndpointSlice(o) => push(self, o),
            A::Ingress(o) => push(self, o),
            A::IngressClass(o) => push(self, o),
            A::PersistentVolumeClaim(o) => push(self, o),
            A::PersistentVolume(o) => push(self, o),
            A::StorageClass(o) => push(self, o),
            A::ConfigMap(o) => push(self, o),
            A::Secret(o) => push(self, o),
            A::Node(o) => push(self, o),
            A::Namespace(o) => push(self, o),
            A::HorizontalPodAutoscaler(o) => push(self, o),
            A::PodDisruptionBudget(o) => push(self, o),
            A::ValidatingWebhookConfiguration(mut o) => {
                o.kind = "ValidatingWebhookConfiguration".into();
                self.validating_webhooks.push(o);
                ResourceKind::ValidatingWebhookConfiguration
            }
            A::MutatingWebhookConfiguration(mut o) => {
                o.kind = "MutatingWebhookConfiguration".into();
                self.mutating_webhooks.push(o);
                ResourceKind::MutatingWebhookConfiguration
            }
            A::Event(o) => push(self, o),
            A::Other(kind) => {
                *self.ignored.entry(kind).or_default() += 1;
                return;
            }
        };
        self.loaded.insert(kind);
    }

    /// Moves every object of `other` into this cluster (for snapshots spread over files).
    pub fn merge(&mut self, other: Cluster) {
        macro_rules! take {
            ($($f:ident),*) => { $( self.$f.extend(other.$f); )* };
        }
        take!(
            pods,
            deployments,
            replica_sets,
            stateful_sets,
            daemon_sets,
            jobs,
            cron_jobs,
            services,
            endpoints,
            endpoint_slices,
            ingresses,
            ingress_classes,
            persistent_volume_claims,
            persistent_volumes,
            storage_classes,
            config_maps,
            secrets,
            nodes,
            namespaces,
            horizontal_pod_autoscalers,
            pod_disruption_budgets,
            validating_webhooks,
            mutating_webhooks,
            events,
            skipped
        );
        self.loaded.extend(other.loaded);
        for (k, n) in other.ignored {
            *self.ignored.entry(k).or_default() += n;
        }
        self.observed_at = match (self.observed_at, other.observed_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// Whether the complete list of `kind` is present, so absence of an object means it
    /// does not exist.
    pub fn is_loaded(&self, kind: ResourceKind) -> bool {
        self.loaded.contains(&kind)
    }

    /// Number of objects per kind (non-zero kinds only).
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        let mut add = |k: ResourceKind, n: usize| {
            if n > 0 {
                out.insert(k.name(), n);
            }
        };
        add(ResourceKind::Pod, self.pods.len());
        add(ResourceKind::Deployment, self.deployments.len());
        add(ResourceKind::ReplicaSet, self.replica_sets.len());
        add(ResourceKind::StatefulSet, self.stateful_sets.len());
        add(ResourceKind::DaemonSet, self.daemon_sets.len());
        add(ResourceKind::Job, self.jobs.len());
        add(ResourceKind::CronJob, self.cron_jobs.len());
        add(ResourceKind::Service, self.services.len());
        add(ResourceKind::Endpoints, self.endpoints.len());
        add(ResourceKind::EndpointSlice, self.endpoint_slices.len());
        add(ResourceKind::Ingress, self.ingresses.len());
        add(ResourceKind::IngressClass, self.ingress_classes.len());
        add(ResourceKind::PersistentVolumeClaim, self.persistent_volume_claims.len());
        add(ResourceKind::PersistentVolume, self.persistent_volumes.len());
        add(ResourceKind::StorageClass, self.storage_classes.len());
        add(ResourceKind::ConfigMap, self.config_maps.len());
        add(ResourceKind::Secret, self.secrets.len());
        add(ResourceKind::Node, self.nodes.len());
        add(ResourceKind::Namespace, self.namespaces.len());
        add(ResourceKind::HorizontalPodAutoscaler, self.horizontal_pod_autoscalers.len());
        add(ResourceKind::PodDisruptionBudget, self.pod_disruption_budgets.len());
        add(ResourceKind::ValidatingWebhookConfiguration, self.validating_webhooks.len());
        add(ResourceKind::MutatingWebhookConfiguration, self.mutating_webhooks.len());
        add(ResourceKind::Event, self.events.len());
        out
    }

    /// The latest timestamp found in object metadata, events and statuses: the best
    /// guess of when a snapshot was taken.
    pub fn latest_timestamp<'a>(&'a self) -> Option<i64> {
        // Canonical UTC timestamps (`2024-05-01T12:00:00Z`, what the API server writes)
        // order as strings, so only the latest of them is parsed; others are parsed as seen.
        let mut latest_utc: Option<&'a str> = None;
        let mut latest_other: Option<i64> = None;
        let mut see = |s: Option<&'a str>| {
            let Some(s) = s else { return };
            if s.len() == 20 && s.ends_with('Z') {
                if latest_utc.is_none_or(|l| s > l) && crate::time::parse_rfc3339(s).is_some() {
                    latest_utc = Some(s);
                }
            } else if let Some(t) = crate::time::parse_rfc3339(s) {
                latest_other = Some(latest_other.map_or(t, |l| l.max(t)));
            }
        };
        for e in &self.events {
            see(e.last_seen());
        }
        for p in &self.pods {
            see(p.metadata.creation_timestamp.as_deref());
            see(p.status.start_time.as_deref());
            for c in &p.status.conditions {
                see(c.last_transition_time.as_deref());
            }
        }
        for n in &self.nodes {
            for c in &n.status.conditions {
                see(c.last_transition_time.as_deref());
            }
        }
        let utc = latest_utc.and_then(crate::time::parse_rfc3339);
        match (utc, latest_other) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

fn push<R: Resource>(cluster: &mut Cluster, object: R) -> ResourceKind {
    R::all_mut(cluster).push(object);
    R::KIND
}

/// A fast, non-cryptographic hasher for the index's string keys (the Fx hash used inside
/// rustc). The keys come from the cluster being scanned, not from an attacker choosing
/// collisions against a long-running service, so SipHash's protection is not needed here.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }

    fn write_usize(&mut self, i: usize) {
        self.write(&i.to_le_bytes());
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Lookups built once per scan so analyzers never search lists: objects by name,
/// events by the object they are about, pods by owner and by namespace.
#[derive(Debug, Default)]
pub struct ClusterIndex<'a> {
    by_name: HashMap<(ResourceKind, &'a str, &'a str), usize>,
    events: HashMap<(&'a str, &'a str, &'a str), Vec<&'a Event>>,
    pods_by_owner: HashMap<&'a str, Vec<&'a Pod>>,
    pods_by_namespace: HashMap<&'a str, Vec<&'a Pod>>,
    pods_by_node: HashMap<&'a str, Vec<&'a Pod>>,
    jobs_by_owner: HashMap<&'a str, Vec<&'a Job>>,
    replica_sets_by_owner: HashMap<&'a str, Vec<&'a ReplicaSet>>,
    slices_by_service: HashMap<(&'a str, &'a str), Vec<&'a EndpointSlice>>,
}

impl<'a> ClusterIndex<'a> {
    /// Builds the index. Events for one object are ordered most recent first.
    pub fn build(cluster: &'a Cluster) -> Self {
        let mut ix = ClusterIndex::default();
        fn names<'a, R: Resource>(ix: &mut ClusterIndex<'a>, cluster: &'a Cluster) {
            for (i, o) in R::all(cluster).iter().enumerate() {
                ix.by_name.insert((R::KIND, o.meta().namespace.as_str(), o.meta().name.as_str()), i);
            }
        }
        names::<Pod>(&mut ix, cluster);
        names::<Deployment>(&mut ix, cluster);
        names::<ReplicaSet>(&mut ix, cluster);
        names::<StatefulSet>(&mut ix, cluster);
        names::<DaemonSet>(&mut ix, cluster);
        names::<Job>(&mut ix, cluster);
        names::<CronJob>(&mut ix, cluster);
        names::<Service>(&mut ix, cluster);
        names::<Endpoints>(&mut ix, cluster);
        names::<Ingress>(&mut ix, cluster);
        names::<IngressClass>(&mut ix, cluster);
        names::<PersistentVolumeClaim>(&mut ix, cluster);
        names::<PersistentVolume>(&mut ix, cluster);
        names::<StorageClass>(&mut ix, cluster);
        names::<ConfigMap>(&mut ix, cluster);
        names::<Secret>(&mut ix, cluster);
        names::<Node>(&mut ix, cluster);
        names::<Namespace>(&mut ix, cluster);
        names::<HorizontalPodAutoscaler>(&mut ix, cluster);
        names::<PodDisruptionBudget>(&mut ix, cluster);

        for e in &cluster.events {
            let o = &e.involved_object;
            ix.events.entry((o.kind.as_str(), o.namespace.as_str(), o.name.as_str())).or_default().push(e);
        }
        for list in ix.events.values_mut() {
            list.sort_by(|a, b| b.last_seen().cmp(&a.last_seen()));
        }
        for p in &cluster.pods {
            if let Some(owner) = p.metadata.controller() {
                ix.pods_by_owner.entry(owner.uid.as_str()).or_default().push(p);
            }
            ix.pods_by_namespace.entry(p.metadata.namespace.as_str()).or_default().push(p);
            if !p.spec.node_name.is_empty() {
                ix.pods_by_node.entry(p.spec.node_name.as_str()).or_default().push(p);
            }
        }
        for j in &cluster.jobs {
            if let Some(owner) = j.metadata.controller() {
                ix.jobs_by_owner.entry(owner.uid.as_str()).or_default().push(j);
            }
        }
        for rs in &cluster.replica_sets {
            if let Some(owner) = rs.metadata.controller() {
                ix.replica_sets_by_owner.entry(owner.uid.as_str()).or_default().push(rs);
            }
        }
        for s in &cluster.endpoint_slices {
            if let Some(svc) = s.service_name() {
                ix.slices_by_service.entry((s.metadata.namespace.as_str(), svc)).or_default().push(s);
            }
        }
        ix
    }

    /// Finds an object by namespace (empty for cluster-scoped) and name.
    pub fn get<R: Resource>(&self, cluster: &'a Cluster, namespace: &'a str, name: &'a str) -> Option<&'a R> {
        let i = *self.by_name.get(&(R::KIND, namespace, name))?;
        R::all(cluster).get(i)
    }

    /// Events about an object, most recent first.
    pub fn events(&self, kind: &'a str, namespace: &'a str, name: &'a str) -> &[&'a Event] {
        self.events.get(&(kind, namespace, name)).map_or(&[], Vec::as_slice)
    }

    /// Pods whose controller has this UID.
    pub fn pods_owned_by(&self, uid: &'a str) -> &[&'a Pod] {
        self.pods_by_owner.get(uid).map_or(&[], Vec::as_slice)
    }

    /// Pods in a namespace.
    pub fn pods_in(&self, namespace: &'a str) -> &[&'a Pod] {
        self.pods_by_namespace.get(namespace).map_or(&[], Vec::as_slice)
    }

    /// Pods assigned to a node.
    pub fn pods_on(&self, node: &'a str) -> &[&'a Pod] {
        self.pods_by_node.get(node).map_or(&[], Vec::as_slice)
    }

    /// Jobs whose controller has this UID (the Jobs of a CronJob).
    pub fn jobs_owned_by(&self, uid: &'a str) -> &[&'a Job] {
        self.jobs_by_owner.get(uid).map_or(&[], Vec::as_slice)
    }

    /// ReplicaSets whose controller has this UID (the ReplicaSets of a Deployment).
    pub fn replica_sets_owned_by(&self, uid: &'a str) -> &[&'a ReplicaSet] {
        self.replica_sets_by_owner.get(uid).map_or(&[], Vec::as_slice)
    }

    /// EndpointSlices of a Service.
    pub fn slices_of(&self, namespace: &'a str, service: &'a str) -> &[&'a EndpointSlice] {
        self.slices_by_service.get(&(namespace, service)).map_or(&[], Vec::as_slice)
    }

    /// The labels of the object a reference names, if it is in the cluster.
    pub fn labels_of(
        &self,
        cluster: &'a Cluster,
        object: &'a ObjectRef,
    ) -> Option<&'a BTreeMap<CompactString, CompactString>> {
        let kind = ResourceKind::from_name(&object.kind)?;
        let (ns, name) = (object.namespace_str(), object.name.as_str());
        macro_rules! labels {
            ($($k:ident),*) => {
                match kind {
                    $( ResourceKind::$k => self.get::<$k>(cluster, ns, name).map(|o| &o.metadata.labels), )*
                    ResourceKind::ValidatingWebhookConfiguration => cluster.validating_webhooks.iter().find(|w| w.metadata.name == name).map(|o| &o.metadata.labels),
                    ResourceKind::MutatingWebhookConfiguration => cluster.mutating_webhooks.iter().find(|w| w.metadata.name == name).map(|o| &o.metadata.labels),
                    _ => None,
                }
            };
        }
        labels!(
            Pod,
            Deployment,
            ReplicaSet,
            StatefulSet,
            DaemonSet,
            Job,
            CronJob,
            Service,
            Endpoints,
            Ingress,
            IngressClass,
            PersistentVolumeClaim,
            PersistentVolume,
            StorageClass,
            ConfigMap,
            Secret,
            Node,
            Namespace,
            HorizontalPodAutoscaler,
            PodDisruptionBudget
        )
    }
}
