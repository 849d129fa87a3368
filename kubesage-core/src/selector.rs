//! Label selectors as `kubectl --selector` takes them: `app=web,tier!=db,env in (a,b),!canary`.

use std::collections::BTreeMap;
use std::fmt;

use compact_str::CompactString;

use crate::error::Error;

/// One requirement of a [`Selector`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` or `key==value`.
    Equals(String, String),
    /// `key!=value` (also true when the label is absent).
    NotEquals(String, String),
    /// `key in (a,b)`.
    In(String, Vec<String>),
    /// `key notin (a,b)` (also true when the label is absent).
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    DoesNotExist(String),
}

/// A parsed label selector; all requirements must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
    source: String,
}

impl Selector {
    /// Parses a selector string. An empty string selects everything.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let err = |reason: &str| Error::Selector { selector: input.to_owned(), reason: reason.to_owned() };
        let mut requirements = Vec::new();
        for clause in split_top_level(input).map_err(&err)? {
            let clause = clause.trim();
            if clause.is_empty() {
                if input.trim().is_empty() {
                    continue;
                }
                return Err(err("empty requirement"));
            }
            requirements.push(parse_clause(clause).map_err(|r| err(&r))?);
        }
        Ok(Selector { requirements, source: input.trim().to_owned() })
    }

    /// Whether the labels satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<CompactString, CompactString>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k.as_str()).is_some_and(|l| l == v),
            Requirement::NotEquals(k, v) => labels.get(k.as_str()).is_none_or(|l| l != v),
            Requirement::In(k, vs) => labels.get(k.as_str()).is_some_and(|l| vs.iter().any(|v| l == v)),
            Requirement::NotIn(k, vs) => labels.get(k.as_str()).is_none_or(|l| !vs.iter().any(|v| l == v)),
            Requirement::Exists(k) => labels.contains_key(k.as_str()),
            Requirement::DoesNotExist(k) => !labels.contains_key(k.as_str()),
        })
    }

    /// The requirements.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for Selector {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Selector::parse(s)
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(input: &str) -> Result<Vec<&str>, &'static str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or("unbalanced ')'")?,
            ',' if depth == 0 => {
                out.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '('");
    }
    out.push(&input[start..]);
    Ok(out)
}

fn parse_clause(clause: &str) -> Result<Requirement, String> {
    if let Some(key) = clause.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(valid_key(key.trim())?));
    }
    if let Some((k, v)) = clause.split_once("!=") {
        return Ok(Requirement::NotEquals(valid_key(k.trim())?, valid_value(v.trim())?));
    }
    if let Some((k, v)) = clause.split_once("==").or_else(|| clause.split_once('=')) {
        return Ok(Requirement::Equals(valid_key(k.trim())?, valid_value(v.trim())?));
    }
    let mut words = clause.splitn(2, char::is_whitespace);
    let key = words.next().unwrap_or_default();
    let rest = words.next().map(str::trim).unwrap_or_default();
    if rest.is_empty() {
        return Ok(Requirement::Exists(valid_key(key)?));
    }
    let (op, set) = rest.split_once(char::is_whitespace).map_or((rest, ""), |(o, s)| (o, s.trim()));
    let (op, set) = match rest.find('(') {
        Some(p) if op.contains('(') => (rest[..p].trim(), &rest[p..]),
        _ => (op, set),
    };
    let inner = set
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesised value list after {op:?}"))?;
    let values = inner.split(',').map(|v| valid_value(v.trim())).collect::<Result<Vec<_>, _>>()?;
    match op {
        "in" => Ok(Requirement::In(valid_key(key)?, values)),
        "notin" => Ok(Requirement::NotIn(valid_key(key)?, values)),
        _ => Err(format!("unknown operator {op:?}; expected =, ==, !=, in or notin")),
    }
}

fn valid_key(key: &str) -> Result<String, String> {
    let name = key.rsplit('/').next().unwrap_or_default();
    let ok = !name.is_empty()
        && name.len() <= 63
        && key.len() <= 317
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok { Ok(key.to_owned()) } else { Err(format!("invalid label key {key:?}")) }
}

fn valid_value(value: &str) -> Result<String, String> {
    let ok = value.len() <= 63 && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok { Ok(value.to_owned()) } else { Err(format!("invalid label value {value:?}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<CompactString, CompactString> {
        pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn equality_and_sets() {
        let s = Selector::parse("app=web, tier!=db,env in (prod, stage),!canary,team").unwrap_or_default();
        assert_eq!(s.requirements().len(), 5);
        assert!(s.matches(&labels(&[("app", "web"), ("env", "prod"), ("team", "a")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("env", "dev"), ("team", "a")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("env", "prod"), ("team", "a"), ("canary", "")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("env", "prod"), ("team", "a"), ("tier", "db")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("env", "prod")])));
        let n = Selector::parse("env notin (prod),app==web").unwrap_or_default();
        assert!(n.matches(&labels(&[("app", "web")])));
        assert!(!n.matches(&labels(&[("app", "web"), ("env", "prod")])));
    }

    #[test]
    fn empty_selects_all() {
        let s = Selector::parse("  ").unwrap_or_else(|_| Selector::parse("x").unwrap_or_default());
        assert!(s.is_empty());
        assert!(s.matches(&labels(&[])));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["app=we b", "env in prod", "env in (a", "a,,b", "env near (a)", "=x", "a)"] {
            assert!(matches!(Selector::parse(bad), Err(Error::Selector { .. })), "{bad}");
        }
    }
}
