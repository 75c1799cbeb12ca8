//! One run: a scenario, a seed, the engine.
//!
//! Set-up (every command stamped at the start): the markets (`create_market`, with the ADL
//! policy overridden if asked), the funds (`capitalise_fund`), one funded account per agent,
//! leverage, isolated margin, backstop registrations. Then, for each step `k` at
//! `start + k × step`:
//!
//! 1. the oracle feed's `oracle_price` (or `set_mark`) commands for the step;
//! 2. every agent due at `k`, in account order, decides from the engine's state and its commands
//!    are applied at once (the next agent sees their effect);
//! 3. `tick`s until the liquidation queue is empty (at most `max_ticks_per_step`);
//! 4. `check_invariants()` — after every command instead with `check_every_command` — and a
//!    failure stops the run with the seed that reproduces it;
//! 5. the observer reads the state.
//!
//! Every command of a step carries the step's time, so the engine's clock (funding, oracle
//! staleness, stops) is the scenario's. Nothing here knows the exchange's rules: agents send
//! commands, the engine decides, the observer reads events.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use perpx_core::event::FundRef;
use perpx_core::market::AdlPolicy;
use perpx_core::{AccountId, Command, CommandKind, Engine, Event, EventKind, Quote, Timestamp};

use crate::agents::{Agent, AgentKind, Ctx, Role, arb, liquidator, maker, trader};
use crate::convert::{Units, usd_quote};
use crate::error::{InvariantFailure, SetupFailure, SimError};
use crate::observe::{Metrics, Observer, Series, SummaryHead};
use crate::oracle::OracleFeed;
use crate::path::Paths;
use crate::rng::{Domain, stream};
use crate::scenario::Scenario;
use crate::summary::Summary;
use crate::time::format_iso;

/// How to run.
#[derive(Clone, Copy)]
pub struct RunOptions<'a> {
    /// The seed.
    pub seed: u64,
    /// Every market's ADL policy, if overridden.
    pub adl_policy: Option<AdlPolicy>,
    /// The guaranty fund at the start, if overridden.
    pub guaranty_fund: Option<Quote>,
    /// The waterfall's label in the summary.
    pub waterfall: &'a str,
    /// Keep the time series and the lists (single runs); Monte Carlo keeps the figures only.
    pub record: bool,
    /// Check the invariants after every command, not only after every step.
    pub check_every_command: bool,
    /// Called with `(steps done, steps)` now and then.
    pub progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
}

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("seed", &self.seed)
            .field("adl_policy", &self.adl_policy)
            .field("guaranty_fund", &self.guaranty_fund)
            .field("waterfall", &self.waterfall)
            .field("record", &self.record)
            .field("check_every_command", &self.check_every_command)
            .finish_non_exhaustive()
    }
}

impl RunOptions<'_> {
    /// A recorded run of the scenario as written, with `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            adl_policy: None,
            guaranty_fund: None,
            waterfall: "scenario",
            record: true,
            check_every_command: false,
            progress: None,
        }
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// `summary.json`.
    pub summary: Summary,
    /// The time series (empty unless recorded).
    pub series: Series,
    /// The figures Monte Carlo and comparisons use.
    pub metrics: Metrics,
    /// The markets' units.
    pub units: Vec<Units>,
}

struct Driver<'a> {
    sc: &'a Scenario,
    o: &'a RunOptions<'a>,
    engine: Engine,
    events: Vec<Event>,
    obs: Observer,
    ts: i64,
    step: usize,
    last: Option<Command>,
}

