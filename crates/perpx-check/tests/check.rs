//! The reliability checks CI runs, on a fixed budget of seeds (`docs/RELIABILITY.md`); a longer
//! run is `cargo run -p perpx-check --release -- --seeds 0..1000 --commands 3000`.
//!
//! - the auditor over seeded workloads (every option drawn from the seed, edge commands, price
//!   gaps): every account, the ledger and every fund after every command;
//! - the deterministic simulation: the same workloads through the node on fault-injecting
//!   storage, crashed, bit-flipped, recovered and checked against the reference;
//! - the auditor is not a check that can't fail: tampered events are caught;
//! - regressions for what these tools found.

use perpx_check::{Auditor, audit, sim, workload};
use perpx_core::{AccountId, Engine, Event, EventKind, MarketId, Quote};

/// Seeds and lengths of the CI budget (debug profile: about 10 s each).
const AUDIT_SEEDS: std::ops::Range<u64> = 0..40;
const AUDIT_COMMANDS: usize = 2_000;
const SIM_SEEDS: std::ops::Range<u64> = 0..24;
const SIM_COMMANDS: usize = 600;

#[test]
fn the_auditor_agrees_with_the_engine_after_every_command_of_every_seed() {
    let mut total = perpx_check::AuditTally::default();
    for seed in AUDIT_SEEDS {
        let w = workload(seed, AUDIT_COMMANDS);
        let t = audit(&w).unwrap_or_else(|f| panic!("{f}\n  workload: {}", w.description));
        total.fills += t.fills;
        total.liquidation_fills += t.liquidation_fills;
        total.backstops += t.backstops;
        total.deleveraged += t.deleveraged;
        total.funding_payments += t.funding_payments;
        total.settlements += t.settlements;
        total.liquidation_fees += t.liquidation_fees;
        total.deficits_covered += t.deficits_covered;
        total.fund_flows += t.fund_flows;
        total.fee_changes += t.fee_changes;
        total.capitalised += t.capitalised;
    }
    // Coverage floors: the workloads reach every kind of money movement the auditor follows.
    let floors = [
        ("fills", total.fills, 5_000),
        ("liquidation fills", total.liquidation_fills, 200),
        ("backstops", total.backstops, 50),
        ("ADL trades", total.deleveraged, 50),
        ("funding payments", total.funding_payments, 1_000),
        ("delisting settlements", total.settlements, 10),
        ("liquidation fees", total.liquidation_fees, 100),
        ("fund draws", total.deficits_covered, 50),
        ("deposits and withdrawals", total.fund_flows, 500),
        ("fee changes", total.fee_changes, 20),
        ("capital paid in", total.capitalised, 50),
    ];
    for (what, got, floor) in floors {
        assert!(got >= floor, "only {got} {what} over the suite (floor {floor}): {total:?}");
    }
}

#[test]
fn the_simulation_survives_crashes_torn_writes_fsync_errors_and_bit_flips() {
    let (mut restarts, mut flips, mut detected) = (0, 0, 0);
    for seed in SIM_SEEDS {
        let w = workload(seed, SIM_COMMANDS);
        let r = sim::simulate(&w).unwrap_or_else(|f| panic!("{f}\n  workload: {}", w.description));
        restarts += r.restarts;
        flips += r.bit_flips;
        detected += r.flips_detected;
    }
    assert!(restarts >= 100, "{restarts} restarts over the suite");
    assert!(flips >= 20 && detected >= flips / 2, "{flips} bit flips, {detected} detected");
}

/// Runs workloads and hands the auditor each command's events through `tamper` until it
/// tampers with one; returns the first error the auditor (or its comparison with the engine)
/// reports after that.
fn tampered(tamper: impl Fn(&mut Vec<Event>) -> bool) -> Option<String> {
    for seed in 0..20 {
        let w = workload(seed, 1_500);
        let mut engine = Engine::new(w.engine.clone());
        let mut auditor = Auditor::new();
        let mut done = false;
        for cmd in &w.commands {
            let mut events = engine.apply(cmd);
            if !done {
                done = tamper(&mut events);
            }
            let r = auditor.apply(cmd, &events).and_then(|()| auditor.compare(&engine));
            if let Err(e) = r {
                assert!(done, "the auditor failed before anything was tampered with: {e}");
                return Some(e);
            }
        }
        if done {
            return None;
        }
    }
    panic!("nothing to tamper with in 20 workloads");
}

