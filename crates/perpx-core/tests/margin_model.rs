//! The engine's money against the naive margin model of `docs/MARGIN.md` and
//! `docs/LIQUIDATION.md`.
//!
//! For every seed, a venue stream (`perpx_testkit::venue_stream`: finite and sometimes tiny
//! collateral, margin that binds, stops, jumps of the mark and cascades that put several units
//! under maintenance at once, withdrawals, leverage changes, backstop liquidators, capital paid
//! into the funds, a small liquidation budget per command, adversarial values) is applied to a
//! fresh `Engine`, and the engine's events are fed to
//! `perpx_testkit::margin_model::MarginModel`, which recomputes every fill and every
//! liquidation itself. After **every** command:
//! - every fee and position change the engine reports equals the model's, and so does every
//!   liquidation figure: units' equity and MM, bankruptcy prices and limits, partial sizes,
//!   backstop prices and gaps, ADL prices and settlements, liquidation fees, waterfall payments
//!   and fund balances (see the model's `liquidation` module for the list);
//! - every account's collateral, positions (size, cost basis, realised PnL, fees, isolated
//!   margin), leverage and margin modes, the ledger (deposits, withdrawals, fee account, shared
//!   insurance fund, guaranty fund, uncovered, venue capital), each market's own fund and net
//!   draw on the shared one, the liquidation queue (in order) and the registered liquidators,
//!   equal the model's; the accounts the pass queued or deleveraged hold no orders or stops
//!   where it cancelled them;
//! - `engine.margin(id)` equals the model's figures for every account (collateral, unrealised
//!   PnL, equity, IM with open orders, MM with tiers, withdrawable — cross figures, with an
//!   isolated market counted only for what its orders need beyond its position), and
//!   `engine.isolated(id, market)` the model's figures of every isolated position (margin,
//!   unrealised PnL, equity, IM, MM, removable);
//! - the engine's account checks agree with the model's verdict taken before the command: an
//!   accepted order passed the model's margin and tier checks, and an order refused with
//!   `insufficient_margin`, `leverage_above_tier` or `reduce_only_would_increase` fails the
//!   model's check with the same figures; leverage changes, margin mode changes, isolated margin
//!   adjustments (with the available figure a refusal names), withdrawals and deposits are
//!   accepted or refused exactly as the model says; the first stop a `set_mark` triggers is the
//!   one the rules name, and its order fares at trigger time as the model says; a command is
//!   refused with `account_in_liquidation` exactly when the model's queue makes its account
//!   cancel-only;
//! - `check_invariants()` passes, every event carries the command's sequence number and time,
//!   and a rejected command stamped at the engine clock leaves the state hash unchanged — unless
//!   steps 3 and 4, which run after a refused command too, trigger stops (whose reference the
//!   previous command's liquidation fills moved) or work units queued before.
//!
//! What the engine does that the model follows but a document says can't happen (a deficit no
//! fund covers: LIQUIDATION.md says it "cannot arise") is collected per command and fails the
//! suite at the end, after the tally and the floors, naming the seed and the command.
//!
//! Coverage floors, per stream and over the suite, make sure a stream that is mostly rejected,
//! never trades or never reaches a rule cannot pass by saying nothing. Amends are not judged by
//! the model in the streams (except that a cancel-only account's are refused); the scripted test
//! at the end states what the margin rules ask of them. A failure names the seed, the command and
//! the six before it. `MARGIN_MODEL_TALLY=1` prints every stream's tally.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use perpx_core::account::MarginMode;
use perpx_core::event::LiquidationScope;
use perpx_core::market::MarketStatus;
use perpx_core::stop::TriggerBy;
use perpx_core::{
    AccountId, CancelReason, Command, CommandKind, Engine, Event, EventKind, MarketId, NewOrder, OrderId, OrderType,
    RejectReason, Side,
};
use perpx_testkit::margin_model::{
    Figures, FillEffect, IsolatedFigures, LiquidationChecks, MarginModel, OrderVerdict, Verdict, units,
};
use perpx_testkit::venue_stream::{VenueConfig, generate};

/// Seeds of the suite; each stream has [`COMMANDS`] commands.
const SEEDS: std::ops::Range<u64> = 1..33;
const COMMANDS: usize = 2_500;

/// What a stream exercised.
#[derive(Debug, Default, Clone)]
struct Tally {
    commands: u64,
    /// Commands that were not rejected and produced at least one event.
    effective: u64,
    /// Commands with at least one trade.
    with_fills: u64,
    fills: u64,
    /// Trades whose maker was paid a rebate, and those where it was rounded down.
    rebates: u64,
    rebates_rounded: u64,
    /// Trades whose taker fee was rounded up.
    fees_rounded: u64,
    effects: BTreeMap<FillEffect, u64>,
    /// Reject codes of commands.
    rejects: BTreeMap<u16, u64>,
    /// Orders accepted after the model's margin check passed.
    margin_passes: u64,
    stops_accepted: u64,
    /// Triggered orders whose account checks the model judged (first trigger of a `set_mark`).
    triggers_judged: u64,
    triggered_by_mark: u64,
    triggered_by_last: u64,
    /// Reject codes of triggered stops.
    trigger_rejects: BTreeMap<u16, u64>,
    reduce_only_cancels: u64,
    withdrawals: u64,
    refused_for_profit: u64,
    leverage_set: u64,
    jumps: u64,
    /// Commands after which some account was below maintenance / had negative equity.
    below_maintenance: u64,
    negative_equity: u64,
    /// Fill sides of isolated positions, by what they did, and those whose margin move was
    /// rounded (the released share down, the opening margin up).
    isolated_effects: BTreeMap<FillEffect, u64>,
    isolated_rounded: u64,
    /// Accounts that traded isolated (summed over streams), and accounts that traded at all.
    isolated_traders: u64,
    traders: u64,
    /// Accepted margin mode changes to isolated / to cross.
    modes_isolated: u64,
    modes_cross: u64,
    /// Isolated margin added / removed, and adds refused for insufficient margin.
    margin_adds: u64,
    margin_removes: u64,
    adds_refused: u64,
    /// Adjustment refusals whose requested and available figures are the model's.
    adjust_figures_judged: u64,
    /// Commands after which some isolated position was below its own maintenance / had
    /// negative equity of its own.
    isolated_below_maintenance: u64,
    isolated_negative_equity: u64,
    /// What the model checked of the liquidations.
    liq: LiquidationChecks,
    /// Refusals with `account_in_liquidation` (5012), by command.
    cancel_only: BTreeMap<&'static str, u64>,
    /// Commands of a cancel-only account that were accepted (deposits, cancels, margin adds).
    cancel_only_accepted: u64,
    /// Commands refused at the engine clock after which stops triggered / the pass worked the queue.
    rejected_then_stops: u64,
    rejected_then_pass: u64,
    /// Liquidators registered and removed.
    liquidators_set: u64,
    /// Commands after which units were left waiting in the queue.
    queue_left: u64,
    /// What the engine did, the model following it, that a document says can't happen.
    discrepancies: Vec<String>,
}

impl Tally {
    fn pct(&self, n: u64) -> u64 {
        n * 100 / self.commands.max(1)
    }

