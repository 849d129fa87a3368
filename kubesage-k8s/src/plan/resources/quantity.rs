//! Kubernetes resource quantities: `250m`, `1.5`, `512Mi`, `1G`, `2e3`.

/// Reads a quantity (`250m`, `0.5`, `512Mi`, `1G`, `1e3`) as a plain number: cores for CPU,
/// bytes for memory. `None` for anything the API server would refuse, and for negative or
/// non-finite values.
///
/// ```
/// use kubesage_k8s::plan::resources::parse_quantity;
/// assert_eq!(parse_quantity("250m"), Some(0.25));
/// assert_eq!(parse_quantity("512Mi"), Some(536_870_912.0));
/// assert_eq!(parse_quantity("1G"), Some(1e9));
/// assert_eq!(parse_quantity("1.5.0"), None);
/// ```
pub fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+')).unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    // An exponent (`1e3`) is part of the number, not a suffix (`1E` is exa).
    let (number, suffix) = match suffix.strip_prefix(['e', 'E']) {
        Some(rest) if !rest.is_empty() && rest.trim_start_matches(['+', '-']).bytes().all(|b| b.is_ascii_digit()) => {
            (text, "")
        }
        _ => (number, suffix),
    };
    if number.is_empty() || number.starts_with('.') && number.len() == 1 {
        return None;
    }
    let multiplier = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => return None,
    };
    let value: f64 = number.parse().ok()?;
    let value = value * multiplier;
    (value.is_finite() && value >= 0.0).then_some(value)
}

/// CPU in millicores as Kubernetes writes it: `250m`, `2` (whole cores without a suffix).
///
/// ```
/// use kubesage_k8s::plan::resources::format_cpu;
/// assert_eq!(format_cpu(250), "250m");
/// assert_eq!(format_cpu(2000), "2");
/// ```
pub fn format_cpu(millicores: u64) -> String {
    if millicores.is_multiple_of(1000) { (millicores / 1000).to_string() } else { format!("{millicores}m") }
}

/// Memory in bytes as Kubernetes writes it, with the largest suffix that divides it
/// exactly: `512Mi`, `1Gi`, `100M`, `1536Ki`, `1000001`.
///
/// ```
/// use kubesage_k8s::plan::resources::format_memory;
/// assert_eq!(format_memory(512 * 1024 * 1024), "512Mi");
/// assert_eq!(format_memory(100_000_000), "100M");
/// assert_eq!(format_memory(0), "0");
/// ```
pub fn format_memory(bytes: u64) -> String {
    if bytes == 0 {
        return "0".to_owned();
    }
    const UNITS: [(u64, &str); 8] = [
        (1 << 40, "Ti"),
        (1_000_000_000_000, "T"),
        (1 << 30, "Gi"),
        (1_000_000_000, "G"),
        (1 << 20, "Mi"),
        (1_000_000, "M"),
        (1 << 10, "Ki"),
        (1_000, "k"),
    ];
    for (unit, suffix) in UNITS {
        if bytes.is_multiple_of(unit) {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_with_every_suffix() {
        assert_eq!(parse_quantity("2"), Some(2.0));
        assert_eq!(parse_quantity("0.5"), Some(0.5));
        assert_eq!(parse_quantity("100m"), Some(0.1));
        assert_eq!(parse_quantity("1Gi"), Some(1_073_741_824.0));
        assert_eq!(parse_quantity("64Ki"), Some(65_536.0));
        assert_eq!(parse_quantity("128M"), Some(128e6));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("1E"), Some(1e18));
        assert_eq!(parse_quantity(" 1k "), Some(1000.0));
        for bad in ["", "m", "-1", "1x", "1 Mi", "Mi1", ".", "1.2.3", "1e", "NaN", "inf"] {
            assert_eq!(parse_quantity(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formatting_reads_back_to_the_same_number() {
        for m in [1, 25, 250, 999, 1000, 1500, 4000] {
            assert_eq!(parse_quantity(&format_cpu(m)), Some(m as f64 / 1000.0), "{m}");
        }
        for b in [1u64, 999, 1024, 1000, 262_144_000, 3 << 30, 5_000_000, 123_456_789] {
            assert_eq!(parse_quantity(&format_memory(b)), Some(b as f64), "{b}");
        }
        assert_eq!(format_memory(250 * 1024 * 1024), "250Mi");
        assert_eq!(format_memory(2 << 30), "2Gi");
    }
}
