//! Comparison mode (`--compare`): the same scenario and seed under each ADL policy (`queue`,
//! `pro_rata`, `leverage_drain`) and each waterfall —
//!
//! - `crypto`: the insurance funds, then ADL (no guaranty fund);
//! - `clearing_house`: the insurance funds, then a guaranty fund (`[compare] guaranty_fund`, by
//!   default twice the insurance funds and at least 1,000 USD), then ADL —
//!
//! six full re-runs side by side. The end-to-end figures come from the re-runs (after the first
//! ADL the runs diverge: who was cut changes who is liquidated next); the per-event figures come
//! from the engine's own comparison at each ADL of one run (`Engine::adl_compare` on the
//! positions exactly as the pass saw them), which holds everything else equal.

// Chart inputs are floats (presentation); every figure is computed exactly.
#![allow(clippy::float_arithmetic)]

use std::fmt::Write as _;
use std::path::Path;

use perpx_core::market::AdlPolicy;
use perpx_core::{Quote, Rate};
use perpx_wire::units::{format_quote, format_rate};
use serde::Serialize;

use crate::error::SimError;
use crate::observe::Metrics;
use crate::report::{self, html_escape, page, svg, table, text};
use crate::run::{RunOptions, RunOutput, run};
use crate::scenario::Scenario;
use crate::summary::PolicyTotals;

/// The policies, in report order.
pub const POLICIES: [AdlPolicy; 3] = [AdlPolicy::Queue, AdlPolicy::ProRata, AdlPolicy::LeverageDrain];

/// One variant: a waterfall and a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// `crypto` or `clearing_house`.
    pub waterfall: &'static str,
    /// The guaranty fund at the start.
    pub guaranty_fund: Quote,
    /// The ADL policy of every market.
    pub policy: AdlPolicy,
}

/// The six variants of a scenario.
#[must_use]
pub fn variants(sc: &Scenario) -> Vec<Variant> {
    let mut v = Vec::new();
    for (waterfall, guaranty_fund) in [("crypto", Quote::ZERO), ("clearing_house", sc.compare_guaranty_fund)] {
        for policy in POLICIES {
            v.push(Variant { waterfall, guaranty_fund, policy });
        }
    }
    v
}

/// Runs every variant with `seed` on `threads` threads.
///
/// # Errors
/// The first failing run's error.
pub fn compare(
    sc: &Scenario,
    seed: u64,
    threads: usize,
    progress: Option<&(dyn Fn(usize, usize) + Sync)>,
) -> Result<Vec<(Variant, RunOutput)>, SimError> {
    let vs = variants(sc);
    let outs = crate::parallel::map(
        vs.len(),
        threads,
        |i| {
            let v = vs[i];
            let o = RunOptions {
                adl_policy: Some(v.policy),
                guaranty_fund: Some(v.guaranty_fund),
                waterfall: v.waterfall,
                ..RunOptions::new(seed)
            };
            run(sc, &o)
        },
        |done| {
            if let Some(p) = progress {
                p(done, vs.len());
            }
        },
    );
    vs.into_iter().zip(outs).map(|(v, o)| o.map(|o| (v, o))).collect()
}

/// One variant's row of `compare.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The waterfall.
    pub waterfall: String,
    /// The policy.
    pub policy: String,
    /// Liquidations started.
    pub liquidations: u64,
    /// ADL trades.
    pub adl_events: u64,
    /// Bankrupt positions sent to ADL.
    pub adl_bankruptcies: u64,
    /// Winners hit.
    pub accounts_hit: u64,
    /// Notional closed by ADL (USD).
    pub notional_closed: String,
    /// Profit given up (USD).
    pub profit_given_up: String,
    /// Largest single share of the profit given up.
    pub largest_share: String,
    /// Gini of the profit given up over eligible winners.
    pub gini: String,
    /// Largest single share of the notional closed.
    pub closed_largest_share: String,
    /// Gini of the notional closed over eligible winners.
    pub closed_gini: String,
    /// Highest leverage left on a winning side after an ADL (`null`: none, or unbounded).
    pub max_leverage_left: Option<String>,
    /// Spot exposure of basis traders ADL left unhedged (USD).
    pub basis_unhedged: String,
    /// ADL trades on basis traders.
    pub basis_adl_hits: u64,
    /// Deficits (USD).
    pub deficits: String,
    /// Paid by the insurance funds: their drawdown from the start (USD).
    pub insurance_drawdown: String,
    /// Paid by the guaranty fund.
    pub guaranty_used: String,
    /// Uncovered.
    pub uncovered: String,
    /// The final state hash.
    pub final_state_hash: String,
}

/// `compare.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The scenario.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// The clearing-house waterfall's guaranty fund (USD).
    pub guaranty_fund: String,
    /// End to end: one row per variant.
    pub variants: Vec<Row>,
    /// Per event: at each ADL of the `crypto` run under each policy in force, what every policy
    /// would have done on the same positions (summed).
    pub per_event: Vec<PerEvent>,
}

