//! Monte Carlo: the same scenario over `runs` seeds (`seed, seed + 1, …`) on every core.
//!
//! Each run is independent and deterministic from its seed; results are collected in seed
//! order ([`crate::parallel::map`]), so `montecarlo.json` is the same bytes whatever the number
//! of threads. The report gives the distributions the risk team asks for — the probability of
//! ADL, percentiles of the insurance fund's drawdown, of deficits and of liquidations — each
//! with the seed of its worst run, which `perpx sim --seed N` replays in full.

// Histogram inputs for the charts are floats (presentation); every statistic is exact.
#![allow(clippy::float_arithmetic)]

use std::fmt::Write as _;
use std::path::Path;

use perpx_core::Quote;
use perpx_wire::units::{format_quote, format_rate};
use serde::Serialize;

use crate::convert::quote_f64;
use crate::error::SimError;
use crate::observe::Metrics;
use crate::report::{self, html_escape, page, svg, table, text};
use crate::run::{RunOptions, run};
use crate::scenario::Scenario;
use crate::stats::percentile;

/// One run of the batch.
#[derive(Debug, Clone)]
pub struct McRun {
    /// Its seed.
    pub seed: u64,
    /// Its figures.
    pub metrics: Metrics,
    /// Its final state hash.
    pub state_hash: String,
    /// Invariant checks it passed.
    pub invariant_checks: u64,
}

/// Runs `runs` seeds from `first_seed` on `threads` threads.
///
/// # Errors
/// The first failing run's error (by seed order): an invariant names its seed.
pub fn monte_carlo(
    sc: &Scenario,
    first_seed: u64,
    runs: u32,
    threads: usize,
    progress: Option<&(dyn Fn(usize, usize) + Sync)>,
) -> Result<Vec<McRun>, SimError> {
    let n = usize::try_from(runs).unwrap_or(usize::MAX);
    let results = crate::parallel::map(
        n,
        threads,
        |i| {
            let seed = first_seed.wrapping_add(i as u64);
            let o = RunOptions { record: false, ..RunOptions::new(seed) };
            run(sc, &o).map(|out| McRun {
                seed,
                state_hash: out.summary.final_state_hash,
                invariant_checks: out.summary.invariant_checks,
                metrics: out.metrics,
            })
        },
        |done| {
            if let Some(p) = progress {
                p(done, n);
            }
        },
    );
    results.into_iter().collect()
}

/// Percentiles of one figure, with the seed of the worst run.
#[derive(Debug, Clone, Serialize)]
pub struct Distribution {
    /// Median.
    pub p50: String,
    /// 90th percentile.
    pub p90: String,
    /// 95th.
    pub p95: String,
    /// 99th.
    pub p99: String,
    /// The worst run's value.
    pub max: String,
    /// The worst run's seed (the lowest seed among equal values).
    pub worst_seed: u64,
}

/// `montecarlo.json`.
#[derive(Debug, Clone, Serialize)]
pub struct McSummary {
    /// The scenario.
    pub scenario: String,
    /// Runs.
    pub runs: u64,
    /// Seeds `first_seed ..= last_seed`.
    pub first_seed: u64,
    /// The last seed.
    pub last_seed: u64,
    /// Runs with at least one ADL.
    pub runs_with_adl: u64,
    /// `runs_with_adl / runs`.
    pub probability_of_adl: String,
    /// Runs where a deficit was left uncovered.
    pub runs_with_uncovered_deficit: u64,
    /// Largest fall of all insurance funds together from their start (USD).
    pub fund_drawdown: Distribution,
    /// Deficits paid or left uncovered (USD).
    pub deficits: Distribution,
    /// Liquidations started.
    pub liquidations: Distribution,
    /// Notional liquidated (USD).
    pub liquidated_notional: Distribution,
    /// ADL trades.
    pub adl_events: Distribution,
    /// ADL notional (USD).
    pub adl_notional: Distribution,
    /// Spot exposure ADL left unhedged on basis traders (USD).
    pub basis_unhedged: Distribution,
    /// Invariant checks run across the batch (all passed).
    pub invariant_checks: u64,
    /// Every run.
    pub per_run: Vec<McRow>,
}

