//! The command codec: `Command` ↔ the payload of a journal record.
//!
//! ```text
//! version  u8   = COMMAND_CODEC_VERSION (1)
//! ts       i64  the command's timestamp (ms)
//! kind     u8   the command's tag, then its fields (table in docs/JOURNAL.md)
//! ```
//!
//! Every field is written, in declaration order, with the primitives of [`super::bytes`];
//! nothing is left out and nothing is defaulted, so `decode(encode(c)) == c` for every
//! command, valid or not (a journal records rejected commands too). Decoding checks the
//! version, every tag and flag, the client order id rules, and that no byte is left over; it
//! never panics.

use perpx_core::command::{Amend, NewOrder, NewStop};
use perpx_core::{Command, CommandKind};

use super::bytes::{DecodeError, Reader, Writer, unknown};
use super::types::{
    R, get_account, get_fund, get_margin_mode, get_market, get_opt_client_id, get_order_ref, get_order_type,
    get_param_change, get_price, get_qty, get_quote, get_side, get_spec, get_stop_kind, get_stp, get_trigger_by,
    get_ts, margin_mode_tag, put_fund, put_opt_client_id, put_order_ref, put_order_type, put_param_change, put_spec,
    put_stop_kind, side_tag, stp_tag, trigger_by_tag,
};

/// The version byte every command payload starts with.
pub const COMMAND_CODEC_VERSION: u8 = 1;

/// Tags of the command kinds. Fixed forever within version 1; a new kind takes the next number.
mod tag {
    pub const CREATE_MARKET: u8 = 1;
    pub const SET_MARK: u8 = 2;
    pub const ORACLE_PRICE: u8 = 3;
    pub const SET_LIQUIDATOR: u8 = 4;
    pub const CAPITALISE_FUND: u8 = 5;
    pub const PLACE_ORDER: u8 = 6;
    pub const AMEND_ORDER: u8 = 7;
    pub const CANCEL_ORDER: u8 = 8;
    pub const CANCEL_ALL: u8 = 9;
    pub const MASS_CANCEL: u8 = 10;
    pub const TICK: u8 = 11;
    pub const DEPOSIT: u8 = 12;
    pub const WITHDRAW: u8 = 13;
    pub const PLACE_STOP: u8 = 14;
    pub const HALT: u8 = 15;
    pub const RESUME: u8 = 16;
    pub const SCHEDULE_PARAMS: u8 = 17;
    pub const DELIST: u8 = 18;
    pub const SET_MARGIN_MODE: u8 = 19;
    pub const ADJUST_ISOLATED_MARGIN: u8 = 20;
    pub const SET_LEVERAGE: u8 = 21;
    pub const ADMIN_AUDIT: u8 = 22;
}

/// Encodes `cmd` as a payload.
#[must_use]
pub fn encode_command(cmd: &Command) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode_command_into(cmd, &mut out);
    out
}

/// Appends the payload of `cmd` to `out` (reuse the buffer on hot paths).
pub fn encode_command_into(cmd: &Command, out: &mut Vec<u8>) {
    let mut w = Writer::new(out);
    w.u8(COMMAND_CODEC_VERSION).i64(cmd.ts.0);
    put_kind(&mut w, &cmd.kind);
}

/// Decodes a payload.
///
/// # Errors
/// [`DecodeError`]: empty input, another version, a truncated value, an unknown tag, an invalid
/// flag or client order id, or bytes left over.
pub fn decode_command(bytes: &[u8]) -> Result<Command, DecodeError> {
    let mut r = Reader::new(bytes);
    r.version("command", COMMAND_CODEC_VERSION)?;
    let ts = get_ts(&mut r)?;
    let kind = get_kind(&mut r)?;
    r.finish("command")?;
    Ok(Command { ts, kind })
}

