//! Recovery benchmark: writes a journal of N commands through a node, then measures
//! `Node::open` (snapshot + replay of every record after it, each checked) and, optionally,
//! `verify_journal` (every checksum and link from genesis plus a full replay).
//!
//! ```sh
//! cargo run --release -p perpx-node --example recovery_bench -- --commands 10000000 --dir /tmp/perpx-bench
//! ```
//!
//! Options: `--commands N` (default 1,000,000), `--dir PATH` (default: under the system temp
//! dir; removed at the end unless `--keep`), `--snapshot-every N` (default: none, so recovery
//! replays everything after the first snapshot, which the node writes after its first batch),
//! `--batch N` (commands per group commit, default 512), `--verify` (also time a full
//! verification), `--reuse` (skip writing: measure on the journal already in `--dir`).
//!
//! The journal is written with `FileStorage::open_without_fsync` (the fsync cost is the
//! journal benchmark's subject, not this one's); recovery reads it with the real `FileStorage`.
//! The workload is a single BTC-like market: 20 market makers quoting post-only around a
//! wandering mark, 2,000 takers sending IOC and market orders, cancels of the oldest resting
//! quotes (so the book stays a few hundred orders deep), amends, mark moves and ticks. It is
//! not run by `cargo test`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use perpx_core::command::OrderRef;
use perpx_core::market::{FundingSpec, LiquidationSpec, OracleSpec};
use perpx_core::{
    AccountId, Amend, ClientOrderId, Command, CommandKind, Decimal, Engine, EventKind, MarginTier, MarketId,
    MarketLimits, MarketSpec, NewOrder, OrderId, OrderType, Price, Qty, Quote, Rate, Side, StpMode, TimeInForce,
    Timestamp,
};
use perpx_journal::{FileStorage, JournalConfig, SyncPolicy, latest_valid_snapshot};
use perpx_node::codec::decode_snapshot;
use perpx_node::{Node, NodeConfig, verify_journal};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The allocator the `perpx` binary ships with (docs/PERFORMANCE.md, session 6): recovery runs
/// there, in `perpx serve`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
const MAKERS: u64 = 20;
/// The makers' quotes resting at most (a new quote beyond it cancels the oldest instead).
const RESTING_MAX: usize = 400;
const MARKET: MarketId = MarketId(0);

#[derive(Debug)]
struct Options {
    commands: u64,
    dir: PathBuf,
    keep: bool,
    snapshot_every: Option<u64>,
    batch: usize,
    verify: bool,
    reuse: bool,
    takers: u64,
    baseline: bool,
}

fn options() -> Options {
    let mut o = Options {
        commands: 1_000_000,
        dir: std::env::temp_dir().join(format!("perpx-recovery-bench-{}", std::process::id())),
        keep: false,
        snapshot_every: None,
        batch: 512,
        verify: false,
        reuse: false,
        takers: 200,
        baseline: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--commands" => o.commands = value().replace('_', "").parse().expect("--commands N"),
            "--dir" => o.dir = PathBuf::from(value()),
            "--keep" => o.keep = true,
            "--snapshot-every" => o.snapshot_every = Some(value().parse().expect("--snapshot-every N")),
            "--batch" => o.batch = value().parse().expect("--batch N"),
            "--verify" => o.verify = true,
            "--reuse" => o.reuse = true,
            "--takers" => o.takers = value().parse().expect("--takers N"),
            "--no-baseline" => o.baseline = false,
            "--bench" => {}
            other => panic!("unknown option {other}"),
        }
    }
    o
}

fn spec() -> MarketSpec {
    MarketSpec {
        symbol: "BTC-PERP".into(),
        tick_size: Decimal::new(1, 1),
        lot_size: Decimal::new(1, 3),
        min_qty: Qty(1),
        min_notional: Quote(5_000_000),
        max_leverage: 100,
        tiers: vec![MarginTier {
            max_notional: Quote(1_000_000_000_000_000),
            max_leverage: 100,
            maintenance_rate: Rate(500_000),
            maintenance_amount: Quote(0),
        }],
        maker_fee: Rate(20_000),
        taker_fee: Rate(50_000),
        order_band: Rate(5_000_000),
        limits: MarketLimits { max_open_orders_per_account: 1_000, ..MarketLimits::default() },
        oracle: OracleSpec::default(),
        funding: FundingSpec::default(),
        liquidation: LiquidationSpec::default(),
    }
}

/// The workload generator: a pure function of its seed and of the events it is shown.
struct Workload {
    rng: ChaCha8Rng,
    ts: i64,
    mark: i64,
    setup: VecDeque<CommandKind>,
    /// Resting quotes, oldest first.
    resting: VecDeque<(AccountId, OrderId)>,
    client_seq: u64,
    takers: u64,
}

