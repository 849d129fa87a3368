//! Server-side apply of planned manifests through kube-rs, with a dry run and a readable diff
//! first.
//!
//! [`preview`] reads each object as it is (absent: it will be created), asks the API server
//! for a server-side apply with `dryRun=All` under the field manager `kubesage`, and compares
//! the two: the diff is what the apply would change, as the server would do it (defaults and
//! merges included), not a guess from the YAML. Bookkeeping fields (`managedFields`,
//! `resourceVersion`, `uid`, `generation`, timestamps, `status`) are left out. [`apply`] then
//! does the same apply for real.

use std::collections::BTreeMap;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::Value;

use crate::error::{Error, Result};

/// The field manager our applies are recorded under.
pub const FIELD_MANAGER: &str = "kubesage";

/// What applying one object would do.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// `Deployment`, `Service`, ...
    pub kind: String,
    /// `namespace/name`.
    pub object: String,
    /// Whether the object does not exist yet.
    pub created: bool,
    /// The changed fields: `+ path: value`, `- path: value`, `~ path: old -> new`.
    pub lines: Vec<String>,
}

fn resource(doc: &Value) -> Result<(ApiResource, String, String)> {
    let api_version = doc["apiVersion"].as_str().unwrap_or_default();
    let kind = doc["kind"].as_str().unwrap_or_default();
    let plural = match kind {
        "Deployment" => "deployments",
        "Service" => "services",
        "HorizontalPodAutoscaler" => "horizontalpodautoscalers",
        "PodDisruptionBudget" => "poddisruptionbudgets",
        "PersistentVolumeClaim" => "persistentvolumeclaims",
        other => return Err(Error::Plan(format!("cannot apply a {other:?}: not one of the planned kinds"))),
    };
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let name = doc["metadata"]["name"].as_str().unwrap_or_default().to_owned();
    let namespace = doc["metadata"]["namespace"].as_str().unwrap_or("default").to_owned();
    if name.is_empty() {
        return Err(Error::Plan(format!("a {kind} without a name")));
    }
    Ok((ApiResource::from_gvk_with_plural(&gvk, plural), namespace, name))
}

fn api_error(what: &str, e: kube::Error) -> Error {
    Error::Plan(format!("{what}: {}", kubesage_core::error::display_chain(&e)))
}

/// Flattens a JSON object into `path -> value` leaves, without bookkeeping fields.
fn leaves(v: &Value) -> BTreeMap<String, String> {
    fn walk(v: &Value, path: String, out: &mut BTreeMap<String, String>) {
        const NOISE: &[&str] = &[
            "status",
            "metadata.managedFields",
            "metadata.resourceVersion",
            "metadata.uid",
            "metadata.generation",
            "metadata.creationTimestamp",
            "metadata.annotations.deployment.kubernetes.io/revision",
        ];
        if NOISE.contains(&path.as_str()) {
            return;
        }
        let join = |k: &str| if path.is_empty() { k.to_owned() } else { format!("{path}.{k}") };
        match v {
            Value::Object(m) if !m.is_empty() => m.iter().for_each(|(k, x)| walk(x, join(k), out)),
            Value::Array(a) if !a.is_empty() => {
                a.iter().enumerate().for_each(|(i, x)| walk(x, format!("{path}[{i}]"), out))
            }
            other => {
                out.insert(path, other.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(v, String::new(), &mut out);
    out
}

/// The lines that take `before` to `after`.
pub fn diff(before: Option<&Value>, after: &Value) -> Vec<String> {
    let old = before.map(leaves).unwrap_or_default();
    let new = leaves(after);
    let mut lines = Vec::new();
    for (path, value) in &new {
        match old.get(path) {
            None => lines.push(format!("+ {path}: {value}")),
            Some(was) if was != value => lines.push(format!("~ {path}: {was} -> {value}")),
            Some(_) => {}
        }
    }
    for (path, value) in &old {
        if !new.contains_key(path) {
            lines.push(format!("- {path}: {value}"));
        }
    }
    lines
}

async fn apply_one(
    client: &kube::Client,
    doc: &Value,
    dry_run: bool,
) -> Result<(Option<Value>, Value, String, String)> {
    let (ar, namespace, name) = resource(doc)?;
    let kind = ar.kind.clone();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &ar);
    let live = if dry_run {
        api.get_opt(&name)
            .await
            .map_err(|e| api_error(&format!("reading {kind} {namespace}/{name}"), e))?
            .map(|o| serde_json::to_value(o).unwrap_or(Value::Null))
    } else {
        None
    };
    let mut params = PatchParams::apply(FIELD_MANAGER);
    if dry_run {
        params = params.dry_run();
    }
    let applied = api
        .patch(&name, &params, &Patch::Apply(doc))
        .await
        .map_err(|e| api_error(&format!("applying {kind} {namespace}/{name}"), e))?;
    Ok((live, serde_json::to_value(applied).unwrap_or(Value::Null), kind, format!("{namespace}/{name}")))
}

/// Dry-runs the apply of every document and returns what it would change.
pub async fn preview(client: &kube::Client, docs: &[Value]) -> Result<Vec<Change>> {
    let mut changes = Vec::with_capacity(docs.len());
    for doc in docs {
        let (live, planned, kind, object) = apply_one(client, doc, true).await?;
        let lines = diff(live.as_ref(), &planned);
        changes.push(Change { kind, object, created: live.is_none(), lines });
    }
    Ok(changes)
}

/// Applies every document (server-side, field manager `kubesage`).
pub async fn apply(client: &kube::Client, docs: &[Value]) -> Result<()> {
    for doc in docs {
        apply_one(client, doc, false).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_added_changed_and_removed_fields_without_bookkeeping() {
        let before = serde_json::json!({"metadata": {"name": "m", "resourceVersion": "1", "managedFields": [{"x": 1}]},
            "spec": {"replicas": 2, "ports": [{"port": 80}], "old": true}, "status": {"ready": 1}});
        let after = serde_json::json!({"metadata": {"name": "m", "resourceVersion": "2"},
            "spec": {"replicas": 3, "ports": [{"port": 80}, {"port": 81}]}, "status": {"ready": 3}});
        assert_eq!(
            diff(Some(&before), &after),
            vec![
                "+ spec.ports[1].port: 81".to_owned(),
                "~ spec.replicas: 2 -> 3".to_owned(),
                "- spec.old: true".to_owned(),
            ]
        );
        assert!(diff(Some(&after), &after).is_empty());
        assert_eq!(diff(None, &serde_json::json!({"a": {"b": "c"}})), vec!["+ a.b: \"c\"".to_owned()]);
    }

    #[test]
    fn only_planned_kinds_are_applied() {
        assert!(matches!(
            resource(&serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}})),
            Err(Error::Plan(_))
        ));
        let (ar, ns, name) =
            resource(&serde_json::json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h", "namespace": "ml"}}))
            .expect("known");
        assert_eq!(
            (ar.group.as_str(), ar.version.as_str(), ar.plural.as_str()),
            ("autoscaling", "v2", "horizontalpodautoscalers")
        );
        assert_eq!((ns.as_str(), name.as_str()), ("ml", "h"));
    }
}