    fn rejects_of(&self, code: u16) -> u64 {
        self.rejects.get(&code).copied().unwrap_or(0)
    }

    fn effect(&self, e: FillEffect) -> u64 {
        self.effects.get(&e).copied().unwrap_or(0)
    }

    /// Orders and leverage changes refused for insufficient margin (isolated margin adds are
    /// refused with the same code, and counted apart).
    fn margin_refusals(&self) -> u64 {
        self.rejects_of(5002) - self.adds_refused
    }

    fn isolated_effect(&self, e: FillEffect) -> u64 {
        self.isolated_effects.get(&e).copied().unwrap_or(0)
    }

    /// Isolated fill sides that opened or increased a position.
    fn isolated_opens(&self) -> u64 {
        self.isolated_effect(FillEffect::Open) + self.isolated_effect(FillEffect::Increase)
    }

    /// Isolated fill sides that reduced a position without flipping it.
    fn isolated_reduces(&self) -> u64 {
        self.isolated_effect(FillEffect::PartialClose) + self.isolated_effect(FillEffect::Close)
    }

    fn add(&mut self, o: &Self) {
        self.commands += o.commands;
        self.effective += o.effective;
        self.with_fills += o.with_fills;
        self.fills += o.fills;
        self.rebates += o.rebates;
        self.rebates_rounded += o.rebates_rounded;
        self.fees_rounded += o.fees_rounded;
        for (k, v) in &o.effects {
            *self.effects.entry(*k).or_default() += v;
        }
        for (k, v) in &o.rejects {
            *self.rejects.entry(*k).or_default() += v;
        }
        for (k, v) in &o.trigger_rejects {
            *self.trigger_rejects.entry(*k).or_default() += v;
        }
        self.margin_passes += o.margin_passes;
        self.stops_accepted += o.stops_accepted;
        self.triggers_judged += o.triggers_judged;
        self.triggered_by_mark += o.triggered_by_mark;
        self.triggered_by_last += o.triggered_by_last;
        self.reduce_only_cancels += o.reduce_only_cancels;
        self.withdrawals += o.withdrawals;
        self.refused_for_profit += o.refused_for_profit;
        self.leverage_set += o.leverage_set;
        self.jumps += o.jumps;
        self.below_maintenance += o.below_maintenance;
        self.negative_equity += o.negative_equity;
        for (k, v) in &o.isolated_effects {
            *self.isolated_effects.entry(*k).or_default() += v;
        }
        self.isolated_rounded += o.isolated_rounded;
        self.isolated_traders += o.isolated_traders;
        self.traders += o.traders;
        self.modes_isolated += o.modes_isolated;
        self.modes_cross += o.modes_cross;
        self.margin_adds += o.margin_adds;
        self.margin_removes += o.margin_removes;
        self.adds_refused += o.adds_refused;
        self.adjust_figures_judged += o.adjust_figures_judged;
        self.isolated_below_maintenance += o.isolated_below_maintenance;
        self.isolated_negative_equity += o.isolated_negative_equity;
        self.liq.add(&o.liq);
        for (k, v) in &o.cancel_only {
            *self.cancel_only.entry(k).or_default() += v;
        }
        self.cancel_only_accepted += o.cancel_only_accepted;
        self.rejected_then_stops += o.rejected_then_stops;
        self.rejected_then_pass += o.rejected_then_pass;
        self.liquidators_set += o.liquidators_set;
        self.queue_left += o.queue_left;
        self.discrepancies.extend(o.discrepancies.iter().cloned());
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  {} commands: {} % effective, {} % with fills ({} trades)",
            self.commands,
            self.pct(self.effective),
            self.pct(self.with_fills),
            self.fills
        )?;
        writeln!(
            f,
            "  fill sides: {:?}; taker fees rounded up {}; rebates {} (rounded down {})",
            self.effects, self.fees_rounded, self.rebates, self.rebates_rounded
        )?;
        writeln!(f, "  reject codes: {:?}", self.rejects)?;
        writeln!(
            f,
            "  orders passing the margin check: {}; stops accepted {}, triggered by mark {} / last {}, \
             refused at trigger {:?}, judged at trigger by the model {}",
            self.margin_passes,
            self.stops_accepted,
            self.triggered_by_mark,
            self.triggered_by_last,
            self.trigger_rejects,
            self.triggers_judged
        )?;
        writeln!(
            f,
            "  reduce-only cancels {}; withdrawals {} (refused for unrealised profit {}); leverage set {}; \
             mark jumps {}",
            self.reduce_only_cancels, self.withdrawals, self.refused_for_profit, self.leverage_set, self.jumps
        )?;
        writeln!(
            f,
            "  commands ending with an account below maintenance (queued) {}, with negative equity {}",
            self.below_maintenance, self.negative_equity
        )?;
        writeln!(
            f,
            "  isolated: {} of {} trading accounts; fill sides {:?} (margin rounded {}); modes set isolated {} / \
             cross {}",
            self.isolated_traders,
            self.traders,
            self.isolated_effects,
            self.isolated_rounded,
            self.modes_isolated,
            self.modes_cross
        )?;
        writeln!(
            f,
            "  isolated margin added {} (refused for insufficient margin {}), removed {}; refusals judged with \
             their figure {}; 5009 {}, 5010 {}, 5011 {}",
            self.margin_adds,
            self.adds_refused,
            self.margin_removes,
            self.adjust_figures_judged,
            self.rejects_of(5009),
            self.rejects_of(5010),
            self.rejects_of(5011)
        )?;
        writeln!(
            f,
            "  commands ending with an isolated position below its maintenance (queued) {}, with negative equity of \
             its own {}",
            self.isolated_below_maintenance, self.isolated_negative_equity
        )?;
        let l = &self.liq;
        writeln!(
            f,
            "  liquidation: queued cross {} / isolated {}; started cross {} / isolated {}; averted {}; partial {} \
             (isolated {}), closed out {} (isolated {}, margin returned {}), stalled {}; left queued after {} \
             commands; isolated units dropped flat {}",
            l.queued_cross,
            l.queued_isolated,
            l.started_cross,
            l.started_isolated,
            l.averted,
            l.partial,
            l.isolated_partial,
            l.closed_out,
            l.isolated_closed_out,
            l.isolated_returned,
            l.stalled,
            self.queue_left,
            l.silent_drops
        )?;
        writeln!(
            f,
            "  liquidation orders {} (limit at the band {}), their fills {}; sizes verified partial {} / full {}; \
             takeovers {} (gap paid {}); ADL trades at B {} / at mark {}, shared closes {}, sub-tick settlements {}",
            l.orders,
            l.limits_at_band,
            l.liquidation_fills,
            l.partial_sizes,
            l.full_sizes,
            l.takeovers,
            l.gaps,
            l.adl_at_bankruptcy,
            l.adl_at_mark,
            l.adl_shared,
            l.adl_settlements
        )?;
        writeln!(
            f,
            "  fees {} (capped partial {} / full {}), closes without a fee {}; waterfall paid by market funds {}, \
             shared {}, guaranty {}, close-out deficits {}, uncovered {}; capitalised {}; liquidators set {}",
            l.fees,
            l.fees_capped_partial,
            l.fees_capped_full,
            l.no_fee,
            l.covered_market,
            l.covered_shared,
            l.covered_guaranty,
            l.closeout_deficits,
            l.uncovered,
            l.capitalised,
            self.liquidators_set
        )?;
        write!(
            f,
            "  cancel-only refusals {:?}, cancel-only commands accepted {}; refused at the clock, then stops {} / the \
             pass {}",
            self.cancel_only, self.cancel_only_accepted, self.rejected_then_stops, self.rejected_then_pass
        )
    }
}