/// The per-event comparison seen from one run.
#[derive(Debug, Clone, Serialize)]
pub struct PerEvent {
    /// The policy in force in that run.
    pub run_policy: String,
    /// ADLs compared.
    pub events: u64,
    /// Per policy.
    pub totals: Vec<PolicyTotals>,
}

fn usd(v: i128) -> String {
    format_quote(Quote(i64::try_from(v).unwrap_or(i64::MAX)))
}

fn rate(v: i128) -> String {
    format_rate(Rate(i64::try_from(v).unwrap_or(i64::MAX)))
}

fn row(v: &Variant, o: &RunOutput) -> Row {
    let m: &Metrics = &o.metrics;
    Row {
        waterfall: v.waterfall.to_owned(),
        policy: v.policy.name().to_owned(),
        liquidations: m.liquidations,
        adl_events: m.adl_events,
        adl_bankruptcies: m.adl_bankruptcies,
        accounts_hit: m.adl_accounts_hit,
        notional_closed: usd(m.adl_notional),
        profit_given_up: usd(m.adl_given_up),
        largest_share: rate(m.largest_share),
        gini: rate(m.gini),
        closed_largest_share: rate(m.closed_largest_share),
        closed_gini: rate(m.closed_gini),
        max_leverage_left: m.max_leverage_left.filter(|l| *l != i128::MAX).map(rate),
        basis_unhedged: usd(m.unhedged_notional),
        basis_adl_hits: m.basis_adl_hits,
        deficits: usd(i128::from(m.deficits)),
        insurance_drawdown: usd(i128::from(m.insurance_start - m.insurance_min)),
        guaranty_used: usd(i128::from(m.guaranty_used)),
        uncovered: usd(i128::from(m.uncovered)),
        final_state_hash: o.summary.final_state_hash.clone(),
    }
}

/// The comparison of the runs.
#[must_use]
pub fn summarise(sc: &Scenario, seed: u64, runs: &[(Variant, RunOutput)]) -> Comparison {
    Comparison {
        scenario: sc.name.clone(),
        seed,
        guaranty_fund: format_quote(sc.compare_guaranty_fund),
        variants: runs.iter().map(|(v, o)| row(v, o)).collect(),
        per_event: runs
            .iter()
            .filter(|(v, _)| v.waterfall == "crypto")
            .map(|(v, o)| PerEvent {
                run_policy: v.policy.name().to_owned(),
                events: o.summary.adl.bankruptcies,
                totals: o.summary.adl.policy_totals.clone(),
            })
            .collect(),
    }
}

/// `compare.json` as written.
#[must_use]
pub fn json(c: &Comparison) -> String {
    let mut s = serde_json::to_string_pretty(c).expect("the comparison serialises");
    s.push('\n');
    s
}

fn f(text: &str) -> f64 {
    text.parse().unwrap_or(0.0)
}

