//! The events encoding: a canonical encoding of the events one command produced.
//!
//! ```text
//! encoding = "perpx-events/v1\0"            16 bytes, domain separation
//!          ‖ count          u64 LE
//!          ‖ event × count  seq u64, ts i64, kind tag u8, the kind's fields
//! ```
//!
//! The journal keeps, for each record, a CRC32C of its command's encoding (`events_check`), and
//! for each commit the blake3 digest of its records' encodings (`events_digest`, see
//! `perpx_journal::record`), so a replay can check that it produced exactly what the live
//! engine produced — and the commit hash binds the digest into the chain, so a proof of a
//! record also proves what the command did. The encoding is one-way (nothing decodes it) but
//! must be injective: every field of every event is written, strings and lists with their
//! length, enumerations with explicit tags, and a rejection as its stable reject code followed
//! by its figures (not its message text, which may be reworded). A command with no events (a
//! `tick` that moved nothing) is encoded as an empty list. A funding settlement's batch of
//! payments is encoded as its notices (`Event::notices`), one `funding_payment` a line, so the
//! encoding (and every digest a journal holds) is the one the engine's events had when it
//! emitted a `FundingPayment` event a position.

use perpx_core::event::{Fill, FundingSettlement, LiquidationOutcome, QueuePriority};
use perpx_core::{Event, EventKind, RejectReason};

use super::bytes::Writer;
use super::types::{
    adl_tag, cancel_reason_tag, margin_mode_tag, oracle_stage_tag, put_client_id, put_fund, put_opt_client_id,
    put_order_status, put_order_type, put_scope, put_stop_kind, side_tag, source_status_tag, stp_tag, trigger_by_tag,
};

/// The domain of the encoding; its version changes if the encoding ever does.
pub const EVENTS_DIGEST_DOMAIN: &[u8; 16] = b"perpx-events/v1\0";

/// The encoding of `events` (see the module docs).
#[must_use]
pub fn encode_events(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_events_into(events, &mut out);
    out
}

/// Appends the encoding of `events` (see the module docs) to `out`: straight into a journal
/// commit's events stream, or a buffer the replay reuses.
pub fn encode_events_into(events: &[Event], out: &mut Vec<u8>) {
    // The count is the notices' (a funding batch counts its lines): written as the events'
    // and corrected after them if a batch made it more, so no pass counts them first.
    let count_at = out.len() + EVENTS_DIGEST_DOMAIN.len();
    let mut w = Writer::new(out);
    w.bytes(EVENTS_DIGEST_DOMAIN).u64(events.len() as u64);
    let mut notices = 0;
    for e in events {
        notices += put_event(&mut w, e);
    }
    if notices != events.len() {
        out[count_at..count_at + 8].copy_from_slice(&(notices as u64).to_le_bytes());
    }
}

/// Tags of the event kinds, fixed forever within version 1.
mod tag {
    pub const MARKET_CREATED: u8 = 1;
    pub const MARK_PRICE_SET: u8 = 2;
    pub const INDEX_PRICE: u8 = 3;
    pub const ORACLE_SOURCE_STATUS: u8 = 4;
    pub const ORACLE_STAGE_CHANGED: u8 = 5;
    pub const FUNDING_SETTLED: u8 = 6;
    pub const FUNDING_PAYMENT: u8 = 7;
    pub const FUNDING_SKIPPED: u8 = 8;
    pub const ORDER_ACCEPTED: u8 = 9;
    pub const FILL: u8 = 10;
    pub const ORDER_AMENDED: u8 = 11;
    pub const ORDER_CANCELLED: u8 = 12;
    pub const DUPLICATE_CLIENT_ORDER_ID: u8 = 13;
    pub const MARKET_HALTED: u8 = 14;
    pub const MARKET_RESUMED: u8 = 15;
    pub const PARAMS_SCHEDULED: u8 = 16;
    pub const PARAMS_CHANGED: u8 = 17;
    pub const POSITION_SETTLED: u8 = 18;
    pub const MARKET_DELISTED: u8 = 19;
    pub const STOP_ACCEPTED: u8 = 20;
    pub const STOP_TRIGGERED: u8 = 21;
    pub const TRIGGERED_ORDER_REJECTED: u8 = 22;
    pub const POSITION_CHANGED: u8 = 23;
    pub const MARGIN_MODE_SET: u8 = 24;
    pub const ISOLATED_MARGIN_CHANGED: u8 = 25;
    pub const DEPOSITED: u8 = 26;
    pub const WITHDRAWN: u8 = 27;
    pub const LEVERAGE_SET: u8 = 28;
    pub const LIQUIDATION_QUEUED: u8 = 29;
    pub const LIQUIDATION_STARTED: u8 = 30;
    pub const LIQUIDATION_AVERTED: u8 = 31;
    pub const LIQUIDATION_ORDER: u8 = 32;
    pub const BACKSTOP_TAKEOVER: u8 = 33;
    pub const DELEVERAGED: u8 = 34;
    pub const LIQUIDATION_FEE: u8 = 35;
    pub const DEFICIT_COVERED: u8 = 36;
    pub const DEFICIT_UNCOVERED: u8 = 37;
    pub const LIQUIDATION_FINISHED: u8 = 38;
    pub const LIQUIDATOR_SET: u8 = 39;
    pub const FUND_CAPITALISED: u8 = 40;
    pub const REJECTED: u8 = 41;
    pub const ADMIN_AUDITED: u8 = 42;
}

