//! Decoding Kubernetes JSON and YAML into a [`Cluster`] in one pass.
//!
//! A snapshot is what `kubectl get ... -o json|yaml` prints: a `List` whose `items` mix
//! kinds, a single object, or (for YAML) several `---` documents. Each item is decoded
//! straight into its typed struct: the visitor reads `apiVersion` and `kind`, which kubectl
//! writes first, and hands the rest of the same map to the typed deserializer. Objects whose
//! `kind` comes later are buffered and decoded afterwards, so any key order is accepted.

use std::fmt;

use kubesage_core::model::*;
use kubesage_core::{AnyObject, Cluster};
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Decodes one snapshot document (JSON or YAML, sniffed from the first byte).
pub fn decode_document(bytes: &[u8], origin: &str) -> Result<Cluster> {
    let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
    let mut cluster = Cluster::new();
    match first {
        None => return Err(Error::NotKubernetes { origin: origin.to_owned(), reason: "the input is empty".into() }),
        Some(b'{' | b'[') => {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            TopLevel(&mut cluster)
                .deserialize(&mut de)
                .and_then(|()| de.end())
                .map_err(|e| decode_error(origin, &e))?;
        }
        Some(_) => {
            let mut options = serde_saphyr::Options::default();
            options.budget = Some(yaml_budget(bytes.len()));
            let docs: Vec<YamlDoc> = serde_saphyr::from_slice_multiple_with_options(bytes, options)
                .map_err(|e| Error::Decode { origin: origin.to_owned(), reason: e.to_string() })?;
            if docs.is_empty() {
                return Err(Error::NotKubernetes { origin: origin.to_owned(), reason: "no YAML document".into() });
            }
            for doc in docs {
                for obj in doc.0 {
                    cluster.insert(obj);
                }
            }
        }
    }
    if cluster.loaded.is_empty() && cluster.ignored.is_empty() {
        return Err(Error::NotKubernetes {
            origin: origin.to_owned(),
            reason: "expected a List with items or objects with apiVersion and kind".into(),
        });
    }
    cluster.observed_at = cluster.latest_timestamp();
    Ok(cluster)
}

/// Limits for the YAML parser that scale with the input, so a real 100 MB dump parses while
/// alias bombs and pathological nesting are still refused.
fn yaml_budget(len: usize) -> serde_saphyr::Budget {
    let mut b = serde_saphyr::Budget::default();
    b.max_reader_input_bytes = Some(len.saturating_add(1));
    b.max_events = b.max_events.max(len);
    b.max_nodes = b.max_nodes.max(len / 2);
    b.max_total_scalar_bytes = b.max_total_scalar_bytes.max(len);
    b.max_depth = 128;
    b
}

fn decode_error(origin: &str, e: &serde_json::Error) -> Error {
    let reason = if e.is_eof() { format!("truncated input: {e}") } else { e.to_string() };
    Error::Decode { origin: origin.to_owned(), reason }
}

/// The top level of a document: a `List`, a single object, or an array of objects.
struct TopLevel<'c>(&'c mut Cluster);

impl<'de> DeserializeSeed<'de> for TopLevel<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes List or object")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(obj) = seq.next_element_seed(ItemSeed { default_kind: None })? {
            self.0.insert(obj);
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        for obj in visit_object_or_list(map)? {
            self.0.insert(obj);
        }
        Ok(())
    }
}

/// One YAML document: a List or a single object (or nothing, for an empty document).
struct YamlDoc(Vec<AnyObject>);

impl<'de> Deserialize<'de> for YamlDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = YamlDoc;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Kubernetes List or object")
            }
            fn visit_unit<E>(self) -> Result<YamlDoc, E> {
                Ok(YamlDoc(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<YamlDoc, A::Error> {
                let mut out = Vec::new();
                while let Some(obj) = seq.next_element_seed(ItemSeed { default_kind: None })? {
                    out.push(obj);
                }
                Ok(YamlDoc(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<YamlDoc, A::Error> {
                visit_object_or_list(map).map(YamlDoc)
            }
        }
        d.deserialize_any(V)
    }
}

/// A single object of any kind; `default_kind` names the kind for items of a typed list
/// (`PodList`) that do not carry their own, as raw API answers do.
#[derive(Clone, Copy)]
struct ItemSeed<'k> {
    default_kind: Option<&'k str>,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = AnyObject;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<AnyObject, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = AnyObject;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object with apiVersion and kind")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AnyObject, A::Error> {
        match visit_object(map, self.default_kind)? {
            Visited::Object(o) => Ok(o),
            Visited::List(_) => Err(A::Error::custom("a List nested inside a List")),
        }
    }
}

/// The items of a list, decoded as they stream past.
struct ItemsSeed<'k>(ItemSeed<'k>);

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = Vec<AnyObject>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<AnyObject>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = Vec<AnyObject>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of Kubernetes objects")
    }
    fn visit_unit<E>(self) -> Result<Vec<AnyObject>, E> {
        Ok(Vec::new())
    }
    fn visit_none<E>(self) -> Result<Vec<AnyObject>, E> {
        Ok(Vec::new())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<AnyObject>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(obj) = seq.next_element_seed(self.0)? {
            out.push(obj);
        }
        Ok(out)
    }
}

