//! Hand-written SVG charts: lines over time, bars over time, stems (events), grouped bars and
//! histograms. No dependency, no script: each chart is one self-contained `<svg>` that a
//! browser, an image viewer or GitHub renders as is.

// Chart coordinates are floats by nature; they are presentation only.
#![allow(clippy::float_arithmetic)]

use std::fmt::Write as _;

use crate::time::{DAY_MS, HOUR_MS, MINUTE_MS, format_clock};

const W: f64 = 900.0;
const H: f64 = 300.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 42.0;
/// The most points drawn per line (longer series are thinned evenly).
const MAX_POINTS: usize = 2_400;

/// Colours of successive series.
pub const PALETTE: [&str; 8] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

/// One line of a chart: `(x, y)` points, x in ms since the epoch for time charts.
#[derive(Debug, Clone)]
pub struct Line {
    /// Its legend.
    pub name: String,
    /// Its colour.
    pub color: String,
    /// Points; a `None` y breaks the line.
    pub points: Vec<(f64, Option<f64>)>,
    /// Dashed.
    pub dashed: bool,
}

/// A series of bars over time: name, colour, `(x, y)` points.
pub type TimeBars = (String, String, Vec<(f64, f64)>);
/// A series of grouped bars: name, colour, one value per category.
pub type GroupBars = (String, String, Vec<f64>);

/// How y values are written on the axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YFormat {
    /// `86k`, `1.2M`.
    Compact,
    /// Percent of a fraction: `0.05%`.
    Percent,
    /// Plain numbers.
    Plain,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Rounds a step to 1, 2 or 5 × 10^k.
fn nice_step(range: f64, ticks: f64) -> f64 {
    let raw = (range / ticks).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f < 1.5 {
        1.0
    } else if f < 3.5 {
        2.0
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn fmt_y(v: f64, f: YFormat) -> String {
    let a = v.abs();
    match f {
        YFormat::Percent => {
            let p = v * 100.0;
            if p.abs() >= 10.0 {
                format!("{p:.0}%")
            } else if p.abs() >= 1.0 {
                format!("{p:.1}%")
            } else if p.abs() >= 0.1 {
                format!("{p:.2}%")
            } else {
                format!("{p:.3}%")
            }
        }
        YFormat::Compact if a >= 1e9 => trim(format!("{:.2}", v / 1e9)) + "B",
        YFormat::Compact if a >= 1e6 => trim(format!("{:.2}", v / 1e6)) + "M",
        YFormat::Compact if a >= 1e4 => trim(format!("{:.1}", v / 1e3)) + "k",
        _ if a >= 100.0 || a == 0.0 => format!("{v:.0}"),
        _ if a >= 1.0 => trim(format!("{v:.2}")),
        _ => trim(format!("{v:.4}")),
    }
}

fn trim(s: String) -> String {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s }
}

struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    out: String,
}

