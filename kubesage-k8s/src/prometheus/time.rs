//! Times and steps as users write them on a command line or in a request: Unix seconds,
//! RFC 3339, `now-15m`; `30s`, `5m`, `1h`.

/// Parses a point in time into Unix seconds, given the current time `now` (Unix seconds).
///
/// Accepts Unix seconds, with or without a fraction (`1700000000`, `1700000000.5`, rounded
/// down), RFC 3339 (`2024-05-01T12:00:00Z`, `2024-05-01T14:00:00.5+02:00`), `now`, and `now`
/// plus or minus a duration as [`parse_step`] reads it (`now-15m`, `now-2h`, `now-7d`,
/// `now+30s`). Returns `None` for anything else, and for times too far out to represent.
///
/// ```
/// use kubesage_k8s::prometheus::parse_time;
/// let now = 1_700_000_000;
/// assert_eq!(parse_time("now-15m", now), Some(now - 900));
/// assert_eq!(parse_time("2023-11-14T22:13:20Z", now), Some(now));
/// assert_eq!(parse_time("1700000000.9", now), Some(now));
/// assert_eq!(parse_time("yesterday", now), None);
/// ```
pub fn parse_time(s: &str, now: i64) -> Option<i64> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix("now") {
        if rest.is_empty() {
            return Some(now);
        }
        let (sign, duration) = match rest.as_bytes().first()? {
            b'-' => (-1, &rest[1..]),
            b'+' => (1, &rest[1..]),
            _ => return None,
        };
        let secs = i64::try_from(parse_step(duration)?).ok()?;
        return now.checked_add(sign * secs);
    }
    if s.as_bytes().first().is_some_and(u8::is_ascii_digit) && !s.contains(['-', ':']) {
        return parse_unix_seconds(s);
    }
    kubesage_core::time::parse_rfc3339(s)
}

/// `123` or `123.456` (seconds), rounded down; digits only, no sign or exponent.
fn parse_unix_seconds(s: &str) -> Option<i64> {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.bytes().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || (s.contains('.') && fraction.is_empty()) {
        return None;
    }
    whole.parse().ok()
}

/// Parses a query step (or any positive duration) into seconds: bare seconds (`300`) or a
/// number with one unit, `s`, `m`, `h`, `d` or `w` (`30s`, `5m`, `1h`, `1d`). Zero, fractions,
/// signs, compound durations (`1h30m`) and overflowing values give `None`.
///
/// ```
/// use kubesage_k8s::prometheus::parse_step;
/// assert_eq!(parse_step("5m"), Some(300));
/// assert_eq!(parse_step("300"), Some(300));
/// assert_eq!(parse_step("0s"), None);
/// ```
pub fn parse_step(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    if number.is_empty() {
        return None;
    }
    let multiplier: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    let secs = number.parse::<u64>().ok()?.checked_mul(multiplier)?;
    // Beyond i64 it cannot be added to a timestamp; zero is no step at all.
    (secs > 0 && i64::try_from(secs).is_ok()).then_some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn relative_times_count_back_from_now() {
        assert_eq!(parse_time("now", NOW), Some(NOW));
        assert_eq!(parse_time(" now ", NOW), Some(NOW));
        assert_eq!(parse_time("now-15m", NOW), Some(NOW - 900));
        assert_eq!(parse_time("now-2h", NOW), Some(NOW - 7_200));
        assert_eq!(parse_time("now-7d", NOW), Some(NOW - 604_800));
        assert_eq!(parse_time("now-90", NOW), Some(NOW - 90));
        assert_eq!(parse_time("now+30s", NOW), Some(NOW + 30));
        for bad in ["now-", "now-0m", "now-5x", "now5m", "now--5m", "now-1.5h", "nowish", "NOW"] {
            assert_eq!(parse_time(bad, NOW), None, "{bad}");
        }
    }

    #[test]
    fn absolute_times_are_unix_seconds_or_rfc3339() {
        assert_eq!(parse_time("1700000000", NOW), Some(1_700_000_000));
        assert_eq!(parse_time("1700000000.999", NOW), Some(1_700_000_000));
        assert_eq!(parse_time("0", NOW), Some(0));
        assert_eq!(parse_time("2023-11-14T22:13:20Z", NOW), Some(NOW));
        assert_eq!(parse_time("2023-11-14T23:13:20.250+01:00", NOW), Some(NOW));
        for bad in ["", "1e9", "-5", "17000.", ".5", "12a", "2023-11-14", "99999999999999999999"] {
            assert_eq!(parse_time(bad, NOW), None, "{bad}");
        }
    }

    #[test]
    fn steps_take_one_unit_and_must_be_positive() {
        assert_eq!(parse_step("300"), Some(300));
        assert_eq!(parse_step("30s"), Some(30));
        assert_eq!(parse_step("5m"), Some(300));
        assert_eq!(parse_step("1h"), Some(3_600));
        assert_eq!(parse_step("1d"), Some(86_400));
        assert_eq!(parse_step("2w"), Some(1_209_600));
        for bad in ["", "0", "0s", "-5m", "+5m", "1.5m", "5 m", "1h30m", "5M", "m", "99999999999999999999d"] {
            assert_eq!(parse_step(bad), None, "{bad}");
        }
    }
}
