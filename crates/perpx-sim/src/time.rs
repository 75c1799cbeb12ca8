//! Time in scenario files and reports: durations (`"20m"`, `"2h30m"`), RFC 3339 datetimes
//! (TOML's own datetime type, or text in a CSV), and the UTC labels of charts and tables.
//!
//! Everything is in milliseconds since the Unix epoch, like the engine's `Timestamp`.

use toml::value::{Datetime, Offset};

/// One second in ms.
pub const SECOND_MS: i64 = 1_000;
/// One minute in ms.
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
/// One hour in ms.
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
/// One day in ms.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// Parses a duration: one or more `<integer><unit>` with units `ms`, `s`, `m`, `h`, `d`
/// (`"250ms"`, `"20m"`, `"2h30m"`, `"3d"`).
///
/// # Errors
/// A message naming what is wrong.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration (write e.g. \"20m\", \"2h30m\", \"1s\")".into());
    }
    let bytes = t.as_bytes();
    let (mut i, mut total) = (0usize, 0i64);
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(format!("duration '{t}': expected a number at '{}'", &t[start..]));
        }
        let n: i64 = t[start..i].parse().map_err(|_| format!("duration '{t}': number too large"))?;
        let unit_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_digit() {
            i += 1;
        }
        let unit = match t[unit_start..i].trim() {
            "ms" => 1,
            "s" => SECOND_MS,
            "m" => MINUTE_MS,
            "h" => HOUR_MS,
            "d" => DAY_MS,
            "" => return Err(format!("duration '{t}': a unit is missing (ms, s, m, h, d)")),
            other => return Err(format!("duration '{t}': unknown unit '{other}' (ms, s, m, h, d)")),
        };
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration '{t}' is too long"))?;
    }
    Ok(total)
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian; Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A full TOML datetime with an offset (`2025-10-10T20:50:00Z`) in ms since the epoch.
///
/// # Errors
/// A local date or time without an offset: the simulator refuses to guess a time zone.
pub fn datetime_ms(dt: &Datetime) -> Result<i64, String> {
    let (Some(date), Some(time), Some(offset)) = (dt.date, dt.time, dt.offset) else {
        return Err(format!("datetime '{dt}' needs a date, a time and an offset (e.g. 2025-10-10T20:50:00Z)"));
    };
    let days = days_from_civil(i64::from(date.year), i64::from(date.month), i64::from(date.day));
    let secs = i64::from(time.hour) * 3_600 + i64::from(time.minute) * 60 + i64::from(time.second.unwrap_or(0));
    let offset_min = match offset {
        Offset::Z => 0,
        Offset::Custom { minutes } => i64::from(minutes),
    };
    let ms = i64::from(time.nanosecond.unwrap_or(0) / 1_000_000);
    Ok(days * DAY_MS + secs * SECOND_MS + ms - offset_min * MINUTE_MS)
}

/// An RFC 3339 datetime given as text (`2025-10-10T21:15:00Z`) in ms since the epoch.
///
/// # Errors
/// Text that is not a full datetime with an offset.
pub fn parse_datetime(text: &str) -> Result<i64, String> {
    let dt: Datetime = text.trim().parse().map_err(|e| format!("'{text}' is not an RFC 3339 datetime: {e}"))?;
    datetime_ms(&dt)
}

/// `2025-10-10T21:15:00Z` (seconds; milliseconds are shown only when not zero).
#[must_use]
pub fn format_iso(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(DAY_MS), ms.rem_euclid(DAY_MS));
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (rem / HOUR_MS, rem % HOUR_MS / MINUTE_MS, rem % MINUTE_MS / SECOND_MS, rem % SECOND_MS);
    if milli == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
    }
}

/// `21:15` (UTC), or `10 Oct 21:15` when `with_day`.
#[must_use]
pub fn format_clock(ms: i64, with_day: bool) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (days, rem) = (ms.div_euclid(DAY_MS), ms.rem_euclid(DAY_MS));
    let (h, min) = (rem / HOUR_MS, rem % HOUR_MS / MINUTE_MS);
    if with_day {
        let (_, m, d) = civil_from_days(days);
        let month = MONTHS[usize::try_from(m - 1).unwrap_or(0)];
        format!("{d} {month} {h:02}:{min:02}")
    } else {
        format!("{h:02}:{min:02}")
    }
}

/// A duration for people: `45s`, `20m`, `2h30m`, `3d4h`.
#[must_use]
pub fn format_duration(ms: i64) -> String {
    let (d, h, m, s) = (ms / DAY_MS, ms % DAY_MS / HOUR_MS, ms % HOUR_MS / MINUTE_MS, ms % MINUTE_MS / SECOND_MS);
    let mut out = String::new();
    for (v, unit) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if v != 0 {
            out.push_str(&format!("{v}{unit}"));
        }
    }
    if out.is_empty() { format!("{ms}ms") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_add_their_parts_and_name_what_is_wrong() {
        assert_eq!(parse_duration("20m"), Ok(20 * MINUTE_MS));
        assert_eq!(parse_duration("2h30m"), Ok(2 * HOUR_MS + 30 * MINUTE_MS));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("3d"), Ok(3 * DAY_MS));
        assert!(parse_duration("20").unwrap_err().contains("unit is missing"));
        assert!(parse_duration("20y").unwrap_err().contains("unknown unit 'y'"));
        assert!(parse_duration("m").unwrap_err().contains("expected a number"));
    }

    #[test]
    fn datetimes_round_trip_through_the_epoch() {
        // 2025-10-10T21:15:00Z = 1,760,130,900 s since the epoch.
        let ms = parse_datetime("2025-10-10T21:15:00Z").unwrap();
        assert_eq!(ms, 1_760_130_900_000);
        assert_eq!(format_iso(ms), "2025-10-10T21:15:00Z");
        assert_eq!(parse_datetime("2025-10-10T23:15:00+02:00").unwrap(), ms);
        assert_eq!(format_clock(ms, true), "10 Oct 21:15");
        assert!(parse_datetime("2025-10-10T21:15:00").unwrap_err().contains("offset"));
        assert_eq!(format_iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_duration(2 * HOUR_MS + 30 * MINUTE_MS), "2h30m");
    }
}