/// What the model expected of a command before the engine saw it.
#[derive(Debug)]
enum Expected {
    Nothing,
    Order(Option<OrderVerdict>),
    Whole(Verdict),
    /// An isolated margin adjustment of `amount`: the verdict, and the available figure a
    /// refusal for insufficient margin or above the removable margin must name.
    Adjust {
        verdict: Verdict,
        amount: i64,
        available: Option<i64>,
    },
}

fn expect(model: &MarginModel, engine: &Engine, cmd: &Command) -> Result<Expected, String> {
    Ok(match &cmd.kind {
        CommandKind::PlaceOrder(o) => Expected::Order(model.order_verdict(engine, o)),
        CommandKind::SetLeverage { account, market, leverage } => {
            Expected::Whole(model.leverage_verdict(engine, *account, *market, *leverage)?)
        }
        CommandKind::Withdraw { account, amount } => {
            Expected::Whole(model.withdraw_verdict(engine, *account, amount.0)?)
        }
        CommandKind::Deposit { account, amount } => Expected::Whole(model.deposit_verdict(*account, amount.0)),
        CommandKind::SetMarginMode { account, market, .. } => {
            Expected::Whole(model.margin_mode_verdict(engine, *account, *market))
        }
        CommandKind::AdjustIsolatedMargin { account, market, amount } => {
            let (verdict, available) = model.adjust_verdict(engine, *account, *market, amount.0)?;
            Expected::Adjust { verdict, amount: amount.0, available }
        }
        CommandKind::CapitaliseFund { fund, amount } => Expected::Whole(model.capitalise_verdict(*fund, amount.0)),
        CommandKind::SetLiquidator { account, .. } => Expected::Whole(model.liquidator_verdict(*account)),
        _ => Expected::Nothing,
    })
}

/// The command's own result: its first event (stops triggered afterwards come later).
fn own_reject(events: &[Event]) -> Option<&RejectReason> {
    match events.first().map(|e| &e.kind) {
        Some(EventKind::Rejected { reason, .. }) => Some(reason),
        _ => None,
    }
}

/// What became of an order at its account checks.
#[derive(Debug, Clone, Copy)]
enum OrderOutcome<'a> {
    Accepted,
    Refused(&'a RejectReason),
    /// Neither (a duplicate client id answer).
    Other,
}

/// Whether the engine's outcome of an order agrees with the model's verdict: an accepted order
/// passed the model's checks; a refusal for margin, tier or reduce-only is the model's, with
/// the same figures; other refusals come before the account checks and say nothing of them.
fn order_agrees(v: Option<OrderVerdict>, outcome: OrderOutcome<'_>) -> bool {
    match (outcome, v) {
        // A cancel-only account is refused before anything else is asked of the order.
        (OrderOutcome::Refused(r), Some(OrderVerdict::AccountInLiquidation)) => r.code() == 5012,
        (_, Some(OrderVerdict::AccountInLiquidation)) => false,
        (OrderOutcome::Other, _) => true,
        (OrderOutcome::Accepted, v) => v == Some(OrderVerdict::Pass),
        (
            OrderOutcome::Refused(RejectReason::InsufficientMargin { required, available }),
            Some(OrderVerdict::InsufficientMargin { required: r, available: a }),
        ) => (required.0, available.0) == (r, a),
        (
            OrderOutcome::Refused(RejectReason::LeverageAboveTier { leverage, max }),
            Some(OrderVerdict::LeverageAboveTier { leverage: l, max: m }),
        ) => (*leverage, *max) == (l, m),
        (OrderOutcome::Refused(RejectReason::ReduceOnlyWouldIncrease), Some(OrderVerdict::ReduceOnlyWouldIncrease)) => {
            true
        }
        (OrderOutcome::Refused(r), _) => !matches!(r.code(), 5002 | 5003 | 5005 | 5012),
    }
}

/// Whether the engine's own result is the model's verdict.
fn verdict_agrees(v: &Verdict, reject: Option<&RejectReason>) -> bool {
    match (v, reject) {
        (Verdict::Accept, None) => true,
        (Verdict::Reject(codes), Some(r)) => codes.contains(&r.code()),
        _ => false,
    }
}

/// What a command's check came to, beyond agreeing with the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judged {
    Nothing,
    /// An order passed the model's margin check and was accepted.
    MarginPass,
    /// An adjustment was refused naming the requested and available figures the model gave.
    AdjustFigures,
}

/// Checks the engine's own result against the model's verdict.
fn check_expected(expected: &Expected, events: &[Event]) -> Result<Judged, String> {
    let reject = own_reject(events);
    match expected {
        Expected::Nothing => Ok(Judged::Nothing),
        Expected::Whole(v) => {
            if verdict_agrees(v, reject) {
                Ok(Judged::Nothing)
            } else {
                Err(format!("the model expected {v:?}, the engine answered {reject:?}"))
            }
        }
        Expected::Adjust { verdict, amount, available } => {
            if !verdict_agrees(verdict, reject) {
                return Err(format!("the model expected {verdict:?}, the engine answered {reject:?}"));
            }
            let named = match reject {
                Some(RejectReason::InsufficientMargin { required, available }) => Some((required.0, available.0)),
                Some(RejectReason::IsolatedMarginAboveRemovable { requested, available }) => {
                    Some((requested.0, available.0))
                }
                _ => None,
            };
            let Some(named) = named else { return Ok(Judged::Nothing) };
            let want = (amount.saturating_abs(), available.unwrap_or(i64::MIN));
            if named == want {
                Ok(Judged::AdjustFigures)
            } else {
                Err(format!("the adjustment's refusal names (requested, available) {named:?}, the model {want:?}"))
            }
        }
        Expected::Order(v) => {
            let outcome = match (reject, events.first().map(|e| &e.kind)) {
                (Some(r), _) => OrderOutcome::Refused(r),
                (None, Some(EventKind::OrderAccepted { .. })) => OrderOutcome::Accepted,
                _ => OrderOutcome::Other,
            };
            if order_agrees(*v, outcome) {
                Ok(if matches!(outcome, OrderOutcome::Accepted) { Judged::MarginPass } else { Judged::Nothing })
            } else {
                Err(format!("the model's margin verdict is {v:?}, the engine answered {:?}", events.first()))
            }
        }
    }
}

