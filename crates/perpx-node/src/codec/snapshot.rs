//! The snapshot codec: [`EngineSnapshot`] ↔ the opaque state of a journal snapshot file.
//!
//! ```text
//! version      u8   = SNAPSHOT_CODEC_VERSION (1)
//! config       max_markets u32, client_order_retention_ms i64,
//!              max_stop_triggers_per_command u32, max_liquidations_per_pass u32
//! seq u64, now i64, next_order_id u64, next_trade_id u64
//! markets      list of market (below)
//! client ids   list of (account u64, id string, order u64, market u32,
//!              terminal option(status, filled i64), expires_at i64), ascending
//! expiry queue list of (deadline i64, account u64, id string), front first
//! accounts     list of (id u64, collateral i64, positions list of (market u32, size,
//!              cost_basis, realized_pnl, fees_paid, isolated_margin, funding_paid,
//!              funding_received: i64 each), leverage list of (market u32, u32),
//!              margin modes list of (market u32, mode u8)), ascending ids
//! ledger       deposits, withdrawals, fee_account, insurance_fund, guaranty_fund,
//!              uncovered, venue_capital: i64 each
//! liquidation queue  list of (account u64, scope), front first
//! liquidators  list of u64, ascending
//!
//! market:      spec (as in a create_market command), quote_per_tick_lot i64, mark option,
//!              last_price option, status u8, pending change option(effective_at i64, change),
//!              oracle state (prices list of option(price, at), statuses list of u8, index
//!              option, last good index option, stage u8, stale_since option, basis list of
//!              i64), funding state (period_start, next_funding, next_sample_at i64,
//!              premium_sum i128, samples u64, missed u64, last_rate, last_rate_8h, last_apr,
//!              last_funding options), insurance_fund i64, shared_net_draw i64, checked_mark
//!              option, stops list, resting orders list (bids best first, then asks, each
//!              level in queue order)
//! ```
//!
//! Derived indexes (books' level slabs and maps, holders, open interest, the symbol map) are
//! not stored: [`perpx_core::Engine::restore`] rebuilds them. Accounts, positions, leverage,
//! margin modes and liquidators are written in ascending key order and decoding refuses any
//! other order; the client id list is ascending too, and `restore` refuses duplicates.

use std::collections::{BTreeMap, BTreeSet};

use perpx_core::account::{Account, Ledger, Position};
use perpx_core::book::RestingOrder;
use perpx_core::engine::{ClientOrderEntry, ClientOrderSnapshot, EngineSnapshot, MarketSnapshot};
use perpx_core::market::{FundingState, OracleState};
use perpx_core::stop::StopOrder;
use perpx_core::{AccountId, EngineConfig, Quote};

use super::bytes::{DecodeError, Reader, Writer};
use super::types::{
    R, get_account, get_client_id, get_margin_mode, get_market, get_market_status, get_opt_client_id, get_oracle_stage,
    get_order_id, get_order_status, get_param_change, get_price, get_qty, get_quote, get_scope, get_side,
    get_source_status, get_spec, get_stop_kind, get_stp, get_trigger_by, get_ts, margin_mode_tag, market_status_tag,
    oracle_stage_tag, put_client_id, put_opt_client_id, put_order_status, put_param_change, put_scope, put_spec,
    put_stop_kind, side_tag, source_status_tag, stp_tag, trigger_by_tag,
};

/// The version byte every encoded snapshot starts with.
pub const SNAPSHOT_CODEC_VERSION: u8 = 1;

