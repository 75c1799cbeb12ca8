//! The observer: reads every command's events and, after every step, the engine's state; keeps
//! the tallies the summary, the time series and the Monte Carlo metrics are made of. It never
//! changes anything: it is how the simulator "reads events and state".

use std::collections::{BTreeMap, BTreeSet};

use perpx_core::engine::AdlComparison;
use perpx_core::event::{FundRef, LiquidationOutcome};
use perpx_core::market::AdlPolicy;
use perpx_core::{AccountId, CommandKind, Engine, Event, EventKind, OrderId, Price, Qty, Quote, Rate, Side};
use perpx_wire::units::{format_quote, format_rate, format_units};

use crate::agents::{Agent, Role};
use crate::convert::Units;
use crate::stats::{Running, gini};
use crate::summary::{AdlComparisonRecord, AdlTrade, NetExposure, PolicyOutcome, Range};
use crate::time::{MINUTE_MS, format_iso};

mod finish;
mod types;

pub use finish::SummaryHead;
pub use types::{Metrics, Row, Series};

/// The most ADL trades listed in a summary.
pub const MAX_LISTED_ADL: usize = 500;
/// The most per-event comparisons listed.
pub const MAX_LISTED_COMPARISONS: usize = 200;
/// The most net-exposure records listed.
pub const MAX_LISTED_NET: usize = 200;
/// The most ADL points kept for the chart.
pub const MAX_ADL_POINTS: usize = 100_000;

#[derive(Debug, Default)]
struct MarketTally {
    spot: Option<Range<f64>>,
    drawdown: f64,
    trades: u64,
    volume: i128,
    positions_liquidated: u64,
    book: i128,
    backstop: i128,
    adl: i128,
    adl_events: u64,
    adl_lots: i64,
    unhedged_lots: i64,
    settlements: u64,
    at_cap: u64,
    rate_min: Option<i64>,
    rate_max: Option<i64>,
    apr_max: Option<i64>,
    longs_paid: i64,
    longs_received: i64,
    shorts_paid: i64,
    shorts_received: i64,
    basis: Running,
    premium: Running,
    oi: Option<Range<i64>>,
    fund: Option<Range<i64>>,
    // Interval accumulators of the series.
    i_liq: u64,
    i_liq_notional: i128,
    i_adl: u64,
    i_adl_notional: i128,
}

#[derive(Debug, Default, Clone, Copy)]
struct PolicyTally {
    accounts_hit: u64,
    notional: i128,
    given_up: i128,
    largest_share_sum: i128,
    gini_sum: i128,
    max_leverage_left: Option<i128>,
}

/// Everything observed in one run.
#[derive(Debug)]
pub struct Observer {
    units: Vec<Units>,
    roles: Vec<Role>,
    record: bool,
    /// Each market's cap on the 8-hour funding rate (1e-8).
    caps: Vec<i64>,
    mk: Vec<MarketTally>,
    /// Commands applied.
    pub commands: u64,
    by_kind: BTreeMap<&'static str, u64>,
    rejected: u64,
    rejections: BTreeMap<&'static str, u64>,
    /// Invariant checks run.
    pub invariant_checks: u64,
    liq_orders: Vec<OrderId>,
    closed: BTreeSet<(AccountId, usize)>,
    queued: u64,
    started: u64,
    partial: u64,
    closed_out: u64,
    stalled: u64,
    averted: u64,
    accounts: BTreeSet<AccountId>,
    fees: i64,
    takeovers: u64,
    gaps: i64,
    per_minute: BTreeMap<i64, u64>,
    covered: [i64; 3],
    uncovered: i64,
    funds: Vec<(String, Range<i64>)>,
    insurance_total: Option<Range<i64>>,
    adl_events: u64,
    adl_notional: i128,
    adl_given_up: i128,
    hits: BTreeMap<AccountId, i128>,
    hits_notional: BTreeMap<AccountId, i128>,
    trades: Vec<AdlTrade>,
    trades_omitted: u64,
    adl_points: Vec<(i64, usize, Quote)>,
    bankruptcies: u64,
    eligible: BTreeSet<AccountId>,
    max_leverage_left: Option<i128>,
    comparisons: Vec<AdlComparisonRecord>,
    comparisons_omitted: u64,
    policy: [PolicyTally; 3],
    basis_hits: u64,
    unhedged: i128,
    net_after: Vec<NetExposure>,
    net_pending: Vec<(AccountId, usize)>,
    max_net_after: f64,
    rows: Vec<Row>,
}