/// Writes `compare.json`, the charts, `compare.html` and each variant's report (in
/// `WATERFALL-POLICY/`) into `dir`.
///
/// # Errors
/// An I/O error.
pub fn write(
    dir: &Path,
    sc: &Scenario,
    runs: &[(Variant, RunOutput)],
    c: &Comparison,
) -> Result<Vec<String>, SimError> {
    report::create_dir(dir)?;
    report::write_file(dir, "compare.json", &json(c))?;
    let mut files = vec!["compare.json".to_owned()];
    for (v, o) in runs {
        let sub = format!("{}-{}", v.waterfall, v.policy.name());
        report::write_run(&dir.join(&sub), sc, o)?;
        files.push(format!("{sub}/"));
    }
    let cats: Vec<String> = POLICIES.iter().map(|p| p.name().to_owned()).collect();
    let by = |wf: &str, g: &dyn Fn(&Row) -> f64| -> Vec<f64> {
        POLICIES
            .iter()
            .map(|p| c.variants.iter().find(|r| r.waterfall == wf && r.policy == p.name()).map_or(0.0, g))
            .collect()
    };
    let series = |g: &dyn Fn(&Row) -> f64| {
        vec![
            ("crypto".to_owned(), svg::PALETTE[0].to_owned(), by("crypto", g)),
            ("clearing_house".to_owned(), svg::PALETTE[3].to_owned(), by("clearing_house", g)),
        ]
    };
    let charts = [
        (
            "compare-accounts-hit.svg",
            "Winners hit by ADL",
            svg::grouped_bars(
                "Accounts hit by ADL",
                "accounts",
                &cats,
                &series(&|r| r.accounts_hit as f64),
                svg::YFormat::Plain,
            ),
        ),
        (
            "compare-gini.svg",
            "Gini of the notional closed by ADL over eligible winners (0: shared equally; 1: one account took it all)",
            svg::grouped_bars(
                "Haircut inequality (Gini of notional closed)",
                "Gini",
                &cats,
                &series(&|r| f(&r.closed_gini)),
                svg::YFormat::Plain,
            ),
        ),
        (
            "compare-leverage-left.svg",
            "The highest leverage left on a winning side after an ADL",
            svg::grouped_bars(
                "Maximum leverage left",
                "x",
                &cats,
                &series(&|r| r.max_leverage_left.as_deref().map_or(0.0, f)),
                svg::YFormat::Plain,
            ),
        ),
        (
            "compare-unhedged.svg",
            "Spot exposure ADL left unhedged on basis traders",
            svg::grouped_bars(
                "Basis traders' unhedged exposure created",
                "USD",
                &cats,
                &series(&|r| f(&r.basis_unhedged)),
                svg::YFormat::Compact,
            ),
        ),
        (
            "compare-notional.svg",
            "Notional closed by ADL",
            svg::grouped_bars(
                "Notional closed by ADL",
                "USD",
                &cats,
                &series(&|r| f(&r.notional_closed)),
                svg::YFormat::Compact,
            ),
        ),
    ];
    for (name, _, s) in &charts {
        report::write_file(dir, name, s)?;
        files.push((*name).to_owned());
    }
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<h1>{} — ADL policies and waterfalls compared</h1>\n<p>{}</p>",
        html_escape(&sc.name),
        html_escape(&sc.description)
    );
    let _ = writeln!(
        b,
        "<p>Seed <code>{}</code>. Six full runs: each ADL policy under the <b>crypto</b> waterfall \
         (insurance fund → ADL) and the <b>clearing-house</b> waterfall (insurance fund → a guaranty fund of \
         {} USD → ADL). The price path and every agent's draws are the same in all six; they diverge from the \
         first ADL on, because who is cut changes what happens next.</p>",
        c.seed,
        text::usd(&c.guaranty_fund)
    );
    let rows: Vec<Vec<String>> = c
        .variants
        .iter()
        .map(|r| {
            vec![
                format!("{} / {}", r.waterfall, r.policy),
                r.liquidations.to_string(),
                r.adl_events.to_string(),
                r.accounts_hit.to_string(),
                text::usd(&r.notional_closed),
                text::usd(&r.profit_given_up),
                format!("{} / {}", text::share(&r.closed_largest_share), text::two(&r.closed_gini)),
                format!("{} / {}", text::share(&r.largest_share), text::two(&r.gini)),
                r.max_leverage_left.as_deref().map_or_else(|| "–".into(), |l| format!("{}x", text::two(l))),
                text::usd(&r.basis_unhedged),
                text::usd(&r.insurance_drawdown),
                text::usd(&r.guaranty_used),
                text::usd(&r.uncovered),
            ]
        })
        .collect();
    b.push_str("<h2>End to end (full re-runs)</h2>\n");
    b.push_str(&table(
        &[
            "waterfall / policy",
            "liquidations",
            "ADL trades",
            "accounts hit",
            "notional closed",
            "profit given up",
            "largest share / Gini (notional)",
            "largest share / Gini (profit)",
            "max leverage left",
            "basis unhedged",
            "fund drawdown",
            "guaranty used",
            "uncovered",
        ],
        &rows,
    ));
    b.push_str("<h2>Per event (same positions, the engine's comparison at each ADL)</h2>\n");
    for pe in &c.per_event {
        let _ = writeln!(b, "<p>In the crypto run under <b>{}</b>, {} ADLs:</p>", pe.run_policy, pe.events);
        let rows: Vec<Vec<String>> = pe
            .totals
            .iter()
            .map(|t| {
                vec![
                    t.policy.clone(),
                    t.accounts_hit.to_string(),
                    text::usd(&t.notional),
                    text::usd(&t.given_up),
                    text::share(&t.mean_largest_share),
                    text::two(&t.mean_gini),
                    t.max_leverage_left.as_deref().map_or_else(|| "–".into(), |l| format!("{}x", text::two(l))),
                ]
            })
            .collect();
        b.push_str(&table(
            &["policy", "accounts hit", "notional", "given up", "mean largest share", "mean Gini", "max leverage left"],
            &rows,
        ));
    }
    b.push_str("<h2>Charts</h2>\n");
    for (name, caption, s) in &charts {
        let _ = writeln!(
            b,
            "<figure>{}<figcaption>{caption} (<a href=\"{name}\">{name}</a>)</figcaption></figure>",
            s.trim_end()
        );
    }
    b.push_str("<p>Each run's own report: ");
    let links: Vec<String> = runs
        .iter()
        .map(|(v, _)| {
            let sub = format!("{}-{}", v.waterfall, v.policy.name());
            format!("<a href=\"{sub}/report.html\">{sub}</a>")
        })
        .collect();
    b.push_str(&links.join(" · "));
    b.push_str("</p>\n");
    report::write_file(dir, "compare.html", &page(&format!("{} — comparison", sc.name), &b))?;
    files.push("compare.html".into());
    Ok(files)
}