/// One run's row.
#[derive(Debug, Clone, Serialize)]
pub struct McRow {
    /// Seed.
    pub seed: u64,
    /// Liquidations started.
    pub liquidations: u64,
    /// Notional liquidated (USD).
    pub liquidated_notional: String,
    /// Deficits (USD).
    pub deficits: String,
    /// Uncovered (USD).
    pub uncovered: String,
    /// Fund drawdown (USD).
    pub fund_drawdown: String,
    /// ADL trades.
    pub adl_events: u64,
    /// Winners hit.
    pub adl_accounts_hit: u64,
    /// Spot exposure left unhedged (USD).
    pub basis_unhedged: String,
    /// Final state hash.
    pub state_hash: String,
}

fn usd_i(v: i128) -> String {
    format_quote(Quote(i64::try_from(v).unwrap_or(i64::MAX)))
}

/// The distribution of `value` over `runs`; the worst run is the largest value, ties to the
/// lowest seed.
fn distribution(runs: &[McRun], value: impl Fn(&Metrics) -> i128, fmt: impl Fn(i128) -> String) -> Distribution {
    let mut vals: Vec<i64> = runs.iter().map(|r| i64::try_from(value(&r.metrics)).unwrap_or(i64::MAX)).collect();
    vals.sort_unstable();
    let worst = runs
        .iter()
        .map(|r| (value(&r.metrics), r.seed))
        .reduce(|a, b| if b.0 > a.0 || (b.0 == a.0 && b.1 < a.1) { b } else { a })
        .map_or(0, |w| w.1);
    let p = |q: u32| fmt(i128::from(percentile(&vals, q).unwrap_or(0)));
    Distribution {
        p50: p(50),
        p90: p(90),
        p95: p(95),
        p99: p(99),
        max: fmt(i128::from(vals.last().copied().unwrap_or(0))),
        worst_seed: worst,
    }
}

/// The summary of a batch.
#[must_use]
pub fn summarise(sc: &Scenario, runs: &[McRun]) -> McSummary {
    let n = runs.len() as u64;
    let with_adl = runs.iter().filter(|r| r.metrics.adl_events > 0).count() as u64;
    let drawdown = |m: &Metrics| i128::from(m.insurance_start - m.insurance_min);
    let count = |v: i128| v.to_string();
    McSummary {
        scenario: sc.name.clone(),
        runs: n,
        first_seed: runs.first().map_or(0, |r| r.seed),
        last_seed: runs.last().map_or(0, |r| r.seed),
        runs_with_adl: with_adl,
        probability_of_adl: format_rate(perpx_core::Rate(
            i64::try_from(i128::from(with_adl) * 100_000_000 / i128::from(n.max(1))).unwrap_or(0),
        )),
        runs_with_uncovered_deficit: runs.iter().filter(|r| r.metrics.uncovered > 0).count() as u64,
        fund_drawdown: distribution(runs, drawdown, usd_i),
        deficits: distribution(runs, |m| i128::from(m.deficits), usd_i),
        liquidations: distribution(runs, |m| i128::from(m.liquidations), count),
        liquidated_notional: distribution(runs, |m| m.liquidated_notional, usd_i),
        adl_events: distribution(runs, |m| i128::from(m.adl_events), count),
        adl_notional: distribution(runs, |m| m.adl_notional, usd_i),
        basis_unhedged: distribution(runs, |m| m.unhedged_notional, usd_i),
        invariant_checks: runs.iter().map(|r| r.invariant_checks).sum(),
        per_run: runs
            .iter()
            .map(|r| McRow {
                seed: r.seed,
                liquidations: r.metrics.liquidations,
                liquidated_notional: usd_i(r.metrics.liquidated_notional),
                deficits: usd_i(i128::from(r.metrics.deficits)),
                uncovered: usd_i(i128::from(r.metrics.uncovered)),
                fund_drawdown: usd_i(drawdown(&r.metrics)),
                adl_events: r.metrics.adl_events,
                adl_accounts_hit: r.metrics.adl_accounts_hit,
                basis_unhedged: usd_i(r.metrics.unhedged_notional),
                state_hash: r.state_hash.clone(),
            })
            .collect(),
    }
}

/// `montecarlo.json` as written.
#[must_use]
pub fn summary_json(s: &McSummary) -> String {
    let mut out = serde_json::to_string_pretty(s).expect("the summary serialises");
    out.push('\n');
    out
}