impl Driver<'_> {
    fn apply(&mut self, kind: CommandKind) -> Result<(), SimError> {
        let cmd = Command { ts: Timestamp(self.ts), kind };
        self.events.clear();
        self.engine.apply_into(&cmd, &mut self.events);
        let comparisons = self.engine.take_adl_comparisons();
        self.obs.on_command(self.ts, &cmd.kind, &self.events, &self.engine, comparisons);
        self.last = Some(cmd);
        if self.o.check_every_command {
            self.check()?;
        }
        Ok(())
    }

    fn setup(&mut self, kind: CommandKind) -> Result<(), SimError> {
        self.apply(kind)?;
        if let Some(reason) = self.events.iter().find_map(|e| match &e.kind {
            EventKind::Rejected { reason, .. } => Some(reason.to_string()),
            _ => None,
        }) {
            return Err(SimError::Setup(Box::new(SetupFailure {
                scenario: self.sc.name.clone(),
                seed: self.o.seed,
                command: self.last.as_ref().map(|c| format!("{:?}", c.kind)).unwrap_or_default(),
                reason,
            })));
        }
        Ok(())
    }

    fn check(&mut self) -> Result<(), SimError> {
        self.obs.invariant_checks += 1;
        self.engine.check_invariants().map_err(|message| {
            SimError::Invariant(Box::new(InvariantFailure {
                scenario: self.sc.name.clone(),
                file: self.sc.file.clone(),
                seed: self.o.seed,
                step: self.step,
                at: format_iso(self.ts),
                command: self.last.as_ref().map_or_else(|| "nothing".to_owned(), |c| format!("{:?}", c.kind)),
                message,
            }))
        })
    }
}

/// The agents of a scenario, in account order (makers, arbitrageurs, liquidators, traders;
/// each in population order), with the capital each deposits (USD) and whether it is isolated.
fn build_agents(sc: &Scenario, seed: u64) -> Vec<(Agent, f64, bool)> {
    let mut out = Vec::new();
    let mut next =
        |population: usize, market: usize, make: &mut dyn FnMut(&mut crate::rng::SimRng) -> (AgentKind, f64, bool)| {
            let account = AccountId(out.len() as u64 + 1);
            let mut rng = stream(seed, Domain::Agent, account.0);
            let (kind, capital, isolated) = make(&mut rng);
            out.push((Agent { account, population, market, rng, kind }, capital, isolated));
        };
    let pops = &sc.agents;
    for (i, p) in pops.maker.iter().enumerate() {
        for _ in 0..p.count {
            next(i, p.market_ix, &mut |rng| {
                let m = maker::Maker {
                    quote_notional: p.quote_notional.sample(rng),
                    inventory_limit: p.inventory_limit.sample(rng),
                    pull_vol: p.pull_vol.sample(rng),
                    pulled_until: 0,
                    pulls: 0,
                    spot: crate::agents::spot::SpotLeg::default(),
                };
                (AgentKind::Maker(m), p.capital.sample(rng), false)
            });
        }
    }
    for (i, p) in pops.arbitrageur.iter().enumerate() {
        for _ in 0..p.count {
            next(i, p.market_ix, &mut |rng| {
                let a = arb::Arb {
                    trade_notional: p.trade_notional.sample(rng),
                    max_notional: p.max_notional.sample(rng),
                    spot: crate::agents::spot::SpotLeg::default(),
                };
                (AgentKind::Arbitrageur(a), p.capital.sample(rng), false)
            });
        }
    }
    for (i, p) in pops.liquidator.iter().enumerate() {
        for _ in 0..p.count {
            next(i, 0, &mut |rng| {
                (AgentKind::Liquidator(liquidator::Liquidator::default()), p.capital.sample(rng), false)
            });
        }
    }
    for (i, p) in pops.trader.iter().enumerate() {
        for _ in 0..p.count {
            next(i, p.market_ix, &mut |rng| {
                let capital = p.capital.sample(rng);
                let isolated = crate::rng::uniform(rng) < p.isolated_share;
                (AgentKind::Trader(trader::Trader::new()), capital, isolated)
            });
        }
    }
    out
}

