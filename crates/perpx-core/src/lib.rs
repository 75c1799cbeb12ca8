//! # perpx-core
//!
//! The perpx engine: a pure, deterministic state machine for a perpetual-futures venue.
//! `Engine::apply(&Command) -> Vec<Event>`; no clock, no I/O, no floats. Its one thread is
//! scoped inside a command: a large funding settlement walks its accounts in two stretches at
//! once, with the single walk's results ([`SettlementWalk`]).
//!
//! Where to start reading:
//! - [`num`]: the unit types (`Price`, `Qty`, `Quote`, `Rate`) and exact arithmetic;
//! - [`market`]: market specifications and their validation;
//! - [`book`]: the price-time-priority order book;
//! - [`risk`]: pure margin, position, fee and funding math;
//! - [`price`]: index (median of spot sources) and mark price;
//! - [`engine`]: the state machine, its matcher, client order ids, invariants and state hash;
//! - [`command`], [`event`], [`reject`]: what goes in and what comes out.

pub mod account;
pub mod book;
pub mod command;
pub mod engine;
pub mod event;
pub mod ids;
pub mod market;
pub mod num;
pub mod price;
pub mod reject;
pub mod risk;
pub mod stop;

pub use book::Side;
pub use command::{Amend, Command, CommandKind, NewOrder, OrderRef, OrderType, StpMode, TimeInForce};
pub use engine::{Engine, EngineConfig, SettlementWalk, StateHash};
pub use event::{
    AdlRank, CancelReason, Event, EventKind, Fill, FundingLine, FundingSettlement, OrderStatus, QueuePriority,
};
pub use ids::{AccountId, ClientOrderId, MarketId, OrderId, TradeId};
pub use market::{MarginTier, MarketLimits, MarketSpec};
pub use num::{Decimal, Price, Qty, Quote, Rate, Timestamp};
pub use reject::RejectReason;