impl Frame {
    fn new(title: &str, y_label: &str, (x0, x1): (f64, f64), (mut y0, mut y1): (f64, f64), yf: YFormat) -> Self {
        if (y1 - y0).abs() < f64::EPSILON * y1.abs().max(1.0) {
            let pad = if y1 == 0.0 { 1.0 } else { y1.abs() * 0.01 };
            y0 -= pad;
            y1 += pad;
        }
        let step = nice_step(y1 - y0, 5.0);
        let (y0, y1) = ((y0 / step).floor() * step, (y1 / step).ceil() * step);
        let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
        let mut out = String::new();
        let _ =
            write!(out, r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" "#,);
        out.push_str(r#"font-family="Helvetica, Arial, sans-serif" font-size="11">"#);
        let _ = write!(out, r##"<rect width="{W}" height="{H}" fill="#ffffff"/>"##);
        let _ = write!(
            out,
            r##"<text x="{LEFT}" y="20" font-size="14" font-weight="bold" fill="#222">{}</text>"##,
            escape(title)
        );
        let _ = write!(
            out,
            r##"<text transform="translate(14 {}) rotate(-90)" text-anchor="middle" fill="#555">{}</text>"##,
            TOP + (H - TOP - BOTTOM) / 2.0,
            escape(y_label)
        );
        let f = Self { x0, x1, y0, y1, out };
        let mut f = f;
        let mut v = y0;
        let mut guard = 0;
        while v <= y1 + step * 0.001 && guard < 50 {
            let y = f.y(v);
            let _ =
                write!(f.out, r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/>"##, W - RIGHT);
            let _ = write!(
                f.out,
                r##"<text x="{}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
                LEFT - 6.0,
                y + 4.0,
                fmt_y(v, yf)
            );
            v += step;
            guard += 1;
        }
        let _ = write!(
            f.out,
            r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="#999"/>"##,
            W - LEFT - RIGHT,
            H - TOP - BOTTOM
        );
        f
    }

    fn x(&self, x: f64) -> f64 {
        LEFT + (x - self.x0) / (self.x1 - self.x0) * (W - LEFT - RIGHT)
    }

    fn y(&self, y: f64) -> f64 {
        TOP + (1.0 - (y - self.y0) / (self.y1 - self.y0)) * (H - TOP - BOTTOM)
    }

    fn time_axis(&mut self) {
        let span = self.x1 - self.x0;
        let candidates = [
            MINUTE_MS,
            2 * MINUTE_MS,
            5 * MINUTE_MS,
            10 * MINUTE_MS,
            15 * MINUTE_MS,
            30 * MINUTE_MS,
            HOUR_MS,
            2 * HOUR_MS,
            3 * HOUR_MS,
            6 * HOUR_MS,
            12 * HOUR_MS,
            DAY_MS,
            2 * DAY_MS,
            7 * DAY_MS,
        ];
        let step = candidates.iter().copied().find(|s| span / *s as f64 <= 9.0).unwrap_or(30 * DAY_MS) as f64;
        let with_day = span > DAY_MS as f64 || step >= DAY_MS as f64;
        let mut t = (self.x0 / step).ceil() * step;
        while t <= self.x1 {
            let x = self.x(t);
            let _ = write!(
                self.out,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#f0f0f0"/>"##,
                H - BOTTOM
            );
            let label = format_clock(crate::convert::round_i64(t).unwrap_or(0), with_day);
            let _ = write!(
                self.out,
                r##"<text x="{x:.1}" y="{}" text-anchor="middle" fill="#555">{label}</text>"##,
                H - BOTTOM + 16.0
            );
            t += step;
        }
        let _ =
            write!(self.out, r##"<text x="{}" y="{}" text-anchor="end" fill="#777">UTC</text>"##, W - RIGHT, H - 6.0);
    }

    fn legend(&mut self, items: &[(String, String, bool)]) {
        let mut x = W - RIGHT;
        for (name, color, dashed) in items.iter().rev() {
            let w = 7.0 * name.chars().count() as f64 + 30.0;
            x -= w;
            let dash = if *dashed { r#" stroke-dasharray="5 3""# } else { "" };
            let _ = write!(
                self.out,
                r#"<line x1="{x:.1}" x2="{:.1}" y1="20" y2="20" stroke="{color}" stroke-width="2.5"{dash}/>"#,
                x + 18.0
            );
            let _ = write!(self.out, r##"<text x="{:.1}" y="24" fill="#333">{}</text>"##, x + 22.0, escape(name));
        }
    }

    fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| Some(acc.map_or((v, v), |(a, b): (f64, f64)| (a.min(v), b.max(v)))))
}

/// A chart of lines over time. `zero` includes zero in the y range.
#[must_use]
pub fn time_lines(title: &str, y_label: &str, lines: &[Line], yf: YFormat, zero: bool) -> String {
    let xs = bounds(lines.iter().flat_map(|l| l.points.iter().map(|p| p.0))).unwrap_or((0.0, 1.0));
    let mut ys = bounds(lines.iter().flat_map(|l| l.points.iter().filter_map(|p| p.1))).unwrap_or((0.0, 1.0));
    if zero {
        ys = (ys.0.min(0.0), ys.1.max(0.0));
    }
    let mut f = Frame::new(title, y_label, xs, ys, yf);
    f.time_axis();
    for l in lines {
        let stride = l.points.len().div_ceil(MAX_POINTS).max(1);
        let mut segment = String::new();
        let flush = |seg: &mut String, out: &mut String| {
            if !seg.is_empty() {
                let dash = if l.dashed { r#" stroke-dasharray="5 3""# } else { "" };
                let _ = write!(
                    out,
                    r#"<polyline fill="none" stroke="{}" stroke-width="1.6"{dash} points="{}"/>"#,
                    l.color,
                    seg.trim_end()
                );
                seg.clear();
            }
        };
        for (i, (x, y)) in l.points.iter().enumerate() {
            if i % stride != 0 && i + 1 != l.points.len() {
                continue;
            }
            match y {
                Some(y) if y.is_finite() => {
                    let _ = write!(segment, "{:.1},{:.1} ", f.x(*x), f.y(*y));
                }
                _ => flush(&mut segment, &mut f.out),
            }
        }
        flush(&mut segment, &mut f.out);
    }
    let items: Vec<(String, String, bool)> =
        lines.iter().map(|l| (l.name.clone(), l.color.clone(), l.dashed)).collect();
    f.legend(&items);
    f.finish()
}

/// Bars over time: `(x, y)` with bars `width_ms` wide (several series side by side in the same
/// slot); `xs` fixes the time axis.
#[must_use]
pub fn time_bars(
    title: &str,
    y_label: &str,
    series: &[TimeBars],
    width_ms: f64,
    xs: (f64, f64),
    yf: YFormat,
) -> String {
    let ys = bounds(series.iter().flat_map(|s| s.2.iter().map(|p| p.1))).map_or((0.0, 1.0), |(_, b)| (0.0, b.max(1.0)));
    let mut f = Frame::new(title, y_label, xs, ys, yf);
    f.time_axis();
    let n = series.len().max(1) as f64;
    for (j, (_, color, points)) in series.iter().enumerate() {
        for (x, y) in points {
            if *y <= 0.0 {
                continue;
            }
            let x0 = f.x(*x + width_ms * j as f64 / n);
            let w = (f.x(*x + width_ms / n) - f.x(*x)).max(1.0);
            let (top, base) = (f.y(*y), f.y(0.0));
            let _ = write!(
                f.out,
                r#"<rect x="{x0:.1}" y="{top:.1}" width="{w:.1}" height="{:.1}" fill="{color}"/>"#,
                (base - top).max(0.5)
            );
        }
    }
    let items: Vec<(String, String, bool)> = series.iter().map(|s| (s.0.clone(), s.1.clone(), false)).collect();
    f.legend(&items);
    f.finish()
}

/// Events over time as stems from zero: `(x, y, colour)`; `x_range` fixes the time axis.
#[must_use]
pub fn time_stems(
    title: &str,
    y_label: &str,
    stems: &[(f64, f64, String)],
    x_range: (f64, f64),
    legend: &[(String, String)],
    yf: YFormat,
) -> String {
    let ys = bounds(stems.iter().map(|s| s.1)).map_or((0.0, 1.0), |(_, b)| (0.0, b));
    let mut f = Frame::new(title, y_label, x_range, ys, yf);
    f.time_axis();
    if stems.is_empty() {
        let _ = write!(
            f.out,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#888" font-size="13">none</text>"##,
            W / 2.0,
            H / 2.0
        );
    }
    for (x, y, color) in stems {
        let (px, top, base) = (f.x(*x), f.y(*y), f.y(0.0));
        let _ = write!(
            f.out,
            r#"<line x1="{px:.1}" x2="{px:.1}" y1="{base:.1}" y2="{top:.1}" stroke="{color}" stroke-width="1.2"/>"#
        );
        let _ = write!(f.out, r#"<circle cx="{px:.1}" cy="{top:.1}" r="2.2" fill="{color}"/>"#);
    }
    let items: Vec<(String, String, bool)> = legend.iter().map(|(n, c)| (n.clone(), c.clone(), false)).collect();
    f.legend(&items);
    f.finish()
}

/// Grouped bars: one group per category, one bar per series.
#[must_use]
pub fn grouped_bars(title: &str, y_label: &str, categories: &[String], series: &[GroupBars], yf: YFormat) -> String {
    let ys =
        bounds(series.iter().flat_map(|s| s.2.iter().copied())).map_or((0.0, 1.0), |(a, b)| (a.min(0.0), b.max(0.0)));
    let n = categories.len().max(1) as f64;
    let mut f = Frame::new(title, y_label, (0.0, n), ys, yf);
    let k = series.len().max(1) as f64;
    for (c, name) in categories.iter().enumerate() {
        let cx = f.x(c as f64 + 0.5);
        let _ = write!(
            f.out,
            r##"<text x="{cx:.1}" y="{}" text-anchor="middle" fill="#333">{}</text>"##,
            H - BOTTOM + 16.0,
            escape(name)
        );
        for (j, (_, color, values)) in series.iter().enumerate() {
            let Some(v) = values.get(c).copied().filter(|v| v.is_finite()) else { continue };
            let x0 = f.x(c as f64 + 0.1 + 0.8 * j as f64 / k);
            let w = f.x(c as f64 + 0.1 + 0.8 * (j + 1) as f64 / k) - x0 - 2.0;
            let (a, b) = (f.y(v.max(0.0)), f.y(v.min(0.0)));
            let _ = write!(
                f.out,
                r#"<rect x="{x0:.1}" y="{a:.1}" width="{w:.1}" height="{:.1}" fill="{color}"/>"#,
                (b - a).max(0.5)
            );
            let _ = write!(
                f.out,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#333" font-size="10">{}</text>"##,
                x0 + w / 2.0,
                a - 3.0,
                fmt_y(v, yf)
            );
        }
    }
    let items: Vec<(String, String, bool)> = series.iter().map(|s| (s.0.clone(), s.1.clone(), false)).collect();
    f.legend(&items);
    f.finish()
}

/// A histogram of `values` in `bins` equal bins.
#[must_use]
pub fn histogram(title: &str, x_label: &str, values: &[f64], bins: usize, xf: YFormat) -> String {
    let (lo, hi) = bounds(values.iter().copied()).unwrap_or((0.0, 1.0));
    let hi = if hi > lo { hi } else { lo + 1.0 };
    let bins = bins.max(1);
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u64; bins];
    for v in values {
        let i =
            usize::try_from(crate::convert::floor_i64((v - lo) / width).unwrap_or(0).max(0)).unwrap_or(0).min(bins - 1);
        counts[i] += 1;
    }
    let max = counts.iter().copied().max().unwrap_or(1) as f64;
    let mut f = Frame::new(title, "runs", (lo, hi), (0.0, max.max(1.0)), YFormat::Plain);
    for (i, c) in counts.iter().enumerate() {
        let x0 = f.x(lo + width * i as f64);
        let w = (f.x(lo + width * (i + 1) as f64) - x0 - 1.0).max(1.0);
        let (top, base) = (f.y(*c as f64), f.y(0.0));
        let _ = write!(
            f.out,
            r#"<rect x="{x0:.1}" y="{top:.1}" width="{w:.1}" height="{:.1}" fill="{}"/>"#,
            (base - top).max(0.0),
            PALETTE[0]
        );
    }
    for i in 0..=4 {
        let v = lo + (hi - lo) * f64::from(i) / 4.0;
        let x = f.x(v);
        let _ = write!(
            f.out,
            r##"<text x="{x:.1}" y="{}" text-anchor="middle" fill="#555">{}</text>"##,
            H - BOTTOM + 16.0,
            fmt_y(v, xf)
        );
    }
    let _ = write!(
        f.out,
        r##"<text x="{}" y="{}" text-anchor="middle" fill="#555">{}</text>"##,
        LEFT + (W - LEFT - RIGHT) / 2.0,
        H - 6.0,
        escape(x_label)
    );
    f.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_well_formed_svg() {
        let line = Line {
            name: "index".into(),
            color: PALETTE[0].into(),
            points: vec![(0.0, Some(1.0)), (60_000.0, None), (120_000.0, Some(2.0))],
            dashed: false,
        };
        let svg = time_lines("Prices <BTC>", "USD", &[line], YFormat::Compact, false);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("Prices &lt;BTC&gt;"));
        assert_eq!(svg.matches("<polyline").count(), 2, "a missing value breaks the line");
        let h = histogram("h", "x", &[1.0, 2.0, 2.0, 3.0], 3, YFormat::Plain);
        assert_eq!(h.matches("<rect").count(), 2 + 3);
        assert_eq!(fmt_y(86_000.0, YFormat::Compact), "86k");
        assert_eq!(fmt_y(0.0005, YFormat::Percent), "0.050%");
        assert_eq!(fmt_y(2_500_000.0, YFormat::Compact), "2.5M");
    }
}