fn notional(u: &Units, price: Price, qty: Qty) -> i128 {
    i128::from(price.0) * i128::from(qty.0.abs()) * i128::from(u.quote_per_tick_lot)
}

fn micro(v: i128) -> String {
    format_quote(Quote(i64::try_from(v).unwrap_or(i64::MAX)))
}

fn rate_text(v: i128) -> String {
    format_rate(Rate(i64::try_from(v).unwrap_or(i64::MAX)))
}

fn leverage_text(v: Option<i128>) -> Option<String> {
    v.filter(|l| *l != i128::MAX).map(rate_text)
}

fn policy_ix(p: AdlPolicy) -> usize {
    match p {
        AdlPolicy::Queue => 0,
        AdlPolicy::ProRata => 1,
        AdlPolicy::LeverageDrain => 2,
    }
}

const POLICIES: [AdlPolicy; 3] = [AdlPolicy::Queue, AdlPolicy::ProRata, AdlPolicy::LeverageDrain];

fn range_add<T: Copy + PartialOrd>(r: &mut Option<Range<T>>, v: T) {
    match r {
        None => *r = Some(Range { start: v, min: v, max: v, end: v }),
        Some(r) => {
            if v < r.min {
                r.min = v;
            }
            if v > r.max {
                r.max = v;
            }
            r.end = v;
        }
    }
}

fn max_opt(a: Option<i128>, b: i128) -> Option<i128> {
    Some(a.map_or(b, |a| a.max(b)))
}

impl Observer {
    /// An observer of markets with `units` and agents with `roles` (by account id − 1); `record`
    /// keeps the time series and the lists.
    #[must_use]
    pub fn new(units: Vec<Units>, roles: Vec<Role>, record: bool) -> Self {
        let mut funds: Vec<(String, Range<i64>)> = Vec::new();
        let zero = Range { start: 0, min: 0, max: 0, end: 0 };
        for u in &units {
            funds.push((format!("insurance:{}", u.symbol), zero.clone()));
        }
        funds.push(("shared_insurance".into(), zero.clone()));
        funds.push(("guaranty".into(), zero));
        Self {
            mk: units.iter().map(|_| MarketTally::default()).collect(),
            caps: vec![0; units.len()],
            units,
            roles,
            record,
            commands: 0,
            by_kind: BTreeMap::new(),
            rejected: 0,
            rejections: BTreeMap::new(),
            invariant_checks: 0,
            liq_orders: Vec::new(),
            closed: BTreeSet::new(),
            queued: 0,
            started: 0,
            partial: 0,
            closed_out: 0,
            stalled: 0,
            averted: 0,
            accounts: BTreeSet::new(),
            fees: 0,
            takeovers: 0,
            gaps: 0,
            per_minute: BTreeMap::new(),
            covered: [0; 3],
            uncovered: 0,
            funds,
            insurance_total: None,
            adl_events: 0,
            adl_notional: 0,
            adl_given_up: 0,
            hits: BTreeMap::new(),
            hits_notional: BTreeMap::new(),
            trades: Vec::new(),
            trades_omitted: 0,
            adl_points: Vec::new(),
            bankruptcies: 0,
            eligible: BTreeSet::new(),
            max_leverage_left: None,
            comparisons: Vec::new(),
            comparisons_omitted: 0,
            policy: [PolicyTally::default(); 3],
            basis_hits: 0,
            unhedged: 0,
            net_after: Vec::new(),
            net_pending: Vec::new(),
            max_net_after: 0.0,
            rows: Vec::new(),
        }
    }

    fn ix(&self, m: perpx_core::MarketId) -> usize {
        m.index()
    }

    fn role(&self, a: AccountId) -> Option<Role> {
        usize::try_from(a.0).ok().and_then(|i| i.checked_sub(1)).and_then(|i| self.roles.get(i).copied())
    }

    /// Reads the funds' balances (before the first command and after every one).
    pub fn read_funds(&mut self, engine: &Engine) {
        let mut total = 0i64;
        for (i, u) in self.units.iter().enumerate() {
            let v = engine.market(u.id).map_or(0, |m| m.insurance_fund.0);
            total += v;
            let r = &mut self.funds[i].1;
            let mut o = Some(r.clone());
            range_add(&mut o, v);
            *r = o.expect("set");
            range_add(&mut self.mk[i].fund, v);
        }
        let n = self.units.len();
        for (j, v) in [(n, engine.ledger().insurance_fund.0), (n + 1, engine.ledger().guaranty_fund.0)] {
            let mut o = Some(self.funds[j].1.clone());
            range_add(&mut o, v);
            self.funds[j].1 = o.expect("set");
        }
        total += engine.ledger().insurance_fund.0;
        range_add(&mut self.insurance_total, total);
    }