enum Visited {
    Object(AnyObject),
    List(Vec<AnyObject>),
}

fn visit_object_or_list<'de, A: MapAccess<'de>>(map: A) -> Result<Vec<AnyObject>, A::Error> {
    Ok(match visit_object(map, None)? {
        Visited::Object(o) => vec![o],
        Visited::List(items) => items,
    })
}

/// Reads a map that is either a List (it has `items`) or an object (it has `kind`).
fn visit_object<'de, A: MapAccess<'de>>(mut map: A, default_kind: Option<&str>) -> Result<Visited, A::Error> {
    let mut api_version = String::new();
    // Fast path: apiVersion and kind come first, as kubectl and the API server write them.
    loop {
        let Some(key) = map.next_key::<Key>()? else {
            return match default_kind {
                Some(k) => decode_value(&api_version, k, Map::new()).map(Visited::Object),
                None => Err(A::Error::custom("object has no kind")),
            };
        };
        match key {
            Key::ApiVersion => api_version = map.next_value::<Option<String>>()?.unwrap_or_default(),
            Key::Kind => {
                let kind: String = map.next_value()?;
                if let Some(item_kind) = kind.strip_suffix("List") {
                    return finish_list(map, item_kind).map(Visited::List);
                }
                return typed_rest(&api_version, &kind, map).map(Visited::Object);
            }
            Key::Items => {
                // An object with `items` is a List, whatever its kind says later.
                let items = map.next_value_seed(ItemsSeed(ItemSeed { default_kind: None }))?;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                return Ok(Visited::List(items));
            }
            Key::Other(name) => {
                // Slow path: buffer the rest, find the kind, then decode.
                let mut rest = Map::new();
                rest.insert(name, map.next_value::<Value>()?);
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    rest.insert(k, v);
                }
                if let Some(Value::String(av)) = rest.get("apiVersion") {
                    api_version = av.clone();
                }
                let kind = match rest.get("kind") {
                    Some(Value::String(k)) => k.clone(),
                    _ => default_kind.ok_or_else(|| A::Error::custom("object has no kind"))?.to_owned(),
                };
                if let Some(items) = rest.remove("items") {
                    let item_kind = kind.strip_suffix("List");
                    let items = ItemsSeed(ItemSeed { default_kind: item_kind })
                        .deserialize(items)
                        .map_err(A::Error::custom)?;
                    return Ok(Visited::List(items));
                }
                return decode_value(&api_version, &kind, rest).map(Visited::Object);
            }
        }
    }
}

