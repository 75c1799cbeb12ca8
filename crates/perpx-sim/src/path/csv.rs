//! A spot price path replayed from a CSV file.
//!
//! The file has a header naming its columns and one observation per line:
//!
//! ```text
//! timestamp,price
//! 2025-10-10T20:50:00Z,118250.5
//! 1760129460000,118011.0
//! ```
//!
//! - the time column is `timestamp` (or `time`, `ts`, `open_time` as in Binance's kline files): an
//!   RFC 3339 datetime with an offset, or
//!   an integer of milliseconds since the epoch (integers below 10^11 are read as seconds);
//! - the price column is `price` (or `close`): a positive decimal;
//! - other columns are ignored (an exchange's kline export reads as is), blank lines and lines
//!   starting with `#` are skipped, Windows line endings are accepted;
//! - times must increase strictly. Between two observations the path is interpolated linearly;
//!   before the first and after the last it stays flat.
//!
//! A malformed line is refused with its line number.

// Interpolation between observations is float math on the input path.
#![allow(clippy::float_arithmetic)]

use crate::time::parse_datetime;

/// Observations `(ms since the epoch, price)`, strictly increasing in time.
pub type Points = Vec<(i64, f64)>;

/// Parses the text of a price CSV; `label` names the file in errors.
///
/// # Errors
/// `label:line: what is wrong` for the first malformed line.
pub fn parse(text: &str, label: &str) -> Result<Points, String> {
    let mut columns: Option<(usize, usize)> = None;
    let mut points: Points = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let Some((t_col, p_col)) = columns else {
            let find = |names: &[&str]| fields.iter().position(|f| names.contains(&f.to_ascii_lowercase().as_str()));
            match (find(&["timestamp", "time", "ts", "open_time"]), find(&["price", "close"])) {
                (Some(t), Some(p)) => columns = Some((t, p)),
                _ => {
                    return Err(format!(
                        "{label}:{n}: the first line must be a header naming a 'timestamp' and a 'price' column, \
                         found '{line}'"
                    ));
                }
            }
            continue;
        };
        let need = t_col.max(p_col) + 1;
        if fields.len() < need {
            return Err(format!("{label}:{n}: expected at least {need} columns, found {}", fields.len()));
        }
        let ts = parse_time(fields[t_col]).map_err(|e| format!("{label}:{n}: {e}"))?;
        let price: f64 = fields[p_col]
            .parse()
            .ok()
            .filter(|p: &f64| p.is_finite() && *p > 0.0)
            .ok_or_else(|| format!("{label}:{n}: price '{}' is not a positive number", fields[p_col]))?;
        if let Some((prev, _)) = points.last() {
            if ts <= *prev {
                return Err(format!("{label}:{n}: timestamp '{}' is not after the previous line's", fields[t_col]));
            }
        }
        points.push((ts, price));
    }
    if points.is_empty() {
        return Err(format!("{label}: no prices (a header and at least one line are needed)"));
    }
    Ok(points)
}

fn parse_time(text: &str) -> Result<i64, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let v: i64 = text.parse().map_err(|_| format!("timestamp '{text}' is too large"))?;
        // Epoch seconds until the year 5138; anything larger is milliseconds.
        return Ok(if v < 100_000_000_000 { v * 1_000 } else { v });
    }
    parse_datetime(text).map_err(|e| format!("timestamp {e}"))
}

/// The price at `t`: linear between observations, flat outside them.
#[must_use]
pub fn at(points: &[(i64, f64)], t: i64) -> f64 {
    let i = points.partition_point(|(ts, _)| *ts <= t);
    if i == 0 {
        return points[0].1;
    }
    if i == points.len() {
        return points[i - 1].1;
    }
    let ((t0, p0), (t1, p1)) = (points[i - 1], points[i]);
    p0 + (p1 - p0) * ((t - t0) as f64 / (t1 - t0) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_picks_the_columns_and_prices_interpolate() {
        let text = "open_time,open,high,low,close\r\n1760129400000,1,1,1,100\r\n\r\n1760129460000,1,1,1,110\r\n";
        let p = parse(text, "k.csv").unwrap();
        assert_eq!(p, vec![(1_760_129_400_000, 100.0), (1_760_129_460_000, 110.0)]);
        assert_eq!(at(&p, 1_760_129_430_000), 105.0);
        assert_eq!(at(&p, 0), 100.0);
        assert_eq!(at(&p, i64::MAX), 110.0);
    }

    #[test]
    fn malformed_lines_are_refused_with_their_number() {
        let e = parse("timestamp,price\n2025-10-10T20:50:00Z,100\n2025-10-10T20:51:00Z,abc\n", "p.csv").unwrap_err();
        assert_eq!(e, "p.csv:3: price 'abc' is not a positive number");
        let e = parse("timestamp,price\n1760129460,1\n1760129400,2\n", "p.csv").unwrap_err();
        assert!(e.starts_with("p.csv:3: timestamp '1760129400' is not after"), "{e}");
        let e = parse("when,what\n", "p.csv").unwrap_err();
        assert!(e.starts_with("p.csv:1: the first line must be a header"), "{e}");
        let e = parse("timestamp,price\n2025-10-10 20:50,1\n", "p.csv").unwrap_err();
        assert!(e.starts_with("p.csv:2: timestamp"), "{e}");
    }
}