/// Writes `montecarlo.json`, `runs.csv`, the histograms and `montecarlo.html` into `dir`.
///
/// # Errors
/// An I/O error.
pub fn write(
    dir: &Path,
    sc: &Scenario,
    runs: &[McRun],
    s: &McSummary,
    worst_dir: Option<&str>,
) -> Result<Vec<String>, SimError> {
    report::create_dir(dir)?;
    report::write_file(dir, "montecarlo.json", &summary_json(s))?;
    let mut csv = String::from(
        "seed,liquidations,liquidated_notional,deficits,uncovered,fund_drawdown,adl_events,adl_accounts_hit,\
         basis_unhedged,state_hash\n",
    );
    for r in &s.per_run {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{}",
            r.seed,
            r.liquidations,
            r.liquidated_notional,
            r.deficits,
            r.uncovered,
            r.fund_drawdown,
            r.adl_events,
            r.adl_accounts_hit,
            r.basis_unhedged,
            r.state_hash
        );
    }
    report::write_file(dir, "runs.csv", &csv)?;
    let hist = |title: &str, label: &str, f: &dyn Fn(&Metrics) -> f64, xf: svg::YFormat| {
        let values: Vec<f64> = runs.iter().map(|r| f(&r.metrics)).collect();
        svg::histogram(title, label, &values, 20, xf)
    };
    let charts = [
        (
            "mc-fund-drawdown.svg",
            "Insurance fund drawdown per run",
            hist(
                "Insurance fund drawdown",
                "USD",
                &|m| quote_f64(Quote(m.insurance_start - m.insurance_min)),
                svg::YFormat::Compact,
            ),
        ),
        (
            "mc-liquidated.svg",
            "Notional liquidated per run",
            hist("Notional liquidated", "USD", &|m| m.liquidated_notional as f64 / 1e6, svg::YFormat::Compact),
        ),
        (
            "mc-adl.svg",
            "ADL trades per run",
            hist("ADL trades", "trades", &|m| m.adl_events as f64, svg::YFormat::Plain),
        ),
    ];
    let mut files = vec!["montecarlo.json".to_owned(), "runs.csv".to_owned()];
    for (name, _, svg) in &charts {
        report::write_file(dir, name, svg)?;
        files.push((*name).to_owned());
    }
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<h1>{} — Monte Carlo, {} runs</h1>\n<p>{}</p>",
        html_escape(&sc.name),
        s.runs,
        html_escape(&sc.description)
    );
    let _ = writeln!(
        b,
        "<p>Seeds {} to {}. ADL happened in {} of {} runs (probability {}). A deficit was left uncovered in \
         {} runs. All {} invariant checks passed.</p>",
        s.first_seed,
        s.last_seed,
        s.runs_with_adl,
        s.runs,
        text::pct(&s.probability_of_adl),
        s.runs_with_uncovered_deficit,
        s.invariant_checks
    );
    let row = |name: &str, d: &Distribution, money: bool| {
        let f = |v: &str| if money { text::usd(v) } else { v.to_owned() };
        vec![
            html_escape(name),
            f(&d.p50),
            f(&d.p90),
            f(&d.p95),
            f(&d.p99),
            f(&d.max),
            format!("<code>--seed {}</code>", d.worst_seed),
        ]
    };
    b.push_str(&table(
        &["figure", "median", "p90", "p95", "p99", "worst", "worst run"],
        &[
            row("fund drawdown (USD)", &s.fund_drawdown, true),
            row("deficits (USD)", &s.deficits, true),
            row("liquidations", &s.liquidations, false),
            row("notional liquidated (USD)", &s.liquidated_notional, true),
            row("ADL trades", &s.adl_events, false),
            row("ADL notional (USD)", &s.adl_notional, true),
            row("basis exposure left unhedged (USD)", &s.basis_unhedged, true),
        ],
    ));
    if let Some(w) = worst_dir {
        let _ = writeln!(
            b,
            "<p>The run with the largest fund drawdown, in full: <a href=\"{w}/report.html\">{w}/report.html</a>.</p>"
        );
    }
    for (name, caption, svg) in &charts {
        let _ = writeln!(
            b,
            "<figure>{}<figcaption>{caption} (<a href=\"{name}\">{name}</a>)</figcaption></figure>",
            svg.trim_end()
        );
    }
    b.push_str("<p>Files: <a href=\"montecarlo.json\">montecarlo.json</a> · <a href=\"runs.csv\">runs.csv</a></p>\n");
    report::write_file(dir, "montecarlo.html", &page(&format!("{} — Monte Carlo", sc.name), &b))?;
    files.push("montecarlo.html".into());
    Ok(files)
}
