//! Metadata filters, and the postings (key → value → slots) that tell the index how many
//! vectors a filter can match before it decides how to search.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The metadata stored with each vector: string keys to string values (a namespace, a kind,
/// a source document).
pub type Metadata = BTreeMap<String, String>;

/// A conjunction of metadata conditions: every condition must hold. A condition names a key
/// and the values it may take; a vector without the key never matches.
///
/// ```
/// use kubesage_ml::index::Filter;
///
/// let filter = Filter::new().equals("namespace", "prod").one_of("kind", ["Pod", "Deployment"]);
/// let metadata = [("namespace", "prod"), ("kind", "Pod")]
///     .into_iter()
///     .map(|(k, v)| (k.to_string(), v.to_string()))
///     .collect();
/// assert!(filter.matches(&metadata));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    conditions: Vec<(String, BTreeSet<String>)>,
}

impl Filter {
    /// A filter with no conditions, which matches everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the condition `metadata[key] == value`.
    #[must_use]
    pub fn equals(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.one_of(key, [value.into()])
    }

    /// Adds the condition `metadata[key]` is one of `values` (none matches an empty set).
    #[must_use]
    pub fn one_of<V: Into<String>>(mut self, key: impl Into<String>, values: impl IntoIterator<Item = V>) -> Self {
        self.conditions.push((key.into(), values.into_iter().map(Into::into).collect()));
        self
    }

    /// Whether the filter has no conditions.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// Whether `metadata` satisfies every condition.
    pub fn matches(&self, metadata: &Metadata) -> bool {
        self.conditions.iter().all(|(key, values)| metadata.get(key).is_some_and(|value| values.contains(value)))
    }
}

/// For each metadata key and value, the slots holding it, in increasing order. Deleted slots
/// stay until the index is compacted, so counts are upper bounds.
#[derive(Debug, Default)]
pub(crate) struct Postings {
    by_key: HashMap<String, HashMap<String, Vec<usize>>>,
}

impl Postings {
    /// Records `metadata` for `slot`; slots must arrive in increasing order.
    pub(crate) fn insert(&mut self, slot: usize, metadata: &Metadata) {
        for (key, value) in metadata {
            self.by_key.entry(key.clone()).or_default().entry(value.clone()).or_default().push(slot);
        }
    }

    /// Forgets every slot.
    pub(crate) fn clear(&mut self) {
        self.by_key.clear();
    }

    /// The slots listed for one condition of `filter`, and their number.
    fn condition(&self, key: &str, values: &BTreeSet<String>) -> (usize, Vec<&[usize]>) {
        let Some(by_value) = self.by_key.get(key) else {
            return (0, Vec::new());
        };
        let lists: Vec<&[usize]> = values.iter().filter_map(|v| by_value.get(v)).map(Vec::as_slice).collect();
        (lists.iter().map(|l| l.len()).sum(), lists)
    }

    /// The candidate slots of `filter` from its narrowest condition: a superset of the live
    /// slots it matches (it may hold deleted slots and slots failing other conditions).
    /// `None` for a filter without conditions.
    pub(crate) fn candidates(&self, filter: &Filter) -> Option<Vec<usize>> {
        let (_, lists) = filter
            .conditions
            .iter()
            .map(|(key, values)| self.condition(key, values))
            .min_by_key(|(count, _)| *count)?;
        // A slot has one value per key, so the lists of one condition are disjoint.
        let mut slots: Vec<usize> = lists.concat();
        slots.sort_unstable();
        Some(slots)
    }

    /// An upper bound on the slots `filter` matches (`None` without conditions).
    pub(crate) fn bound(&self, filter: &Filter) -> Option<usize> {
        filter.conditions.iter().map(|(key, values)| self.condition(key, values).0).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> Metadata {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn index_filter_conditions_are_anded_and_a_missing_key_fails() {
        let f = Filter::new().equals("ns", "prod").one_of("kind", ["Pod", "Job"]);
        assert!(f.matches(&meta(&[("ns", "prod"), ("kind", "Job")])));
        assert!(!f.matches(&meta(&[("ns", "dev"), ("kind", "Job")])));
        assert!(!f.matches(&meta(&[("ns", "prod")])));
        assert!(Filter::new().matches(&meta(&[])));
        assert!(!Filter::new().one_of("ns", Vec::<String>::new()).matches(&meta(&[("ns", "prod")])));
    }

    #[test]
    fn index_postings_pick_the_narrowest_condition() {
        let mut postings = Postings::default();
        for slot in 0..10 {
            let ns = if slot < 8 { "prod" } else { "dev" };
            let kind = if slot % 2 == 0 { "Pod" } else { "Job" };
            postings.insert(slot, &meta(&[("ns", ns), ("kind", kind)]));
        }
        let f = Filter::new().equals("ns", "dev").one_of("kind", ["Pod", "Job"]);
        assert_eq!(postings.bound(&f), Some(2));
        assert_eq!(postings.candidates(&f), Some(vec![8, 9]));
        assert_eq!(postings.bound(&Filter::new().equals("zone", "a")), Some(0));
        assert_eq!(postings.bound(&Filter::new()), None);
    }
}