#[test]
fn the_auditor_catches_a_fee_off_by_one_unit() {
    let e = tampered(|events| {
        events.iter_mut().any(|e| match &mut e.kind {
            EventKind::Fill(f) if f.taker_fee.0 > 0 => {
                f.taker_fee = Quote(f.taker_fee.0 - 1);
                true
            }
            _ => false,
        })
    });
    assert!(e.is_some_and(|e| e.contains("fees")));
}

#[test]
fn the_auditor_catches_a_funding_payment_off_by_one_unit() {
    let e = tampered(|events| {
        events.iter_mut().any(|e| match &mut e.kind {
            EventKind::FundingPayments { payments, .. } => {
                payments[0].amount.0 += 1;
                true
            }
            _ => false,
        })
    });
    assert!(e.is_some_and(|e| e.contains("funding")));
}

#[test]
fn the_auditor_catches_money_the_events_did_not_move() {
    // A deposit the auditor never hears of: the engine's collateral is then more than the
    // auditor's, at the comparison after that very command.
    let e = tampered(|events| {
        let before = events.len();
        events.retain(|e| !matches!(e.kind, EventKind::Deposited { account, .. } if account.0 > 1));
        events.len() != before
    });
    assert!(e.is_some(), "not caught");
}

#[test]
fn the_auditor_catches_a_wrong_collateral_in_a_position_change() {
    let e = tampered(|events| {
        events.iter_mut().any(|e| match &mut e.kind {
            EventKind::PositionChanged { collateral, .. } => {
                collateral.0 += 1;
                true
            }
            _ => false,
        })
    });
    assert!(e.is_some_and(|e| e.contains("collateral")));
}

#[test]
fn the_auditor_catches_a_liquidation_fee_paid_to_the_wrong_fund() {
    let e = tampered(|events| {
        events.iter_mut().any(|e| match &mut e.kind {
            EventKind::LiquidationFee { fund, .. } => {
                *fund = perpx_core::event::FundRef::Guaranty;
                true
            }
            _ => false,
        })
    });
    assert!(e.is_some_and(|e| e.contains("liquidation fee")));
}

/// Regression (found by the auditor's run, seed 1 of 3,000 commands): account 7, isolated short
/// 2,896 lots of BTC-PERP with 2,277 USD of margin and 12,850 USD of collateral, had a
/// reduce-only stop that a 60 % jump of the mark triggered; its market order filled at a stale
/// ask far from the mark and lost 33,914 USD. The engine released the negative margin to
/// collateral only down to zero and left −18,937 USD of margin on the **flat** position, where
/// nothing settles it (`check_invariants`: "holds isolated margin without an isolated
/// position"). Now the account pays the whole loss from collateral, below zero if need be, and
/// the liquidation pass takes it from there: its cross position is closed out and the deficit
/// goes down the waterfall.
#[test]
fn regression_an_isolated_position_closed_at_a_loss_beyond_everything_leaves_no_margin_behind() {
    let w = workload(1, 3_000);
    audit(&w).unwrap_or_else(|f| panic!("{f}"));
    let mut engine = Engine::new(w.engine.clone());
    for c in &w.commands[..2271] {
        engine.apply(c);
    }
    let events = engine.apply(&w.commands[2271]);
    let seven = AccountId(7);
    let closed = events.iter().any(|e| {
        matches!(e.kind, EventKind::PositionChanged { account, market, size, collateral, isolated_margin, .. }
            if account == seven && market == MarketId(1) && size.0 == 0 && isolated_margin.0 == 0
                && collateral.0 == -18_937_006_401)
    });
    assert!(closed, "the workload no longer reaches the case (update the test): {events:?}");
    let covered =
        events.iter().any(|e| matches!(e.kind, EventKind::DeficitCovered { account, .. } if account == seven));
    assert!(covered, "the deficit went down the waterfall");
    let a = engine.account(seven).expect("account 7");
    assert_eq!((a.position(MarketId(1)).isolated_margin, a.collateral), (Quote(0), Quote(0)));
}

