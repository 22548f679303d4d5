//! Parsers for option values, one grammar each for every binary.

use std::time::Duration;

/// A positive duration: a number with an optional unit, `ms`, `s` (the
/// default), `m`, `h` or `d`: `90`, `1.5`, `250ms`, `15m`, `1h`, `2d`.
/// (`--poll`, `--request-timeout`, `--time-budget`, ...)
pub fn duration(text: &str) -> Result<Duration, String> {
    let d = any_duration(text)?;
    if d.is_zero() {
        return Err(format!("{text:?}: the duration must be positive"));
    }
    Ok(d)
}

/// An age: [`duration`]'s grammar, zero allowed (`--older-than 0`: now).
pub fn age(text: &str) -> Result<Duration, String> {
    any_duration(text)
}

fn any_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| c.is_alphabetic()).unwrap_or(t.len()));
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (90, 1.5s, 250ms, 15m, 1h, 2d)"))?;
    let scale = match unit {
        "us" | "µs" => 0.000_001,
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        other => return Err(format!("unknown unit {other:?} in {text:?}: use us, ms, s, m, h or d")),
    };
    let seconds = value * scale;
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("{text:?}: the duration must be positive"));
    }
    // A billion seconds (31 years) is "never" for every option here, and
    // keeps the conversion exact.
    if seconds >= 1e9 {
        return Err(format!("{text:?} is too long (at most 999999999 s)"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A size in bytes: `2G`, `512M`, `100000K`, `64KiB`, or plain bytes.
pub fn size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| c.is_alphabetic()).unwrap_or(t.len()));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (2G, 512M, bytes)"))?;
    let factor = match unit.to_ascii_uppercase().trim_end_matches('B').trim_end_matches('I') {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown unit {other:?} in {text:?}: use K, M or G")),
    };
    let bytes = value * factor;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(format!("{text:?}: the limit must be positive"));
    }
    if bytes >= u64::MAX as f64 {
        return Err(format!("{text:?} is too large"));
    }
    Ok(bytes as u64)
}

/// `KEY=VALUE` (`--tag`, `--param`, `--metric`): a non-empty key, trimmed.
pub fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

/// A finite number (`--test-score`, `--cv-score`).
pub fn finite(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(format!("{text:?} is not a finite number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_duration_grammar() {
        for (text, ms) in [
            ("90", 90_000),
            ("90s", 90_000),
            ("1.5", 1_500),
            ("250ms", 250),
            ("15m", 900_000),
            ("1h", 3_600_000),
            ("2d", 172_800_000),
            (" 0.05 ", 50),
        ] {
            assert_eq!(duration(text).unwrap(), Duration::from_millis(ms), "{text}");
        }
        assert_eq!(age("0").unwrap(), Duration::ZERO);
        assert_eq!(duration("100us").unwrap(), Duration::from_micros(100));
        assert_eq!(duration("2µs").unwrap(), Duration::from_micros(2));
        for (text, phrase) in [
            ("0", "must be positive"),
            ("-1s", "must be positive"),
            ("2w", "use us, ms, s, m, h or d"),
            ("soon", "is not a duration"),
            ("", "is not a duration"),
            ("NaN", "is not a duration"),
            ("inf", "is not a duration"),
            ("1000000000", "too long"),
        ] {
            let err = duration(text).unwrap_err();
            assert!(err.contains(phrase), "{text:?}: {err}");
        }
    }

    #[test]
    fn sizes_and_pairs() {
        assert_eq!(size("2G").unwrap(), 2 << 30);
        assert_eq!(size("512M").unwrap(), 512 << 20);
        assert_eq!(size("64KiB").unwrap(), 64 << 10);
        assert_eq!(size("100").unwrap(), 100);
        assert!(size("0").unwrap_err().contains("positive"));
        assert!(size("3T").unwrap_err().contains("use K, M or G"));
        assert_eq!(key_value(" a =b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(key_value("=x").is_err());
        assert!(key_value("x").is_err());
        assert!(finite("inf").is_err());
        assert_eq!(finite("0.5").unwrap(), 0.5);
    }
}