    /// Starts the funds' paths at the balances after set-up.
    pub fn start_funds(&mut self, engine: &Engine) {
        for (i, u) in self.units.iter().enumerate() {
            self.caps[i] = engine.funding_info(u.id).map_or(0, |f| f.cap_8h.0);
            let v = engine.market(u.id).map_or(0, |m| m.insurance_fund.0);
            self.funds[i].1 = Range { start: v, min: v, max: v, end: v };
            self.mk[i].fund = None;
        }
        let n = self.units.len();
        for (j, v) in [(n, engine.ledger().insurance_fund.0), (n + 1, engine.ledger().guaranty_fund.0)] {
            self.funds[j].1 = Range { start: v, min: v, max: v, end: v };
        }
        self.insurance_total = None;
        self.read_funds(engine);
    }

    /// Reads one command's events (and the ADL comparisons the engine recorded for it).
    pub fn on_command(
        &mut self,
        ts: i64,
        kind: &CommandKind,
        events: &[Event],
        engine: &Engine,
        comparisons: Vec<AdlComparison>,
    ) {
        self.commands += 1;
        *self.by_kind.entry(kind_name(kind)).or_default() += 1;
        self.liq_orders.clear();
        self.closed.clear();
        for e in events {
            self.on_event(ts, &e.kind);
        }
        let closed = std::mem::take(&mut self.closed);
        for (_, m) in &closed {
            self.mk[*m].positions_liquidated += 1;
            self.mk[*m].i_liq += 1;
        }
        self.closed = closed;
        for c in comparisons {
            self.on_comparison(ts, &c);
        }
        self.read_funds(engine);
    }

