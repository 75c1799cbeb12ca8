//! Scenario files (TOML): what a run simulates.
//!
//! A scenario names its time window and step, the engine's settings, its markets — each
//! `[[market]]` table is the `create_market` command of the JSON schema (`docs/REPLAY.md`), in
//! TOML, decoded by `perpx-wire` itself so the meaning is the same to the letter — the waterfall
//! (insurance funds, guaranty fund), one spot price `[[path]]` per market (generated or a CSV),
//! the oracle's behaviour and the agent populations. `docs/SIMULATOR.md` documents every key.
//!
//! A malformed file is refused with `file:line:column`, the message and the offending line; the
//! line comes from `toml`'s spans, also for the checks made after reading (an unknown market, a
//! market spec the engine refuses).

pub mod dist;
pub mod params;
pub mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use perpx_core::{CommandKind, Engine, EngineConfig, MarketSpec, Quote, Timestamp};
use serde::Deserialize;
use toml::Spanned;

use self::params::Populations;
use self::values::{Amount, Dur, Start, TimeRef};
use crate::oracle::{Fault, FaultKind, OracleBehaviour, SourceBehaviour};
use crate::path::{Gap, Jumps, PathSource, PathSpec, Regime, csv};
use crate::time::SECOND_MS;

/// The most steps one run may take (a limit on everything: memory is a few values per step).
pub const MAX_STEPS: i64 = 2_000_000;
/// The most agents one scenario may hold.
pub const MAX_AGENTS: u32 = 200_000;

/// Why a scenario was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ScenarioError {
    /// `file:line:column`, `file:line` or `file`.
    pub location: String,
    /// What is wrong (with the offending line quoted when known).
    pub message: String,
}

/// The waterfall a run starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waterfall {
    /// Each market's own insurance fund at the start (by market index).
    pub insurance: Vec<Quote>,
    /// The shared insurance fund at the start.
    pub shared_insurance: Quote,
    /// The guaranty fund at the start.
    pub guaranty_fund: Quote,
}

/// A scenario, read and checked.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// What it models.
    pub description: String,
    /// Where it was read from (for messages and the CSV paths).
    pub file: String,
    /// The first step's time (ms since the epoch).
    pub start_ms: i64,
    /// How long it runs (ms).
    pub duration_ms: i64,
    /// The step (ms): every command of a step carries its time.
    pub step_ms: i64,
    /// The default seed.
    pub seed: u64,
    /// The engine's settings.
    pub engine: EngineConfig,
    /// The most ticks sent after a step's commands to drain the liquidation queue.
    pub max_ticks_per_step: u32,
    /// The markets, in creation order.
    pub markets: Vec<MarketSpec>,
    /// The waterfall.
    pub waterfall: Waterfall,
    /// One spot path per market.
    pub paths: Vec<PathSpec>,
    /// The oracle's behaviour.
    pub oracle: OracleBehaviour,
    /// The agent populations.
    pub agents: Populations,
    /// The report's sampling interval (ms).
    pub report_interval_ms: i64,
    /// The guaranty fund of the clearing-house waterfall in `--compare`.
    pub compare_guaranty_fund: Quote,
}

impl Scenario {
    /// The number of steps after the start.
    #[must_use]
    pub fn steps(&self) -> usize {
        usize::try_from(self.duration_ms / self.step_ms).unwrap_or(0)
    }

    /// Reads a scenario file.
    ///
    /// # Errors
    /// The file can't be read, or [`Scenario::parse`] refuses it.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError { location: path.display().to_string(), message: e.to_string() })?;
        Self::parse(&text, &path.display().to_string(), path.parent().unwrap_or(Path::new(".")))
    }

    /// Parses a scenario's text; `file` names it in messages, `dir` is where CSV paths are
    /// looked up.
    ///
    /// # Errors
    /// The first problem, located.
    pub fn parse(text: &str, file: &str, dir: &Path) -> Result<Self, ScenarioError> {
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            located(text, file, at, e.message())
        })?;
        Checker { text, file, dir }.check(raw)
    }
}