/// For a `set_mark`, the stop its stop pass must trigger first — markets in id order, stops in
/// id order, the first whose reference (the new mark, or the unchanged last price) has crossed
/// its trigger — with the model's verdict on the order it becomes, judged on the state the pass
/// starts from: the book and positions before the command, the new mark. `None` for other
/// commands; `Some(None)` when no stop may fire.
#[allow(clippy::type_complexity)]
fn first_trigger(
    model: &MarginModel,
    engine: &Engine,
    cmd: &Command,
) -> Option<Option<(OrderId, Option<OrderVerdict>)>> {
    let CommandKind::SetMark { market, price } = cmd.kind else { return None };
    let target = engine.market(market)?;
    if !price.is_positive() || target.status != MarketStatus::Active {
        return None;
    }
    let view = model.with_mark(market, price.0);
    for m in engine.markets().iter().filter(|m| m.status == MarketStatus::Active) {
        let mark = if m.id == market { Some(price) } else { m.mark };
        for s in m.stops.values() {
            let reference = match s.trigger_by {
                TriggerBy::Mark => mark,
                TriggerBy::Last => m.last_price,
            };
            let Some(r) = reference else { continue };
            // A stop and a take-profit trigger in opposite directions: a buy stop and a sell
            // take-profit when the reference rises to the trigger, the others when it falls.
            let rising = (s.side == Side::Buy) != s.kind.is_take_profit();
            if (rising && r < s.trigger) || (!rising && r > s.trigger) {
                continue;
            }
            let order_type = match s.kind.limit() {
                Some((price, tif)) => OrderType::Limit { price, tif },
                None => OrderType::Market,
            };
            let order = NewOrder {
                account: s.account,
                market: m.id,
                side: s.side,
                order_type,
                qty: s.qty,
                client_id: None,
                stp: s.stp,
                reduce_only: s.reduce_only,
            };
            return Some(Some((s.id, view.order_verdict(engine, &order))));
        }
    }
    Some(None)
}

/// Checks the first stop the engine triggered, and what became of its order, against the
/// model's expectation; returns whether a triggered order was judged.
fn check_first_trigger(expected: Option<(OrderId, Option<OrderVerdict>)>, events: &[Event]) -> Result<bool, String> {
    let at = events.iter().position(|e| matches!(e.kind, EventKind::StopTriggered { .. }));
    let triggered = at.map(|i| match &events[i].kind {
        EventKind::StopTriggered { stop_id, .. } => *stop_id,
        _ => unreachable!("found above"),
    });
    if triggered != expected.map(|(id, _)| id) {
        return Err(format!("the first stop triggered is {triggered:?}, the model expected {expected:?}"));
    }
    let (Some(i), Some((id, v))) = (at, expected) else { return Ok(false) };
    let outcome = match events.get(i + 1).map(|e| &e.kind) {
        Some(EventKind::OrderAccepted { order_id, .. }) if *order_id == id => OrderOutcome::Accepted,
        Some(EventKind::TriggeredOrderRejected { stop_id, reason, .. }) if *stop_id == id => {
            OrderOutcome::Refused(reason)
        }
        other => return Err(format!("stop {id} triggered but then {other:?}")),
    };
    if order_agrees(v, outcome) {
        Ok(true)
    } else {
        Err(format!("at trigger the model's margin verdict on stop {id} is {v:?}, the engine answered {outcome:?}"))
    }
}

/// Every account, position, leverage, margin mode, the ledger, the marks, every account's margin
/// figures and every isolated position's own: the engine's against the model's. Returns the
/// (equal) figures of every account and of every isolated position.
fn compare_state(engine: &Engine, model: &MarginModel) -> Result<(Vec<Figures>, Vec<IsolatedFigures>), String> {
    let (mut figures, mut isolated) = (Vec::new(), Vec::new());
    if engine.markets().len() != model.markets().len() {
        return Err(format!("{} markets, the model {}", engine.markets().len(), model.markets().len()));
    }
    for (m, mm) in engine.markets().iter().zip(model.markets()) {
        if m.mark.map(|p| p.0) != mm.mark {
            return Err(format!("market {}: mark {:?}, the model {:?}", m.id, m.mark, mm.mark));
        }
        let (got, want) = ((m.insurance_fund.0, m.shared_net_draw.0), (mm.insurance_fund, mm.shared_net_draw));
        if got != want {
            return Err(format!("market {}: (insurance fund, net shared draw) {got:?}, the model {want:?}", m.id));
        }
    }
    let queue: Vec<_> = engine.liquidation_queue().copied().collect();
    if !queue.iter().eq(model.liquidation_queue().iter()) {
        return Err(format!("liquidation queue {queue:?}, the model {:?}", model.liquidation_queue()));
    }
    if engine.liquidators() != model.liquidators() {
        return Err(format!("liquidators {:?}, the model {:?}", engine.liquidators(), model.liquidators()));
    }
    if engine.accounts().count() != model.accounts().len() {
        return Err(format!("{} accounts, the model {}", engine.accounts().count(), model.accounts().len()));
    }
    for (id, a) in engine.accounts() {
        let ma = model.account(*id).ok_or_else(|| format!("account {id} unknown to the model"))?;
        if a.collateral.0 != ma.collateral {
            return Err(format!(
                "account {id}: collateral {}, the model {}",
                units(a.collateral.0),
                units(ma.collateral)
            ));
        }
        let positions: BTreeMap<_, _> = a
            .positions
            .iter()
            .map(|(m, p)| (*m, (p.size.0, p.cost_basis.0, p.realized_pnl.0, p.fees_paid.0, p.isolated_margin.0)))
            .collect();
        let model_positions: BTreeMap<_, _> = ma
            .positions
            .iter()
            .map(|(m, p)| (*m, (p.size, p.cost_basis, p.realized_pnl, p.fees_paid, p.isolated_margin)))
            .collect();
        if positions != model_positions {
            return Err(format!(
                "account {id}: positions (size, cost, realised, fees, isolated margin) {positions:?}, the model \
                 {model_positions:?}"
            ));
        }
        if !a.leverage.iter().eq(&ma.leverage) {
            return Err(format!("account {id}: leverage {:?}, the model {:?}", a.leverage, ma.leverage));
        }
        if !a.margin_mode.iter().eq(&ma.margin_mode) {
            return Err(format!("account {id}: margin modes {:?}, the model {:?}", a.margin_mode, ma.margin_mode));
        }
        for m in engine.markets() {
            let got = engine.isolated(*id, m.id).map_err(|e| format!("account {id}: isolated figures refused: {e}"))?;
            let want = model.isolated(*id, m.id).transpose()?;
            let got = got.map(|s| {
                let removable = s.removable().0;
                (s.margin.0, s.unrealized_pnl.0, s.equity.0, s.initial_margin.0, s.maintenance_margin.0, removable)
            });
            let want_tuple = want
                .map(|f| (f.margin, f.unrealized_pnl, f.equity, f.initial_margin, f.maintenance_margin, f.removable));
            if got != want_tuple {
                return Err(format!(
                    "account {id}, market {}: isolated (margin, unrealised, equity, IM, MM, removable) is {got:?}, \
                     the model {want_tuple:?}",
                    m.id
                ));
            }
            isolated.extend(want);
        }
        let s = engine.margin(*id).map_err(|e| format!("account {id}: margin refused: {e}"))?;
        let f = model.figures(engine, *id).expect("known account")?;
        let got = [
            s.collateral.0,
            s.unrealized_pnl.0,
            s.equity.0,
            s.initial_margin.0,
            s.maintenance_margin.0,
            s.withdrawable().0,
        ];
        let want = [f.collateral, f.unrealized_pnl, f.equity, f.initial_margin, f.maintenance_margin, f.withdrawable];
        figures.push(f);
        if got != want {
            return Err(format!(
                "account {id}: margin (collateral, unrealised, equity, IM, MM, withdrawable) is {got:?}, the model \
                 {want:?}"
            ));
        }
    }
    let (l, ml) = (engine.ledger(), model.ledger());
    let got = [
        l.deposits.0,
        l.withdrawals.0,
        l.fee_account.0,
        l.insurance_fund.0,
        l.guaranty_fund.0,
        l.uncovered.0,
        l.venue_capital.0,
    ];
    let want = [
        ml.deposits,
        ml.withdrawals,
        ml.fee_account,
        ml.insurance_fund,
        ml.guaranty_fund,
        ml.uncovered,
        ml.venue_capital,
    ];
    if got != want {
        return Err(format!(
            "ledger (deposits, withdrawals, fees, shared insurance, guaranty, uncovered, capital) {got:?}, the model \
             {want:?}"
        ));
    }
    Ok((figures, isolated))
}

