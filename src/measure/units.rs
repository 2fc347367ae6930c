//! The one formatter for durations, ratios and counts.

use std::time::Duration;

/// `0.35 µs`, `48.2 µs`, `1.25 ms`, `3.10 s`: three significant figures, unit chosen by size.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    let (value, unit) = if ns < 1_000_000.0 {
        (ns / 1_000.0, "µs")
    } else if ns < 1_000_000_000.0 {
        (ns / 1_000_000.0, "ms")
    } else {
        (ns / 1_000_000_000.0, "s")
    };
    format!("{} {unit}", three_figures(value))
}

/// `4.2×`, `37×`, `1,250×`.
pub fn format_ratio(ratio: f64) -> String {
    if !ratio.is_finite() {
        return "∞×".to_string();
    }
    if ratio >= 100.0 {
        format!("{}×", format_count(ratio.round() as u64))
    } else {
        format!("{}×", three_figures(ratio))
    }
}

/// `4.20× [3.90–4.60]`: a ratio and its 95% interval.
pub fn format_ratio_interval(ratio: f64, low: f64, high: f64) -> String {
    let bare = |r: f64| format_ratio(r).trim_end_matches('×').to_string();
    format!("{} [{}–{}]", format_ratio(ratio), bare(low), bare(high))
}

/// `1,234,567`.
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn three_figures(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_their_unit() {
        assert_eq!(format_duration(Duration::from_nanos(350)), "0.35 µs");
        assert_eq!(format_duration(Duration::from_nanos(48_200)), "48.2 µs");
        assert_eq!(format_duration(Duration::from_nanos(123_456)), "123 µs");
        assert_eq!(format_duration(Duration::from_micros(1_250)), "1.25 ms");
        assert_eq!(format_duration(Duration::from_millis(3_100)), "3.10 s");
    }

    #[test]
    fn ratios_and_counts() {
        assert_eq!(format_ratio(4.199), "4.20×");
        assert_eq!(format_ratio(37.04), "37.0×");
        assert_eq!(format_ratio(1249.6), "1,250×");
        assert_eq!(format_ratio(f64::INFINITY), "∞×");
        assert_eq!(format_ratio_interval(4.2, 3.9, 4.61), "4.20× [3.90–4.61]");
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1_234_567), "1,234,567");
    }
}