/// `file:line:column: message` with the line quoted.
fn located(text: &str, file: &str, offset: usize, message: &str) -> ScenarioError {
    let offset = offset.min(text.len());
    let line = text[..offset].matches('\n').count() + 1;
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    let quoted = text[line_start..].lines().next().unwrap_or("").trim_end();
    ScenarioError {
        location: format!("{file}:{line}:{column}"),
        message: format!("{}\n  {line} | {quoted}", message.trim_end()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    #[serde(default)]
    description: String,
    start: Start,
    duration: Dur,
    #[serde(default)]
    step: Option<Dur>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    engine: RawEngine,
    #[serde(rename = "market")]
    markets: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    waterfall: RawWaterfall,
    #[serde(rename = "path", default)]
    paths: Vec<RawPath>,
    #[serde(default)]
    oracle: RawOracle,
    #[serde(default)]
    agents: Populations,
    #[serde(default)]
    report: RawReport,
    #[serde(default)]
    compare: RawCompare,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEngine {
    #[serde(default)]
    max_liquidations_per_pass: Option<u32>,
    #[serde(default)]
    max_ticks_per_step: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaterfall {
    #[serde(default)]
    insurance: BTreeMap<Spanned<String>, Amount>,
    #[serde(default)]
    shared_insurance: Option<Amount>,
    #[serde(default)]
    guaranty_fund: Option<Amount>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPath {
    market: Spanned<String>,
    #[serde(default)]
    start_price: Option<f64>,
    #[serde(default)]
    csv: Option<Spanned<String>>,
    #[serde(default)]
    vol: Option<f64>,
    #[serde(default)]
    drift: f64,
    #[serde(default)]
    correlation: Option<Spanned<f64>>,
    #[serde(default)]
    jumps: Option<RawJumps>,
    #[serde(default)]
    regimes: Vec<RawRegime>,
    #[serde(default)]
    gaps: Vec<Spanned<RawGap>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJumps {
    per_day: f64,
    mean: f64,
    stdev: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegime {
    from: TimeRef,
    to: TimeRef,
    vol: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGap {
    at: TimeRef,
    over: Dur,
    #[serde(rename = "move")]
    change: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOracle {
    #[serde(default)]
    update_every: Option<Dur>,
    #[serde(default)]
    source: Vec<RawSource>,
    #[serde(default)]
    fault: Vec<RawFault>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: String,
    #[serde(default)]
    delay: Option<Spanned<String>>,
    #[serde(default)]
    noise_bps: f64,
    #[serde(default)]
    update_every: Option<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    source: Spanned<String>,
    #[serde(default)]
    market: Option<Spanned<String>>,
    kind: Spanned<String>,
    from: TimeRef,
    to: TimeRef,
    #[serde(default, rename = "move")]
    change: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    #[serde(default)]
    interval: Option<Dur>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompare {
    #[serde(default)]
    guaranty_fund: Option<Amount>,
}

struct Checker<'a> {
    text: &'a str,
    file: &'a str,
    dir: &'a Path,
}

impl Checker<'_> {
    fn at(&self, offset: usize, message: impl AsRef<str>) -> ScenarioError {
        located(self.text, self.file, offset, message.as_ref())
    }

    /// Where in a `[[market]]` table a message from the JSON decoder points: the key named in
    /// backticks (`unknown field `x``), or the key holding the value named (`invalid type:
    /// integer `1``). The decoder works on JSON and has no positions; this finds the line.
    fn locate_in_table(&self, table: &Spanned<toml::Table>, msg: &str) -> (usize, Option<String>) {
        let start = table.span().start;
        let token = msg.split('`').nth(1).unwrap_or("");
        let mut found: Option<String> = None;
        let mut keys: Vec<(&String, &toml::Value)> = table.get_ref().iter().collect();
        while let Some((k, v)) = keys.pop() {
            let shown = match v {
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => String::new(),
            };
            if k == token || (!shown.is_empty() && shown == token) {
                found = Some(k.clone());
                break;
            }
            match v {
                toml::Value::Table(t) => keys.extend(t.iter()),
                toml::Value::Array(a) => {
                    for e in a {
                        if let toml::Value::Table(t) = e {
                            keys.extend(t.iter());
                        }
                    }
                }
                _ => {}
            }
        }
        let Some(key) = found else { return (start, None) };
        let end = self.text[start..].find("\n[[").map_or(self.text.len(), |i| start + i + 1);
        let region = &self.text[start..end];
        let at = region
            .match_indices(key.as_str())
            .find(|(i, _)| {
                let before = region[..*i].chars().last();
                let after = region[i + key.len()..].trim_start();
                before.is_none_or(|c| !c.is_alphanumeric() && c != '_') && after.starts_with('=')
            })
            .map_or(start, |(i, _)| start + i);
        (at, Some(key))
    }

    fn market_ix(&self, symbols: &[String], name: &Spanned<String>) -> Result<usize, ScenarioError> {
        symbols.iter().position(|s| s == name.get_ref()).ok_or_else(|| {
            self.at(
                name.span().start,
                format!("unknown market '{}' (the scenario's markets: {})", name.get_ref(), symbols.join(", ")),
            )
        })
    }

    #[allow(clippy::too_many_lines)]
    fn check(&self, raw: Raw) -> Result<Scenario, ScenarioError> {
        let top = |msg: String| ScenarioError { location: self.file.to_owned(), message: msg };
        let start_ms = raw.start.0;
        let duration_ms = raw.duration.0;
        let step_ms = raw.step.map_or(SECOND_MS, |d| d.0);
        if duration_ms / step_ms > MAX_STEPS {
            return Err(top(format!("duration / step is above {MAX_STEPS} steps: use a longer step")));
        }
        if duration_ms < step_ms {
            return Err(top("duration must be at least one step".into()));
        }
        // Markets: the JSON schema's create_market, decoded by perpx-wire, checked by the engine.
        let mut markets: Vec<MarketSpec> = Vec::new();
        let scratch = Engine::default();
        for table in &raw.markets {
            let offset = table.span().start;
            let json = toml_to_json(&toml::Value::Table(table.get_ref().clone())).map_err(|e| self.at(offset, e))?;
            let serde_json::Value::Object(mut map) = json else { unreachable!("a table converts to an object") };
            let symbol = map.get("symbol").and_then(|s| s.as_str()).unwrap_or("?").to_owned();
            map.insert("type".into(), serde_json::Value::String("create_market".into()));
            let cmd = perpx_wire::command::decode_command(serde_json::Value::Object(map), Timestamp(0), &scratch)
                .map_err(|e| {
                    let msg = e.to_string();
                    let (at, key) = self.locate_in_table(table, &msg);
                    let key = key.map(|k| format!(" (key '{k}')")).unwrap_or_default();
                    self.at(at, format!("market '{symbol}'{key}: {msg}"))
                })?;
            let CommandKind::CreateMarket(spec) = cmd.kind else { unreachable!("decoded as create_market") };
            spec.clone().validate().map_err(|e| self.at(offset, format!("market '{symbol}': {e}")))?;
            if markets.iter().any(|m| m.symbol == spec.symbol) {
                return Err(self.at(offset, format!("market '{symbol}' is defined twice")));
            }
            markets.push(*spec);
        }
        if markets.is_empty() {
            return Err(top("at least one [[market]] is required".into()));
        }
        let symbols: Vec<String> = markets.iter().map(|m| m.symbol.clone()).collect();
        // Waterfall.
        let mut insurance = vec![Quote::ZERO; markets.len()];
        for (name, amount) in &raw.waterfall.insurance {
            insurance[self.market_ix(&symbols, name)?] = amount.0;
        }
        let waterfall = Waterfall {
            insurance,
            shared_insurance: raw.waterfall.shared_insurance.map_or(Quote::ZERO, |a| a.0),
            guaranty_fund: raw.waterfall.guaranty_fund.map_or(Quote::ZERO, |a| a.0),
        };
        // Paths: exactly one per market.
        let mut paths: Vec<Option<PathSpec>> = vec![None; markets.len()];
        for p in raw.paths {
            let m = self.market_ix(&symbols, &p.market)?;
            let here = p.market.span().start;
            if paths[m].is_some() {
                return Err(self.at(here, format!("market '{}' has two [[path]] tables", symbols[m])));
            }
            paths[m] = Some(self.path(p, start_ms)?);
        }
        let paths = paths
            .into_iter()
            .enumerate()
            .map(|(m, p)| {
                p.ok_or_else(|| {
                    self.at(raw.markets[m].span().start, format!("market '{}' has no [[path]]", symbols[m]))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Oracle.
        let mut sources = Vec::new();
        for s in raw.oracle.source {
            let delay_ms = match &s.delay {
                None => 0,
                Some(d) => crate::time::parse_duration(d.get_ref()).map_err(|e| self.at(d.span().start, e))?,
            };
            if s.noise_bps < 0.0 {
                return Err(top(format!("oracle source '{}': noise_bps must not be negative", s.name)));
            }
            sources.push(SourceBehaviour {
                name: s.name,
                delay_ms,
                noise_bps: s.noise_bps,
                update_every_ms: s.update_every.map(|d| d.0),
            });
        }
        let mut faults = Vec::new();
        for f in raw.oracle.fault {
            let market = f.market.as_ref().map(|m| self.market_ix(&symbols, m)).transpose()?;
            let listed = markets.iter().any(|m| m.oracle.sources.iter().any(|s| &s.name == f.source.get_ref()));
            if !listed {
                return Err(self.at(f.source.span().start, format!("no market lists oracle source '{}'", f.source)));
            }
            let kind = match (f.kind.get_ref().as_str(), f.change) {
                ("stale", None) => FaultKind::Stale,
                ("freeze", None) => FaultKind::Freeze,
                ("outlier", Some(mv)) if mv > -1.0 => FaultKind::Outlier(mv),
                ("outlier", _) => {
                    return Err(self.at(f.kind.span().start, "an outlier fault needs 'move' above -1 (e.g. -0.3)"));
                }
                ("stale" | "freeze", Some(_)) => {
                    return Err(self.at(f.kind.span().start, "only an outlier fault takes 'move'"));
                }
                (other, _) => {
                    return Err(
                        self.at(f.kind.span().start, format!("unknown fault kind '{other}' (stale, freeze, outlier)"))
                    );
                }
            };
            faults.push(Fault {
                source: f.source.into_inner(),
                market,
                kind,
                from_ms: f.from.resolve(start_ms),
                to_ms: f.to.resolve(start_ms),
            });
        }
        let oracle =
            OracleBehaviour { update_every_ms: raw.oracle.update_every.map_or(step_ms, |d| d.0), sources, faults };
        let agents = self.agents(raw.agents, &symbols, &markets)?;
        let mut engine = EngineConfig::default();
        if let Some(n) = raw.engine.max_liquidations_per_pass {
            if n == 0 {
                return Err(top("engine.max_liquidations_per_pass must be at least 1".into()));
            }
            engine.max_liquidations_per_pass = n;
        }
        let insurance_total: i64 = waterfall.insurance.iter().map(|q| q.0).sum::<i64>() + waterfall.shared_insurance.0;
        Ok(Scenario {
            name: raw.name,
            description: raw.description,
            file: self.file.to_owned(),
            start_ms,
            duration_ms,
            step_ms,
            seed: raw.seed,
            engine,
            max_ticks_per_step: raw.engine.max_ticks_per_step.unwrap_or(16).max(1),
            markets,
            waterfall,
            paths,
            oracle,
            agents,
            report_interval_ms: raw.report.interval.map_or(60 * SECOND_MS, |d| d.0).max(step_ms),
            compare_guaranty_fund: raw
                .compare
                .guaranty_fund
                .map_or(Quote(insurance_total.saturating_mul(2).max(1_000_000_000)), |a| a.0),
        })
    }

    fn path(&self, p: RawPath, start_ms: i64) -> Result<PathSpec, ScenarioError> {
        let here = p.market.span().start;
        let source = match (p.start_price, p.csv) {
            (Some(price), None) if price > 0.0 && price.is_finite() => PathSource::Generated { start_price: price },
            (None, Some(file)) => {
                let full: PathBuf = self.dir.join(file.get_ref());
                let text = std::fs::read_to_string(&full)
                    .map_err(|e| self.at(file.span().start, format!("csv '{}': {e}", full.display())))?;
                let points =
                    csv::parse(&text, &full.display().to_string()).map_err(|e| self.at(file.span().start, e))?;
                PathSource::Csv { file: file.into_inner(), points }
            }
            _ => return Err(self.at(here, "a [[path]] needs either a positive 'start_price' or a 'csv' file")),
        };
        let default_vol = if matches!(source, PathSource::Csv { .. }) { 0.0 } else { 0.5 };
        let vol = p.vol.unwrap_or(default_vol);
        let rho = p.correlation.as_ref().map_or(0.0, |c| *c.get_ref());
        if !(0.0..=1.0).contains(&rho) {
            return Err(self.at(p.correlation.map_or(here, |c| c.span().start), "correlation must be between 0 and 1"));
        }
        if !(0.0..=20.0).contains(&vol) {
            return Err(self.at(here, "vol (annualised) must be between 0 and 20"));
        }
        let jumps = p.jumps.map(|j| Jumps { per_day: j.per_day, mean: j.mean, stdev: j.stdev });
        if jumps.is_some_and(|j| j.per_day < 0.0 || j.stdev < 0.0) {
            return Err(self.at(here, "jumps: per_day and stdev must not be negative"));
        }
        let regimes = p
            .regimes
            .iter()
            .map(|r| Regime { from_ms: r.from.resolve(start_ms), to_ms: r.to.resolve(start_ms), vol: r.vol })
            .collect::<Vec<_>>();
        if regimes.iter().any(|r| r.to_ms <= r.from_ms || !(0.0..=20.0).contains(&r.vol)) {
            return Err(self.at(here, "a regime needs from < to and a vol between 0 and 20"));
        }
        let mut gaps = Vec::new();
        for g in &p.gaps {
            let v = g.get_ref();
            if v.change <= -1.0 {
                return Err(self.at(g.span().start, "a gap's move must be above -1 (−100 %)"));
            }
            gaps.push(Gap { at_ms: v.at.resolve(start_ms), over_ms: v.over.0, change: v.change });
        }
        Ok(PathSpec { source, vol, drift: p.drift, correlation: rho, jumps, regimes, gaps })
    }

    fn agents(
        &self,
        mut a: Populations,
        symbols: &[String],
        markets: &[MarketSpec],
    ) -> Result<Populations, ScenarioError> {
        let share = |v: f64| (0.0..=1.0).contains(&v);
        let mut total: u64 = 0;
        for t in &mut a.trader {
            let here = t.market.span().start;
            t.market_ix = self.market_ix(symbols, &t.market)?;
            let max = f64::from(markets[t.market_ix].max_leverage);
            let bad = |what: &str, e: String| self.at(here, format!("trader population: {what}: {e}"));
            t.capital.check_range(1.0, 1e12).map_err(|e| bad("capital", e))?;
            t.leverage.check_range(1.0, max).map_err(|e| bad("leverage", e))?;
            t.hold_minutes.check_range(0.0, 1e7).map_err(|e| bad("hold_minutes", e))?;
            t.wait_minutes.check_range(0.0, 1e7).map_err(|e| bad("wait_minutes", e))?;
            t.stop_pct.check_range(0.0, 0.99).map_err(|e| bad("stop_pct", e))?;
            let shares = [t.long_bias, t.stop_share, t.size_share, t.open_at_start, t.isolated_share, t.slippage];
            if !shares.into_iter().all(share) {
                return Err(self.at(
                    here,
                    "trader population: long_bias, stop_share, size_share, open_at_start, isolated_share and \
                     slippage are shares between 0 and 1",
                ));
            }
            total += u64::from(t.count);
        }
        for m in &mut a.maker {
            let here = m.market.span().start;
            m.market_ix = self.market_ix(symbols, &m.market)?;
            let bad = |what: &str, e: String| self.at(here, format!("maker population: {what}: {e}"));
            m.capital.check_range(1.0, 1e12).map_err(|e| bad("capital", e))?;
            m.quote_notional.check_range(0.0, 1e12).map_err(|e| bad("quote_notional", e))?;
            m.inventory_limit.check_range(0.0, 1e13).map_err(|e| bad("inventory_limit", e))?;
            let lev_ok = (1..=markets[m.market_ix].max_leverage).contains(&m.leverage);
            if !lev_ok || m.levels == 0 || m.levels > 50 || m.spread_bps <= 0.0 || m.requote_secs <= 0.0 {
                return Err(self.at(
                    here,
                    "maker population: leverage within the market's, 1-50 levels, a positive spread and requote_secs",
                ));
            }
            total += u64::from(m.count);
        }
        for r in &mut a.arbitrageur {
            let here = r.market.span().start;
            r.market_ix = self.market_ix(symbols, &r.market)?;
            let bad = |what: &str, e: String| self.at(here, format!("arbitrageur population: {what}: {e}"));
            r.capital.check_range(1.0, 1e12).map_err(|e| bad("capital", e))?;
            r.trade_notional.check_range(0.0, 1e12).map_err(|e| bad("trade_notional", e))?;
            r.max_notional.check_range(0.0, 1e13).map_err(|e| bad("max_notional", e))?;
            let lev_ok = (1..=markets[r.market_ix].max_leverage).contains(&r.leverage);
            if !lev_ok || r.interval_secs <= 0.0 || r.exit_bps > r.entry_bps {
                return Err(self.at(
                    here,
                    "arbitrageur population: leverage within the market's, a positive interval_secs and \
                     exit_bps ≤ entry_bps",
                ));
            }
            total += u64::from(r.count);
        }
        for l in &a.liquidator {
            let max_all = markets.iter().map(|m| m.max_leverage).min().unwrap_or(1);
            l.capital.check_range(1.0, 1e12).map_err(|e| ScenarioError {
                location: self.file.to_owned(),
                message: format!("liquidator population: capital: {e}"),
            })?;
            if !(1..=max_all).contains(&l.leverage) || !share(l.unwind_share) || l.unwind_secs <= 0.0 {
                return Err(ScenarioError {
                    location: self.file.to_owned(),
                    message: format!(
                        "liquidator population: leverage 1..={max_all} (every market's), unwind_share 0-1 and a \
                         positive unwind_secs"
                    ),
                });
            }
            total += u64::from(l.count);
        }
        if total > u64::from(MAX_AGENTS) {
            return Err(ScenarioError {
                location: self.file.to_owned(),
                message: format!("{total} agents: at most {MAX_AGENTS}"),
            });
        }
        Ok(a)
    }
}

/// A TOML value as JSON (datetimes are refused: the market schema has none).
fn toml_to_json(v: &toml::Value) -> Result<serde_json::Value, String> {
    Ok(match v {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .ok_or_else(|| format!("{f} is not a finite number"))?,
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => return Err(format!("unexpected datetime {d} in a market table")),
        toml::Value::Array(a) => serde_json::Value::Array(a.iter().map(toml_to_json).collect::<Result<_, _>>()?),
        toml::Value::Table(t) => serde_json::Value::Object(
            t.iter().map(|(k, v)| Ok((k.clone(), toml_to_json(v)?))).collect::<Result<_, String>>()?,
        ),
    })
}

#[cfg(test)]
mod tests;