fn put_kind(w: &mut Writer<'_>, kind: &CommandKind) {
    match kind {
        CommandKind::CreateMarket(spec) => {
            w.u8(tag::CREATE_MARKET);
            put_spec(w, spec);
        }
        CommandKind::SetMark { market, price } => {
            w.u8(tag::SET_MARK).u32(market.0).i64(price.0);
        }
        CommandKind::OraclePrice { market, source, price } => {
            w.u8(tag::ORACLE_PRICE).u32(market.0).u16(*source).i64(price.0);
        }
        CommandKind::SetLiquidator { account, active } => {
            w.u8(tag::SET_LIQUIDATOR).u64(account.0).bool(*active);
        }
        CommandKind::CapitaliseFund { fund, amount } => {
            w.u8(tag::CAPITALISE_FUND);
            put_fund(w, *fund);
            w.i64(amount.0);
        }
        CommandKind::PlaceOrder(o) => {
            let NewOrder { account, market, side, order_type, qty, client_id, stp, reduce_only } = o;
            w.u8(tag::PLACE_ORDER).u64(account.0).u32(market.0).u8(side_tag(*side));
            put_order_type(w, *order_type);
            w.i64(qty.0);
            put_opt_client_id(w, client_id.as_ref());
            w.u8(stp_tag(*stp)).bool(*reduce_only);
        }
        CommandKind::AmendOrder(a) => {
            let Amend { account, market, order, price, qty } = a;
            w.u8(tag::AMEND_ORDER).u64(account.0).u32(market.0);
            put_order_ref(w, order);
            w.opt_i64(price.map(|p| p.0)).opt_i64(qty.map(|q| q.0));
        }
        CommandKind::CancelOrder { account, market, order } => {
            w.u8(tag::CANCEL_ORDER).u64(account.0).u32(market.0);
            put_order_ref(w, order);
        }
        CommandKind::CancelAll { account, market } => {
            w.u8(tag::CANCEL_ALL).u64(account.0).opt(*market, |w, m| {
                w.u32(m.0);
            });
        }
        CommandKind::MassCancel { market } => {
            w.u8(tag::MASS_CANCEL).u32(market.0);
        }
        CommandKind::Tick => {
            w.u8(tag::TICK);
        }
        CommandKind::AdminAudit { actor, action, detail } => {
            w.u8(tag::ADMIN_AUDIT).str(actor).str(action).str(detail);
        }
        CommandKind::Deposit { account, amount } => {
            w.u8(tag::DEPOSIT).u64(account.0).i64(amount.0);
        }
        CommandKind::Withdraw { account, amount } => {
            w.u8(tag::WITHDRAW).u64(account.0).i64(amount.0);
        }
        CommandKind::PlaceStop(s) => {
            let NewStop { account, market, side, kind, trigger, trigger_by, qty, client_id, stp, reduce_only } = s;
            w.u8(tag::PLACE_STOP).u64(account.0).u32(market.0).u8(side_tag(*side));
            put_stop_kind(w, *kind);
            w.i64(trigger.0).u8(trigger_by_tag(*trigger_by)).i64(qty.0);
            put_opt_client_id(w, client_id.as_ref());
            w.u8(stp_tag(*stp)).bool(*reduce_only);
        }
        CommandKind::Halt { market } => {
            w.u8(tag::HALT).u32(market.0);
        }
        CommandKind::Resume { market } => {
            w.u8(tag::RESUME).u32(market.0);
        }
        CommandKind::ScheduleParams { market, effective_at, change } => {
            w.u8(tag::SCHEDULE_PARAMS).u32(market.0).i64(effective_at.0);
            put_param_change(w, change);
        }
        CommandKind::Delist { market, price } => {
            w.u8(tag::DELIST).u32(market.0).i64(price.0);
        }
        CommandKind::SetMarginMode { account, market, mode } => {
            w.u8(tag::SET_MARGIN_MODE).u64(account.0).u32(market.0).u8(margin_mode_tag(*mode));
        }
        CommandKind::AdjustIsolatedMargin { account, market, amount } => {
            w.u8(tag::ADJUST_ISOLATED_MARGIN).u64(account.0).u32(market.0).i64(amount.0);
        }
        CommandKind::SetLeverage { account, market, leverage } => {
            w.u8(tag::SET_LEVERAGE).u64(account.0).u32(market.0).u32(*leverage);
        }
    }
}