/// An event's encoding: its `seq`, `ts` and kind; a funding batch's, its notices' one after
/// the other ([`put_notices`]). Returns how many notices it wrote.
#[inline]
fn put_event(w: &mut Writer<'_>, e: &Event) -> usize {
    if let EventKind::FundingPayments { .. } = e.kind {
        return put_notices(w, e);
    }
    let Event { seq, ts, kind } = e;
    w.u64(*seq).i64(ts.0);
    put_kind(w, kind);
    1
}

/// A funding batch's encoding: each of its notices (`Event::notices`, built on the stack one
/// at a time) as [`put_event`] writes a `funding_payment`. Out of line, so every other event,
/// on the replay's and the server's engine thread's path, is written as it was before batches
/// (measured on the `engine_thread` bench's events encoding, against session 21's: +16 %
/// instructions with the batch's loop inside `put_event` and the notices counted first, +6 %
/// with the loop out of line, +4 % with the count also corrected after the events instead;
/// docs/PERFORMANCE.md, "Funding, session 22").
#[cold]
#[inline(never)]
fn put_notices(w: &mut Writer<'_>, e: &Event) -> usize {
    for notice in e.notices() {
        let Event { seq, ts, kind } = &*notice;
        w.u64(*seq).i64(ts.0);
        put_kind(w, kind);
    }
    e.notice_count()
}

