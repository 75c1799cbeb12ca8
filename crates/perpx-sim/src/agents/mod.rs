//! The agents: accounts that turn what they see — the engine's state, the spot price, their own
//! parameters and random draws — into commands. They hold no model of the exchange's rules:
//! every decision is sent to the engine as a `Command`, and what happened is read back from the
//! engine (positions, orders, margin), so a rejected order is simply an order that didn't happen.
//!
//! - [`trader`]: leveraged traders (leverage up to 100x, long/short bias, hold times, stops);
//! - [`maker`]: market makers quoting around the index with inventory limits and skew, pulling
//!   quotes when volatility spikes, hedging in spot;
//! - [`arb`]: arbitrageurs trading the premium against spot (the basis trade);
//! - [`liquidator`]: registered backstop liquidators with finite capital, unwinding what the
//!   engine hands them;
//! - [`spot`]: the spot leg of the basis traders, kept by the simulator (spot is not on perpx).
//!
//! Each agent draws from its own seeded stream ([`crate::rng`]) and wakes at steps it chooses;
//! agents act in account order within a step.

// Agents decide in floats (prices, sizes, volatility), like a market's order flow; what they
// send is converted to engine integers in `crate::convert`.
#![allow(clippy::float_arithmetic)]

pub mod arb;
pub mod liquidator;
pub mod maker;
pub mod spot;
pub mod trader;

use perpx_core::{AccountId, CommandKind, Engine, Price};

use crate::convert::Units;
use crate::rng::SimRng;

/// What an agent is, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// A leveraged trader.
    Trader,
    /// A market maker.
    Maker,
    /// An arbitrageur.
    Arbitrageur,
    /// A backstop liquidator.
    Liquidator,
}

impl Role {
    /// The name in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Trader => "trader",
            Self::Maker => "maker",
            Self::Arbitrageur => "arbitrageur",
            Self::Liquidator => "liquidator",
        }
    }
}

/// What every agent sees when it wakes.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The engine, read-only.
    pub engine: &'a Engine,
    /// The step.
    pub step: usize,
    /// The step length (ms).
    pub step_ms: i64,
    /// Each market's units.
    pub units: &'a [Units],
    /// Each market's spot price now.
    pub spot: &'a [f64],
    /// Each market's log returns of the index, one per step, newest last.
    pub returns: &'a [std::collections::VecDeque<f64>],
}

impl Ctx<'_> {
    /// Steps in `secs` seconds (at least one).
    #[must_use]
    pub fn steps(&self, secs: f64) -> usize {
        crate::agents::steps_for(secs, self.step_ms)
    }

    /// Whole steps in `secs` seconds, rounded (zero for less than half a step).
    #[must_use]
    pub fn delay_steps(&self, secs: f64) -> usize {
        usize::try_from(crate::convert::round_i64(secs * 1000.0 / self.step_ms as f64).unwrap_or(0).max(0)).unwrap_or(0)
    }

    /// The index of market `m` (its mark when it has no index).
    #[must_use]
    pub fn index(&self, m: usize) -> Option<Price> {
        let mk = self.engine.market(self.units[m].id)?;
        mk.oracle.index.or(mk.mark)
    }

    /// The annualised realised volatility of market `m`'s index over the last `window` steps.
    #[must_use]
    pub fn vol(&self, m: usize, window: usize) -> f64 {
        spot::realised_vol(&self.returns[m], window, self.step_ms)
    }

    /// The position of `account` in market `m`, in lots.
    #[must_use]
    pub fn position(&self, account: AccountId, m: usize) -> i64 {
        self.engine.account(account).map_or(0, |a| a.position(self.units[m].id).size.0)
    }
}

/// Steps in `secs` seconds, at least one.
#[must_use]
pub fn steps_for(secs: f64, step_ms: i64) -> usize {
    // A limit on everything: no wait is longer than 10^9 steps (an unbounded draw saturates).
    let steps = crate::convert::round_i64((secs * 1000.0 / step_ms as f64).min(1e9)).unwrap_or(1_000_000_000);
    usize::try_from(steps.max(1)).unwrap_or(1)
}

/// One agent.
#[derive(Debug)]
pub struct Agent {
    /// Its account.
    pub account: AccountId,
    /// Its population (index in the scenario's list of its kind).
    pub population: usize,
    /// The market it trades (its population's; 0 for liquidators, who trade every market).
    pub market: usize,
    /// Its stream.
    pub rng: SimRng,
    /// Its state.
    pub kind: AgentKind,
}

/// The state of each kind of agent.
#[derive(Debug)]
pub enum AgentKind {
    /// A leveraged trader.
    Trader(trader::Trader),
    /// A market maker.
    Maker(maker::Maker),
    /// An arbitrageur.
    Arbitrageur(arb::Arb),
    /// A backstop liquidator.
    Liquidator(liquidator::Liquidator),
}

impl Agent {
    /// Its role.
    #[must_use]
    pub fn role(&self) -> Role {
        match self.kind {
            AgentKind::Trader(_) => Role::Trader,
            AgentKind::Maker(_) => Role::Maker,
            AgentKind::Arbitrageur(_) => Role::Arbitrageur,
            AgentKind::Liquidator(_) => Role::Liquidator,
        }
    }

    /// Its spot leg, if it keeps one (makers and arbitrageurs).
    #[must_use]
    pub fn spot(&self) -> Option<&spot::SpotLeg> {
        match &self.kind {
            AgentKind::Maker(m) => Some(&m.spot),
            AgentKind::Arbitrageur(a) => Some(&a.spot),
            _ => None,
        }
    }

    /// Acts at `ctx.step`, appending commands; returns the step to wake at next (`None`: never).
    pub fn act(
        &mut self,
        ctx: &Ctx<'_>,
        pops: &crate::scenario::params::Populations,
        out: &mut Vec<CommandKind>,
    ) -> Option<usize> {
        let (account, rng) = (self.account, &mut self.rng);
        match &mut self.kind {
            AgentKind::Trader(t) => t.act(account, &pops.trader[self.population], ctx, rng, out),
            AgentKind::Maker(m) => m.act(account, &pops.maker[self.population], ctx, out),
            AgentKind::Arbitrageur(a) => a.act(account, &pops.arbitrageur[self.population], ctx, out),
            AgentKind::Liquidator(l) => l.act(account, &pops.liquidator[self.population], ctx, out),
        }
    }
}
