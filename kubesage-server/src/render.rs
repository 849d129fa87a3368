//! Rendering a scan [`Report`] as a table, JSON, YAML or Markdown.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::IsTerminal;

use kubesage_core::{Finding, Report, Severity};
use serde::Serialize;

use crate::error::{Error, Result};

/// The machine-readable document: the report plus where it came from.
#[derive(Debug, Serialize)]
struct Document<'a> {
    source: &'a str,
    #[serde(flatten)]
    report: &'a Report,
}

/// The report as pretty JSON: `{"source", "findings": [...], "summary", "skipped", "warnings", "observed_at"}`.
pub fn json(report: &Report, source: &str) -> Result<String> {
    let mut text =
        serde_json::to_string_pretty(&Document { source, report }).map_err(|e| Error::Output(e.to_string()))?;
    text.push('\n');
    Ok(text)
}

/// The same document as YAML.
pub fn yaml(report: &Report, source: &str) -> Result<String> {
    serde_saphyr::to_string(&Document { source, report }).map_err(|e| Error::Output(e.to_string()))
}

fn colour(severity: Severity) -> (&'static str, &'static str) {
    let enabled = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    if !enabled {
        return ("", "");
    }
    match severity {
        Severity::Critical => ("\x1b[1;31m", "\x1b[0m"),
        Severity::Warning => ("\x1b[33m", "\x1b[0m"),
        Severity::Info => ("\x1b[36m", "\x1b[0m"),
    }
}

fn object_name(f: &Finding) -> String {
    match &f.object.namespace {
        Some(ns) => format!("{}/{}", ns, f.object.name),
        None => f.object.name.clone(),
    }
}

/// Aligned columns, one finding per row; with `details`, evidence and next steps beneath.
pub fn table(report: &Report, source: &str, details: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Scanned {source}{}",
        report.observed_at.as_ref().map(|t| format!(" (as of {t})")).unwrap_or_default()
    );
    if report.findings.is_empty() {
        let _ = writeln!(s, "No problems found in {} objects.", report.summary.objects.values().sum::<usize>());
        return s;
    }
    let headers = ["SEVERITY", "KIND", "NAMESPACE/NAME", "REASON", "SUMMARY"];
    let rows: Vec<[String; 5]> = report
        .findings
        .iter()
        .map(|f| [f.severity.to_string(), f.object.kind.clone(), object_name(f), f.reason.clone(), f.summary.clone()])
        .collect();
    let mut widths = headers.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()).take(4) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let _ = writeln!(
        s,
        "\n{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
        headers[0],
        headers[1],
        headers[2],
        headers[3],
        headers[4],
        w0 = widths[0],
        w1 = widths[1],
        w2 = widths[2],
        w3 = widths[3]
    );
    let by_id: HashMap<&str, &Finding> = report.findings.iter().map(|f| (f.id.as_str(), f)).collect();
    for (f, r) in report.findings.iter().zip(&rows) {
        let (on, off) = colour(f.severity);
        let _ = writeln!(
            s,
            "{on}{:<w0$}{off}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        );
        if details {
            for e in &f.evidence {
                let _ = writeln!(s, "    - {e}");
            }
            for step in &f.next_steps {
                let _ = writeln!(s, "    > {step}");
            }
            if !f.related.is_empty() {
                let names =
                    related_names(f, &by_id, |g| format!("{} {} ({})", g.object.kind, object_name(g), g.reason));
                let _ = writeln!(s, "    related: {}", names.join("; "));
            }
            let _ = writeln!(s, "    id: {}", f.id);
        }
    }
    let _ = writeln!(
        s,
        "\n{} critical, {} warning, {} info in {} objects.",
        report.summary.critical,
        report.summary.warning,
        report.summary.info,
        report.summary.objects.values().sum::<usize>()
    );
    for w in &report.warnings {
        let _ = writeln!(s, "note: {w}");
    }
    if !details {
        let _ = writeln!(s, "Run with --details for evidence and next steps, or -o json for everything.");
    }
    s
}

/// A Markdown report: a summary table, then each finding with its evidence and next steps.
pub fn markdown(report: &Report, source: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# KubeSage scan\n");
    let _ = writeln!(s, "Source: {source}  ");
    if let Some(t) = &report.observed_at {
        let _ = writeln!(s, "Observed at: {t}  ");
    }
    let _ = writeln!(
        s,
        "Findings: **{} critical**, {} warning, {} info\n",
        report.summary.critical, report.summary.warning, report.summary.info
    );
    if !report.findings.is_empty() {
        let _ = writeln!(s, "| Severity | Object | Reason | Summary |\n|---|---|---|---|");
        for f in &report.findings {
            let _ = writeln!(
                s,
                "| {} | {} `{}` | {} | {} |",
                f.severity,
                f.object.kind,
                object_name(f),
                f.reason,
                escape_cell(&f.summary)
            );
        }
        let _ = writeln!(s);
    }
    let by_id: HashMap<&str, &Finding> = report.findings.iter().map(|f| (f.id.as_str(), f)).collect();
    for f in &report.findings {
        let _ = writeln!(s, "## {} {} `{}`: {}\n", f.severity, f.object.kind, object_name(f), f.reason);
        let _ = writeln!(s, "{}\n", f.summary);
        if !f.evidence.is_empty() {
            let _ = writeln!(s, "Evidence:\n");
            for e in &f.evidence {
                let _ = writeln!(s, "- `{}`", e.to_string().replace('`', "'"));
            }
            let _ = writeln!(s);
        }
        if !f.next_steps.is_empty() {
            let _ = writeln!(s, "Next steps:\n");
            for (i, step) in f.next_steps.iter().enumerate() {
                let _ = writeln!(s, "{}. {step}", i + 1);
            }
            let _ = writeln!(s);
        }
        if !f.related.is_empty() {
            let names = related_names(f, &by_id, |g| format!("{} `{}` ({})", g.object.kind, object_name(g), g.reason));
            let _ = writeln!(s, "Related: {}\n", names.join(", "));
        }
        let _ = writeln!(s, "<sub>id {} · analyzer {}</sub>\n", f.id, f.analyzer);
    }
    if !report.skipped.is_empty() {
        let _ = writeln!(s, "## Skipped kinds\n");
        for k in &report.skipped {
            let _ = writeln!(s, "- {}: {}", k.kind, k.reason);
        }
    }
    s
}

/// The findings a finding is related to, each described by `describe`.
fn related_names(f: &Finding, by_id: &HashMap<&str, &Finding>, describe: impl Fn(&Finding) -> String) -> Vec<String> {
    f.related.iter().filter_map(|id| by_id.get(id.as_str())).map(|g| describe(g)).collect()
}

fn escape_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
