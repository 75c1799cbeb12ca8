//! The files of a run's report, in one directory:
//!
//! - `summary.json` ([`crate::summary`]): byte-identical for the same scenario and seed;
//! - `timeseries.csv`: one row per market per report interval (prices on the tick, money in
//!   USD with 6 decimals, rates as fractions);
//! - SVG charts: `prices-SYMBOL.svg` (spot, index, mark, last), `funding.svg` (8-hour rate),
//!   `funding-apr.svg`, `open-interest.svg`, `insurance-fund.svg`, `liquidations.svg` (per
//!   minute), `adl.svg` (each ADL trade), `liquidity.svg` (book depth within 1 % of the index);
//! - `report.html`: the plain-language summary, the key figures and the charts together.

// Chart series are built as floats from the engine's integers: presentation only.
#![allow(clippy::float_arithmetic)]

pub mod svg;
pub mod text;

use std::fmt::Write as _;
use std::path::Path;

use perpx_core::Price;
use perpx_wire::units::{format_quote, format_rate, format_units};

use self::svg::{Line, PALETTE, YFormat};
use crate::convert::{Units, quote_f64, rate_f64};
use crate::error::SimError;
use crate::observe::Series;
use crate::run::RunOutput;
use crate::scenario::Scenario;
use crate::time::{MINUTE_MS, format_iso};

/// Writes `contents` to `dir/name`.
///
/// # Errors
/// The I/O error, with the path.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> Result<(), SimError> {
    let path = dir.join(name);
    std::fs::write(&path, contents).map_err(|e| SimError::Io(format!("{}: {e}", path.display())))
}

/// Creates `dir` (and its parents).
///
/// # Errors
/// The I/O error, with the path.
pub fn create_dir(dir: &Path) -> Result<(), SimError> {
    std::fs::create_dir_all(dir).map_err(|e| SimError::Io(format!("{}: {e}", dir.display())))
}

/// `summary.json` as written: pretty JSON and a final newline.
#[must_use]
pub fn summary_json(out: &RunOutput) -> String {
    let mut s = serde_json::to_string_pretty(&out.summary).expect("the summary serialises");
    s.push('\n');
    s
}

/// Writes every file of a run's report into `dir`; returns their names.
///
/// # Errors
/// An I/O error.
pub fn write_run(dir: &Path, sc: &Scenario, out: &RunOutput) -> Result<Vec<String>, SimError> {
    create_dir(dir)?;
    let mut files = vec!["summary.json".to_owned(), "timeseries.csv".to_owned()];
    write_file(dir, "summary.json", &summary_json(out))?;
    write_file(dir, "timeseries.csv", &timeseries_csv(&out.series, &out.units))?;
    let charts = charts(&out.series, &out.units, sc);
    for (name, _, svg) in &charts {
        write_file(dir, name, svg)?;
        files.push(name.clone());
    }
    write_file(dir, "report.html", &run_html(sc, out, &charts))?;
    files.push("report.html".into());
    Ok(files)
}

fn opt_price(u: &Units, p: Option<Price>) -> String {
    p.map(|p| format_units(p.0, u.tick)).unwrap_or_default()
}

/// The time series as CSV.
#[must_use]
pub fn timeseries_csv(series: &Series, units: &[Units]) -> String {
    let mut s = String::from(
        "time,ts_ms,market,spot,index,mark,last,best_bid,best_ask,funding_rate_8h,funding_apr,open_interest,\
         insurance_fund,shared_insurance_fund,guaranty_fund,liquidations,liquidated_notional,adl_events,adl_notional,\
         depth_bid_1pct,depth_ask_1pct\n",
    );
    for r in &series.rows {
        let u = &units[r.market];
        let _ = writeln!(
            s,
            "{},{},{},{:.2},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            format_iso(r.ts),
            r.ts,
            u.symbol,
            r.spot,
            opt_price(u, r.index),
            opt_price(u, r.mark),
            opt_price(u, r.last),
            opt_price(u, r.bid),
            opt_price(u, r.ask),
            format_rate(r.rate_8h),
            format_rate(r.apr),
            format_units(r.open_interest.0, u.lot),
            format_quote(r.insurance),
            format_quote(r.shared),
            format_quote(r.guaranty),
            r.liquidations,
            format_quote(r.liquidated_notional),
            r.adl_events,
            format_quote(r.adl_notional),
            format_quote(r.depth_bid),
            format_quote(r.depth_ask),
        );
    }
    s
}