/// Regression (found by the simulation, seed 2028 of 1,500 commands): an edge command paid
/// `i64::MAX` micro-units of venue capital into the shared insurance fund — accepted, since the
/// fund's own addition fitted — and the next liquidation fee credited to that fund overflowed
/// (`attempt to add with overflow` in debug builds; a silent wrap in release). Money coming in
/// is now capped at `MAX_MONEY_IN` (deposits − withdrawals + capital), and the seed passes.
#[test]
fn regression_capital_and_deposits_beyond_the_money_ceiling_are_refused() {
    use perpx_core::engine::MAX_MONEY_IN;
    use perpx_core::event::FundRef;
    use perpx_core::{Command, CommandKind, RejectReason, Timestamp};
    let w = workload(2028, 1_500);
    audit(&w).unwrap_or_else(|f| panic!("{f}"));
    let mut engine = Engine::new(perpx_core::EngineConfig::default());
    let rejected = |engine: &mut Engine, kind: CommandKind| {
        let events = engine.apply(&Command { ts: Timestamp(1), kind });
        events.iter().find_map(|e| match &e.kind {
            EventKind::Rejected { reason, .. } => Some(reason.clone()),
            _ => None,
        })
    };
    let shared = CommandKind::CapitaliseFund { fund: FundRef::Shared, amount: Quote(i64::MAX) };
    assert_eq!(rejected(&mut engine, shared), Some(RejectReason::BalanceOverflow));
    let most = CommandKind::Deposit { account: AccountId(1), amount: Quote(MAX_MONEY_IN - 5) };
    assert_eq!(rejected(&mut engine, most), None);
    let more = CommandKind::Deposit { account: AccountId(2), amount: Quote(6) };
    assert_eq!(rejected(&mut engine, more), Some(RejectReason::BalanceOverflow));
    let capital = CommandKind::CapitaliseFund { fund: FundRef::Guaranty, amount: Quote(5) };
    assert_eq!(rejected(&mut engine, capital), None);
    let one = CommandKind::CapitaliseFund { fund: FundRef::Guaranty, amount: Quote(1) };
    assert_eq!(rejected(&mut engine, one), Some(RejectReason::BalanceOverflow));
}

/// Regression (found by fuzzing `perpx replay` scripts: a timestamp mutated to about year
/// 292 million): one command asked the engine to settle billions of funding periods — each with
/// its events — and the process ran out of memory (24 GB). A command more than
/// `MAX_CLOCK_STEP_MS` (366 days) after the clock is now refused once a market exists
/// (`timestamp_too_far_ahead`, 1004), changing nothing; a jump of exactly the limit is worked.
#[test]
fn regression_a_timestamp_too_far_ahead_is_refused_not_worked() {
    use perpx_core::engine::MAX_CLOCK_STEP_MS;
    use perpx_core::{Command, CommandKind, Timestamp};
    use perpx_testkit::fixtures;
    let mut engine = Engine::new(perpx_core::EngineConfig::default());
    let t0 = 1_700_000_000_000;
    // Before any market, the first command sets the clock however far it moves.
    engine.apply(&Command { ts: Timestamp(t0), kind: CommandKind::Tick });
    engine.apply(&Command { ts: Timestamp(t0), kind: CommandKind::CreateMarket(Box::new(fixtures::test_spec())) });
    let before = engine.state_hash();
    for ts in [i64::MAX, t0 + MAX_CLOCK_STEP_MS + 1] {
        let events = engine.apply(&Command { ts: Timestamp(ts), kind: CommandKind::Tick });
        assert!(
            matches!(events.as_slice(), [e] if matches!(&e.kind, EventKind::Rejected { reason, .. } if reason.code() == 1004)),
            "{events:?}"
        );
        assert_eq!(engine.state_hash(), before, "a refused jump changes nothing");
    }
    let events = engine.apply(&Command { ts: Timestamp(t0 + MAX_CLOCK_STEP_MS), kind: CommandKind::Tick });
    let settled = events.iter().filter(|e| matches!(e.kind, EventKind::FundingSettled { .. })).count();
    assert_eq!(settled, 366 * 3, "a year of 8-hour funding periods, each settled");
    engine.check_invariants().unwrap();
}

/// Regression (found by fuzzing engine snapshots): a damaged snapshot whose account chose a
/// leverage of 0 made `Engine::restore` panic inside its own invariant check (the margin
/// figures divide by the leverage) instead of refusing the snapshot. Restore now checks every
/// chosen leverage (at least 1, in a known market).
#[test]
fn regression_a_snapshot_with_a_zero_leverage_is_refused_not_a_panic() {
    let w = workload(3, 400);
    let mut engine = Engine::new(w.engine.clone());
    for c in &w.commands {
        engine.apply(c);
    }
    let mut snap = engine.snapshot();
    let (_, account) = snap.accounts.iter_mut().next().expect("an account");
    account.leverage.insert(MarketId(0), 0);
    assert!(Engine::restore(snap.clone()).is_err());
    let (_, account) = snap.accounts.iter_mut().next().expect("an account");
    account.leverage.insert(MarketId(0), 5);
    account.leverage.insert(MarketId(99), 5);
    assert!(Engine::restore(snap).is_err(), "a leverage in an unknown market is refused too");
}

