//! The end of a run: the observer's tallies turned into `summary.json`, the time series and the
//! figures, in the engine's exact units.

use std::collections::BTreeMap;

use perpx_core::{Engine, Quote, Rate};
use perpx_wire::units::{format_quote, format_rate, format_units};

use super::{Metrics, Observer, POLICIES, Series, leverage_text, micro, policy_ix, rate_text};
use crate::agents::Agent;
use crate::convert::Units;
use crate::stats::Running;
use crate::summary::{
    Adl, BasisTraders, Deficits, FundPath, Funding, Funds, LiquidatedNotional, Liquidations, MarketSummary, PeakMinute,
    PolicyTotals, Range, Stats, Summary,
};
use crate::time::format_iso;

impl Observer {
    /// The summary and the series, at the end of the run.
    #[allow(clippy::too_many_lines)]
    #[must_use]
    pub fn finish(
        self,
        head: SummaryHead,
        engine: &Engine,
        agents: &[Agent],
        spot: &[f64],
    ) -> (Summary, Series, Metrics) {
        let metrics = self.metrics();
        let zero = || Range { start: "0".to_owned(), min: "0".to_owned(), max: "0".to_owned(), end: "0".to_owned() };
        let q = |r: &Range<i64>| Range {
            start: format_quote(Quote(r.start)),
            min: format_quote(Quote(r.min)),
            max: format_quote(Quote(r.max)),
            end: format_quote(Quote(r.end)),
        };
        let markets = self
            .units
            .iter()
            .zip(&self.mk)
            .map(|(u, t)| {
                let spot_r = t.spot.clone().unwrap_or(Range { start: 0.0, min: 0.0, max: 0.0, end: 0.0 });
                let r2 = crate::stats::round2;
                let stats = |r: &Running| {
                    let (mean, stdev, min, max) = r.summary();
                    Stats { samples: r.count(), mean, stdev, min, max }
                };
                let cap = engine.funding_info(u.id).map_or(Rate(0), |f| f.cap_8h);
                MarketSummary {
                    symbol: u.symbol.clone(),
                    spot: Range {
                        start: r2(spot_r.start),
                        min: r2(spot_r.min),
                        max: r2(spot_r.max),
                        end: r2(spot_r.end),
                    },
                    spot_drawdown_pct: r2(t.drawdown),
                    trades: t.trades,
                    volume: micro(t.volume),
                    open_interest: t.oi.as_ref().map_or_else(zero, |r| Range {
                        start: format_units(r.start, u.lot),
                        min: format_units(r.min, u.lot),
                        max: format_units(r.max, u.lot),
                        end: format_units(r.end, u.lot),
                    }),
                    positions_liquidated: t.positions_liquidated,
                    liquidated_notional: LiquidatedNotional {
                        total: micro(t.book + t.backstop + t.adl),
                        book: micro(t.book),
                        backstop: micro(t.backstop),
                        adl: micro(t.adl),
                    },
                    adl_events: t.adl_events,
                    adl_qty: format_units(t.adl_lots, u.lot),
                    funding: Funding {
                        settlements: t.settlements,
                        settlements_at_cap: t.at_cap,
                        rate_8h_min: format_rate(Rate(t.rate_min.unwrap_or(0))),
                        rate_8h_max: format_rate(Rate(t.rate_max.unwrap_or(0))),
                        cap_8h: format_rate(cap),
                        apr_max: format_rate(Rate(t.apr_max.unwrap_or(0))),
                        longs_paid: format_quote(Quote(t.longs_paid)),
                        longs_received: format_quote(Quote(t.longs_received)),
                        shorts_paid: format_quote(Quote(t.shorts_paid)),
                        shorts_received: format_quote(Quote(t.shorts_received)),
                    },
                    basis_bps: stats(&t.basis),
                    premium_bps: stats(&t.premium),
                    insurance_fund: t.fund.as_ref().map_or_else(zero, q),
                }
            })
            .collect();
        let mut layers = Vec::new();
        for (name, v) in
            [("insurance", self.covered[0]), ("shared_insurance", self.covered[1]), ("guaranty", self.covered[2])]
        {
            if v > 0 {
                layers.push(name.to_owned());
            }
        }
        if self.adl_events > 0 {
            layers.push("adl".to_owned());
        }
        let n_cmp = i128::from(u32::try_from(self.bankruptcies).unwrap_or(u32::MAX).max(1));
        let policy_totals = POLICIES
            .iter()
            .map(|p| {
                let t = &self.policy[policy_ix(*p)];
                PolicyTotals {
                    policy: p.name().to_owned(),
                    accounts_hit: t.accounts_hit,
                    notional: micro(t.notional),
                    given_up: micro(t.given_up),
                    mean_largest_share: rate_text(t.largest_share_sum / n_cmp),
                    mean_gini: rate_text(t.gini_sum / n_cmp),
                    max_leverage_left: leverage_text(t.max_leverage_left),
                }
            })
            .collect();
        let mut unhedged_qty = BTreeMap::new();
        for (u, t) in self.units.iter().zip(&self.mk) {
            if t.unhedged_lots != 0 {
                unhedged_qty.insert(u.symbol.clone(), format_units(t.unhedged_lots, u.lot));
            }
        }
        let mut end_net = 0.0;
        let mut spot_fees = 0.0;
        let mut basis_accounts = 0;
        for a in agents {
            let Some(leg) = a.spot() else { continue };
            basis_accounts += 1;
            let m = a.market;
            let u = &self.units[m];
            let perp = engine.account(a.account).map_or(0, |x| x.position(u.id).size.0);
            end_net = add_abs(end_net, net_value(u, perp + leg.lots, spot[m]));
            spot_fees = add_abs(spot_fees, leg.fees);
        }
        let summary = Summary {
            scenario: head.scenario,
            seed: head.seed,
            adl_policy: self
                .units
                .iter()
                .map(|u| {
                    let p = engine.market(u.id).map_or("?", |m| m.spec.liquidation.adl.name());
                    (u.symbol.clone(), p.to_owned())
                })
                .collect(),
            waterfall: head.waterfall,
            start: format_iso(head.start_ms),
            end: format_iso(head.end_ms),
            steps: head.steps,
            step_ms: head.step_ms,
            agents: head.agents,
            commands: self.commands,
            commands_by_kind: self.by_kind.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            rejected: self.rejected,
            rejections: self.rejections.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            invariant_checks: self.invariant_checks,
            markets,
            liquidations: Liquidations {
                queued: self.queued,
                started: self.started,
                partial: self.partial,
                closed_out: self.closed_out,
                stalled: self.stalled,
                averted: self.averted,
                accounts: self.accounts.len() as u64,
                notional: micro(metrics.liquidated_notional),
                fees_to_funds: format_quote(Quote(self.fees)),
                backstop_takeovers: self.takeovers,
                backstop_gaps_paid: format_quote(Quote(self.gaps)),
                peak_minute: self
                    .per_minute
                    .iter()
                    .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                    .map(|(at, count)| PeakMinute { at: format_iso(*at), count: *count }),
            },
            deficits: Deficits {
                total: format_quote(Quote(metrics.deficits)),
                insurance: format_quote(Quote(self.covered[0])),
                shared_insurance: format_quote(Quote(self.covered[1])),
                guaranty: format_quote(Quote(self.covered[2])),
                uncovered: format_quote(Quote(self.uncovered)),
            },
            waterfall_funds: Funds {
                insurance_total: self.insurance_total.as_ref().map_or_else(zero, q),
                funds: self.funds.iter().map(|(name, r)| FundPath { fund: name.clone(), balance: q(r) }).collect(),
                layers_used: layers,
            },
            adl: Adl {
                events: self.adl_events,
                bankruptcies: self.bankruptcies,
                accounts_hit: self.hits.len() as u64,
                notional: micro(self.adl_notional),
                profit_given_up: micro(self.adl_given_up),
                largest_share: rate_text(metrics.largest_share),
                gini: rate_text(metrics.gini),
                closed_largest_share: rate_text(metrics.closed_largest_share),
                closed_gini: rate_text(metrics.closed_gini),
                max_leverage_left: leverage_text(self.max_leverage_left),
                trades: self.trades,
                trades_omitted: self.trades_omitted,
                per_event_comparison: self.comparisons,
                comparisons_omitted: self.comparisons_omitted,
                policy_totals,
            },
            basis_traders: BasisTraders {
                accounts: basis_accounts,
                adl_hits: self.basis_hits,
                unhedged_created_notional: micro(self.unhedged),
                unhedged_created_qty: unhedged_qty,
                net_exposure_after_adl: self.net_after,
                max_net_exposure_after_adl: self.max_net_after,
                end_net_exposure: end_net,
                spot_fees,
            },
            final_state_hash: engine.state_hash().to_hex(),
        };
        let series =
            Series { rows: self.rows, adl_points: self.adl_points, per_minute: self.per_minute.into_iter().collect() };
        (summary, series, metrics)
    }
}

/// What the summary says about the run itself.
#[derive(Debug, Clone)]
pub struct SummaryHead {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Waterfall label.
    pub waterfall: String,
    /// First step.
    pub start_ms: i64,
    /// Last step.
    pub end_ms: i64,
    /// Steps.
    pub steps: u64,
    /// Step length.
    pub step_ms: i64,
    /// Agents by role.
    pub agents: BTreeMap<String, u64>,
}

#[allow(clippy::float_arithmetic)] // a sum of float observations, rounded to 0.01
fn add_abs(total: f64, x: f64) -> f64 {
    crate::stats::round2(total + x.abs())
}

#[allow(clippy::float_arithmetic)] // presentation of float observations
pub(super) fn net_value(u: &Units, lots: i64, spot: f64) -> f64 {
    u.notional_f64(lots, spot)
}