fn finish_list<'de, A: MapAccess<'de>>(mut map: A, item_kind: &str) -> Result<Vec<AnyObject>, A::Error> {
    let default_kind = (!item_kind.is_empty()).then_some(item_kind);
    let mut items = Vec::new();
    while let Some(key) = map.next_key::<Key>()? {
        match key {
            Key::Items => items.extend(map.next_value_seed(ItemsSeed(ItemSeed { default_kind }))?),
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(items)
}

/// Decodes the rest of `map` as the typed object for `kind`.
fn typed_rest<'de, A: MapAccess<'de>>(api_version: &str, kind: &str, map: A) -> Result<AnyObject, A::Error> {
    let d = MapAccessDeserializer::new(map);
    macro_rules! typed {
        ($($k:ident => $ty:ty),* $(,)?) => {
            match kind {
                $( stringify!($k) => <$ty>::deserialize(d).map(AnyObject::$k), )*
                _ => {
                    IgnoredAny::deserialize(d)?;
                    Ok(AnyObject::Other(format!("{api_version}/{kind}")))
                }
            }
        };
    }
    let obj = all_kinds!(typed)?;
    check_group(api_version, kind, obj)
}

/// Decodes a buffered object.
fn decode_value<E: serde::de::Error>(api_version: &str, kind: &str, map: Map<String, Value>) -> Result<AnyObject, E> {
    let d = Value::Object(map);
    macro_rules! typed {
        ($($k:ident => $ty:ty),* $(,)?) => {
            match kind {
                $( stringify!($k) => <$ty>::deserialize(d).map(AnyObject::$k).map_err(E::custom), )*
                _ => Ok(AnyObject::Other(format!("{api_version}/{kind}"))),
            }
        };
    }
    let obj = all_kinds!(typed)?;
    check_group(api_version, kind, obj)
}

/// Objects whose kind name matches but whose API group is someone else's (a CRD named
/// `Service` in `serving.knative.dev`) are not ours to analyse.
fn check_group<E: serde::de::Error>(api_version: &str, kind: &str, obj: AnyObject) -> Result<AnyObject, E> {
    if matches!(obj, AnyObject::Other(_)) || api_version.is_empty() {
        return Ok(obj);
    }
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let expected = kubesage_core::ResourceKind::from_name(kind).map(|k| k.api().0);
    let ok = match (kind, expected) {
        // Old API groups that still appear in snapshots of older clusters.
        ("Event", _) => matches!(group, "" | "events.k8s.io"),
        ("Ingress", _) => matches!(group, "networking.k8s.io" | "extensions"),
        (_, Some(e)) => e == group,
        (_, None) => true,
    };
    if ok { Ok(obj) } else { Ok(AnyObject::Other(format!("{api_version}/{kind}"))) }
}

macro_rules! all_kinds {
    ($m:ident) => {
        $m!(
            Pod => Pod,
            Deployment => Deployment,
            ReplicaSet => ReplicaSet,
            StatefulSet => StatefulSet,
            DaemonSet => DaemonSet,
            Job => Job,
            CronJob => CronJob,
            Service => Service,
            Endpoints => Endpoints,
            EndpointSlice => EndpointSlice,
            Ingress => Ingress,
            IngressClass => IngressClass,
            PersistentVolumeClaim => PersistentVolumeClaim,
            PersistentVolume => PersistentVolume,
            StorageClass => StorageClass,
            ConfigMap => ConfigMap,
            Secret => Secret,
            Node => Node,
            Namespace => Namespace,
            HorizontalPodAutoscaler => HorizontalPodAutoscaler,
            PodDisruptionBudget => PodDisruptionBudget,
            ValidatingWebhookConfiguration => WebhookConfiguration,
            MutatingWebhookConfiguration => WebhookConfiguration,
            Event => Event,
        )
    };
}
use all_kinds;

/// The keys the visitor cares about, without allocating for the others it skips.
enum Key {
    ApiVersion,
    Kind,
    Items,
    Other(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "apiVersion" => Key::ApiVersion,
                    "kind" => Key::Kind,
                    "items" => Key::Items,
                    other => Key::Other(other.to_owned()),
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_in_kubectl_key_order() {
        let json = br#"{"apiVersion":"v1","items":[
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"x"},"status":{"phase":"Running"}},
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"x"},"spec":{"replicas":2}},
            {"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"}}
        ],"kind":"List","metadata":{"resourceVersion":""}}"#;
        let c = decode_document(json, "t").unwrap_or_default();
        assert_eq!(c.pods.len(), 1);
        assert_eq!(c.pods[0].status.phase, "Running");
        assert_eq!(c.deployments[0].spec.replicas, Some(2));
        assert_eq!(c.ignored.get("example.com/v1/Widget"), Some(&1));
    }

    #[test]
    fn any_key_order_and_events_v1() {
        let json = br#"[{"metadata":{"name":"p"},"status":{"phase":"Pending"},"kind":"Pod","apiVersion":"v1"},
            {"apiVersion":"events.k8s.io/v1","deprecatedCount":4,"kind":"Event","note":"Back-off","reason":"BackOff",
             "regarding":{"kind":"Pod","name":"p","namespace":"x"},"type":"Warning","metadata":{"name":"e"}}]"#;
        let c = decode_document(json, "t").unwrap_or_default();
        assert_eq!(c.pods[0].status.phase, "Pending");
        assert_eq!(c.events[0].involved_object.name, "p");
        assert_eq!(c.events[0].message, "Back-off");
        assert_eq!(c.events[0].count(), 4);
    }

    #[test]
    fn typed_lists_and_single_objects() {
        let pod_list = br#"{"apiVersion":"v1","kind":"PodList","items":[{"metadata":{"name":"a"}}]}"#;
        // Items of a typed list carry no kind of their own in raw API answers.
        let c = decode_document(pod_list, "t").unwrap_or_default();
        assert_eq!(c.pods.len(), 1);
        assert_eq!(c.pods[0].metadata.name, "a");
        let single = br#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"},"spec":{"unschedulable":true}}"#;
        let c = decode_document(single, "t").unwrap_or_default();
        assert!(c.nodes[0].spec.unschedulable);
    }

    #[test]
    fn yaml_multi_document() {
        let yaml = b"apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: x\nspec:\n  selector:\n    app: web\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c, namespace: x}\n  data: {a: '1'}\n";
        let c = decode_document(yaml, "t").unwrap_or_default();
        assert_eq!(c.services.len(), 1);
        assert_eq!(c.config_maps[0].data_keys, vec!["a"]);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let cases: &[&[u8]] = &[
            b"",
            b"   \n",
            br#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"#,
            br#"{"apiVersion":"v1","kind":"Pod","spec":{"containers":"nope"}}"#,
            br#"{"hello":"world"}"#,
            br#"[1,2,3]"#,
            b"key: [unclosed",
            b"just a string",
            br#"{"apiVersion":"v1","kind":"List","items":[]} trailing"#,
        ];
        for case in cases {
            let r = decode_document(case, "case");
            assert!(r.is_err(), "{:?} should fail", String::from_utf8_lossy(case));
        }
        match decode_document(br#"{"apiVersion":"v1","kind":"List","items":[{"kind":"Pod""#, "snap.json") {
            Err(Error::Decode { origin, reason }) => {
                assert_eq!(origin, "snap.json");
                assert!(reason.contains("truncated"), "{reason}");
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(decode_document(deep.as_bytes(), "deep").is_err());
        let deep_yaml = format!("a: {}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(decode_document(deep_yaml.as_bytes(), "deep").is_err());
    }
}
