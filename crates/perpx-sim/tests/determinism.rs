//! Same seed, same bytes: a run's `summary.json`, a Monte Carlo batch's `montecarlo.json`
//! whatever the number of threads, and a comparison's `compare.json`. Every run checks the
//! engine's invariants after every step (a failure names the seed).

use std::path::Path;

use perpx_sim::error::InvariantFailure;
use perpx_sim::{RunOptions, Scenario, SimError, compare, montecarlo, report, run};

fn tiny() -> Scenario {
    Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.toml")).unwrap()
}

#[test]
fn the_same_seed_gives_a_byte_identical_summary() {
    let sc = tiny();
    let a = run(&sc, &RunOptions::new(11)).unwrap();
    let b = run(&sc, &RunOptions::new(11)).unwrap();
    assert_eq!(report::summary_json(&a), report::summary_json(&b));
    assert_eq!(report::timeseries_csv(&a.series, &a.units), report::timeseries_csv(&b.series, &b.units));
    // Every step was checked (after the set-up commands, which are checked too).
    assert!(a.summary.invariant_checks > sc.steps() as u64, "{}", a.summary.invariant_checks);
    // The scenario does what it is for: liquidations, fund payments and ADL.
    assert!(a.summary.liquidations.started > 0 && a.summary.adl.events > 0, "{:?}", a.summary.liquidations);
    let c = run(&sc, &RunOptions::new(12)).unwrap();
    assert_ne!(a.summary.final_state_hash, c.summary.final_state_hash, "another seed, another run");
}

#[test]
fn monte_carlo_results_do_not_depend_on_the_thread_count() {
    let sc = tiny();
    let one = montecarlo::monte_carlo(&sc, 40, 4, 1, None).unwrap();
    let three = montecarlo::monte_carlo(&sc, 40, 4, 3, None).unwrap();
    let (s1, s3) = (montecarlo::summarise(&sc, &one), montecarlo::summarise(&sc, &three));
    assert_eq!(montecarlo::summary_json(&s1), montecarlo::summary_json(&s3));
    assert_eq!(s1.per_run.iter().map(|r| r.seed).collect::<Vec<_>>(), vec![40, 41, 42, 43]);
    // A Monte Carlo run (figures only) ends in the same state as the full, recorded run.
    let full = run(&sc, &RunOptions::new(42)).unwrap();
    assert_eq!(s1.per_run[2].state_hash, full.summary.final_state_hash);
    assert_eq!(one[2].metrics, full.metrics);
    assert!(s1.fund_drawdown.worst_seed >= 40 && s1.fund_drawdown.worst_seed <= 43);
}

#[test]
fn a_comparison_runs_each_policy_under_each_waterfall_and_is_reproducible() {
    let sc = tiny();
    let runs = compare::compare(&sc, 11, 2, None).unwrap();
    let c = compare::summarise(&sc, 11, &runs);
    let labels: Vec<(String, String)> = c.variants.iter().map(|r| (r.waterfall.clone(), r.policy.clone())).collect();
    assert_eq!(labels.len(), 6);
    assert_eq!(labels[0], ("crypto".to_owned(), "queue".to_owned()));
    assert_eq!(labels[5], ("clearing_house".to_owned(), "leverage_drain".to_owned()));
    // The crypto/queue variant is the scenario as written (queue, no guaranty fund).
    let plain = run(&sc, &RunOptions::new(11)).unwrap();
    assert_eq!(c.variants[0].final_state_hash, plain.summary.final_state_hash);
    // The clearing house's guaranty fund pays before ADL: never more ADL than the crypto runs.
    for p in 0..3 {
        assert!(c.variants[3 + p].adl_events <= c.variants[p].adl_events, "{:?}", c.variants);
    }
    let again = compare::summarise(&sc, 11, &compare::compare(&sc, 11, 1, None).unwrap());
    assert_eq!(compare::json(&c), compare::json(&again));
}

#[test]
fn an_invariant_failure_names_the_seed_that_reproduces_it() {
    let e = SimError::Invariant(Box::new(InvariantFailure {
        scenario: "tiny".into(),
        file: "scenarios/tiny.toml".into(),
        seed: 42,
        step: 301,
        at: "2025-06-01T08:00:01Z".into(),
        command: "Tick".into(),
        message: "conservation".into(),
    }));
    let text = e.to_string();
    assert!(text.starts_with("INVARIANT BROKEN in scenario 'tiny' with seed 42 at step 301"), "{text}");
    assert!(text.ends_with("reproduce with: perpx sim scenarios/tiny.toml --seed 42"), "{text}");
}