#[allow(clippy::too_many_lines)] // one arm per event kind, each a line or two
fn put_kind(w: &mut Writer<'_>, kind: &EventKind) {
    match kind {
        EventKind::MarketCreated { market, symbol } => {
            w.u8(tag::MARKET_CREATED).u32(market.0).str(symbol);
        }
        EventKind::MarkPriceSet { market, price } => {
            w.u8(tag::MARK_PRICE_SET).u32(market.0).i64(price.0);
        }
        EventKind::IndexPrice { market, price, sources_used } => {
            w.u8(tag::INDEX_PRICE).u32(market.0).i64(price.0).u32(*sources_used);
        }
        EventKind::OracleSourceStatus { market, source, status, price } => {
            w.u8(tag::ORACLE_SOURCE_STATUS).u32(market.0).u16(*source).u8(source_status_tag(*status));
            w.opt_i64(price.map(|p| p.0));
        }
        EventKind::OracleStageChanged { market, stage, since } => {
            w.u8(tag::ORACLE_STAGE_CHANGED).u32(market.0).u8(oracle_stage_tag(*stage)).i64(since.0);
        }
        EventKind::FundingSettled(settlement) => {
            let FundingSettlement {
                market,
                funding_time,
                rate,
                rate_8h,
                mark,
                samples,
                missed_samples,
                positions,
                paid,
                received,
                to_insurance_fund,
                next_funding_time,
            } = &**settlement;
            w.u8(tag::FUNDING_SETTLED).u32(market.0).i64(funding_time.0).i64(rate.0).i64(rate_8h.0);
            w.opt_i64(mark.map(|p| p.0)).u64(*samples).u64(*missed_samples).u64(*positions);
            w.i64(paid.0).i64(received.0).i64(to_insurance_fund.0).i64(next_funding_time.0);
        }
        EventKind::FundingPayment { account, market, size, amount, collateral, isolated_margin } => {
            w.u8(tag::FUNDING_PAYMENT).u64(account.0).u32(market.0).i64(size.0).i64(amount.0);
            w.i64(collateral.0).i64(isolated_margin.0);
        }
        EventKind::FundingPayments { .. } => {
            unreachable!("a batch is encoded as its notices (put_event)")
        }
        EventKind::FundingSkipped { market, funding_time } => {
            w.u8(tag::FUNDING_SKIPPED).u32(market.0).i64(funding_time.0);
        }
        EventKind::OrderAccepted { order_id, account, market, side, order_type, qty, client_id, stp, reduce_only } => {
            w.u8(tag::ORDER_ACCEPTED).u64(order_id.0).u64(account.0).u32(market.0).u8(side_tag(*side));
            put_order_type(w, *order_type);
            w.i64(qty.0);
            put_opt_client_id(w, client_id.as_ref());
            w.u8(stp_tag(*stp)).bool(*reduce_only);
        }
        EventKind::Fill(f) => {
            let Fill {
                market,
                trade_id,
                price,
                qty,
                taker_side,
                maker_order,
                maker_account,
                maker_remaining,
                taker_order,
                taker_account,
                taker_remaining,
                maker_fee,
                taker_fee,
            } = &**f;
            w.u8(tag::FILL).u32(market.0).u64(trade_id.0).i64(price.0).i64(qty.0).u8(side_tag(*taker_side));
            w.u64(maker_order.0).u64(maker_account.0).i64(maker_remaining.0);
            w.u64(taker_order.0).u64(taker_account.0).i64(taker_remaining.0);
            w.i64(maker_fee.0).i64(taker_fee.0);
        }
        EventKind::OrderAmended { order_id, account, market, price, qty, priority } => {
            w.u8(tag::ORDER_AMENDED).u64(order_id.0).u64(account.0).u32(market.0).i64(price.0).i64(qty.0);
            w.u8(match priority {
                QueuePriority::Kept => 0,
                QueuePriority::Lost => 1,
            });
        }
        EventKind::OrderCancelled { order_id, account, market, qty, reason } => {
            w.u8(tag::ORDER_CANCELLED).u64(order_id.0).u64(account.0).u32(market.0).i64(qty.0);
            w.u8(cancel_reason_tag(*reason));
        }
        EventKind::DuplicateClientOrderId { account, client_id, order_id, market, status, filled, open } => {
            w.u8(tag::DUPLICATE_CLIENT_ORDER_ID).u64(account.0);
            put_client_id(w, client_id);
            w.u64(order_id.0);
            w.u32(market.0);
            put_order_status(w, *status);
            w.i64(filled.0).i64(open.0);
        }
        EventKind::MarketHalted { market } => {
            w.u8(tag::MARKET_HALTED).u32(market.0);
        }
        EventKind::MarketResumed { market } => {
            w.u8(tag::MARKET_RESUMED).u32(market.0);
        }
        EventKind::ParamsScheduled { market, effective_at, accounts_below_maintenance, replaced } => {
            w.u8(tag::PARAMS_SCHEDULED).u32(market.0).i64(effective_at.0).u32(*accounts_below_maintenance);
            w.bool(*replaced);
        }
        EventKind::ParamsChanged { market } => {
            w.u8(tag::PARAMS_CHANGED).u32(market.0);
        }
        EventKind::PositionSettled { account, market, size, price, realized, collateral } => {
            w.u8(tag::POSITION_SETTLED).u64(account.0).u32(market.0).i64(size.0).i64(price.0);
            w.i64(realized.0).i64(collateral.0);
        }
        EventKind::MarketDelisted { market, price } => {
            w.u8(tag::MARKET_DELISTED).u32(market.0).i64(price.0);
        }
        EventKind::StopAccepted {
            stop_id,
            account,
            market,
            side,
            kind,
            trigger,
            trigger_by,
            qty,
            reduce_only,
            client_id,
        } => {
            w.u8(tag::STOP_ACCEPTED).u64(stop_id.0).u64(account.0).u32(market.0).u8(side_tag(*side));
            put_stop_kind(w, *kind);
            w.i64(trigger.0).u8(trigger_by_tag(*trigger_by)).i64(qty.0).bool(*reduce_only);
            put_opt_client_id(w, client_id.as_ref());
        }
        EventKind::StopTriggered { stop_id, account, market, reference } => {
            w.u8(tag::STOP_TRIGGERED).u64(stop_id.0).u64(account.0).u32(market.0).i64(reference.0);
        }
        EventKind::TriggeredOrderRejected { stop_id, account, market, reason } => {
            w.u8(tag::TRIGGERED_ORDER_REJECTED).u64(stop_id.0).u64(account.0).u32(market.0);
            put_reason(w, reason);
        }
        EventKind::PositionChanged {
            account,
            market,
            size,
            cost_basis,
            realized,
            fee,
            collateral,
            isolated_margin,
        } => {
            w.u8(tag::POSITION_CHANGED).u64(account.0).u32(market.0).i64(size.0).i64(cost_basis.0);
            w.i64(realized.0).i64(fee.0).i64(collateral.0).i64(isolated_margin.0);
        }
        EventKind::MarginModeSet { account, market, mode } => {
            w.u8(tag::MARGIN_MODE_SET).u64(account.0).u32(market.0).u8(margin_mode_tag(*mode));
        }
        EventKind::IsolatedMarginChanged { account, market, amount, isolated_margin, collateral } => {
            w.u8(tag::ISOLATED_MARGIN_CHANGED).u64(account.0).u32(market.0).i64(amount.0);
            w.i64(isolated_margin.0).i64(collateral.0);
        }
        EventKind::Deposited { account, amount, collateral } => {
            w.u8(tag::DEPOSITED).u64(account.0).i64(amount.0).i64(collateral.0);
        }
        EventKind::Withdrawn { account, amount, collateral } => {
            w.u8(tag::WITHDRAWN).u64(account.0).i64(amount.0).i64(collateral.0);
        }
        EventKind::LeverageSet { account, market, leverage } => {
            w.u8(tag::LEVERAGE_SET).u64(account.0).u32(market.0).u32(*leverage);
        }
        EventKind::LiquidationQueued { account, scope, equity, maintenance_margin, queue_length } => {
            w.u8(tag::LIQUIDATION_QUEUED).u64(account.0);
            put_scope(w, *scope);
            w.i64(equity.0).i64(maintenance_margin.0).u64(*queue_length);
        }
        EventKind::LiquidationStarted { account, scope, equity, maintenance_margin } => {
            w.u8(tag::LIQUIDATION_STARTED).u64(account.0);
            put_scope(w, *scope);
            w.i64(equity.0).i64(maintenance_margin.0);
        }
        EventKind::LiquidationAverted { account, scope, equity, maintenance_margin } => {
            w.u8(tag::LIQUIDATION_AVERTED).u64(account.0);
            put_scope(w, *scope);
            w.i64(equity.0).i64(maintenance_margin.0);
        }
        EventKind::LiquidationOrder { account, market, order_id, side, qty, limit, bankruptcy_price } => {
            w.u8(tag::LIQUIDATION_ORDER).u64(account.0).u32(market.0).u64(order_id.0).u8(side_tag(*side));
            w.i64(qty.0).i64(limit.0).i64(bankruptcy_price.0);
        }
        EventKind::BackstopTakeover { market, account, liquidator, side, qty, price, gap_paid } => {
            w.u8(tag::BACKSTOP_TAKEOVER).u32(market.0).u64(account.0).u64(liquidator.0).u8(side_tag(*side));
            w.i64(qty.0).i64(price.0).i64(gap_paid.0);
        }
        EventKind::Deleveraged { market, account, bankrupt, qty, price, settlement, profit_given_up, rank, policy } => {
            w.u8(tag::DELEVERAGED).u32(market.0).u64(account.0).u64(bankrupt.0).i64(qty.0).i64(price.0);
            w.i64(settlement.0).i64(profit_given_up.0).i128(rank.get()).u8(adl_tag(*policy));
        }
        EventKind::LiquidationFee { account, market, amount, fund } => {
            w.u8(tag::LIQUIDATION_FEE).u64(account.0).u32(market.0).i64(amount.0);
            put_fund(w, *fund);
        }
        EventKind::DeficitCovered { account, market, fund, amount, balance } => {
            w.u8(tag::DEFICIT_COVERED).u64(account.0).u32(market.0);
            put_fund(w, *fund);
            w.i64(amount.0).i64(balance.0);
        }
        EventKind::DeficitUncovered { account, market, amount } => {
            w.u8(tag::DEFICIT_UNCOVERED).u64(account.0).u32(market.0).i64(amount.0);
        }
        EventKind::LiquidationFinished { account, scope, outcome, equity, maintenance_margin } => {
            w.u8(tag::LIQUIDATION_FINISHED).u64(account.0);
            put_scope(w, *scope);
            w.u8(match outcome {
                LiquidationOutcome::Partial => 0,
                LiquidationOutcome::ClosedOut => 1,
                LiquidationOutcome::Stalled => 2,
            });
            w.i64(equity.0).i64(maintenance_margin.0);
        }
        EventKind::LiquidatorSet { account, active } => {
            w.u8(tag::LIQUIDATOR_SET).u64(account.0).bool(*active);
        }
        EventKind::FundCapitalised { fund, amount, balance } => {
            w.u8(tag::FUND_CAPITALISED);
            put_fund(w, *fund);
            w.i64(amount.0).i64(balance.0);
        }
        EventKind::AdminAudited { actor, action, detail } => {
            w.u8(tag::ADMIN_AUDITED).str(actor).str(action).str(detail);
        }
        EventKind::Rejected { account, client_id, reason } => {
            w.u8(tag::REJECTED).opt(*account, |w, a| {
                w.u64(a.0);
            });
            put_opt_client_id(w, client_id.as_ref());
            put_reason(w, reason);
        }
    }
}