/// The account a command acts for, if any.
fn command_account(kind: &CommandKind) -> Option<AccountId> {
    match kind {
        CommandKind::PlaceOrder(o) => Some(o.account),
        CommandKind::PlaceStop(s) => Some(s.account),
        CommandKind::AmendOrder(a) => Some(a.account),
        CommandKind::CancelOrder { account, .. }
        | CommandKind::CancelAll { account, .. }
        | CommandKind::Deposit { account, .. }
        | CommandKind::Withdraw { account, .. }
        | CommandKind::SetLeverage { account, .. }
        | CommandKind::SetMarginMode { account, .. }
        | CommandKind::AdjustIsolatedMargin { account, .. } => Some(*account),
        _ => None,
    }
}

/// A short name of a command, for tallies.
fn command_name(kind: &CommandKind) -> &'static str {
    match kind {
        CommandKind::PlaceOrder(_) => "order",
        CommandKind::PlaceStop(_) => "stop",
        CommandKind::AmendOrder(_) => "amend",
        CommandKind::Withdraw { .. } => "withdraw",
        CommandKind::SetLeverage { .. } => "leverage",
        CommandKind::AdjustIsolatedMargin { .. } => "margin removal",
        _ => "other",
    }
}

/// After a command, the accounts its liquidation pass worked on hold no orders or stops where
/// it cancelled them: a unit queued in it or still waiting (cancel-only) in the markets of the
/// unit (every market for cross), a deleveraged winner in the market it gave up position in.
fn check_cancel_only(engine: &Engine, model: &MarginModel, events: &[Event]) -> Result<(), String> {
    let all: Vec<MarketId> = engine.markets().iter().map(|m| m.id).collect();
    let mut cleared: Vec<(AccountId, Vec<MarketId>, &str)> = Vec::new();
    let units = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LiquidationQueued { account, scope, .. } => Some((*account, *scope)),
            _ => None,
        })
        .chain(model.liquidation_queue().iter().copied());
    for (account, scope) in units {
        let markets = match scope {
            LiquidationScope::Cross => all.clone(),
            LiquidationScope::Isolated(m) => vec![m],
        };
        cleared.push((account, markets, "queued for liquidation"));
    }
    for e in events {
        if let EventKind::Deleveraged { account, market, .. } = &e.kind {
            cleared.push((*account, vec![*market], "deleveraged"));
        }
    }
    for (account, markets, why) in cleared {
        for m in markets {
            let market = engine.market(m).expect("listed");
            let stops = market.stops.values().filter(|s| s.account == account).count();
            if !market.book.open_order_count(account) == 0 || stops > 0 {
                return Err(format!("{account}, {why}, still has orders or stops in market {m}"));
            }
        }
    }
    Ok(())
}