    #[allow(clippy::too_many_lines)]
    fn on_event(&mut self, ts: i64, e: &EventKind) {
        match e {
            EventKind::Rejected { reason, .. } => {
                self.rejected += 1;
                *self.rejections.entry(reason.name()).or_default() += 1;
            }
            EventKind::Fill(f) => {
                let m = self.ix(f.market);
                let n = notional(&self.units[m], f.price, f.qty);
                let t = &mut self.mk[m];
                t.trades += 1;
                t.volume += n;
                if self.liq_orders.contains(&f.taker_order) {
                    t.book += n;
                    t.i_liq_notional += n;
                    self.closed.insert((f.taker_account, m));
                }
            }
            EventKind::LiquidationQueued { .. } => self.queued += 1,
            EventKind::LiquidationStarted { account, .. } => {
                self.started += 1;
                self.accounts.insert(*account);
                *self.per_minute.entry(ts.div_euclid(MINUTE_MS) * MINUTE_MS).or_default() += 1;
            }
            EventKind::LiquidationAverted { .. } => self.averted += 1,
            EventKind::LiquidationFinished { outcome, .. } => match outcome {
                LiquidationOutcome::Partial => self.partial += 1,
                LiquidationOutcome::ClosedOut => self.closed_out += 1,
                LiquidationOutcome::Stalled => self.stalled += 1,
            },
            EventKind::LiquidationOrder { order_id, .. } => self.liq_orders.push(*order_id),
            EventKind::BackstopTakeover { market, account, qty, price, gap_paid, .. } => {
                let m = self.ix(*market);
                let n = notional(&self.units[m], *price, *qty);
                self.takeovers += 1;
                self.gaps += gap_paid.0;
                self.mk[m].backstop += n;
                self.mk[m].i_liq_notional += n;
                self.closed.insert((*account, m));
            }
            EventKind::Deleveraged { market, account, bankrupt, qty, price, profit_given_up, .. } => {
                let m = self.ix(*market);
                let u = &self.units[m];
                let n = notional(u, *price, *qty);
                self.adl_events += 1;
                self.adl_notional += n;
                self.adl_given_up += i128::from(profit_given_up.0);
                *self.hits.entry(*account).or_default() += i128::from(profit_given_up.0);
                *self.hits_notional.entry(*account).or_default() += n;
                let t = &mut self.mk[m];
                t.adl += n;
                t.adl_events += 1;
                t.adl_lots += qty.0;
                t.i_liq_notional += n;
                t.i_adl += 1;
                t.i_adl_notional += n;
                self.closed.insert((*bankrupt, m));
                let role = self.role(*account);
                if matches!(role, Some(Role::Maker | Role::Arbitrageur)) {
                    self.basis_hits += 1;
                    self.unhedged += n;
                    self.mk[m].unhedged_lots += qty.0;
                    self.net_pending.push((*account, m));
                }
                if self.record {
                    if self.trades.len() < MAX_LISTED_ADL {
                        let u = &self.units[m];
                        self.trades.push(AdlTrade {
                            at: format_iso(ts),
                            market: u.symbol.clone(),
                            account: account.0,
                            role: role.map_or("other", Role::name).to_owned(),
                            bankrupt: bankrupt.0,
                            qty: format_units(qty.0, u.lot),
                            price: format_units(price.0, u.tick),
                            notional: micro(n),
                            profit_given_up: format_quote(*profit_given_up),
                        });
                    } else {
                        self.trades_omitted += 1;
                    }
                    if self.adl_points.len() < MAX_ADL_POINTS {
                        self.adl_points.push((ts, m, Quote(i64::try_from(n).unwrap_or(i64::MAX))));
                    }
                }
            }
            EventKind::LiquidationFee { amount, .. } => self.fees += amount.0,
            EventKind::DeficitCovered { fund, amount, .. } => {
                let i = match fund {
                    FundRef::Market(_) => 0,
                    FundRef::Shared => 1,
                    FundRef::Guaranty => 2,
                };
                self.covered[i] += amount.0;
            }
            EventKind::DeficitUncovered { amount, .. } => self.uncovered += amount.0,
            EventKind::FundingSettled(s) => {
                let (m, rate_8h) = (self.ix(s.market), s.rate_8h);
                let cap = self.caps[m];
                let t = &mut self.mk[m];
                t.settlements += 1;
                t.rate_min = Some(t.rate_min.map_or(rate_8h.0, |r| r.min(rate_8h.0)));
                t.rate_max = Some(t.rate_max.map_or(rate_8h.0, |r| r.max(rate_8h.0)));
                if cap > 0 && rate_8h.0.abs() >= cap {
                    t.at_cap += 1;
                }
                // APR on notional: the 8-hour rate × 3 periods a day × 365 days.
                let apr = rate_8h.0.abs().saturating_mul(3 * 365);
                t.apr_max = Some(t.apr_max.map_or(apr, |a| a.max(apr)));
            }
            EventKind::FundingPayments { market, payments } => {
                let m = self.ix(*market);
                let t = &mut self.mk[m];
                for l in payments {
                    match (l.size.0 > 0, l.amount.0 >= 0) {
                        (true, true) => t.longs_paid += l.amount.0,
                        (true, false) => t.longs_received -= l.amount.0,
                        (false, true) => t.shorts_paid += l.amount.0,
                        (false, false) => t.shorts_received -= l.amount.0,
                    }
                }
            }
            _ => {}
        }
    }

    fn on_comparison(&mut self, ts: i64, c: &AdlComparison) {
        self.bankruptcies += 1;
        let total: i64 = c.positions.iter().map(|p| p.size).sum();
        let winners: i64 = c.positions.iter().filter(|p| p.upnl > 0).map(|p| p.size).sum();
        let required = c.lots.0.min(total);
        for p in c.positions.iter().filter(|p| winners < required || p.upnl > 0) {
            self.eligible.insert(p.account);
        }
        if let Some(actual) = c.outcomes.get(policy_ix(c.policy)) {
            self.max_leverage_left = max_opt(self.max_leverage_left, actual.max_leverage_left);
        }
        for o in &c.outcomes {
            let t = &mut self.policy[policy_ix(o.policy)];
            t.accounts_hit += o.hit.len() as u64;
            t.notional += o.hit.iter().map(|h| h.2).sum::<i128>();
            t.given_up += o.hit.iter().map(|h| h.3).sum::<i128>();
            t.largest_share_sum += o.largest_share;
            t.gini_sum += o.gini;
            t.max_leverage_left = max_opt(t.max_leverage_left, o.max_leverage_left);
        }
        if !self.record {
            return;
        }
        if self.comparisons.len() >= MAX_LISTED_COMPARISONS {
            self.comparisons_omitted += 1;
            return;
        }
        let u = &self.units[c.market.index()];
        self.comparisons.push(AdlComparisonRecord {
            at: format_iso(ts),
            market: u.symbol.clone(),
            bankrupt: c.bankrupt.0,
            qty: format_units(c.lots.0, u.lot),
            price: format_units(c.price.0, u.tick),
            in_force: c.policy.name().to_owned(),
            outcomes: c
                .outcomes
                .iter()
                .map(|o| PolicyOutcome {
                    policy: o.policy.name().to_owned(),
                    accounts_hit: o.hit.len() as u64,
                    given_up: micro(o.hit.iter().map(|h| h.3).sum()),
                    largest_share: rate_text(o.largest_share),
                    gini: rate_text(o.gini),
                    max_leverage_left: leverage_text(Some(o.max_leverage_left)),
                })
                .collect(),
        });
    }