/// Encodes a snapshot.
#[must_use]
pub fn encode_snapshot(s: &EngineSnapshot) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    let mut w = Writer::new(&mut out);
    let EngineSnapshot {
        config,
        seq,
        now,
        next_order_id,
        next_trade_id,
        markets,
        client_orders,
        client_order_expiry,
        accounts,
        ledger,
        liquidation_queue,
        liquidators,
    } = s;
    w.u8(SNAPSHOT_CODEC_VERSION);
    let EngineConfig {
        max_markets,
        client_order_retention_ms,
        max_stop_triggers_per_command,
        max_liquidations_per_pass,
    } = config;
    w.u32(*max_markets).i64(*client_order_retention_ms).u32(*max_stop_triggers_per_command);
    w.u32(*max_liquidations_per_pass);
    w.u64(*seq).i64(now.0).u64(*next_order_id).u64(*next_trade_id);
    w.list(markets, put_market);
    w.list(client_orders, |w, c| {
        let ClientOrderSnapshot { account, client_id, entry } = c;
        let ClientOrderEntry { order_id, market, terminal, expires_at } = entry;
        w.u64(account.0);
        put_client_id(w, client_id);
        w.u64(order_id.0).u32(market.0);
        w.opt(*terminal, |w, (status, filled)| {
            put_order_status(w, status);
            w.i64(filled.0);
        });
        w.i64(expires_at.0);
    });
    w.list(client_order_expiry, |w, (deadline, account, id)| {
        w.i64(deadline.0).u64(account.0);
        put_client_id(w, id);
    });
    w.len(accounts.len());
    for (id, a) in accounts {
        w.u64(id.0);
        put_account(&mut w, a);
    }
    let Ledger { deposits, withdrawals, fee_account, insurance_fund, guaranty_fund, uncovered, venue_capital } = ledger;
    for q in [deposits, withdrawals, fee_account, insurance_fund, guaranty_fund, uncovered, venue_capital] {
        w.i64(q.0);
    }
    w.list(liquidation_queue, |w, (account, scope)| {
        w.u64(account.0);
        put_scope(w, *scope);
    });
    w.len(liquidators.len());
    for id in liquidators {
        w.u64(id.0);
    }
    out
}

/// Decodes a snapshot. The result is plain data; [`perpx_core::Engine::restore`] checks that
/// it describes a consistent engine.
///
/// # Errors
/// [`DecodeError`]: another version, a truncated value, an unknown tag, an invalid flag or
/// client order id, maps out of order, or bytes left over.
pub fn decode_snapshot(bytes: &[u8]) -> Result<EngineSnapshot, DecodeError> {
    let mut r = Reader::new(bytes);
    r.version("engine snapshot", SNAPSHOT_CODEC_VERSION)?;
    let config = EngineConfig {
        max_markets: r.u32("max markets")?,
        client_order_retention_ms: r.i64("client order retention")?,
        max_stop_triggers_per_command: r.u32("max stop triggers")?,
        max_liquidations_per_pass: r.u32("max liquidations per pass")?,
    };
    let seq = r.u64("sequence number")?;
    let now = get_ts(&mut r)?;
    let next_order_id = r.u64("next order id")?;
    let next_trade_id = r.u64("next trade id")?;
    let markets = r.list("markets", get_market_snapshot)?;
    let client_orders = r.list("client order ids", |r| {
        Ok(ClientOrderSnapshot {
            account: get_account(r)?,
            client_id: get_client_id(r)?,
            entry: ClientOrderEntry {
                order_id: get_order_id(r)?,
                market: get_market(r)?,
                terminal: r.opt("terminal status", |r| Ok((get_order_status(r)?, get_qty(r)?)))?,
                expires_at: get_ts(r)?,
            },
        })
    })?;
    let client_order_expiry =
        r.list("client id expiry queue", |r| Ok((get_ts(r)?, get_account(r)?, get_client_id(r)?)))?;
    let accounts = ascending_map(&mut r, "accounts", |r| Ok((get_account(r)?, get_account_state(r)?)))?;
    let ledger = Ledger {
        deposits: get_quote(&mut r)?,
        withdrawals: get_quote(&mut r)?,
        fee_account: get_quote(&mut r)?,
        insurance_fund: get_quote(&mut r)?,
        guaranty_fund: get_quote(&mut r)?,
        uncovered: get_quote(&mut r)?,
        venue_capital: get_quote(&mut r)?,
    };
    let liquidation_queue = r.list("liquidation queue", |r| Ok((get_account(r)?, get_scope(r)?)))?;
    let liquidators: BTreeSet<AccountId> =
        ascending_map(&mut r, "liquidators", |r| Ok((get_account(r)?, ())))?.into_keys().collect();
    r.finish("engine snapshot")?;
    Ok(EngineSnapshot {
        config,
        seq,
        now,
        next_order_id,
        next_trade_id,
        markets,
        client_orders,
        client_order_expiry,
        accounts,
        ledger,
        liquidation_queue,
        liquidators,
    })
}