fn get_kind(r: &mut Reader<'_>) -> R<CommandKind> {
    let (t, at) = r.tag("command kind")?;
    Ok(match t {
        tag::CREATE_MARKET => CommandKind::CreateMarket(Box::new(get_spec(r)?)),
        tag::SET_MARK => CommandKind::SetMark { market: get_market(r)?, price: get_price(r)? },
        tag::ORACLE_PRICE => {
            CommandKind::OraclePrice { market: get_market(r)?, source: r.u16("oracle source")?, price: get_price(r)? }
        }
        tag::SET_LIQUIDATOR => CommandKind::SetLiquidator { account: get_account(r)?, active: r.bool("active")? },
        tag::CAPITALISE_FUND => CommandKind::CapitaliseFund { fund: get_fund(r)?, amount: get_quote(r)? },
        tag::PLACE_ORDER => CommandKind::PlaceOrder(NewOrder {
            account: get_account(r)?,
            market: get_market(r)?,
            side: get_side(r)?,
            order_type: get_order_type(r)?,
            qty: get_qty(r)?,
            client_id: get_opt_client_id(r)?,
            stp: get_stp(r)?,
            reduce_only: r.bool("reduce-only")?,
        }),
        tag::AMEND_ORDER => CommandKind::AmendOrder(Amend {
            account: get_account(r)?,
            market: get_market(r)?,
            order: get_order_ref(r)?,
            price: r.opt_i64("new price")?.map(perpx_core::Price),
            qty: r.opt_i64("new size")?.map(perpx_core::Qty),
        }),
        tag::CANCEL_ORDER => {
            CommandKind::CancelOrder { account: get_account(r)?, market: get_market(r)?, order: get_order_ref(r)? }
        }
        tag::CANCEL_ALL => CommandKind::CancelAll { account: get_account(r)?, market: r.opt("market", get_market)? },
        tag::MASS_CANCEL => CommandKind::MassCancel { market: get_market(r)? },
        tag::TICK => CommandKind::Tick,
        tag::ADMIN_AUDIT => CommandKind::AdminAudit {
            actor: r.str("audit actor")?,
            action: r.str("audit action")?,
            detail: r.str("audit detail")?,
        },
        tag::DEPOSIT => CommandKind::Deposit { account: get_account(r)?, amount: get_quote(r)? },
        tag::WITHDRAW => CommandKind::Withdraw { account: get_account(r)?, amount: get_quote(r)? },
        tag::PLACE_STOP => CommandKind::PlaceStop(NewStop {
            account: get_account(r)?,
            market: get_market(r)?,
            side: get_side(r)?,
            kind: get_stop_kind(r)?,
            trigger: get_price(r)?,
            trigger_by: get_trigger_by(r)?,
            qty: get_qty(r)?,
            client_id: get_opt_client_id(r)?,
            stp: get_stp(r)?,
            reduce_only: r.bool("reduce-only")?,
        }),
        tag::HALT => CommandKind::Halt { market: get_market(r)? },
        tag::RESUME => CommandKind::Resume { market: get_market(r)? },
        tag::SCHEDULE_PARAMS => CommandKind::ScheduleParams {
            market: get_market(r)?,
            effective_at: get_ts(r)?,
            change: Box::new(get_param_change(r)?),
        },
        tag::DELIST => CommandKind::Delist { market: get_market(r)?, price: get_price(r)? },
        tag::SET_MARGIN_MODE => {
            CommandKind::SetMarginMode { account: get_account(r)?, market: get_market(r)?, mode: get_margin_mode(r)? }
        }
        tag::ADJUST_ISOLATED_MARGIN => CommandKind::AdjustIsolatedMargin {
            account: get_account(r)?,
            market: get_market(r)?,
            amount: get_quote(r)?,
        },
        tag::SET_LEVERAGE => {
            CommandKind::SetLeverage { account: get_account(r)?, market: get_market(r)?, leverage: r.u32("leverage")? }
        }
        other => return Err(unknown("command kind", other, at)),
    })
}
