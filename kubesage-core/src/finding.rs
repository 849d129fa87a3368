//! Findings: what an analyzer reports about one object, with the evidence behind it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// How urgent a finding is. Ordered: `Info < Warning < Critical`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, nothing is broken yet (a suspended CronJob, a released volume).
    Info,
    /// Degraded or at risk: partial availability, node pressure, a pending claim.
    Warning,
    /// Broken: a workload that cannot run, a node that is down, an admission path that rejects.
    Critical,
}

impl Severity {
    /// The lowercase name used in output and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "warning" | "warn" => Ok(Severity::Warning),
            "critical" | "crit" => Ok(Severity::Critical),
            _ => Err(Error::UnknownSeverity(s.to_owned())),
        }
    }
}

/// Names one Kubernetes object: its kind, namespace (none for cluster-scoped kinds) and name.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    /// The object's kind, spelled as Kubernetes spells it (`Pod`, `PersistentVolumeClaim`).
    pub kind: String,
    /// The namespace, or `None` for cluster-scoped objects such as nodes.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
}

impl ObjectRef {
    /// A reference to a namespaced object (an empty namespace means cluster-scoped).
    pub fn new(kind: impl Into<String>, namespace: &str, name: impl Into<String>) -> Self {
        ObjectRef {
            kind: kind.into(),
            namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
            name: name.into(),
        }
    }

    /// The namespace, or `""` for cluster-scoped objects.
    pub fn namespace_str(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// One piece of evidence behind a finding, quoted from the cluster.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Evidence {
    /// A field of the object, by its path in the API object (`status.phase`).
    Field {
        /// A JSONPath-like path into the object.
        path: String,
        /// The field's value as text.
        value: String,
    },
    /// A status condition of the object.
    Condition {
        /// The condition type (`Ready`, `Progressing`).
        condition: String,
        /// `True`, `False` or `Unknown`.
        status: String,
        /// The machine-readable reason, if any.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
        /// The human-readable message, if any.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        message: String,
    },
    /// A Kubernetes event recorded about the object.
    Event {
        /// `Normal` or `Warning`.
        event_type: String,
        /// The event reason (`BackOff`, `FailedScheduling`).
        reason: String,
        /// The event message.
        message: String,
        /// How many times the event was seen.
        count: u32,
        /// When it was last seen (RFC 3339), if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_seen: Option<String>,
    },
    /// A fact KubeSage established by looking across objects (a reference that does not resolve).
    Message {
        /// The fact, in a sentence.
        text: String,
    },
}

impl Evidence {
    /// Evidence from a field.
    pub fn field(path: impl Into<String>, value: impl fmt::Display) -> Self {
        Evidence::Field { path: path.into(), value: value.to_string() }
    }

    /// Evidence stated as a sentence.
    pub fn message(text: impl Into<String>) -> Self {
        Evidence::Message { text: text.into() }
    }

    /// Evidence from a status condition.
    pub fn condition(c: &crate::model::Condition) -> Self {
        Evidence::Condition {
            condition: c.type_.to_string(),
            status: c.status.to_string(),
            reason: c.reason.to_string(),
            message: c.message.to_string(),
        }
    }

    /// Evidence from an event.
    pub fn event(e: &crate::model::Event) -> Self {
        Evidence::Event {
            event_type: e.type_.to_string(),
            reason: e.reason.to_string(),
            message: e.message.to_string(),
            count: e.count(),
            last_seen: e.last_seen().map(str::to_owned),
        }
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Evidence::Field { path, value } => write!(f, "{path} = {value}"),
            Evidence::Condition { condition, status, reason, message } => {
                write!(f, "condition {condition}={status}")?;
                if !reason.is_empty() {
                    write!(f, " ({reason})")?;
                }
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            Evidence::Event { event_type, reason, message, count, .. } => {
                write!(f, "event {event_type} {reason}")?;
                if *count > 1 {
                    write!(f, " (x{count})")?;
                }
                write!(f, ": {message}")
            }
            Evidence::Message { text } => f.write_str(text),
        }
    }
}

/// A problem found on one object.
///
/// Invariant: `id` is a pure function of `analyzer`, `reason` and `object`, so the same
/// problem on the same object has the same id on every scan, whatever its counters or
/// messages say this time. See [`fingerprint`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable fingerprint of the problem (16 hex digits).
    pub id: String,
    /// The analyzer that reported it (`pod`, `service`).
    pub analyzer: String,
    /// A short machine-readable reason (`CrashLoopBackOff`, `NoReadyEndpoints`).
    pub reason: String,
    /// How urgent it is.
    pub severity: Severity,
    /// The object the finding is about.
    pub object: ObjectRef,
    /// One sentence a person can act on.
    pub summary: String,
    /// What in the cluster shows the problem.
    pub evidence: Vec<Evidence>,
    /// Suggested next steps, most useful first.
    #[serde(default)]
    pub next_steps: Vec<String>,
    /// Ids of findings about the same root cause (the Deployment of a crashing Pod, and so on).
    #[serde(default)]
    pub related: Vec<String>,
    /// Objects whose findings share a cause with this one; the orchestration turns
    /// these into `related` ids. Not part of the output.
    #[serde(skip)]
    pub links: Vec<ObjectRef>,
}