/// A rejection: its stable code (`u16`), then its figures in declaration order.
fn put_reason(w: &mut Writer<'_>, reason: &RejectReason) {
    use RejectReason as R;
    w.u16(reason.code());
    match reason {
        R::TimestampRegression { got, clock } => {
            w.i64(got.0).i64(clock.0);
        }
        R::TimestampTooFarAhead { got, clock, max_step_ms } => {
            w.i64(got.0).i64(clock.0).i64(*max_step_ms);
        }
        R::Malformed(s)
        | R::UnknownMarket(s)
        | R::DuplicateSymbol(s)
        | R::InvalidMarketSpec(s)
        | R::UnknownOracleSource(s)
        | R::InvalidClientOrderId(s)
        | R::UnknownOrder(s) => {
            w.str(s);
        }
        R::InvalidNumber { field, detail } => {
            w.str(field).str(detail);
        }
        R::PriceOffTick { price, tick } => {
            w.str(price).str(tick);
        }
        R::QtyOffLot { qty, lot } => {
            w.str(qty).str(lot);
        }
        R::NoMarkPrice
        | R::MarketHalted
        | R::MarketDelisted
        | R::MarketNotHalted
        | R::MarketReduceOnly
        | R::NotionalOverflow
        | R::ReduceOnlyWouldIncrease
        | R::MarginModeChangeBlocked
        | R::NotIsolated
        | R::BalanceOverflow
        | R::AccountInLiquidation => {}
        R::TooManyMarkets(n) | R::TooManyOpenOrders(n) | R::TooManyPriceLevels(n) | R::TooManyStops(n) => {
            w.u32(*n);
        }
        R::ScheduleNotInFuture { effective_at, now } => {
            w.i64(effective_at.0).i64(now.0);
        }
        R::NonPositiveMark(p) | R::NonPositivePrice(p) => {
            w.i64(p.0);
        }
        R::OpenInterestCap { cap, open_interest } => {
            w.i64(cap.0).i64(open_interest.0);
        }
        R::NonPositiveQty(q) => {
            w.i64(q.0);
        }
        R::QtyAboveMax { qty, max } => {
            w.i64(qty.0).i64(max.0);
        }
        R::QtyBelowMin { qty, min } => {
            w.i64(qty.0).i64(min.0);
        }
        R::NotionalBelowMin { notional, min } => {
            w.i64(notional.0).i64(min.0);
        }
        R::PriceOutsideBand { price, low, high } => {
            w.i64(price.0).i64(low.0).i64(high.0);
        }
        R::PostOnlyWouldTake { best_opposite } => {
            w.i64(best_opposite.0);
        }
        R::FokCannotFill { qty, available } => {
            w.i64(qty.0).i64(available.0);
        }
        R::NothingToAmend(id) => {
            w.u64(id.0);
        }
        R::StopWouldTriggerNow { trigger, reference } => {
            w.i64(trigger.0).i64(reference.0);
        }
        R::UnknownAccount(id) => {
            w.u64(*id);
        }
        R::InsufficientMargin { required, available } => {
            w.i64(required.0).i64(available.0);
        }
        R::LeverageAboveTier { leverage, max } | R::InvalidLeverage { leverage, max } => {
            w.u32(*leverage).u32(*max);
        }
        R::WithdrawalAboveAvailable { requested, available } => {
            w.i64(requested.0).i64(available.0);
        }
        R::NonPositiveAmount(q) => {
            w.i64(q.0);
        }
        R::IsolatedMarginAboveRemovable { requested, available } => {
            w.i64(requested.0).i64(available.0);
        }
    }
}