/// Runs `sc` once.
///
/// # Errors
/// A set-up command refused, or an invariant broken (with the seed and the command).
#[allow(clippy::too_many_lines)]
pub fn run(sc: &Scenario, o: &RunOptions<'_>) -> Result<RunOutput, SimError> {
    let steps = sc.steps();
    let paths = Paths::generate(&sc.paths, sc.start_ms, sc.step_ms, steps, o.seed);
    let built = build_agents(sc, o.seed);
    let roles: Vec<Role> = built.iter().map(|(a, _, _)| a.role()).collect();
    let mut engine = Engine::new(sc.engine.clone());
    engine.observe_adl(true);
    let mut d = Driver {
        sc,
        o,
        engine,
        events: Vec::new(),
        obs: Observer::new(Vec::new(), roles.clone(), o.record),
        ts: sc.start_ms,
        step: 0,
        last: None,
    };
    // Markets.
    for spec in &sc.markets {
        let mut spec = spec.clone();
        if let Some(p) = o.adl_policy {
            spec.liquidation.adl = p;
        }
        d.setup(CommandKind::CreateMarket(Box::new(spec)))?;
    }
    let units: Vec<Units> = d.engine.markets().iter().map(Units::of).collect();
    let (commands, checks) = (d.obs.commands, d.obs.invariant_checks);
    d.obs = Observer::new(units.clone(), roles, o.record);
    (d.obs.commands, d.obs.invariant_checks) = (commands, checks);
    // Funds.
    let w = &sc.waterfall;
    for (u, amount) in units.iter().zip(&w.insurance) {
        if amount.is_positive() {
            d.setup(CommandKind::CapitaliseFund { fund: FundRef::Market(u.id), amount: *amount })?;
        }
    }
    if w.shared_insurance.is_positive() {
        d.setup(CommandKind::CapitaliseFund { fund: FundRef::Shared, amount: w.shared_insurance })?;
    }
    let guaranty = o.guaranty_fund.unwrap_or(w.guaranty_fund);
    if guaranty.is_positive() {
        d.setup(CommandKind::CapitaliseFund { fund: FundRef::Guaranty, amount: guaranty })?;
    }
    // Accounts.
    let mut agents: Vec<Agent> = Vec::with_capacity(built.len());
    let mut counts = std::collections::BTreeMap::new();
    for (agent, capital, isolated) in built {
        let account = agent.account;
        *counts.entry(agent.role().name().to_owned()).or_insert(0u64) += 1;
        let amount = usd_quote(capital.min(1e12)).filter(|q| q.is_positive()).unwrap_or(Quote(1_000_000));
        d.setup(CommandKind::Deposit { account, amount })?;
        match &agent.kind {
            AgentKind::Maker(_) => {
                let leverage = sc.agents.maker[agent.population].leverage;
                d.setup(CommandKind::SetLeverage { account, market: units[agent.market].id, leverage })?;
            }
            AgentKind::Arbitrageur(_) => {
                let leverage = sc.agents.arbitrageur[agent.population].leverage;
                d.setup(CommandKind::SetLeverage { account, market: units[agent.market].id, leverage })?;
            }
            AgentKind::Liquidator(_) => {
                let leverage = sc.agents.liquidator[agent.population].leverage;
                for u in &units {
                    d.setup(CommandKind::SetLeverage { account, market: u.id, leverage })?;
                }
                d.setup(CommandKind::SetLiquidator { account, active: true })?;
            }
            AgentKind::Trader(_) => {
                if isolated {
                    let mode = perpx_core::account::MarginMode::Isolated;
                    d.setup(CommandKind::SetMarginMode { account, market: units[agent.market].id, mode })?;
                }
            }
        }
        agents.push(agent);
    }
    d.obs.start_funds(&d.engine);
    // The schedule: makers, arbitrageurs and liquidators from step 0; traders when they wake.
    let warmup = crate::agents::trader::minutes_to_steps(10.0, sc.step_ms);
    let mut wake: BinaryHeap<Reverse<(usize, usize)>> = BinaryHeap::new();
    for (i, a) in agents.iter_mut().enumerate() {
        let first = match &a.kind {
            AgentKind::Trader(_) => {
                trader::Trader::first_wake(&sc.agents.trader[a.population], &mut a.rng, sc.step_ms, warmup)
            }
            _ => 0,
        };
        wake.push(Reverse((first, i)));
    }
    let sources: Vec<Vec<String>> =
        sc.markets.iter().map(|m| m.oracle.sources.iter().map(|s| s.name.clone()).collect()).collect();
    let mut feed = OracleFeed::new(&sc.oracle, &sources, sc.step_ms, o.seed);
    let mut returns: Vec<VecDeque<f64>> = vec![VecDeque::new(); units.len()];
    let mut last_index: Vec<Option<f64>> = vec![None; units.len()];
    let sample_every = usize::try_from(sc.report_interval_ms / sc.step_ms).unwrap_or(1).max(1);
    let progress_every = (steps / 200).max(1);
    let mut buf: Vec<CommandKind> = Vec::new();
    let mut spot = vec![0.0f64; units.len()];
    for k in 0..=steps {
        d.step = k;
        d.ts = sc.start_ms + i64::try_from(k).unwrap_or(i64::MAX) * sc.step_ms;
        for (m, s) in spot.iter_mut().enumerate() {
            *s = paths.at(m, k);
        }
        buf.clear();
        feed.commands(k, d.ts, &paths, &units, &mut buf);
        for kind in buf.drain(..) {
            d.apply(kind)?;
        }
        d.obs.after_command(d.ts, &d.engine, &agents, &spot);
        record_returns(&d.engine, &units, &mut returns, &mut last_index);
        while let Some(&Reverse((s, i))) = wake.peek() {
            if s > k {
                break;
            }
            wake.pop();
            let ctx =
                Ctx { engine: &d.engine, step: k, step_ms: sc.step_ms, units: &units, spot: &spot, returns: &returns };
            let next = agents[i].act(&ctx, &sc.agents, &mut buf);
            for kind in buf.drain(..) {
                d.apply(kind)?;
            }
            d.obs.after_command(d.ts, &d.engine, &agents, &spot);
            if let Some(n) = next {
                wake.push(Reverse((n.max(k + 1), i)));
            }
        }
        let mut ticks = 0;
        while ticks < sc.max_ticks_per_step && d.engine.liquidation_queue().next().is_some() {
            d.apply(CommandKind::Tick)?;
            d.obs.after_command(d.ts, &d.engine, &agents, &spot);
            ticks += 1;
        }
        if !o.check_every_command {
            d.check()?;
        }
        d.obs.on_step(d.ts, &d.engine, &spot, k % sample_every == 0 || k == steps);
        if let Some(p) = o.progress {
            if k % progress_every == 0 || k == steps {
                p(k, steps);
            }
        }
    }
    let head = SummaryHead {
        scenario: sc.name.clone(),
        seed: o.seed,
        waterfall: o.waterfall.to_owned(),
        start_ms: sc.start_ms,
        end_ms: d.ts,
        steps: steps as u64,
        step_ms: sc.step_ms,
        agents: counts,
    };
    let Driver { engine, obs, .. } = d;
    let (summary, series, metrics) = obs.finish(head, &engine, &agents, &spot);
    Ok(RunOutput { summary, series, metrics, units })
}

/// Appends each market's one-step log return of its index (its mark without one).
#[allow(clippy::float_arithmetic)] // log returns of float prices, for the makers' volatility
fn record_returns(engine: &Engine, units: &[Units], returns: &mut [VecDeque<f64>], last: &mut [Option<f64>]) {
    const KEEP: usize = 20_000;
    for (m, u) in units.iter().enumerate() {
        let Some(p) = engine.market(u.id).and_then(|x| x.oracle.index.or(x.mark)) else { continue };
        let now = u.price_f64(p);
        if let Some(prev) = last[m] {
            returns[m].push_back((now / prev).ln());
            if returns[m].len() > KEEP {
                returns[m].pop_front();
            }
        }
        last[m] = Some(now);
    }
}
