//! A live cluster through kube-rs: one paginated list per kind, kinds fetched concurrently.
//!
//! Objects are listed with plain `GET` requests and decoded straight into the lean model of
//! `kubesage-core`, not into `k8s-openapi` types: analysis needs a few dozen fields per
//! object, and skipping the rest while parsing is what keeps a large cluster's scan fast.

use std::path::PathBuf;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kubesage_core::model::*;
use kubesage_core::{AnyObject, Cluster, ClusterSource, ResourceKind, SkippedKind, SourceScope};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// How to connect to a live cluster.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// A kubeconfig file; `None` infers (`KUBECONFIG`, `~/.kube/config`, then in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// The context to use; `None` uses the kubeconfig's current context.
    pub context: Option<String>,
    /// Objects per page.
    pub page_size: u32,
    /// Timeout for connecting and for each response.
    pub timeout: Duration,
    /// Kinds listed at once.
    pub concurrency: usize,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            kubeconfig: None,
            context: None,
            page_size: 500,
            timeout: Duration::from_secs(30),
            concurrency: 8,
        }
    }
}

/// A live cluster.
#[derive(Clone)]
pub struct LiveSource {
    client: kube::Client,
    url: String,
    page_size: u32,
    concurrency: usize,
}

impl std::fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSource").field("url", &self.url).finish_non_exhaustive()
    }
}

impl LiveSource {
    /// Connects using a kubeconfig (with its context) or the in-cluster service account.
    pub async fn connect(options: &LiveOptions) -> Result<Self> {
        let kc_options = KubeConfigOptions { context: options.context.clone(), cluster: None, user: None };
        let mut config = match (&options.kubeconfig, &options.context) {
            (Some(path), _) => {
                let kubeconfig =
                    Kubeconfig::read_from(path).map_err(|e| Error::Kubeconfig(format!("{}: {e}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &kc_options)
                    .await
                    .map_err(|e| Error::Kubeconfig(format!("{}: {e}", path.display())))?
            }
            (None, Some(_)) => {
                kube::Config::from_kubeconfig(&kc_options).await.map_err(|e| Error::Kubeconfig(e.to_string()))?
            }
            (None, None) => kube::Config::infer().await.map_err(|e| Error::Kubeconfig(e.to_string()))?,
        };
        config.connect_timeout = Some(options.timeout);
        config.read_timeout = Some(options.timeout);
        let url = config.cluster_url.to_string();
        let client = kube::Client::try_from(config).map_err(|e| Error::Kubeconfig(e.to_string()))?;
        Ok(LiveSource { client, url, page_size: options.page_size.max(1), concurrency: options.concurrency.max(1) })
    }

    /// Wraps an existing client (tests use a mock service here).
    pub fn from_client(client: kube::Client, url: impl Into<String>) -> Self {
        LiveSource { client, url: url.into(), page_size: 500, concurrency: 8 }
    }

    /// The client, for watching the same cluster.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// Sets the page size.
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Lists every kind in the scope. Kinds the credentials may not read, or the server
    /// does not serve, are recorded as skipped; if nothing at all could be read the scan
    /// fails, naming the first cause.
    pub async fn read(&self, scope: &SourceScope) -> Result<Cluster> {
        let kinds: Vec<ResourceKind> = scope.kinds.iter().copied().collect();
        let results: Vec<(ResourceKind, Result<Vec<AnyObject>, kube::Error>)> = stream::iter(kinds)
            .map(|kind| async move { (kind, self.list_kind(kind, scope.namespace.as_deref()).await) })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;

        let mut cluster = Cluster::new();
        let mut transport_failure: Option<String> = None;
        let mut read_any = false;
        let mut sorted = results;
        sorted.sort_by_key(|(k, _)| *k);
        for (kind, result) in sorted {
            match result {
                Ok(objects) => {
                    read_any = true;
                    cluster.loaded.insert(kind);
                    for o in objects {
                        cluster.insert(o);
                    }
                }
                Err(e) => {
                    let reason = match &e {
                        kube::Error::Api(s) if s.code == 403 => format!("forbidden: {}", s.message),
                        kube::Error::Api(s) if s.code == 404 => {
                            let (g, v, _, _) = kind.api();
                            let gv = if g.is_empty() { v.to_owned() } else { format!("{g}/{v}") };
                            format!("not served by this cluster ({gv})")
                        }
                        kube::Error::Api(s) => format!("HTTP {}: {}", s.code, s.message),
                        kube::Error::HyperError(_) | kube::Error::Service(_) => {
                            let text = kubesage_core::error::display_chain(&e);
                            transport_failure.get_or_insert(text.clone());
                            text
                        }
                        other => kubesage_core::error::display_chain(other),
                    };
                    cluster.skipped.push(SkippedKind { kind: kind.name().to_owned(), reason });
                }
            }
        }
        if !read_any {
            if let Some(reason) = transport_failure {
                return Err(Error::Unreachable { url: self.url.clone(), reason });
            }
            let first = cluster.skipped.first().map(|s| format!("{}: {}", s.kind, s.reason)).unwrap_or_default();
            return Err(Error::NothingReadable(first));
        }
        cluster.observed_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok());
        Ok(cluster)
    }

    async fn list_kind(&self, kind: ResourceKind, namespace: Option<&str>) -> Result<Vec<AnyObject>, kube::Error> {
        use ResourceKind as K;
        macro_rules! list {
            ($ty:ty, $variant:ident) => {
                self.list_pages::<$ty>(kind, namespace).await.map(|v| v.into_iter().map(AnyObject::$variant).collect())
            };
        }
        match kind {
            K::Pod => list!(Pod, Pod),
            K::Deployment => list!(Deployment, Deployment),
            K::ReplicaSet => list!(ReplicaSet, ReplicaSet),
            K::StatefulSet => list!(StatefulSet, StatefulSet),
            K::DaemonSet => list!(DaemonSet, DaemonSet),
            K::Job => list!(Job, Job),
            K::CronJob => list!(CronJob, CronJob),
            K::Service => list!(Service, Service),
            K::Endpoints => list!(Endpoints, Endpoints),
            K::EndpointSlice => list!(EndpointSlice, EndpointSlice),
            K::Ingress => list!(Ingress, Ingress),
            K::IngressClass => list!(IngressClass, IngressClass),
            K::PersistentVolumeClaim => list!(PersistentVolumeClaim, PersistentVolumeClaim),
            K::PersistentVolume => list!(PersistentVolume, PersistentVolume),
            K::StorageClass => list!(StorageClass, StorageClass),
            K::ConfigMap => list!(ConfigMap, ConfigMap),
            K::Secret => list!(Secret, Secret),
            K::Node => list!(Node, Node),
            K::Namespace => list!(Namespace, Namespace),
            K::HorizontalPodAutoscaler => list!(HorizontalPodAutoscaler, HorizontalPodAutoscaler),
            K::PodDisruptionBudget => list!(PodDisruptionBudget, PodDisruptionBudget),
            K::ValidatingWebhookConfiguration => list!(WebhookConfiguration, ValidatingWebhookConfiguration),
            K::MutatingWebhookConfiguration => list!(WebhookConfiguration, MutatingWebhookConfiguration),
            K::Event => list!(Event, Event),
            _ => Ok(Vec::new()),
        }
    }

    /// Follows `continue` tokens until the list is complete.
    async fn list_pages<T: DeserializeOwned>(
        &self,
        kind: ResourceKind,
        namespace: Option<&str>,
    ) -> Result<Vec<T>, kube::Error> {
        let base = list_path(kind, namespace);
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut uri = format!("{base}?limit={}", self.page_size);
            if let Some(t) = &token {
                uri.push_str("&continue=");
                uri.push_str(&encode_query(t));
            }
            let request = http::Request::get(uri).body(Vec::new()).map_err(kube::Error::HttpError)?;
            let page: Page<T> = self.client.request(request).await?;
            items.extend(page.items.unwrap_or_default());
            match page.metadata.and_then(|m| m.continue_).filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => return Ok(items),
            }
        }
    }
}

