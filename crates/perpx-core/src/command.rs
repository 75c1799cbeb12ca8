//! Commands: everything that can change the engine's state. Each carries its timestamp; the
//! engine has no other source of time.

use crate::account::MarginMode;
use crate::book::Side;
use crate::ids::{AccountId, ClientOrderId, MarketId, OrderId};
use crate::market::{MarginTier, MarketSpec};
use crate::num::{Price, Qty, Quote, Rate, Timestamp};
use crate::stop::{StopKind, TriggerBy};

/// The longest audit actor or action label (bytes).
pub const AUDIT_LABEL_MAX: usize = 64;
/// The longest audit detail (bytes).
pub const AUDIT_DETAIL_MAX: usize = 4_096;

/// One input to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// When the command was sequenced (ms). Must not be before the previous command's.
    pub ts: Timestamp,
    /// What to do.
    pub kind: CommandKind,
}

/// The command variants.
// `CreateMarket`'s specification is boxed: inline it made every command 368 bytes where an
// order is 48, and every command is copied through the engine's, the journal's and the server's
// queues and read from the benchmarks' streams (docs/PERFORMANCE.md, session 6). Creating a
// market is a rare admin command; one allocation for it costs nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandKind {
    /// Admin: create a market.
    CreateMarket(Box<MarketSpec>),
    /// Admin: set a market's mark price (the reference for the order band). Later derived
    /// from the index; this command stays for tests and the simulator.
    SetMark {
        /// The market.
        market: MarketId,
        /// The new mark.
        price: Price,
    },
    /// Admin (oracle feed): the latest price of one of the market's index sources. It is stored
    /// with the command's timestamp; the index, and from it the mark, are recomputed.
    OraclePrice {
        /// The market.
        market: MarketId,
        /// The source: its position in the market's `oracle.sources`.
        source: u16,
        /// The source's price, in the market's ticks.
        price: Price,
    },
    /// Admin: register (or remove) a backstop liquidator account.
    SetLiquidator {
        /// The account.
        account: AccountId,
        /// Register (true) or remove.
        active: bool,
    },
    /// Admin: pay venue capital into an insurance fund or the guaranty fund.
    CapitaliseFund {
        /// The fund.
        fund: crate::event::FundRef,
        /// Amount, positive.
        amount: Quote,
    },
    /// Place an order.
    PlaceOrder(NewOrder),
    /// Change an open order's price and/or size.
    AmendOrder(Amend),
    /// Cancel one open order.
    CancelOrder {
        /// The owner (only the owner may cancel).
        account: AccountId,
        /// The market it rests in.
        market: MarketId,
        /// Which order.
        order: OrderRef,
    },
    /// Cancel all of an account's open orders, in one market or in all.
    CancelAll {
        /// The owner.
        account: AccountId,
        /// One market, or every market.
        market: Option<MarketId>,
    },
    /// Admin: cancel every open order of a market.
    MassCancel {
        /// The market.
        market: MarketId,
    },
    /// Advance time only (the server injects ticks so time-driven work runs without traffic).
    Tick,
    /// Admin bookkeeping: one entry of the admin audit log (who did what). It changes no state;
    /// it is a command so that the audit log is journaled and hash-chained with the trades it
    /// explains, and can't be edited after the fact. Sizes are bounded
    /// ([`AUDIT_LABEL_MAX`], [`AUDIT_DETAIL_MAX`]).
    AdminAudit {
        /// Who acted: the admin key's public id (never a secret).
        actor: String,
        /// What kind of action (`create_key`, `revoke_key`, `command`, ...).
        action: String,
        /// The action's details, as the server describes them (JSON text).
        detail: String,
    },
    /// Admin: credit collateral to an account (creating it on first deposit).
    Deposit {
        /// The account.
        account: AccountId,
        /// Amount, positive.
        amount: Quote,
    },
    /// Admin: pay collateral out of an account, at most its withdrawable amount.
    Withdraw {
        /// The account.
        account: AccountId,
        /// Amount, positive.
        amount: Quote,
    },
    /// Place a stop or take-profit order (held until its trigger; see [`crate::stop`]).
    PlaceStop(NewStop),
    /// Admin: stop trading in a market (cancels only).
    Halt {
        /// The market.
        market: MarketId,
    },
    /// Admin: resume trading in a halted market.
    Resume {
        /// The market.
        market: MarketId,
    },
    /// Admin: change tiers, maximum leverage, fees or the funding interval at a future time.
    ScheduleParams {
        /// The market.
        market: MarketId,
        /// When the change takes effect (strictly after now).
        effective_at: Timestamp,
        /// What changes.
        change: Box<ParamChange>,
    },
    /// Admin: settle every position at `price` and close the market.
    Delist {
        /// The market.
        market: MarketId,
        /// The settlement price (normally the index).
        price: Price,
    },
    /// Choose cross or isolated margin for a market (only with no position, order or stop there).
    SetMarginMode {
        /// The account.
        account: AccountId,
        /// The market.
        market: MarketId,
        /// The mode.
        mode: MarginMode,
    },
    /// Add (positive) or remove (negative) margin of an isolated position.
    AdjustIsolatedMargin {
        /// The account.
        account: AccountId,
        /// The market.
        market: MarketId,
        /// Signed amount.
        amount: Quote,
    },
    /// Choose the leverage an account uses in a market.
    SetLeverage {
        /// The account.
        account: AccountId,
        /// The market.
        market: MarketId,
        /// 1 up to the market's maximum, and no more than the tier of the account's exposure allows.
        leverage: u32,
    },
}