/// A list of `(key, value)` written in strictly ascending key order, read into a map.
fn ascending_map<K: Ord + Copy + std::fmt::Debug, V>(
    r: &mut Reader<'_>,
    what: &'static str,
    mut get: impl FnMut(&mut Reader<'_>) -> R<(K, V)>,
) -> R<BTreeMap<K, V>> {
    let mut map = BTreeMap::new();
    let mut last: Option<K> = None;
    let at = r.offset();
    for (k, v) in r.list(what, |r| get(r))? {
        if last.is_some_and(|l| l >= k) {
            return Err(DecodeError::Invalid { what, offset: at, detail: format!("keys out of order at {k:?}") });
        }
        last = Some(k);
        map.insert(k, v);
    }
    Ok(map)
}

fn put_market(w: &mut Writer<'_>, m: &MarketSnapshot) {
    let MarketSnapshot {
        spec,
        quote_per_tick_lot,
        mark,
        last_price,
        status,
        pending_change,
        oracle,
        funding,
        insurance_fund,
        shared_net_draw,
        checked_mark,
        stops,
        orders,
    } = m;
    put_spec(w, spec);
    w.i64(*quote_per_tick_lot).opt_i64(mark.map(|p| p.0)).opt_i64(last_price.map(|p| p.0));
    w.u8(market_status_tag(*status));
    w.opt(pending_change.as_ref(), |w, (at, change)| {
        w.i64(at.0);
        put_param_change(w, change);
    });
    put_oracle_state(w, oracle);
    put_funding_state(w, funding);
    w.i64(insurance_fund.0).i64(shared_net_draw.0).opt_i64(checked_mark.map(|p| p.0));
    w.list(stops, put_stop);
    w.list(orders, put_order);
}

fn get_market_snapshot(r: &mut Reader<'_>) -> R<MarketSnapshot> {
    Ok(MarketSnapshot {
        spec: get_spec(r)?,
        quote_per_tick_lot: r.i64("quote per tick lot")?,
        mark: r.opt("mark", get_price)?,
        last_price: r.opt("last price", get_price)?,
        status: get_market_status(r)?,
        pending_change: r.opt("pending change", |r| Ok((get_ts(r)?, get_param_change(r)?)))?,
        oracle: get_oracle_state(r)?,
        funding: get_funding_state(r)?,
        insurance_fund: get_quote(r)?,
        shared_net_draw: get_quote(r)?,
        checked_mark: r.opt("checked mark", get_price)?,
        stops: r.list("stops", get_stop)?,
        orders: r.list("resting orders", get_order)?,
    })
}

fn put_oracle_state(w: &mut Writer<'_>, o: &OracleState) {
    let OracleState { prices, status, index, last_good_index, stage, stale_since, basis } = o;
    w.list(prices, |w, p| {
        w.opt(*p, |w, (price, at)| {
            w.i64(price.0).i64(at.0);
        });
    });
    w.list(status, |w, s| {
        w.u8(source_status_tag(*s));
    });
    w.opt_i64(index.map(|p| p.0)).opt_i64(last_good_index.map(|p| p.0)).u8(oracle_stage_tag(*stage));
    w.opt_i64(stale_since.map(|t| t.0));
    w.len(basis.len());
    for b in basis {
        w.i64(*b);
    }
}

fn get_oracle_state(r: &mut Reader<'_>) -> R<OracleState> {
    Ok(OracleState {
        prices: r.list("oracle prices", |r| r.opt("oracle price", |r| Ok((get_price(r)?, get_ts(r)?))))?,
        status: r.list("oracle source statuses", get_source_status)?,
        index: r.opt("index", get_price)?,
        last_good_index: r.opt("last good index", get_price)?,
        stage: get_oracle_stage(r)?,
        stale_since: r.opt("stale since", get_ts)?,
        basis: r.list("basis window", |r| r.i64("basis"))?.into(),
    })
}

fn put_funding_state(w: &mut Writer<'_>, f: &FundingState) {
    let FundingState {
        period_start,
        next_funding,
        next_sample_at,
        premium_sum,
        samples,
        missed,
        last_rate,
        last_rate_8h,
        last_apr,
        last_funding,
    } = f;
    w.i64(period_start.0).i64(next_funding.0).i64(next_sample_at.0).i128(*premium_sum);
    w.u64(*samples).u64(*missed);
    w.opt_i64(last_rate.map(|r| r.0)).opt_i64(last_rate_8h.map(|r| r.0)).opt_i64(last_apr.map(|r| r.0));
    w.opt_i64(last_funding.map(|t| t.0));
}

fn get_funding_state(r: &mut Reader<'_>) -> R<FundingState> {
    use perpx_core::Rate;
    Ok(FundingState {
        period_start: get_ts(r)?,
        next_funding: get_ts(r)?,
        next_sample_at: get_ts(r)?,
        premium_sum: r.i128("premium sum")?,
        samples: r.u64("samples")?,
        missed: r.u64("missed samples")?,
        last_rate: r.opt_i64("last rate")?.map(Rate),
        last_rate_8h: r.opt_i64("last 8h rate")?.map(Rate),
        last_apr: r.opt_i64("last APR")?.map(Rate),
        last_funding: r.opt("last funding", get_ts)?,
    })
}

fn put_stop(w: &mut Writer<'_>, s: &StopOrder) {
    let StopOrder { id, account, side, kind, trigger, trigger_by, qty, reduce_only, stp, client_id, placed_at } = s;
    w.u64(id.0).u64(account.0).u8(side_tag(*side));
    put_stop_kind(w, *kind);
    w.i64(trigger.0).u8(trigger_by_tag(*trigger_by)).i64(qty.0).bool(*reduce_only).u8(stp_tag(*stp));
    put_opt_client_id(w, client_id.as_ref());
    w.i64(placed_at.0);
}

fn get_stop(r: &mut Reader<'_>) -> R<StopOrder> {
    Ok(StopOrder {
        id: get_order_id(r)?,
        account: get_account(r)?,
        side: get_side(r)?,
        kind: get_stop_kind(r)?,
        trigger: get_price(r)?,
        trigger_by: get_trigger_by(r)?,
        qty: get_qty(r)?,
        reduce_only: r.bool("reduce-only")?,
        stp: get_stp(r)?,
        client_id: get_opt_client_id(r)?,
        placed_at: get_ts(r)?,
    })
}

fn put_order(w: &mut Writer<'_>, o: &RestingOrder) {
    let RestingOrder { id, account, side, price, qty, filled, post_only, stp, reduce_only, client_id, queued_at } = o;
    w.u64(id.0).u64(account.0).u8(side_tag(*side)).i64(price.0).i64(qty.0).i64(filled.0);
    w.bool(*post_only).u8(stp_tag(*stp)).bool(*reduce_only);
    put_opt_client_id(w, client_id.as_ref());
    w.i64(queued_at.0);
}

fn get_order(r: &mut Reader<'_>) -> R<RestingOrder> {
    Ok(RestingOrder {
        id: get_order_id(r)?,
        account: get_account(r)?,
        side: get_side(r)?,
        price: get_price(r)?,
        qty: get_qty(r)?,
        filled: get_qty(r)?,
        post_only: r.bool("post-only")?,
        stp: get_stp(r)?,
        reduce_only: r.bool("reduce-only")?,
        client_id: get_opt_client_id(r)?,
        queued_at: get_ts(r)?,
    })
}

fn put_account(w: &mut Writer<'_>, a: &Account) {
    let Account { collateral, positions, leverage, margin_mode } = a;
    w.i64(collateral.0).len(positions.len());
    for (m, p) in positions {
        let Position { size, cost_basis, realized_pnl, fees_paid, isolated_margin, funding_paid, funding_received } = p;
        w.u32(m.0).i64(size.0);
        for q in [cost_basis, realized_pnl, fees_paid, isolated_margin, funding_paid, funding_received] {
            w.i64(q.0);
        }
    }
    w.len(leverage.len());
    for (m, l) in leverage {
        w.u32(m.0).u32(*l);
    }
    w.len(margin_mode.len());
    for (m, mode) in margin_mode {
        w.u32(m.0).u8(margin_mode_tag(*mode));
    }
}

fn get_account_state(r: &mut Reader<'_>) -> R<Account> {
    let collateral: Quote = get_quote(r)?;
    let positions = ascending_map(r, "positions", |r| {
        Ok((
            get_market(r)?,
            Position {
                size: get_qty(r)?,
                cost_basis: get_quote(r)?,
                realized_pnl: get_quote(r)?,
                fees_paid: get_quote(r)?,
                isolated_margin: get_quote(r)?,
                funding_paid: get_quote(r)?,
                funding_received: get_quote(r)?,
            },
        ))
    })?;
    let leverage = ascending_map(r, "leverage", |r| Ok((get_market(r)?, r.u32("leverage")?)))?;
    let margin_mode = ascending_map(r, "margin modes", |r| Ok((get_market(r)?, get_margin_mode(r)?)))?;
    Ok(Account {
        collateral,
        positions: positions.into_iter().collect(),
        leverage: leverage.into_iter().collect(),
        margin_mode: margin_mode.into_iter().collect(),
    })
}