impl Workload {
    fn new(takers: u64) -> Self {
        let mut setup = VecDeque::new();
        setup.push_back(CommandKind::CreateMarket(Box::new(spec())));
        setup.push_back(CommandKind::SetMark { market: MARKET, price: Price(860_000) });
        for a in 1..=MAKERS + takers {
            let amount = if a <= MAKERS { 1_000_000_000_000_000 } else { 10_000_000_000_000 };
            setup.push_back(CommandKind::Deposit { account: AccountId(a), amount: Quote(amount) });
        }
        Self {
            rng: ChaCha8Rng::seed_from_u64(42),
            ts: 1_700_000_000_000,
            mark: 860_000,
            setup,
            resting: VecDeque::new(),
            client_seq: 0,
            takers,
        }
    }

    fn next(&mut self) -> Command {
        self.ts += 1;
        let kind = self.setup.pop_front().unwrap_or_else(|| self.trade());
        Command { ts: Timestamp(self.ts), kind }
    }

    fn order(
        account: AccountId,
        side: Side,
        order_type: OrderType,
        qty: i64,
        client_id: Option<ClientOrderId>,
    ) -> CommandKind {
        CommandKind::PlaceOrder(NewOrder {
            account,
            market: MARKET,
            side,
            order_type,
            qty: Qty(qty),
            client_id,
            stp: StpMode::ExpireTaker,
            reduce_only: false,
        })
    }

    fn trade(&mut self) -> CommandKind {
        let r = self.rng.random_range(0..100);
        let side = if self.rng.random_bool(0.5) { Side::Buy } else { Side::Sell };
        match r {
            0..45 if self.resting.len() >= RESTING_MAX => {
                let (account, id) = self.resting.pop_front().expect("non-empty");
                CommandKind::CancelOrder { account, market: MARKET, order: OrderRef::Id(id) }
            }
            0..45 => {
                let maker = AccountId(self.rng.random_range(1..=MAKERS));
                let offset = self.rng.random_range(1..60);
                let price = if side == Side::Buy { self.mark - offset } else { self.mark + offset };
                let client_id = if self.rng.random_bool(0.3) {
                    self.client_seq += 1;
                    Some(ClientOrderId::new(&format!("q{}", self.client_seq)).expect("valid"))
                } else {
                    None
                };
                let tif = if self.rng.random_bool(0.5) { TimeInForce::PostOnly } else { TimeInForce::Gtc };
                Self::order(
                    maker,
                    side,
                    OrderType::Limit { price: Price(price), tif },
                    self.rng.random_range(1..20),
                    client_id,
                )
            }
            45..60 => {
                let taker = AccountId(self.rng.random_range(MAKERS + 1..=MAKERS + self.takers));
                let order_type = if self.rng.random_bool(0.5) {
                    OrderType::Market
                } else {
                    let price = if side == Side::Buy { self.mark + 30 } else { self.mark - 30 };
                    OrderType::Limit { price: Price(price), tif: TimeInForce::Ioc }
                };
                Self::order(taker, side, order_type, self.rng.random_range(1..15), None)
            }
            60..85 if self.resting.len() > 50 => {
                let (account, id) = self.resting.pop_front().expect("non-empty");
                CommandKind::CancelOrder { account, market: MARKET, order: OrderRef::Id(id) }
            }
            60..95 => match self.resting.back().copied() {
                Some((account, id)) => CommandKind::AmendOrder(Amend {
                    account,
                    market: MARKET,
                    order: OrderRef::Id(id),
                    price: None,
                    qty: Some(Qty(self.rng.random_range(1..10))),
                }),
                None => CommandKind::Tick,
            },
            95 => {
                self.mark = (self.mark + self.rng.random_range(-3..=3)).clamp(840_000, 880_000);
                CommandKind::SetMark { market: MARKET, price: Price(self.mark) }
            }
            _ => CommandKind::Tick,
        }
    }

    /// Learns from the events which quotes rest.
    fn observe(&mut self, events: &[perpx_core::Event]) {
        for e in events {
            match &e.kind {
                EventKind::OrderAccepted {
                    order_id,
                    account,
                    order_type: OrderType::Limit { tif: TimeInForce::Gtc | TimeInForce::PostOnly, .. },
                    ..
                } => self.resting.push_back((*account, *order_id)),
                EventKind::Fill(f) if f.maker_remaining.0 == 0 => self.resting.retain(|(_, id)| *id != f.maker_order),
                EventKind::OrderCancelled { order_id, .. } => self.resting.retain(|(_, id)| id != order_id),
                _ => {}
            }
        }
    }
}

fn per_second(n: u64, elapsed: std::time::Duration) -> u64 {
    let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX).max(1);
    n.saturating_mul(1000) / ms
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for sub in ["", "archive", "snapshots"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            total += entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum::<u64>();
        }
    }
    total
}

