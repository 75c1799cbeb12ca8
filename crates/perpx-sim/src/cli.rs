//! `perpx sim SCENARIO.toml [--seed N] [--runs N] [--out DIR] [--compare] [--threads N]`: the
//! command-line front of the simulator (the `perpx` binary parses the flags and calls [`main`]).
//!
//! - one run (default): its report in `DIR` (default `sim-out/NAME`);
//! - `--runs N`: Monte Carlo over seeds `N` runs from the seed, on every core, and the worst run's
//!   full report in `DIR/worst-seed-S/` (default `DIR` = `sim-out/NAME-mc`);
//! - `--compare`: each ADL policy under each waterfall (default `DIR` = `sim-out/NAME-compare`).
//!
//! A short summary goes to standard output, timings to standard error, and a progress line to
//! standard error when it is a terminal.

use std::path::PathBuf;
use std::time::Instant;

use crate::parallel::default_threads;
use crate::progress::Progress;
use crate::report::text::usd;
use crate::{RunOptions, Scenario, montecarlo, report, run};

/// The flags of `perpx sim`.
#[derive(Debug, Clone, Default)]
pub struct SimArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The seed (default: the scenario's).
    pub seed: Option<u64>,
    /// Monte Carlo runs.
    pub runs: Option<u32>,
    /// The output directory.
    pub out: Option<PathBuf>,
    /// Comparison mode.
    pub compare: bool,
    /// Threads for `--runs` and `--compare` (default: every core).
    pub threads: Option<usize>,
}

/// Runs `perpx sim`.
///
/// # Errors
/// A message for the user: a refused scenario (with its line), an invariant broken (with the
/// seed), an I/O error.
pub fn main(a: &SimArgs) -> Result<(), String> {
    let sc = Scenario::load(&a.scenario).map_err(|e| e.to_string())?;
    let seed = a.seed.unwrap_or(sc.seed);
    let threads = a.threads.unwrap_or_else(default_threads).max(1);
    if a.compare && a.runs.is_some() {
        return Err("--compare and --runs are separate modes: run one, then the other".into());
    }
    let started = Instant::now();
    if a.compare {
        let dir = a.out.clone().unwrap_or_else(|| PathBuf::from(format!("sim-out/{}-compare", sc.name)));
        let progress = Progress::new(&format!("{} compare", sc.name));
        let show = |d: usize, n: usize| progress.update(d, n);
        let runs = crate::compare::compare(&sc, seed, threads, Some(&show)).map_err(|e| e.to_string())?;
        let c = crate::compare::summarise(&sc, seed, &runs);
        crate::compare::write(&dir, &sc, &runs, &c).map_err(|e| e.to_string())?;
        eprintln!("compared {} runs in {:.2?} on {threads} threads", runs.len(), started.elapsed());
        println!("scenario {}, seed {seed}: ADL policies × waterfalls", sc.name);
        for r in &c.variants {
            println!(
                "  {:<15} {:<15} ADL trades {:>5}  accounts hit {:>5}  notional closed {:>14}  \
                 basis unhedged {:>12}  uncovered {}",
                r.waterfall,
                r.policy,
                r.adl_events,
                r.accounts_hit,
                usd(&r.notional_closed),
                usd(&r.basis_unhedged),
                usd(&r.uncovered)
            );
        }
        println!("report: {}", dir.join("compare.html").display());
        return Ok(());
    }
    if let Some(n) = a.runs {
        let dir = a.out.clone().unwrap_or_else(|| PathBuf::from(format!("sim-out/{}-mc", sc.name)));
        let progress = Progress::new(&format!("{} ×{n}", sc.name));
        let show = |d: usize, t: usize| progress.update(d, t);
        let runs = montecarlo::monte_carlo(&sc, seed, n.max(1), threads, Some(&show)).map_err(|e| e.to_string())?;
        let elapsed = started.elapsed();
        let s = montecarlo::summarise(&sc, &runs);
        let worst = s.fund_drawdown.worst_seed;
        let worst_dir = format!("worst-seed-{worst}");
        let out = run(&sc, &RunOptions::new(worst)).map_err(|e| e.to_string())?;
        report::write_run(&dir.join(&worst_dir), &sc, &out).map_err(|e| e.to_string())?;
        montecarlo::write(&dir, &sc, &runs, &s, Some(&worst_dir)).map_err(|e| e.to_string())?;
        eprintln!("{} runs in {elapsed:.2?} on {threads} threads", runs.len());
        println!(
            "scenario {}, seeds {}..={}: ADL in {} of {} runs; fund drawdown median {} USD, p95 {}, \
             worst {} (seed {}); deficits worst {} USD (seed {})",
            sc.name,
            s.first_seed,
            s.last_seed,
            s.runs_with_adl,
            s.runs,
            usd(&s.fund_drawdown.p50),
            usd(&s.fund_drawdown.p95),
            usd(&s.fund_drawdown.max),
            s.fund_drawdown.worst_seed,
            usd(&s.deficits.max),
            s.deficits.worst_seed
        );
        println!("report: {}", dir.join("montecarlo.html").display());
        return Ok(());
    }
    let dir = a.out.clone().unwrap_or_else(|| PathBuf::from(format!("sim-out/{}", sc.name)));
    let progress = Progress::new(&sc.name);
    let show = |d: usize, t: usize| progress.update(d, t);
    let o = RunOptions { progress: Some(&show), ..RunOptions::new(seed) };
    let out = run(&sc, &o).map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();
    report::write_run(&dir, &sc, &out).map_err(|e| e.to_string())?;
    let s = &out.summary;
    eprintln!("{} steps, {} commands in {elapsed:.2?}", s.steps, s.commands);
    let f = &s.waterfall_funds.insurance_total;
    println!(
        "scenario {}, seed {seed}: {} liquidations ({} USD), ADL {} trades on {} accounts, deficits {} USD \
         (uncovered {}), insurance funds {} → min {} → {} USD, basis unhedged {} USD",
        sc.name,
        s.liquidations.started,
        usd(&s.liquidations.notional),
        s.adl.events,
        s.adl.accounts_hit,
        usd(&s.deficits.total),
        usd(&s.deficits.uncovered),
        usd(&f.start),
        usd(&f.min),
        usd(&f.end),
        usd(&s.basis_traders.unhedged_created_notional)
    );
    println!("report: {}", dir.join("report.html").display());
    Ok(())
}
