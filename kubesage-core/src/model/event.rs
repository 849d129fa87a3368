//! Events, in both the core/v1 and the events.k8s.io/v1 shape.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use super::{ObjectMeta, nullable};

/// An event about an object.
///
/// Both API shapes parse into this one type: `regarding`, `note`, `deprecatedCount` and
/// `deprecatedLastTimestamp` (events.k8s.io/v1) are aliases of `involvedObject`, `message`,
/// `count` and `lastTimestamp` (core/v1).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Event {
    /// Metadata of the event itself.
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// The object it is about.
    #[serde(alias = "regarding", deserialize_with = "nullable")]
    pub involved_object: InvolvedObject,
    /// The reason (`BackOff`, `FailedScheduling`).
    #[serde(deserialize_with = "nullable")]
    pub reason: CompactString,
    /// The message.
    #[serde(alias = "note", deserialize_with = "nullable")]
    pub message: CompactString,
    /// `Normal` or `Warning`.
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub type_: CompactString,
    /// How often it happened (old style).
    #[serde(alias = "deprecatedCount")]
    pub count: Option<i64>,
    /// First occurrence (old style).
    #[serde(alias = "deprecatedFirstTimestamp")]
    pub first_timestamp: Option<CompactString>,
    /// Last occurrence (old style).
    #[serde(alias = "deprecatedLastTimestamp")]
    pub last_timestamp: Option<CompactString>,
    /// Occurrence time (new style, microseconds).
    pub event_time: Option<CompactString>,
    /// Repetition (new style).
    pub series: Option<EventSeries>,
}

/// The object an event is about.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InvolvedObject {
    /// Kind.
    #[serde(deserialize_with = "nullable")]
    pub kind: CompactString,
    /// Namespace.
    #[serde(deserialize_with = "nullable")]
    pub namespace: CompactString,
    /// Name.
    #[serde(deserialize_with = "nullable")]
    pub name: CompactString,
}

/// Repetition of a new-style event.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventSeries {
    /// Occurrences.
    #[serde(deserialize_with = "nullable")]
    pub count: i64,
    /// Last occurrence.
    pub last_observed_time: Option<CompactString>,
}

impl Event {
    /// How many times it happened (at least 1).
    pub fn count(&self) -> u32 {
        let n = self.series.as_ref().map(|s| s.count).filter(|&c| c > 0).or(self.count).unwrap_or(1);
        u32::try_from(n.max(1)).unwrap_or(u32::MAX)
    }

    /// When it last happened, in the best field available.
    pub fn last_seen(&self) -> Option<&str> {
        self.series
            .as_ref()
            .and_then(|s| s.last_observed_time.as_deref())
            .or(self.last_timestamp.as_deref())
            .or(self.event_time.as_deref())
            .or(self.first_timestamp.as_deref())
            .or(self.metadata.creation_timestamp.as_deref())
    }

    /// Whether this is a `Warning` event.
    pub fn is_warning(&self) -> bool {
        self.type_ == "Warning"
    }
}