    /// Records the net exposure of the basis traders an ADL just hit (after its command).
    pub fn after_command(&mut self, ts: i64, engine: &Engine, agents: &[Agent], spot: &[f64]) {
        let mut pending = std::mem::take(&mut self.net_pending);
        pending.sort_unstable();
        pending.dedup();
        for (account, m) in pending {
            let index = usize::try_from(account.0).ok().and_then(|i| i.checked_sub(1));
            let Some(agent) = index.and_then(|i| agents.get(i)) else { continue };
            let Some(leg) = agent.spot() else { continue };
            let u = &self.units[m];
            let perp = engine.account(account).map_or(0, |a| a.position(u.id).size.0);
            let net = perp + leg.lots;
            let value = crate::stats::round2(finish::net_value(u, net, spot[m]));
            if value.abs() > self.max_net_after {
                self.max_net_after = value.abs();
            }
            if self.record && self.net_after.len() < MAX_LISTED_NET {
                self.net_after.push(NetExposure {
                    at: format_iso(ts),
                    account: account.0,
                    role: agent.role().name().to_owned(),
                    market: u.symbol.clone(),
                    perp: format_units(perp, u.lot),
                    spot: format_units(leg.lots, u.lot),
                    net: format_units(net, u.lot),
                    net_notional: value,
                });
            }
        }
    }

    /// Reads the state after step `k` (time `ts`); `sample` takes a row of the time series.
    pub fn on_step(&mut self, ts: i64, engine: &Engine, spot: &[f64], sample: bool) {
        for (i, u) in self.units.iter().enumerate() {
            let Some(m) = engine.market(u.id) else { continue };
            let t = &mut self.mk[i];
            let s = spot[i];
            if let Some(r) = &t.spot {
                t.drawdown = t.drawdown.max(drawdown_pct(r.max.max(s), s));
            }
            range_add(&mut t.spot, s);
            range_add(&mut t.oi, m.open_interest.0);
            let (bid, ask) = (m.book.best_price(Side::Buy), m.book.best_price(Side::Sell));
            let perp = match (bid, ask) {
                (Some(b), Some(a)) => Some(mid(u, b, a)),
                _ => m.mark.map(|p| u.price_f64(p)),
            };
            if let Some(p) = perp {
                t.basis.push(bps(p, s));
                if let Some(index) = m.oracle.index.or(m.mark) {
                    t.premium.push(bps(p, u.price_f64(index)));
                }
            }
            if !(sample && self.record) {
                continue;
            }
            let info = engine.funding_info(u.id);
            let index = m.oracle.index.or(m.mark);
            let (depth_bid, depth_ask) = index.map_or((Quote::ZERO, Quote::ZERO), |ix| depth(m, u, ix));
            self.rows.push(Row {
                ts,
                market: i,
                spot: s,
                index: m.oracle.index,
                mark: m.mark,
                last: m.last_price,
                bid,
                ask,
                rate_8h: info.as_ref().map_or(Rate(0), |f| f.predicted_rate_8h),
                apr: info.as_ref().map_or(Rate(0), |f| f.predicted_apr),
                open_interest: m.open_interest,
                insurance: m.insurance_fund,
                shared: engine.ledger().insurance_fund,
                guaranty: engine.ledger().guaranty_fund,
                liquidations: t.i_liq,
                liquidated_notional: Quote(i64::try_from(t.i_liq_notional).unwrap_or(i64::MAX)),
                adl_events: t.i_adl,
                adl_notional: Quote(i64::try_from(t.i_adl_notional).unwrap_or(i64::MAX)),
                depth_bid,
                depth_ask,
            });
            (t.i_liq, t.i_liq_notional, t.i_adl, t.i_adl_notional) = (0, 0, 0, 0);
        }
    }

