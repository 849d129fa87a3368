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
            // Validating UTF-8 once up front is cheaper than per string while parsing.
            let parallel = std::str::from_utf8(bytes).ok().and_then(decode_json_parallel);
            if let Some(decoded) = parallel {
                cluster = decoded;
            } else {
                let result = match std::str::from_utf8(bytes) {
                    Ok(text) => decode_json(&mut serde_json::Deserializer::from_str(text), &mut cluster),
                    Err(_) => decode_json(&mut serde_json::Deserializer::from_slice(bytes), &mut cluster),
                };
                result.map_err(|e| decode_error(origin, &e))?;
            }
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
                cluster.merge(doc.0);
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

fn decode_json<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    cluster: &mut Cluster,
) -> serde_json::Result<()> {
    TopLevel(cluster).deserialize(&mut *de)?;
    de.end()
}

/// Inputs smaller than this are decoded on one thread.
const PARALLEL_MIN_BYTES: usize = 4 << 20;

/// Decodes a large JSON `List` on several threads: a structural pass finds where each item
/// starts and ends (strings are skipped with `memchr`, so it runs far faster than parsing),
/// then threads decode runs of items of about equal size into clusters of their own, which
/// are merged in input order. Returns `None` for anything that is not a plain List, or on
/// any error, so the caller's single-threaded pass decides and reports precisely.
fn decode_json_parallel(text: &str) -> Option<Cluster> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(8);
    if text.len() < PARALLEL_MIN_BYTES || threads < 2 {
        return None;
    }
    let list = split_list(text.as_bytes())?;
    let default_kind = list.kind.as_deref().and_then(|k| k.strip_suffix("List")).filter(|k| !k.is_empty());
    let per_thread = text.len() / threads + 1;
    let mut chunks: Vec<&[(usize, usize)]> = Vec::with_capacity(threads);
    let mut start = 0;
    let mut bytes = 0;
    for (i, (s, e)) in list.items.iter().enumerate() {
        bytes += e - s;
        if bytes >= per_thread {
            chunks.push(&list.items[start..=i]);
            start = i + 1;
            bytes = 0;
        }
    }
    chunks.push(&list.items[start..]);
    let parts: Vec<Option<Cluster>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|spans| {
                scope.spawn(move || {
                    let mut cluster = Cluster::new();
                    for &(s, e) in *spans {
                        let mut de = serde_json::Deserializer::from_str(text.get(s..e)?);
                        ItemSeed { cluster: &mut cluster, default_kind }.deserialize(&mut de).ok()?;
                        de.end().ok()?;
                    }
                    Some(cluster)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().ok().flatten()).collect()
    });
    let mut cluster = Cluster::new();
    for part in parts {
        cluster.merge(part?);
    }
    Some(cluster)
}

/// Where a List's items are, and its kind if it states one.
struct ListSpans {
    kind: Option<String>,
    items: Vec<(usize, usize)>,
}

/// Finds the byte spans of the `items` of a top-level JSON object, without parsing them.
fn split_list(b: &[u8]) -> Option<ListSpans> {
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    let mut out = ListSpans { kind: None, items: Vec::new() };
    let mut saw_items = false;
    if b.get(i) == Some(&b'}') {
        return None;
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(b, i)?;
        let key = &b[i + 1..key_end - 1];
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        match key {
            b"items" => {
                saw_items = true;
                if b.get(i) != Some(&b'[') {
                    return None;
                }
                i = skip_ws(b, i + 1);
                if b.get(i) == Some(&b']') {
                    i += 1;
                } else {
                    loop {
                        let end = skip_value(b, i)?;
                        out.items.push((i, end));
                        i = skip_ws(b, end);
                        match b.get(i) {
                            Some(b',') => i = skip_ws(b, i + 1),
                            Some(b']') => {
                                i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
            }
            b"kind" => {
                let end = skip_value(b, i)?;
                out.kind = serde_json::from_slice::<String>(&b[i..end]).ok();
                i = end;
            }
            _ => i = skip_value(b, i)?,
        }
        i = skip_ws(b, i);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => break,
            _ => return None,
        }
    }
    // Only trailing whitespace may follow.
    if skip_ws(b, i + 1) != b.len() || !saw_items {
        return None;
    }
    Some(out)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t')) {
        i += 1;
    }
    i
}

/// `b[i]` is a quote; returns the index after the closing quote.
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        j += memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[j] == b'\\' {
            j += 2;
        } else {
            return Some(j + 1);
        }
    }
}

/// Returns the index after the JSON value starting at `i`. Only structure is checked;
/// the real parse validates everything else.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while b.get(j).is_some_and(|c| !matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')) {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

fn decode_error(origin: &str, e: &serde_json::Error) -> Error {
    let reason = if e.is_eof() { format!("truncated input: {e}") } else { e.to_string() };
    Error::Decode { origin: origin.to_owned(), reason }
}

/// The top level of a document: a `List`, a single object, or an array of objects.
/// Objects go straight into the cluster as they are decoded, never into an intermediate list.
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

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        ItemsSeed { cluster: self.0, default_kind: None }.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        visit_object(map, None, self.0, false)
    }
}

/// One YAML document, decoded into a cluster of its own.
struct YamlDoc(Cluster);