/// The API path that lists a kind, in one namespace or across all.
pub fn list_path(kind: ResourceKind, namespace: Option<&str>) -> String {
    let (group, version, plural, namespaced) = kind.api();
    let root = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
    match namespace {
        Some(ns) if namespaced => format!("{root}/namespaces/{ns}/{plural}"),
        _ => format!("{root}/{plural}"),
    }
}

fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
struct Page<T> {
    items: Option<Vec<T>>,
    metadata: Option<PageMeta>,
}

#[derive(Deserialize)]
struct PageMeta {
    #[serde(rename = "continue")]
    continue_: Option<String>,
}

impl ClusterSource for LiveSource {
    type Error = Error;

    fn describe(&self) -> String {
        format!("cluster at {}", self.url)
    }

    async fn load(&self, scope: &SourceScope) -> Result<Cluster> {
        self.read(scope).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(list_path(ResourceKind::Pod, None), "/api/v1/pods");
        assert_eq!(list_path(ResourceKind::Pod, Some("shop")), "/api/v1/namespaces/shop/pods");
        assert_eq!(list_path(ResourceKind::Node, Some("shop")), "/api/v1/nodes");
        assert_eq!(list_path(ResourceKind::Deployment, Some("a")), "/apis/apps/v1/namespaces/a/deployments");
        assert_eq!(encode_query("a b/c=="), "a%20b%2Fc%3D%3D");
    }
}
