//! `perpx-check`: the auditor and the deterministic simulation from the command line.
//!
//! ```text
//! perpx-check --seed 17                       one seed: audit + simulation (the repro a failure prints)
//! perpx-check --seeds 0..1000 --commands 3000 a longer run
//! perpx-check --seed 17 --audit-only          the auditor alone (no journal)
//! perpx-check --seed 17 --dump 2271           one command of the workload, its state and its events
//! ```

use std::process::ExitCode;
use std::time::Instant;

use perpx_check::{sim, workload};

fn usage() -> ExitCode {
    eprintln!("usage: perpx-check (--seed N | --seeds A..B) [--commands N] [--audit-only | --dump K]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut seeds = 0..0u64;
    let mut commands = 1_500usize;
    let mut audit_only = false;
    let mut dump: Option<usize> = None;
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1);
        match (args[i].as_str(), value) {
            ("--seed", Some(v)) => match v.parse::<u64>() {
                Ok(s) => seeds = s..s + 1,
                Err(_) => return usage(),
            },
            ("--seeds", Some(v)) => {
                let Some((a, b)) = v.split_once("..") else { return usage() };
                let (Ok(a), Ok(b)) = (a.parse(), b.parse()) else { return usage() };
                seeds = a..b;
            }
            ("--commands", Some(v)) => match v.parse() {
                Ok(n) => commands = n,
                Err(_) => return usage(),
            },
            ("--dump", Some(v)) => match v.parse() {
                Ok(k) => dump = Some(k),
                Err(_) => return usage(),
            },
            ("--audit-only", _) => {
                audit_only = true;
                i += 1;
                continue;
            }
            _ => return usage(),
        }
        i += 2;
    }
    if seeds.is_empty() {
        return usage();
    }
    if let Some(k) = dump {
        dump_command(&workload(seeds.start, commands), k);
        return ExitCode::SUCCESS;
    }
    let started = Instant::now();
    let (mut runs, mut restarts, mut flips, mut total) = (0u64, 0u64, 0u64, 0usize);
    for seed in seeds {
        let w = workload(seed, commands);
        let result = if audit_only {
            perpx_check::audit(&w).map(|tally| sim::SimReport {
                commands: w.commands.len(),
                tally,
                ..sim::SimReport::default()
            })
        } else {
            sim::simulate(&w)
        };
        match result {
            Ok(r) => {
                runs += 1;
                restarts += r.restarts;
                flips += r.bit_flips;
                total += r.commands;
                println!(
                    "seed {seed}: ok, {} commands, {} restarts, {} faults, {} bit flips ({} detected), {} fills, {} \
                     liquidation fills, {} funding payments, {} ADL, {} backstops",
                    r.commands,
                    r.restarts,
                    r.faults,
                    r.bit_flips,
                    r.flips_detected,
                    r.tally.fills,
                    r.tally.liquidation_fills,
                    r.tally.funding_payments,
                    r.tally.deleveraged,
                    r.tally.backstops
                );
            }
            Err(f) => {
                eprintln!("FAILED {f}\n  workload: {}", w.description);
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "{runs} seeds, {total} commands, {restarts} restarts, {flips} bit flips: all checks passed in {:.1?}",
        started.elapsed()
    );
    ExitCode::SUCCESS
}

/// Prints command `k` of the workload, the accounts it touches before it, and its events, one
/// per line (for debugging a failure).
fn dump_command(w: &perpx_check::Workload, k: usize) {
    let mut engine = perpx_core::Engine::new(w.engine.clone());
    for c in &w.commands[..k] {
        engine.apply(c);
    }
    println!("{}", w.description);
    for (id, a) in engine.accounts() {
        println!(
            "before: account {id}: collateral {} modes {:?} positions {:?}",
            a.collateral.0, a.margin_mode, a.positions
        );
    }
    for m in engine.markets() {
        println!("before: market {} mark {:?} last {:?}", m.id, m.mark, m.last_price);
    }
    println!("command {k}: {:?}", w.commands[k]);
    for e in engine.apply(&w.commands[k]) {
        println!("  {:?}", e.kind);
    }
}