impl Finding {
    /// Starts a finding; the id is computed from analyzer, reason and object.
    pub fn new(
        analyzer: &str,
        reason: &str,
        severity: Severity,
        object: ObjectRef,
        summary: impl Into<String>,
    ) -> Self {
        Finding {
            id: fingerprint(analyzer, reason, &object),
            analyzer: analyzer.to_owned(),
            reason: reason.to_owned(),
            severity,
            object,
            summary: summary.into(),
            evidence: Vec::new(),
            next_steps: Vec::new(),
            related: Vec::new(),
            links: Vec::new(),
        }
    }

    /// Adds a piece of evidence.
    pub fn with_evidence(mut self, e: Evidence) -> Self {
        self.evidence.push(e);
        self
    }

    /// Adds a suggested next step.
    pub fn with_step(mut self, step: impl Into<String>) -> Self {
        self.next_steps.push(step.into());
        self
    }

    /// Declares another object whose problems share a cause with this one.
    pub fn with_link(mut self, object: ObjectRef) -> Self {
        if !self.links.contains(&object) {
            self.links.push(object);
        }
        self
    }
}

/// The stable id of a problem: FNV-1a (64 bit) over analyzer, reason, kind, namespace and name.
///
/// FNV is used because its output is fixed by its definition, not by a library version or
/// a per-process random seed, so ids stay comparable across releases and machines.
pub fn fingerprint(analyzer: &str, reason: &str, object: &ObjectRef) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for part in [analyzer, reason, &object.kind, object.namespace_str(), &object.name] {
        for &byte in part.as_bytes() {
            h ^= u64::from(byte);
            h = h.wrapping_mul(PRIME);
        }
        // A separator that cannot occur in names keeps ("ab","c") apart from ("a","bc").
        h ^= 0xff;
        h = h.wrapping_mul(PRIME);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_discriminating() {
        let pod = ObjectRef::new("Pod", "shop", "api-1");
        let a = fingerprint("pod", "CrashLoopBackOff", &pod);
        assert_eq!(a, fingerprint("pod", "CrashLoopBackOff", &pod.clone()));
        assert_eq!(a.len(), 16);
        assert_ne!(a, fingerprint("pod", "OOMKilled", &pod));
        assert_ne!(a, fingerprint("pod", "CrashLoopBackOff", &ObjectRef::new("Pod", "shop", "api-2")));
        assert_ne!(
            fingerprint("x", "ab", &ObjectRef::new("K", "", "c")),
            fingerprint("x", "a", &ObjectRef::new("K", "", "bc"))
        );
        // Pinned (computed independently from the FNV-1a definition): changing the hash
        // would change every id users have stored.
        assert_eq!(a, "db6dcac41f3367a3");
    }

    #[test]
    fn finding_id_ignores_summary_and_evidence() {
        let obj = ObjectRef::new("Pod", "shop", "api-1");
        let a = Finding::new("pod", "CrashLoopBackOff", Severity::Critical, obj.clone(), "restarted 3 times");
        let b = Finding::new("pod", "CrashLoopBackOff", Severity::Critical, obj, "restarted 9 times")
            .with_evidence(Evidence::field("status.phase", "Running"));
        assert_eq!(a.id, b.id);
    }

    #[test]
    fn severity_orders_and_parses() {
        assert!(Severity::Critical > Severity::Warning && Severity::Warning > Severity::Info);
        assert_eq!("Critical".parse::<Severity>().ok(), Some(Severity::Critical));
        assert!(matches!("fatal".parse::<Severity>(), Err(Error::UnknownSeverity(_))));
    }

    #[test]
    fn object_ref_display_and_json() {
        let node = ObjectRef::new("Node", "", "n1");
        assert_eq!(node.to_string(), "Node/n1");
        assert_eq!(node.namespace, None);
        let json = serde_json::to_value(ObjectRef::new("Pod", "a", "b")).unwrap_or_default();
        assert_eq!(json, serde_json::json!({"kind": "Pod", "namespace": "a", "name": "b"}));
    }
}