fn main() {
    let o = options();
    let config = NodeConfig {
        journal: JournalConfig { sync_policy: SyncPolicy::EveryBatch, ..JournalConfig::default() },
        gate_capacity: o.batch.max(1),
        snapshot_every: o.snapshot_every,
        ..NodeConfig::default()
    };
    println!("recovery bench: {} commands in {}", o.commands, o.dir.display());
    if !o.reuse {
        let _ = std::fs::remove_dir_all(&o.dir);
        std::fs::create_dir_all(&o.dir).expect("bench dir");
        let storage = FileStorage::open_without_fsync(&o.dir).expect("storage");
        let (mut node, _) = Node::open(storage, config.clone()).expect("open");
        let mut workload = Workload::new(o.takers);
        let started = Instant::now();
        let (mut written, mut fills, mut rejected) = (0u64, 0u64, 0u64);
        let mut batch = Vec::with_capacity(o.batch);
        while written < o.commands {
            batch.clear();
            let n = (o.commands - written).min(o.batch as u64);
            for _ in 0..n {
                batch.push(workload.next());
            }
            for p in node.submit_batch(&batch).expect("submit") {
                fills += p.events.iter().filter(|e| matches!(e.kind, EventKind::Fill(_))).count() as u64;
                rejected += u64::from(p.events.iter().any(|e| matches!(e.kind, EventKind::Rejected { .. })));
                workload.observe(&p.events);
            }
            written += n;
            if written % 1_000_000 < n {
                println!("  written {written} ({} commands/s)", per_second(written, started.elapsed()));
            }
        }
        let elapsed = started.elapsed();
        let head = node.durable_head();
        drop(node);
        println!(
            "write: {written} commands ({fills} fills, {rejected} rejected) in {elapsed:.2?}: {} commands/s; {} MiB on disk",
            per_second(written, elapsed),
            dir_bytes(&o.dir) >> 20
        );
        println!("  head {} state after write recorded", head.seq);
    }

    if o.baseline {
        // The engine alone on the same commands, in memory: the part of recovery that is the
        // engine's, not the journal's.
        let mut engine = Engine::new(config.engine.clone());
        let mut workload = Workload::new(o.takers);
        let mut spent = Duration::ZERO;
        let mut batch = Vec::with_capacity(o.batch);
        let mut done = 0u64;
        while done < o.commands {
            batch.clear();
            let n = (o.commands - done).min(o.batch as u64);
            for _ in 0..n {
                batch.push(workload.next());
            }
            let t = Instant::now();
            let events: Vec<_> = batch.iter().map(|c| engine.apply(c)).collect();
            spent += t.elapsed();
            for e in &events {
                workload.observe(e);
            }
            done += n;
        }
        println!(
            "engine alone (apply, in memory): {done} commands in {spent:.2?}: {} commands/s; state hash {}",
            per_second(done, spent),
            engine.state_hash()
        );
    }

    let started = Instant::now();
    let (node, recovered) = Node::open_dir(&o.dir, config).expect("recovery");
    let elapsed = started.elapsed();
    println!(
        "recovery (Node::open): snapshot at {:?}, {} records replayed in {elapsed:.2?}: {} records/s; head {}, state hash {}",
        recovered.snapshot_seq,
        recovered.replayed,
        per_second(recovered.replayed, elapsed),
        recovered.head.seq,
        node.engine().state_hash()
    );
    drop(node);

    // Where the snapshot part of the recovery goes (the file is in the page cache by now).
    let storage = FileStorage::open(&o.dir).expect("storage");
    let t = Instant::now();
    if let Some(snapshot) = latest_valid_snapshot(&storage).expect("snapshot scan").snapshot {
        let read = t.elapsed();
        let t = Instant::now();
        let state = decode_snapshot(&snapshot.state).expect("decode");
        let decoded = t.elapsed();
        let (markets, accounts, client_ids) = (state.markets.len(), state.accounts.len(), state.client_orders.len());
        let t = Instant::now();
        let engine = Engine::restore(state).expect("restore");
        let restored = t.elapsed();
        let t = Instant::now();
        let hash = engine.state_hash();
        let hashed = t.elapsed();
        assert_eq!(hash.0, snapshot.state_hash);
        println!(
            "  snapshot at {} ({} MiB: {markets} markets, {accounts} accounts, {client_ids} client ids): read and \
             checksum {read:.2?}, decode {decoded:.2?}, restore with invariant checks {restored:.2?}, state hash \
             {hashed:.2?}",
            snapshot.seq,
            snapshot.state.len() >> 20
        );
    }

    if o.verify {
        let storage = FileStorage::open(&o.dir).expect("storage");
        let started = Instant::now();
        let report = verify_journal(&storage, None, |_| {}).expect("verify");
        let elapsed = started.elapsed();
        println!(
            "verify (chain + full replay): {} records in {elapsed:.2?}: {} records/s; state hash {}",
            report.chain.records,
            per_second(report.chain.records, elapsed),
            report.state_hash
        );
    }
    if !o.keep && !o.reuse {
        let _ = std::fs::remove_dir_all(&o.dir);
    }
}