impl<'de> Deserialize<'de> for YamlDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut cluster = Cluster::new();
        TopLevel(&mut cluster).deserialize(d)?;
        Ok(YamlDoc(cluster))
    }
}

/// One object of any kind, inserted into the cluster; `default_kind` names the kind for
/// items of a typed list (`PodList`) that do not carry their own, as raw API answers do.
struct ItemSeed<'c, 'k> {
    cluster: &'c mut Cluster,
    default_kind: Option<&'k str>,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object with apiVersion and kind")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        visit_object(map, self.default_kind, self.cluster, true)
    }
}

/// The items of a list, inserted as they stream past.
struct ItemsSeed<'c, 'k> {
    cluster: &'c mut Cluster,
    default_kind: Option<&'k str>,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of Kubernetes objects")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(ItemSeed { cluster: &mut *self.cluster, default_kind: self.default_kind })?
            .is_some()
        {}
        Ok(())
    }
}

/// Reads a map that is either a List (it has `items`) or an object (it has `kind`), and
/// inserts what it holds. `nested` is set inside a List, where another List is an error.
fn visit_object<'de, A: MapAccess<'de>>(
    mut map: A,
    default_kind: Option<&str>,
    cluster: &mut Cluster,
    nested: bool,
) -> Result<(), A::Error> {
    let no_nesting = || A::Error::custom("a List nested inside a List");
    let mut api_version = String::new();
    // Fast path: apiVersion and kind come first, as kubectl and the API server write them.
    loop {
        let Some(key) = map.next_key::<Key>()? else {
            let kind = default_kind.ok_or_else(|| A::Error::custom("object has no kind"))?;
            cluster.insert(decode_value(&api_version, kind, Map::new())?);
            return Ok(());
        };
        match key {
            Key::ApiVersion => api_version = map.next_value::<Option<String>>()?.unwrap_or_default(),
            Key::Kind => {
                let kind: String = map.next_value()?;
                if let Some(item_kind) = kind.strip_suffix("List") {
                    if nested {
                        return Err(no_nesting());
                    }
                    return finish_list(map, item_kind, cluster);
                }
                cluster.insert(typed_rest(&api_version, &kind, map)?);
                return Ok(());
            }
            Key::Items => {
                // An object with `items` is a List, whatever its kind says later.
                if nested {
                    return Err(no_nesting());
                }
                map.next_value_seed(ItemsSeed { cluster, default_kind: None })?;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                return Ok(());
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
                    if nested {
                        return Err(no_nesting());
                    }
                    let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
                    return ItemsSeed { cluster, default_kind: item_kind }.deserialize(items).map_err(A::Error::custom);
                }
                cluster.insert(decode_value(&api_version, &kind, rest)?);
                return Ok(());
            }
        }
    }
}

fn finish_list<'de, A: MapAccess<'de>>(mut map: A, item_kind: &str, cluster: &mut Cluster) -> Result<(), A::Error> {
    let default_kind = (!item_kind.is_empty()).then_some(item_kind);
    while let Some(key) = map.next_key::<Key>()? {
        match key {
            Key::Items => map.next_value_seed(ItemsSeed { cluster: &mut *cluster, default_kind })?,
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(())
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
    fn parallel_decode_matches_serial() {
        // A List big enough for the parallel path, with strings holding braces, brackets,
        // commas and escaped quotes that a naive splitter would trip on.
        let mut json = String::from(r#"{"apiVersion":"v1","items":["#);
        let mut n = 0;
        while json.len() < PARALLEL_MIN_BYTES + 1000 {
            if n > 0 {
                json.push(',');
            }
            json.push_str(&format!(
                r#"{{"apiVersion":"v1","kind":"Event","metadata":{{"name":"e{n}","namespace":"x"}},"involvedObject":{{"kind":"Pod","name":"p{n}","namespace":"x"}},"reason":"BackOff","message":"tricky }}],[{{ \"quoted\" \\ {n}","type":"Warning","count":{n}}}"#
            ));
            n += 1;
        }
        json.push_str(r#"],"kind":"List","metadata":{}}"#);
        let parallel = decode_json_parallel(&json).expect("the parallel path applies");
        let mut serial = Cluster::new();
        decode_json(&mut serde_json::Deserializer::from_str(&json), &mut serial).expect("serial decode");
        assert_eq!(parallel.events.len(), n);
        assert_eq!(parallel.events, serial.events);
        assert_eq!(parallel.events[n - 1].message, format!(r#"tricky }}],[{{ "quoted" \ {}"#, n - 1));

        // A broken item anywhere makes the parallel path stand down; the serial pass reports it.
        let broken = json.replacen(r#""count":7}"#, r#""count":"seven"}"#, 1);
        assert!(decode_json_parallel(&broken).is_none());
        assert!(matches!(decode_document(broken.as_bytes(), "big"), Err(Error::Decode { .. })));
        let truncated = &json[..json.len() - 40];
        assert!(decode_json_parallel(truncated).is_none());
        assert!(decode_document(truncated.as_bytes(), "big").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(decode_document(deep.as_bytes(), "deep").is_err());
        let deep_yaml = format!("a: {}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(decode_document(deep_yaml.as_bytes(), "deep").is_err());
    }
}