fn color(i: usize) -> String {
    PALETTE[i % PALETTE.len()].to_owned()
}

/// The charts of a run: `(file name, caption, svg)`.
#[must_use]
pub fn charts(series: &Series, units: &[Units], sc: &Scenario) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let rows_of = |m: usize| series.rows.iter().filter(move |r| r.market == m);
    let t = |ts: i64| ts as f64;
    let pf = |u: &Units, p: Option<Price>| p.map(|p| u.price_f64(p));
    let x_range = (t(sc.start_ms), t(sc.start_ms + sc.duration_ms));
    for (m, u) in units.iter().enumerate() {
        let line = |name: &str, c: usize, dashed: bool, f: &dyn Fn(&crate::observe::Row) -> Option<f64>| Line {
            name: name.into(),
            color: color(c),
            points: rows_of(m).map(|r| (t(r.ts), f(r))).collect(),
            dashed,
        };
        let lines = [
            line("spot", 7, true, &|r| Some(r.spot)),
            line("index", 0, false, &|r| pf(u, r.index)),
            line("mark", 1, false, &|r| pf(u, r.mark)),
            line("last", 2, false, &|r| pf(u, r.last)),
        ];
        out.push((
            format!("prices-{}.svg", u.symbol),
            format!("{}: spot (the path), the oracle index, the mark and the last trade.", u.symbol),
            {
                let title = format!("{} — spot, index, mark, last", u.symbol);
                svg::time_lines(&title, "USD", &lines, YFormat::Compact, false)
            },
        ));
    }
    let per_market = |f: &dyn Fn(&crate::observe::Row) -> Option<f64>| -> Vec<Line> {
        units
            .iter()
            .enumerate()
            .map(|(m, u)| Line {
                name: u.symbol.clone(),
                color: color(m),
                points: rows_of(m).map(|r| (t(r.ts), f(r))).collect(),
                dashed: false,
            })
            .collect()
    };
    out.push((
        "funding.svg".into(),
        "The predicted 8-hour funding rate (positive: longs pay shorts).".into(),
        svg::time_lines(
            "Funding rate (8 h)",
            "rate per 8 h",
            &per_market(&|r| Some(rate_f64(r.rate_8h))),
            YFormat::Percent,
            true,
        ),
    ));
    out.push((
        "funding-apr.svg".into(),
        "The same rate as an APR on notional (× leverage on margin).".into(),
        svg::time_lines(
            "Funding APR on notional",
            "APR",
            &per_market(&|r| Some(rate_f64(r.apr))),
            YFormat::Percent,
            true,
        ),
    ));
    out.push((
        "open-interest.svg".into(),
        "Open interest in USD at the mark.".into(),
        svg::time_lines(
            "Open interest",
            "USD",
            &per_market(&|r| {
                r.mark.map(|p| units[r.market].notional_f64(r.open_interest.0, units[r.market].price_f64(p)))
            }),
            YFormat::Compact,
            true,
        ),
    ));
    let mut funds: Vec<Line> = units
        .iter()
        .enumerate()
        .filter(|(m, _)| rows_of(*m).any(|r| r.insurance.0 != 0))
        .map(|(m, u)| Line {
            name: format!("insurance {}", u.symbol),
            color: color(m),
            points: rows_of(m).map(|r| (t(r.ts), Some(quote_f64(r.insurance)))).collect(),
            dashed: false,
        })
        .collect();
    for (name, c, f) in [
        (
            "shared insurance",
            5,
            &(|r: &crate::observe::Row| quote_f64(r.shared)) as &dyn Fn(&crate::observe::Row) -> f64,
        ),
        ("guaranty", 4, &|r: &crate::observe::Row| quote_f64(r.guaranty)),
    ] {
        if rows_of(0).any(|r| f(r) != 0.0) {
            funds.push(Line {
                name: name.into(),
                color: color(c),
                points: rows_of(0).map(|r| (t(r.ts), Some(f(r)))).collect(),
                dashed: true,
            });
        }
    }
    out.push((
        "insurance-fund.svg".into(),
        "The funds of the waterfall: liquidation fees and funding remainders in, deficits out.".into(),
        svg::time_lines("Insurance and guaranty funds", "USD", &funds, YFormat::Compact, true),
    ));
    let per_minute: Vec<(f64, f64)> = series.per_minute.iter().map(|(m, c)| (t(*m), *c as f64)).collect();
    out.push((
        "liquidations.svg".into(),
        "Liquidations started per minute.".into(),
        svg::time_bars(
            "Liquidations per minute",
            "liquidations",
            &[("liquidations".into(), color(1), per_minute)],
            MINUTE_MS as f64,
            x_range,
            YFormat::Plain,
        ),
    ));
    let stems: Vec<(f64, f64, String)> =
        series.adl_points.iter().map(|(ts, m, n)| (t(*ts), quote_f64(*n), color(*m))).collect();
    let legend: Vec<(String, String)> = units.iter().enumerate().map(|(m, u)| (u.symbol.clone(), color(m))).collect();
    out.push((
        "adl.svg".into(),
        "Each ADL trade: the notional a winner was closed for.".into(),
        svg::time_stems("ADL trades", "USD notional", &stems, x_range, &legend, YFormat::Compact),
    ));
    let mut depth = Vec::new();
    for (m, u) in units.iter().enumerate() {
        depth.push(Line {
            name: format!("{} bids", u.symbol),
            color: color(2 * m),
            points: rows_of(m).map(|r| (t(r.ts), Some(quote_f64(r.depth_bid)))).collect(),
            dashed: false,
        });
        depth.push(Line {
            name: format!("{} asks", u.symbol),
            color: color(2 * m + 1),
            points: rows_of(m).map(|r| (t(r.ts), Some(quote_f64(r.depth_ask)))).collect(),
            dashed: true,
        });
    }
    out.push((
        "liquidity.svg".into(),
        "Book depth within 1 % of the index: the liquidity the makers withdraw when volatility spikes.".into(),
        svg::time_lines("Liquidity within 1 % of the index", "USD", &depth, YFormat::Compact, true),
    ));
    out
}