    /// The integer figures of the run.
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        let total = self.insurance_total.clone().unwrap_or(Range { start: 0, min: 0, max: 0, end: 0 });
        let amounts = self.haircuts(&self.hits);
        let sum: i128 = amounts.iter().sum();
        let closed = self.haircuts(&self.hits_notional);
        let closed_sum: i128 = closed.iter().sum();
        Metrics {
            liquidations: self.started,
            liquidated_notional: self.mk.iter().map(|t| t.book + t.backstop + t.adl).sum(),
            deficits: self.covered.iter().sum::<i64>() + self.uncovered,
            uncovered: self.uncovered,
            insurance_start: total.start,
            insurance_min: total.min,
            insurance_end: total.end,
            guaranty_used: self.covered[2],
            adl_events: self.adl_events,
            adl_bankruptcies: self.bankruptcies,
            adl_accounts_hit: self.hits.len() as u64,
            adl_notional: self.adl_notional,
            adl_given_up: self.adl_given_up,
            largest_share: if sum > 0 { amounts.iter().max().copied().unwrap_or(0) * 100_000_000 / sum } else { 0 },
            gini: gini(&amounts),
            closed_largest_share: if closed_sum > 0 {
                closed.iter().max().copied().unwrap_or(0) * 100_000_000 / closed_sum
            } else {
                0
            },
            closed_gini: gini(&closed),
            max_leverage_left: self.max_leverage_left,
            unhedged_notional: self.unhedged,
            basis_adl_hits: self.basis_hits,
        }
    }

    /// What each eligible winner gave up over the run (zero for those never hit), by `per`.
    fn haircuts(&self, per: &BTreeMap<AccountId, i128>) -> Vec<i128> {
        let mut all: BTreeSet<AccountId> = self.eligible.clone();
        all.extend(per.keys().copied());
        all.iter().map(|a| per.get(a).copied().unwrap_or(0).max(0)).collect()
    }
}

#[allow(clippy::float_arithmetic)] // basis in basis points of float prices
fn bps(p: f64, reference: f64) -> f64 {
    (p - reference) / reference * 10_000.0
}

#[allow(clippy::float_arithmetic)] // the mid of two prices, for the basis
fn mid(u: &Units, b: Price, a: Price) -> f64 {
    (u.price_f64(b) + u.price_f64(a)) / 2.0
}

#[allow(clippy::float_arithmetic)] // a percentage of float prices
fn drawdown_pct(high: f64, now: f64) -> f64 {
    if high > 0.0 { (high - now) / high * 100.0 } else { 0.0 }
}

/// Notional resting within 1 % of `index` on each side.
fn depth(m: &perpx_core::market::Market, u: &Units, index: Price) -> (Quote, Quote) {
    let band = index.0 / 100;
    let sum = |side: Side| -> Quote {
        let mut total: i128 = 0;
        for (price, level) in m.book.levels(side) {
            if (price.0 - index.0).abs() > band {
                break;
            }
            total += i128::from(price.0) * i128::from(level.total.0) * i128::from(u.quote_per_tick_lot);
        }
        Quote(i64::try_from(total).unwrap_or(i64::MAX))
    };
    (sum(Side::Buy), sum(Side::Sell))
}

/// The JSON schema's name of a command kind.
fn kind_name(kind: &CommandKind) -> &'static str {
    match kind {
        CommandKind::CreateMarket(_) => "create_market",
        CommandKind::SetMark { .. } => "set_mark",
        CommandKind::OraclePrice { .. } => "oracle_price",
        CommandKind::SetLiquidator { .. } => "set_liquidator",
        CommandKind::CapitaliseFund { .. } => "capitalise_fund",
        CommandKind::PlaceOrder(_) => "place_order",
        CommandKind::AmendOrder(_) => "amend_order",
        CommandKind::CancelOrder { .. } => "cancel_order",
        CommandKind::CancelAll { .. } => "cancel_all",
        CommandKind::MassCancel { .. } => "mass_cancel",
        CommandKind::Tick => "tick",
        CommandKind::AdminAudit { .. } => "admin_audit",
        CommandKind::Deposit { .. } => "deposit",
        CommandKind::Withdraw { .. } => "withdraw",
        CommandKind::PlaceStop(_) => "place_stop",
        CommandKind::Halt { .. } => "halt",
        CommandKind::Resume { .. } => "resume",
        CommandKind::ScheduleParams { .. } => "schedule_params",
        CommandKind::Delist { .. } => "delist",
        CommandKind::SetMarginMode { .. } => "set_margin_mode",
        CommandKind::AdjustIsolatedMargin { .. } => "adjust_isolated_margin",
        CommandKind::SetLeverage { .. } => "set_leverage",
    }
}
