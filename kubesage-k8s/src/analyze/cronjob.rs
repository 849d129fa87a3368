//! CronJobs: invalid schedules, suspended schedules, and a last run that failed.

use kubesage_core::model::{CronJob, condition};
use kubesage_core::{AnalysisContext, Analyzer, Evidence, Finding, Resource, ResourceKind, Severity};

/// Finds CronJobs that do not run, or whose last run failed.
#[derive(Debug, Clone, Copy, Default)]
pub struct CronJobAnalyzer;

const NAME: &str = "cronjob";

impl Analyzer for CronJobAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn reads(&self) -> &'static [ResourceKind] {
        &[ResourceKind::CronJob, ResourceKind::Job]
    }

    fn analyze(&self, cx: &AnalysisContext<'_>, out: &mut Vec<Finding>) {
        for cj in &cx.cluster.cron_jobs {
            analyze(cx, cj, out);
        }
    }
}

fn analyze<'a>(cx: &AnalysisContext<'a>, cj: &'a CronJob, out: &mut Vec<Finding>) {
    let me = cj.object_ref();
    if let Err(why) = validate_schedule(&cj.spec.schedule) {
        out.push(
            Finding::new(
                NAME,
                "InvalidSchedule",
                Severity::Critical,
                me.clone(),
                format!("Schedule {:?} is invalid: {why}", cj.spec.schedule),
            )
            .with_evidence(Evidence::field("spec.schedule", &cj.spec.schedule))
            .with_step("Use five fields: minute hour day-of-month month day-of-week, or a macro such as @daily."),
        );
    }
    if cj.spec.suspend {
        let mut f = Finding::new(
            NAME,
            "Suspended",
            Severity::Info,
            me.clone(),
            "CronJob is suspended: no new runs are scheduled",
        )
        .with_evidence(Evidence::field("spec.suspend", true))
        .with_step("Resume it with: kubectl patch cronjob -p '{\"spec\":{\"suspend\":false}}'");
        if let Some(t) = &cj.status.last_schedule_time {
            f = f.with_evidence(Evidence::field("status.lastScheduleTime", t));
        }
        out.push(f);
    }
    // The most recent Job decides whether the last run failed.
    let jobs = cx.index.jobs_owned_by(&cj.metadata.uid);
    let latest = jobs.iter().max_by(|a, b| a.metadata.creation_timestamp.cmp(&b.metadata.creation_timestamp));
    if let Some(job) = latest
        && let Some(c) = condition(&job.status.conditions, "Failed").filter(|c| c.status == "True")
    {
        let mut f = Finding::new(
            NAME,
            "LastRunFailed",
            Severity::Warning,
            me,
            format!("The last run, Job {}, failed: {}", job.metadata.name, c.reason),
        )
        .with_evidence(Evidence::condition(c))
        .with_link(job.object_ref());
        if let Some(t) = &cj.status.last_successful_time {
            f = f.with_evidence(Evidence::field("status.lastSuccessfulTime", t));
        } else {
            f = f.with_evidence(Evidence::message("no successful run is recorded"));
        }
        out.push(f.with_step("See the related Job finding for the failing pod's exit code."));
    }
}

/// Checks a schedule the way the CronJob controller parses it: five fields or a macro.
pub(crate) fn validate_schedule(schedule: &str) -> Result<(), String> {
    let s = schedule.trim();
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if let Some(macro_) = s.strip_prefix('@') {
        // `@every <duration>` is accepted too (the controller parses with robfig/cron).
        if let Some(every) = macro_.strip_prefix("every ") {
            return if is_go_duration(every) {
                Ok(())
            } else {
                Err(format!("{every:?} is not a duration such as 90s or 1h30m"))
            };
        }
        return match macro_ {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => Ok(()),
            _ => Err(format!("unknown macro @{macro_}")),
        };
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected 5 fields, found {}", fields.len()));
    }
    const MONTHS: &[&str] = &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
    const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    let specs: [(&str, u32, u32, &[&str], u32); 5] = [
        ("minute", 0, 59, &[], 0),
        ("hour", 0, 23, &[], 0),
        ("day of month", 1, 31, &[], 0),
        ("month", 1, 12, MONTHS, 1),
        ("day of week", 0, 7, DAYS, 0),
    ];
    for (field, (label, lo, hi, names, name_base)) in fields.iter().zip(specs) {
        validate_field(field, lo, hi, names, name_base).map_err(|e| format!("{label} field {field:?}: {e}"))?;
    }
    Ok(())
}

/// Whether `s` is a Go duration (`90s`, `1h30m`, `1.5h`), as `@every` takes.
fn is_go_duration(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    if s == "0" {
        return true;
    }
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..n];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return false;
        }
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        if !matches!(&rest[..u], "ns" | "us" | "\u{b5}s" | "\u{3bc}s" | "ms" | "s" | "m" | "h") {
            return false;
        }
        rest = &rest[u..];
    }
    true
}

fn validate_field(field: &str, lo: u32, hi: u32, names: &[&str], name_base: u32) -> Result<(), String> {
    let value = |s: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return u32::try_from(i).map(|i| i + name_base).map_err(|e| e.to_string());
        }
        let v: u32 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
        if v < lo || v > hi { Err(format!("{v} is outside {lo}-{hi}")) } else { Ok(v) }
    };
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        if let Some(step) = step {
            let n: u32 = step.parse().map_err(|_| format!("step {step:?} is not a number"))?;
            if n == 0 {
                return Err("a step of 0".into());
            }
        }
        if range == "*" || range == "?" {
            continue;
        }
        match range.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (value(a)?, value(b)?);
                if a > b {
                    return Err(format!("range {a}-{b} runs backwards"));
                }
            }
            None => {
                value(range)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_schedule;

    #[test]
    fn schedules() {
        for ok in [
            "0 2 * * *",
            "*/15 * * * 1-5",
            "0 0 1 JAN,jul ?",
            "@daily",
            "5,35 8-18/2 * * SUN-SAT",
            "@every 48h",
            "@every 1h30m",
            "@every 1.5h",
        ] {
            assert!(validate_schedule(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "* * * *",
            "61 * * * *",
            "* 24 * * *",
            "0 0 0 * *",
            "*/0 * * * *",
            "@sometimes",
            "5-1 * * * *",
            "a b c d e",
            "@every",
            "@every 5",
            "@every 5x",
            "@every h",
        ] {
            assert!(validate_schedule(bad).is_err(), "{bad}");
        }
    }
}