/// An order by engine id or by the owner's client id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRef {
    /// The engine's id.
    Id(OrderId),
    /// The owner's client order id.
    Client(ClientOrderId),
}

impl std::fmt::Display for OrderRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => write!(f, "#{id}"),
            Self::Client(c) => write!(f, "'{c}'"),
        }
    }
}

/// How long a limit order may live and whether it may take liquidity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    /// Good till cancelled: trades what crosses, rests the rest.
    Gtc,
    /// Immediate or cancel: trades what crosses, cancels the rest.
    Ioc,
    /// Fill or kill: trades its whole size at once or is rejected with nothing done.
    Fok,
    /// Post-only: rests without trading; rejected (not repriced) if it would take.
    PostOnly,
}

/// The order type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderType {
    /// A limit order.
    Limit {
        /// The limit price.
        price: Price,
        /// Its time in force.
        tif: TimeInForce,
    },
    /// A market order: trades up to the edge of the order band around mark, and the unfilled
    /// rest is cancelled, never rested.
    Market,
}

/// Self-trade prevention: what happens when an order would trade with another order of the
/// same account. The *taker's* mode applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StpMode {
    /// Cancel the rest of the incoming order; resting orders stay. The default: a stray taker
    /// never costs an account its own queue positions.
    #[default]
    ExpireTaker,
    /// Cancel the resting order and keep matching the incoming one.
    ExpireMaker,
    /// Cancel both the resting order and the rest of the incoming one.
    ExpireBoth,
}

/// A new order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// The owner.
    pub account: AccountId,
    /// The market.
    pub market: MarketId,
    /// Buy or sell.
    pub side: Side,
    /// Limit (with time in force) or market.
    pub order_type: OrderType,
    /// Size in lots.
    pub qty: Qty,
    /// The owner's id for it.
    pub client_id: Option<ClientOrderId>,
    /// Self-trade prevention mode.
    pub stp: StpMode,
    /// Only ever reduce the position: reserves no margin, is capped at the position at fill
    /// time, and is cancelled when the position closes or flips.
    pub reduce_only: bool,
}

/// A scheduled change of a market's risk, fee and funding parameters (tick and lot never change).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParamChange {
    /// New margin tiers.
    pub tiers: Option<Vec<MarginTier>>,
    /// New maximum leverage.
    pub max_leverage: Option<u32>,
    /// New maker fee.
    pub maker_fee: Option<Rate>,
    /// New taker fee.
    pub taker_fee: Option<Rate>,
    /// New funding interval (1 h, 4 h or 8 h, in ms). It applies from the next funding period:
    /// the period running when the change takes effect keeps its end.
    pub funding_interval_ms: Option<i64>,
}

/// A new stop or take-profit order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStop {
    /// The owner.
    pub account: AccountId,
    /// The market.
    pub market: MarketId,
    /// Side of the order it becomes.
    pub side: Side,
    /// What it becomes.
    pub kind: StopKind,
    /// The trigger price.
    pub trigger: Price,
    /// Mark or last price.
    pub trigger_by: TriggerBy,
    /// Size.
    pub qty: Qty,
    /// Client id.
    pub client_id: Option<ClientOrderId>,
    /// Self-trade prevention of the triggered order.
    pub stp: StpMode,
    /// Reduce-only.
    pub reduce_only: bool,
}

/// An amend of an open order. `qty` is the new *open* size (what is still to fill).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amend {
    /// The owner.
    pub account: AccountId,
    /// The market.
    pub market: MarketId,
    /// Which order.
    pub order: OrderRef,
    /// New limit price, if changing.
    pub price: Option<Price>,
    /// New open size, if changing.
    pub qty: Option<Qty>,
}