/// Runs one stream through the engine and the model; returns what it covered, or a report of
/// the first disagreement.
fn run(cfg: &VenueConfig) -> Result<Tally, String> {
    let stream = generate(cfg);
    let mut engine = Engine::new(stream.engine.clone());
    let mut model = MarginModel::for_engine(&stream.engine);
    let mut t = Tally::default();
    let mut stop_refs: BTreeMap<OrderId, TriggerBy> = BTreeMap::new();
    // Per account that traded: whether it ever traded isolated.
    let mut traded: BTreeMap<AccountId, bool> = BTreeMap::new();
    for (i, cmd) in stream.commands.iter().enumerate() {
        let fail = |what: &str, detail: String| {
            let mut s = format!("{}\ncommand #{i} (seq {}): {what}\n  {cmd:?}\n", cfg.describe(), i + 1);
            s.push_str("  previous commands:\n");
            for c in &stream.commands[i.saturating_sub(6)..i] {
                let _ = writeln!(s, "    {c:?}");
            }
            s.push_str(&detail);
            s
        };
        let at_clock = cmd.ts <= engine.now();
        let hash_before = at_clock.then(|| engine.state_hash());
        let expected = expect(&model, &engine, cmd).map_err(|e| fail("the model failed", e))?;
        let trigger = first_trigger(&model, &engine, cmd);
        let for_profit = match &cmd.kind {
            CommandKind::Withdraw { account, amount } => model.refused_only_for_profit(&engine, *account, amount.0),
            _ => false,
        };
        let marks_before: Vec<Option<i64>> = engine.markets().iter().map(|m| m.mark.map(|p| p.0)).collect();
        let cancel_only = model.refused_in_liquidation(&cmd.kind);
        let queued_before = !model.liquidation_queue().is_empty();
        let waiting = command_account(&cmd.kind).is_some_and(|a| model.in_liquidation(a));

        let events = engine.apply(cmd);

        let seq = u64::try_from(i + 1).expect("small");
        if let Some(e) = events.iter().find(|e| e.seq != seq || e.ts != cmd.ts) {
            return Err(fail("event not stamped with the command", format!("  {e:?}\n")));
        }
        let known = model.discrepancies().len();
        let effects = model
            .observe(cmd, &events)
            .map_err(|e| fail("an event disagrees with the model", format!("  {e}\n  events: {events:?}\n")))?;
        for d in &model.discrepancies()[known..] {
            let detail = format!("  {d}\n  events: {events:?}\n");
            t.discrepancies.push(fail("the engine contradicts docs/LIQUIDATION.md", detail));
        }
        let judged =
            check_expected(&expected, &events).map_err(|e| fail("an account check disagrees", format!("  {e}\n")))?;
        if let Some(trigger) = trigger {
            let judged = check_first_trigger(trigger, &events)
                .map_err(|e| fail("a triggered stop disagrees", format!("  {e}\n  events: {events:?}\n")))?;
            t.triggers_judged += u64::from(judged);
        }
        engine.check_invariants().map_err(|e| fail("invariant broken", e))?;
        let rejected = own_reject(&events);
        if rejected.is_some_and(|r| r.code() == 5012) != cancel_only {
            let detail = format!("  the model says cancel-only: {cancel_only}; the engine answered {rejected:?}\n");
            return Err(fail("a cancel-only refusal disagrees", detail));
        }
        if let (Some(before), Some(_)) = (hash_before, rejected) {
            // Steps 3 and 4 run after every command, a refused one too: stops whose reference
            // the previous command's liquidation fills crossed, and units queued before, may be
            // worked then. Only they may change the state, and they say so.
            match events.get(1).map(|e| &e.kind) {
                None if engine.state_hash() != before => {
                    return Err(fail(
                        "a rejection at the engine clock changed the state hash",
                        format!("  {events:?}\n"),
                    ));
                }
                None => {}
                Some(EventKind::StopTriggered { .. }) => t.rejected_then_stops += 1,
                Some(EventKind::LiquidationStarted { .. } | EventKind::LiquidationAverted { .. }) if queued_before => {
                    t.rejected_then_pass += 1;
                }
                Some(_) => {
                    return Err(fail(
                        "a rejection at the engine clock did more than steps 3 and 4",
                        format!("  {events:?}\n"),
                    ));
                }
            }
        }
        check_cancel_only(&engine, &model, &events)
            .map_err(|e| fail("an account the pass worked on kept orders", format!("  {e}\n  events: {events:?}\n")))?;
        let (figures, isolated) = compare_state(&engine, &model)
            .map_err(|e| fail("state differs", format!("  {e}\n  events: {events:?}\n")))?;

        // Tally.
        t.commands += 1;
        t.queue_left += u64::from(!model.liquidation_queue().is_empty());
        if rejected.is_some_and(|r| r.code() == 5012) {
            *t.cancel_only.entry(command_name(&cmd.kind)).or_default() += 1;
        } else if waiting && rejected.is_none() {
            t.cancel_only_accepted += 1;
        }
        if let Some(r) = rejected {
            *t.rejects.entry(r.code()).or_default() += 1;
            if r.code() == 5006 && for_profit {
                t.refused_for_profit += 1;
            }
            if r.code() == 5002 && matches!(cmd.kind, CommandKind::AdjustIsolatedMargin { .. }) {
                t.adds_refused += 1;
            }
        } else if !events.is_empty() {
            t.effective += 1;
        }
        t.margin_passes += u64::from(judged == Judged::MarginPass);
        t.adjust_figures_judged += u64::from(judged == Judged::AdjustFigures);
        for side in &effects {
            *t.effects.entry(side.effect).or_default() += 1;
            if side.isolated {
                *t.isolated_effects.entry(side.effect).or_default() += 1;
                t.isolated_rounded += u64::from(side.margin_rounded);
            }
            *traded.entry(side.account).or_default() |= side.isolated;
        }
        let trades = events.iter().filter(|e| matches!(e.kind, EventKind::Fill(_))).count();
        t.fills += trades as u64;
        t.with_fills += u64::from(trades > 0);
        for e in &events {
            match &e.kind {
                EventKind::StopAccepted { stop_id, trigger_by, .. } => {
                    t.stops_accepted += 1;
                    stop_refs.insert(*stop_id, *trigger_by);
                }
                EventKind::StopTriggered { stop_id, .. } => match stop_refs.get(stop_id) {
                    Some(TriggerBy::Mark) => t.triggered_by_mark += 1,
                    Some(TriggerBy::Last) => t.triggered_by_last += 1,
                    None => return Err(fail("an unknown stop triggered", format!("  {e:?}\n"))),
                },
                EventKind::TriggeredOrderRejected { reason, .. } => {
                    *t.trigger_rejects.entry(reason.code()).or_default() += 1;
                }
                EventKind::Fill(f) => {
                    let m = engine.market(f.market).expect("traded market exists");
                    let notional = i128::from(f.qty.0) * i128::from(f.price.0) * i128::from(m.quote_per_tick_lot);
                    let inexact = |rate: i64| notional * i128::from(rate) % 100_000_000 != 0;
                    t.fees_rounded += u64::from(inexact(m.spec.taker_fee.0));
                    if m.spec.maker_fee.0 < 0 {
                        t.rebates += 1;
                        t.rebates_rounded += u64::from(inexact(m.spec.maker_fee.0));
                    }
                }
                EventKind::OrderCancelled { reason: CancelReason::ReduceOnly, .. } => t.reduce_only_cancels += 1,
                EventKind::Withdrawn { .. } => t.withdrawals += 1,
                EventKind::LeverageSet { .. } => t.leverage_set += 1,
                EventKind::LiquidatorSet { .. } => t.liquidators_set += 1,
                EventKind::MarginModeSet { mode: MarginMode::Isolated, .. } => t.modes_isolated += 1,
                EventKind::MarginModeSet { mode: MarginMode::Cross, .. } => t.modes_cross += 1,
                EventKind::IsolatedMarginChanged { amount, .. } => {
                    if amount.0 > 0 {
                        t.margin_adds += 1;
                    } else {
                        t.margin_removes += 1;
                    }
                }
                EventKind::MarkPriceSet { market, price } => {
                    if let Some(Some(before)) = marks_before.get(market.index()) {
                        if (price.0 - before).abs() * 100 >= before * 5 {
                            t.jumps += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        t.below_maintenance += u64::from(figures.iter().any(|f| f.equity < f.maintenance_margin));
        t.negative_equity += u64::from(figures.iter().any(|f| f.equity < 0));
        t.isolated_below_maintenance += u64::from(isolated.iter().any(|f| f.equity < f.maintenance_margin));
        t.isolated_negative_equity += u64::from(isolated.iter().any(|f| f.equity < 0));
    }
    t.traders = traded.len() as u64;
    t.liq = model.liquidation_checks();
    t.isolated_traders = traded.values().filter(|i| **i).count() as u64;
    Ok(t)
}

/// The floors every single stream must reach.
fn check_stream_floors(cfg: &VenueConfig, t: &Tally) -> Result<(), String> {
    let mut problems = Vec::new();
    if t.pct(t.effective) < 25 {
        problems.push(format!("only {} % of commands took effect", t.pct(t.effective)));
    }
    // Streams where liquidations take out most traders early trade less; 8 % still means
    // well over a hundred trades in every stream (the suite floors carry the totals).
    if t.pct(t.with_fills) < 8 {
        problems.push(format!("only {} % of commands traded", t.pct(t.with_fills)));
    }
    if t.margin_refusals() == 0 {
        problems.push("no order refused for insufficient margin".into());
    }
    if t.effect(FillEffect::PartialClose) == 0 {
        problems.push("no partial close".into());
    }
    if t.effect(FillEffect::Flip) == 0 {
        problems.push("no position flip".into());
    }
    if t.margin_passes == 0 {
        problems.push("no order passed the margin check".into());
    }
    if t.triggered_by_mark == 0 || t.triggered_by_last == 0 {
        problems.push("stops did not trigger both by mark and by last price".into());
    }
    let seen = [
        (t.trigger_rejects.values().sum::<u64>(), "no triggered order refused at trigger"),
        (t.triggers_judged, "no triggered order judged by the model"),
        (t.reduce_only_cancels, "no reduce-only order cancelled"),
        (t.rejects_of(5003) + t.rejects_of(5004), "no leverage_above_tier or invalid_leverage refusal"),
        (t.refused_for_profit, "no withdrawal refused for unrealised profit"),
        (t.effect(FillEffect::Close), "no position closed exactly"),
        (t.isolated_effect(FillEffect::Flip), "no isolated position flipped"),
        (t.margin_adds, "no isolated margin added"),
        (t.margin_removes, "no isolated margin removed"),
        (t.rejects_of(5009), "no margin_mode_change_blocked refusal"),
        (t.rejects_of(5010), "no not_isolated refusal"),
        (t.rejects_of(5011), "no isolated_margin_above_removable refusal"),
        (t.modes_cross, "no account went back to cross"),
        (t.liq.started_isolated, "no isolated unit liquidated"),
        (t.liq.adl_at_bankruptcy + t.liq.adl_at_mark, "no ADL trade"),
        (t.liq.adl_settlements, "no sub-tick ADL settlement"),
        (t.liq.no_fee, "no close without a liquidation fee"),
    ];
    for (n, what) in seen {
        if n == 0 {
            problems.push(what.into());
        }
    }
    // Isolated trading is not a side show: a stream opens and reduces isolated positions again
    // and again, and switches accounts into isolated mode while it runs, not only at the start.
    if t.isolated_opens() < 20 || t.isolated_reduces() < 20 {
        problems.push(format!(
            "isolated positions opened {} and reduced {} times (at least 20 each)",
            t.isolated_opens(),
            t.isolated_reduces()
        ));
    }
    if t.modes_isolated <= cfg.isolated.len() as u64 {
        problems.push("no account switched to isolated during the stream".into());
    }
    // Every stream liquidates, through the book, and charges fees.
    let l = &t.liq;
    for (n, min, what) in [
        (l.started_cross + l.started_isolated, 5, "units liquidated"),
        (l.closed_out, 3, "units closed out"),
        (l.liquidation_fills, 3, "liquidation fills"),
        (l.fees, 2, "liquidation fees"),
        (l.capitalised, 3, "fund capitalisations"),
        (t.liquidators_set, 2, "liquidator registrations"),
    ] {
        if n < min {
            problems.push(format!("{n} {what} (at least {min})"));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(format!("{}: {}\n{t}", cfg.describe(), problems.join("; "))) }
}

/// The floors the whole suite must reach.
fn check_suite_floors(total: &Tally) {
    let need = |ok: bool, what: &str| assert!(ok, "suite coverage: {what}\n{total}");
    need(total.triggered_by_mark >= 100, "fewer than 100 stops triggered by mark");
    need(total.triggered_by_last >= 100, "fewer than 100 stops triggered by last price");
    need(total.trigger_rejects.values().sum::<u64>() >= 30, "fewer than 30 triggered orders refused at trigger");
    need(total.trigger_rejects.len() >= 2, "triggered orders refused for fewer than 2 reasons");
    need(total.fees_rounded >= 100, "fewer than 100 taker fees rounded up");
    need(total.rebates_rounded >= 100, "fewer than 100 maker rebates rounded down");
    need(total.triggers_judged >= 300, "fewer than 300 triggered orders judged by the model");
    need(total.reduce_only_cancels >= 50, "fewer than 50 reduce-only cancels");
    need(total.effect(FillEffect::Flip) >= 100, "fewer than 100 position flips");
    need(total.effect(FillEffect::PartialClose) >= 300, "fewer than 300 partial closes");
    need(total.effect(FillEffect::Close) >= 50, "fewer than 50 exact closes");
    need(total.margin_refusals() >= 300, "fewer than 300 insufficient_margin refusals of orders");
    need(total.rejects_of(5003) >= 10, "fewer than 10 leverage_above_tier refusals");
    need(total.rejects_of(5004) >= 50, "fewer than 50 invalid_leverage refusals");
    need(total.rejects_of(5005) >= 30, "fewer than 30 reduce_only_would_increase refusals");
    need(total.rejects_of(5006) >= 100, "fewer than 100 withdrawal_above_available refusals");
    need(total.refused_for_profit >= 30, "fewer than 30 withdrawals refused for unrealised profit");
    need(total.withdrawals >= 100, "fewer than 100 withdrawals paid");
    need(total.leverage_set >= 100, "fewer than 100 leverage changes");
    need(total.jumps >= 50, "fewer than 50 mark jumps of 5 % or more");
    for code in [5001, 5007, 5008, 4007] {
        need(total.rejects_of(code) >= 10, &format!("fewer than 10 refusals with code {code}"));
    }
    need(total.isolated_traders * 2 >= total.traders, "fewer than half of the trading accounts traded isolated");
    need(total.isolated_opens() >= 1_500, "fewer than 1,500 isolated opens and increases");
    need(total.isolated_effect(FillEffect::PartialClose) >= 1_000, "fewer than 1,000 isolated partial closes");
    need(total.isolated_effect(FillEffect::Close) >= 200, "fewer than 200 isolated positions closed exactly");
    need(total.isolated_effect(FillEffect::Flip) >= 250, "fewer than 250 isolated flips");
    need(total.isolated_rounded >= 1_000, "fewer than 1,000 isolated margin moves rounded");
    need(total.margin_adds >= 300, "fewer than 300 isolated margin adds");
    need(total.margin_removes >= 100, "fewer than 100 isolated margin removals");
    need(total.adds_refused >= 100, "fewer than 100 isolated margin adds refused for insufficient margin");
    need(total.adjust_figures_judged >= 400, "fewer than 400 adjustment refusals judged with their figures");
    need(total.rejects_of(5009) >= 250, "fewer than 250 margin_mode_change_blocked refusals");
    need(total.rejects_of(5010) >= 200, "fewer than 200 not_isolated refusals");
    need(total.rejects_of(5011) >= 300, "fewer than 300 isolated_margin_above_removable refusals");
    need(total.modes_cross >= 100, "fewer than 100 changes back to cross");
    // Liquidations: both kinds of unit, both outcomes, every layer of the waterfall, fees capped
    // both ways, cancel-only accounts refused and saved.
    let l = &total.liq;
    need(l.started_cross >= 200, "fewer than 200 cross units liquidated");
    need(l.started_isolated >= 400, "fewer than 400 isolated units liquidated");
    need(l.partial >= 250 && l.isolated_partial >= 150, "fewer than 250 partial liquidations (150 isolated)");
    need(l.closed_out >= 350 && l.isolated_closed_out >= 250, "fewer than 350 close-outs (250 isolated)");
    need(l.isolated_returned >= 35, "fewer than 35 closed-out isolated units returning margin to collateral");
    need(l.averted >= 5, "fewer than 5 queued units saved before their turn");
    need(total.queue_left >= 100, "units were left waiting in the queue after fewer than 100 commands");
    need(l.orders >= 600 && l.liquidation_fills >= 500, "fewer than 600 liquidation orders and 500 of their fills");
    need(l.partial_sizes >= 250, "fewer than 250 partial sizes verified the smallest that clears the buffer");
    need(l.full_sizes >= 50, "fewer than 50 full closes verified to have had no partial");
    need(l.takeovers >= 200 && l.gaps >= 150, "fewer than 200 backstop takeovers (150 with a gap paid)");
    need(l.takeovers - l.gaps >= 50, "fewer than 50 backstop takeovers without a gap");
    need(l.adl_at_bankruptcy >= 200 && l.adl_at_mark >= 60, "fewer than 200 ADL trades at B and 60 at mark");
    need(l.adl_shared >= 60, "fewer than 60 ADL closes shared by several winners");
    need(l.adl_settlements >= 200, "fewer than 200 sub-tick ADL settlements");
    need(l.fees >= 350 && l.no_fee >= 250, "fewer than 350 liquidation fees and 250 closes without one");
    need(l.fees_capped_full >= 60, "fewer than 60 fees capped at what a closed-out unit had left");
    need(l.fees_capped_partial >= 2, "fewer than 2 fees capped at E − MM with positions left");
    need(l.covered_market >= 120, "fewer than 120 payments by a market's own fund");
    need(l.covered_shared >= 25, "fewer than 25 payments by the shared fund");
    need(l.covered_guaranty >= 60, "fewer than 60 payments by the guaranty fund");
    // Close-out deficits (a cross balance left negative with nothing to close) are a rounding
    // safety net since isolated margin stopped being able to drive collateral negative: no floor.
    need(
        l.capitalised >= 200 && total.liquidators_set >= 150,
        "fewer than 200 capitalisations, 150 liquidator changes",
    );
    let refused: u64 = total.cancel_only.values().sum();
    need(refused >= 35 && total.cancel_only.len() >= 5, "fewer than 35 cancel-only refusals, or of fewer than 5 kinds");
    need(total.cancel_only_accepted >= 35, "fewer than 35 accepted commands of cancel-only accounts");
    need(total.rejected_then_pass >= 25, "fewer than 25 refused commands whose pass worked the queue");
}

#[test]
fn the_engines_money_matches_the_margin_model_after_every_command() {
    let seeds: Vec<u64> = SEEDS.collect();
    // Two workers: the suite is about the engine, not the test's patience.
    let results: Vec<Result<Tally, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = seeds
            .chunks(seeds.len().div_ceil(2))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|seed| {
                            let cfg = VenueConfig::from_seed(*seed, COMMANDS);
                            run(&cfg).and_then(|t| {
                                if std::env::var_os("MARGIN_MODEL_TALLY").is_some() {
                                    eprintln!("{}\n{t}", cfg.describe());
                                }
                                check_stream_floors(&cfg, &t).map(|()| t)
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("worker panicked")).collect()
    });
    let mut total = Tally::default();
    let mut failures = Vec::new();
    for r in results {
        match r {
            Ok(t) => total.add(&t),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{} of {} seeds failed:\n{}", failures.len(), seeds.len(), failures.join("\n\n"));
    println!("margin model suite, seeds {SEEDS:?}:\n{total}");
    check_suite_floors(&total);
    // Last, so that the tally and the floors above still speak for every stream.
    assert!(
        total.discrepancies.is_empty(),
        "{} commands contradict docs/LIQUIDATION.md (the model agrees with the engine's figures):\n{}",
        total.discrepancies.len(),
        total.discrepancies.join("\n")
    );
}

#[test]
fn the_same_venue_stream_replayed_twice_gives_the_same_state_hash() {
    for seed in [7, 8, 9] {
        let cfg = VenueConfig::from_seed(seed, COMMANDS);
        let stream = generate(&cfg);
        assert_eq!(stream, generate(&cfg), "{}: the generator is not a function of its seed", cfg.describe());
        let replay = |commands: &[Command]| {
            let mut engine = Engine::new(stream.engine.clone());
            let events: Vec<Vec<Event>> = commands.iter().map(|c| engine.apply(c)).collect();
            (events, engine.state_hash())
        };
        let (events_a, hash_a) = replay(&stream.commands);
        let (events_b, hash_b) = replay(&stream.commands);
        assert_eq!(hash_a, hash_b, "{}: replays end in different states", cfg.describe());
        assert_eq!(events_a, events_b, "{}: replays told different stories", cfg.describe());
        // The hash sees the stream: half of it ends somewhere else.
        let (_, half) = replay(&stream.commands[..COMMANDS / 2]);
        assert_ne!(half, hash_a, "{}: the second half of the stream left no trace in the hash", cfg.describe());
    }
}

/// MARGIN.md, "Order acceptance": an order that raises the IM requirement must be covered by
/// equity. An amend to a larger size, or to a price that crosses, commits the account exactly
/// as a new order of that size would (ENGINE.md: it goes to the back "as a new arrival would",
/// and a crossing amend "trades at once like a new taker"), so it must pass the same check.
/// A 200 USD account may bid 3 lots at 20x (IM 150), but not grow the bid to 1,000 lots
/// (IM 50,000), nor cross with it.
#[test]
fn an_amend_that_raises_the_requirement_beyond_equity_is_refused_like_a_new_order() {
    use perpx_core::{AccountId, Amend, MarketId, OrderRef, Price, Qty, Quote, TimeInForce};
    use perpx_testkit::fixtures::{deposit, limit, set_mark, test_spec};

    const USD: i64 = 1_000_000;
    let mut engine = Engine::default();
    for c in [
        perpx_testkit::fixtures::create_market(1, test_spec()),
        set_mark(2, 0, 1_000),
        deposit(3, 1, Quote(1_000_000 * USD)),
        deposit(4, 2, Quote(200 * USD)),
        limit(5, 1, 0, Side::Sell, 1_000, 1_000, TimeInForce::Gtc),
        limit(6, 2, 0, Side::Buy, 990, 3, TimeInForce::Gtc),
    ] {
        let events = engine.apply(&c);
        assert!(own_reject(&events).is_none(), "setup: {events:?}");
    }
    let bid = engine.market(MarketId(0)).expect("created").book.orders_of(AccountId(2)).next().expect("its bid rests");
    let amend = |price: i64, qty: i64| Command {
        ts: perpx_core::Timestamp(7),
        kind: CommandKind::AmendOrder(Amend {
            account: AccountId(2),
            market: MarketId(0),
            order: OrderRef::Id(bid),
            price: Some(Price(price)),
            qty: Some(Qty(qty)),
        }),
    };
    let mut accepted = Vec::new();
    for (what, cmd) in [("grow the bid", amend(990, 1_000)), ("cross with a grown bid", amend(1_000, 1_000))] {
        let mut e = engine.clone();
        let events = e.apply(&cmd);
        if own_reject(&events).map(RejectReason::code) != Some(5002) {
            let s = e.margin(AccountId(2)).expect("funded");
            let p = e.account(AccountId(2)).expect("funded").position(MarketId(0));
            accepted.push(format!(
                "{what}: not refused for insufficient margin; after it IM {} against equity {}, position {} lots, \
                 collateral {}\n  {events:?}",
                units(s.initial_margin.0),
                units(s.equity.0),
                p.size,
                units(s.collateral.0)
            ));
        }
    }
    assert!(accepted.is_empty(), "{}", accepted.join("\n"));
}