/// Regression (found by fuzzing engine snapshots): a damaged margin tier (a maintenance amount
/// with its sign bit flipped) made the margin figures overflow inside `Engine::restore`'s
/// invariant check — a panic where a `RestoreError` is promised. Restore now validates every
/// market's specification (and a pending change applied to it) as a new market's.
#[test]
fn regression_a_snapshot_with_a_damaged_market_spec_is_refused_not_a_panic() {
    let w = workload(3, 400);
    let mut engine = Engine::new(w.engine.clone());
    for c in &w.commands {
        engine.apply(c);
    }
    let good = engine.snapshot();
    assert!(Engine::restore(good.clone()).is_ok());
    let mut snap = good.clone();
    snap.markets[0].spec.tiers[0].maintenance_amount = Quote(i64::MIN);
    assert!(Engine::restore(snap).is_err());
    let mut snap = good.clone();
    snap.markets[0].quote_per_tick_lot += 1;
    assert!(Engine::restore(snap).is_err(), "a scale that is not tick × lot");
    let mut snap = good;
    let change = perpx_core::command::ParamChange { max_leverage: Some(0), ..Default::default() };
    snap.markets[0].pending_change = Some((perpx_core::Timestamp(i64::MAX), change));
    assert!(Engine::restore(snap).is_err(), "a pending change that would not validate");
}

/// Regression (found by the simulation's longer run, seed 2620 of 1,500 commands): an edge
/// command set a market's mark to `i64::MAX` (accepted: the band saturates). An account with only
/// an open order in that market had margin figures that overflowed there, so the liquidation
/// pass and the invariant check skipped it — while its cross position in another market was far
/// below maintenance. When the mark came back, the invariant check saw it ("below maintenance
/// but not queued"). The liquidation test now computes equity and MM from positions alone
/// (orders change only the IM), and the seed passes.
#[test]
fn regression_an_absurd_mark_elsewhere_does_not_hide_an_account_below_maintenance() {
    let w = workload(2620, 1_500);
    audit(&w).unwrap_or_else(|f| panic!("{f}"));
    let mut engine = Engine::new(w.engine.clone());
    for c in &w.commands[..622] {
        engine.apply(c);
    }
    assert_eq!(engine.market(MarketId(0)).and_then(|m| m.mark).map(|p| p.0), Some(i64::MAX), "the case is reached");
    assert!(
        engine.in_liquidation(AccountId(8))
            || engine.account(AccountId(8)).is_some_and(|a| a.position(MarketId(1)).size.0 == 0),
        "and yet it was queued (or already liquidated)"
    );
}

/// Regression (found by the simulation's longer run, seed 2897): the node noted the journal's
/// first snapshot — the one that records the engine settings — as written *before* writing it.
/// When that write failed (an fsync error; a failed snapshot does not stop the node) and
/// `snapshot_every` was unset, no snapshot was ever written by that process, and
/// `verify_journal` replayed the journal with default settings to another state. The first
/// snapshot is now due until one is written.
#[test]
fn regression_a_failed_first_snapshot_is_written_later() {
    use perpx_journal::{Fault, FaultPlan, JournalConfig, MemStorage, StorageOp, SyncPolicy};
    use perpx_node::{Node, NodeConfig, verify_journal};
    let w = workload(5, 300);
    let config = NodeConfig {
        journal: JournalConfig {
            sync_policy: SyncPolicy::EveryBatch,
            segment_bytes_target: 4096,
            batch_bytes_max: 4096,
        },
        engine: w.engine.clone(),
        gate_capacity: 16,
        snapshot_every: None,
        archive_after_snapshot: false,
        check_invariants: false,
    };
    let run = |storage: &MemStorage| {
        let (mut node, _) = Node::open(storage.clone(), config.clone()).unwrap();
        for chunk in w.commands.chunks(8) {
            node.submit_batch(chunk).unwrap();
        }
        node.engine().state_hash()
    };
    // Where the first snapshot is fsync'd, in a run without faults.
    let clean = MemStorage::new();
    let want = run(&clean);
    let first_sync = clean
        .op_log()
        .into_iter()
        .find(|o| o.op == StorageOp::Sync && o.path.starts_with("snapshots/"))
        .expect("a first snapshot");
    // The same run with that fsync failing.
    let storage = MemStorage::with_plan(FaultPlan::none().at(first_sync.index, Fault::SyncError));
    assert_eq!(run(&storage), want);
    assert_eq!(storage.fired_faults().len(), 1, "the snapshot's fsync failed");
    let report = verify_journal(&storage.fork(), None, |_| {}).unwrap();
    assert!(report.snapshot.is_some(), "a later first snapshot records the settings");
    assert_eq!(report.engine, w.engine);
    assert_eq!(report.state_hash, want, "verify replays to the node's state");
}