/// The page shell every HTML report shares.
#[must_use]
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>\
         body{{font-family:Helvetica,Arial,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;\
         color:#222;line-height:1.45}}\
         h1{{font-size:1.6em}} h2{{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}}\
         table{{border-collapse:collapse;margin:1em 0;font-size:.9em}}\
         td,th{{border:1px solid #ddd;padding:.3em .6em;text-align:right}}\
         th{{background:#f5f5f5}} td:first-child,th:first-child{{text-align:left}} figure{{margin:1.5em 0}}\
         figcaption{{color:#555;font-size:.9em}} .lead p{{margin:.6em 0}} code{{background:#f3f3f3;padding:0 .2em}}\
         </style></head><body>\n{body}\n</body></html>\n",
        title = html_escape(title)
    )
}

/// Escapes text for HTML.
#[must_use]
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A table from a header and rows of cells (already escaped).
#[must_use]
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table><tr>");
    for h in header {
        let _ = write!(s, "<th>{}</th>", html_escape(h));
    }
    s.push_str("</tr>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            let _ = write!(s, "<td>{c}</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>\n");
    s
}

fn run_html(sc: &Scenario, out: &RunOutput, charts: &[(String, String, String)]) -> String {
    let s = &out.summary;
    let mut b = String::new();
    let _ = writeln!(b, "<h1>{}</h1>\n<p>{}</p>", html_escape(&sc.name), html_escape(&sc.description));
    let policies: Vec<String> = s.adl_policy.iter().map(|(m, p)| format!("{m}: {p}")).collect();
    let _ = writeln!(
        b,
        "<p>Seed <code>{}</code> · {} → {} every {} ms · ADL {} · waterfall <code>{}</code> · agents {}</p>",
        s.seed,
        s.start,
        s.end,
        s.step_ms,
        html_escape(&policies.join(", ")),
        html_escape(&s.waterfall),
        s.agents.iter().map(|(k, v)| format!("{v} {k}s")).collect::<Vec<_>>().join(", ")
    );
    b.push_str("<h2>What happened</h2>\n<div class=\"lead\">");
    for p in text::paragraphs(s) {
        let _ = write!(b, "<p>{}</p>", html_escape(&p));
    }
    b.push_str("</div>\n<h2>Key figures</h2>\n");
    let rows: Vec<Vec<String>> = s
        .markets
        .iter()
        .map(|m| {
            vec![
                m.symbol.clone(),
                format!("{:.2} %", m.spot_drawdown_pct),
                m.positions_liquidated.to_string(),
                text::usd(&m.liquidated_notional.total),
                text::usd(&m.liquidated_notional.book),
                text::usd(&m.liquidated_notional.backstop),
                text::usd(&m.liquidated_notional.adl),
                m.adl_events.to_string(),
                format!("{} → {}", text::usd(&m.insurance_fund.start), text::usd(&m.insurance_fund.end)),
            ]
        })
        .collect();
    b.push_str(&table(
        &[
            "market",
            "spot drawdown",
            "positions liquidated",
            "notional (USD)",
            "book",
            "backstop",
            "ADL",
            "ADL trades",
            "own fund (USD)",
        ],
        &rows,
    ));
    let d = &s.deficits;
    b.push_str(&table(
        &["deficits (USD)", "insurance", "shared", "guaranty", "uncovered"],
        &[vec![
            text::usd(&d.total),
            text::usd(&d.insurance),
            text::usd(&d.shared_insurance),
            text::usd(&d.guaranty),
            text::usd(&d.uncovered),
        ]],
    ));
    b.push_str("<h2>Charts</h2>\n");
    for (name, caption, svg) in charts {
        let _ = writeln!(
            b,
            "<figure>{}<figcaption>{} (<a href=\"{name}\">{name}</a>)</figcaption></figure>",
            svg.trim_end(),
            html_escape(caption)
        );
    }
    if !s.adl.per_event_comparison.is_empty() {
        b.push_str(
            "<h2>ADL, policy by policy</h2>\n<p>At each ADL the engine also computed what the other policies \
             would have done on exactly the same positions (<code>Engine::adl_compare</code>). The first 20:</p>\n",
        );
        let rows: Vec<Vec<String>> = s
            .adl
            .per_event_comparison
            .iter()
            .take(20)
            .map(|c| {
                let mut r = vec![
                    c.at.clone(),
                    html_escape(&c.market),
                    c.bankrupt.to_string(),
                    c.qty.clone(),
                    c.in_force.clone(),
                ];
                for o in &c.outcomes {
                    r.push(format!(
                        "{} hit · max lev {}",
                        o.accounts_hit,
                        o.max_leverage_left.as_deref().map_or_else(|| "∞".into(), |l| format!("{}x", text::two(l)))
                    ));
                }
                r
            })
            .collect();
        b.push_str(&table(
            &["at", "market", "bankrupt", "qty", "in force", "queue", "pro_rata", "leverage_drain"],
            &rows,
        ));
    }
    b.push_str(
        "<p>Files: <a href=\"summary.json\">summary.json</a> · <a href=\"timeseries.csv\">timeseries.csv</a></p>\n",
    );
    page(&format!("{} — perpx sim", sc.name), &b)
}
