//! The deterministic simulation: a seeded workload through the engine **and** its journal
//! (`perpx-node`) on the in-memory storage of `perpx-journal`, with faults.
//!
//! From the seed: the workload ([`crate::workload`](mod@crate::workload)), the node's settings
//! (segment size, write buffer, durability policy, snapshot interval, archiving, output gate),
//! the fault rates (crashes at any storage operation with torn writes, fsync errors with the
//! "fsyncgate" semantics, short writes, ENOSPC) and, at restarts, **bit flips in old segments and
//! snapshots**. The run:
//!
//! 1. A reference run of the workload on a plain engine, with the [auditor](crate::auditor)
//!    checking every account after every command and the engine's invariants after every
//!    command; the state hash and the events after every command are kept.
//! 2. The node runs the workload in batches (the workload's batch size) until a fault stops it.
//!    Every published (acknowledged) command's events must equal the reference's.
//! 3. Crash (process death, pessimistic power loss, or a seeded torn power loss) and recover:
//!    the recovered head must hold every acknowledged command and invent none, the engine must
//!    equal the reference at the head (the durable prefix), every durable command whose events
//!    were not handed out must be redelivered with the reference's events; the clients resend
//!    what was not acknowledged. Sometimes a bit of an old segment or a snapshot is flipped
//!    first: then recovery must either refuse with a corruption error or recover the exact
//!    reference state — and `verify_journal` must find a flipped segment; the bit is flipped
//!    back (the operator restores the file) and the run goes on.
//! 4. At the end every command is in the journal once, and `verify_journal` replays it all to
//!    the reference's final state.

use std::collections::BTreeSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use perpx_core::{Engine, Event, StateHash};
use perpx_journal::{CrashMode, FaultPlan, FaultRates, JournalConfig, MemStorage, OpenError, Storage, SyncPolicy};
use perpx_node::{Node, NodeConfig, NodeError, verify_journal};

use crate::auditor::AuditTally;
use crate::{Failure, Workload};

/// The reference run: the state hash before any command (index 0) and after each, and each
/// command's events.
#[derive(Debug, Clone)]
pub struct Reference {
    hashes: Vec<StateHash>,
    events: Vec<Vec<Event>>,
    /// What the auditor followed.
    pub tally: AuditTally,
}

impl Reference {
    /// The state hash after `seq` commands.
    #[must_use]
    pub fn hash_at(&self, seq: u64) -> StateHash {
        self.hashes[usize::try_from(seq).expect("small")]
    }

    /// The events of command `seq` (from 1).
    #[must_use]
    pub fn events_of(&self, seq: u64) -> &[Event] {
        &self.events[usize::try_from(seq).expect("small") - 1]
    }
}

/// Runs the workload on a plain engine under the auditor (see [`crate::audit`]) and records the
/// reference.
///
/// # Errors
/// The first failed check.
pub fn reference_run(w: &Workload) -> Result<Reference, Failure> {
    let mut hashes = Vec::with_capacity(w.commands.len() + 1);
    let mut all = Vec::with_capacity(w.commands.len());
    hashes.push(Engine::new(w.engine.clone()).state_hash());
    let tally = crate::run_audited(w, |engine, events| {
        hashes.push(engine.state_hash());
        all.push(events.to_vec());
    })?;
    Ok(Reference { hashes, events: all, tally })
}

/// What a simulation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimReport {
    /// Commands in the workload.
    pub commands: usize,
    /// Restarts (each after a crash or a storage failure).
    pub restarts: u64,
    /// Bits flipped in old segments or snapshots.
    pub bit_flips: u64,
    /// Flips recovery or verification refused (the rest were in files neither had to read,
    /// and the state was still exact).
    pub flips_detected: u64,
    /// Faults the storage fired.
    pub faults: u64,
    /// Commands resent after a restart because they had not been acknowledged.
    pub resent: u64,
    /// What the auditor followed in the reference run.
    pub tally: AuditTally,
}

fn node_config(w: &Workload, rng: &mut ChaCha8Rng) -> NodeConfig {
    let sync_policy = match rng.random_range(0..4) {
        0 => SyncPolicy::EveryRecords(rng.random_range(1..=8)),
        _ => SyncPolicy::EveryBatch,
    };
    NodeConfig {
        journal: JournalConfig {
            sync_policy,
            segment_bytes_target: [256, 1024, 4096, 65_536][rng.random_range(0..4)],
            batch_bytes_max: [4096, 16_384][rng.random_range(0..2)],
        },
        engine: w.engine.clone(),
        gate_capacity: w.batch.max(rng.random_range(8..=96)),
        snapshot_every: rng.random_bool(0.8).then(|| rng.random_range(5..=120)),
        archive_after_snapshot: rng.random_bool(0.5),
        check_invariants: false,
    }
}

/// Runs the simulation of `w` (see the module documentation).
///
/// # Errors
/// The first failed check, with the seed to reproduce it.
#[allow(clippy::too_many_lines)]
pub fn simulate(w: &Workload) -> Result<SimReport, Failure> {
    let reference = reference_run(w)?;
    let n = w.commands.len();
    let fail = |message: String| Failure { seed: w.seed, commands: w.requested, at: None, message };
    let mut rng = ChaCha8Rng::seed_from_u64(w.seed ^ 0x0051_u64);
    let config = node_config(w, &mut rng);
    let rates = FaultRates {
        crash_per_million: rng.random_range(500..=6_000),
        sync_error_per_million: rng.random_range(0..=6_000),
        short_write_per_million: rng.random_range(0..=60_000),
        no_space_per_million: rng.random_range(0..=3_000),
    };
    let flip_chance = rng.random_range(0..=40u32);
    let mut report = SimReport { commands: n, tally: reference.tally, ..SimReport::default() };
    let mut storage = MemStorage::with_plan(FaultPlan::seeded(w.seed, rates));
    let mut published = 0u64;
    let mut handed_out_at_crash = 0u64;
    loop {
        let ctx = format!("restart {} ({config:?}, {rates:?})", report.restarts);
        let opened = Node::open(storage.clone(), config.clone());
        let mut stopped = false;
        match opened {
            Ok((mut node, recovered)) => {
                let head = recovered.head.seq;
                if published > head {
                    return Err(fail(format!("{ctx}: acknowledged command lost: {published} published, head {head}")));
                }
                if head > n as u64 {
                    return Err(fail(format!("{ctx}: the journal has {head} commands of {n}")));
                }
                if node.engine().state_hash() != reference.hash_at(head) {
                    return Err(fail(format!(
                        "{ctx}: the recovered engine is not the reference after {head} commands"
                    )));
                }
                let redelivered = node.take_published();
                let seqs: BTreeSet<u64> = redelivered.iter().map(|p| p.seq).collect();
                for seq in handed_out_at_crash + 1..=head {
                    if !seqs.contains(&seq) {
                        return Err(fail(format!("{ctx}: durable command {seq} never published nor redelivered")));
                    }
                }
                for p in &redelivered {
                    if p.events != reference.events_of(p.seq) {
                        return Err(fail(format!("{ctx}: redelivered events of {} differ", p.seq)));
                    }
                }
                published = head;
                let mut at = usize::try_from(head).expect("small");
                report.resent += head.saturating_sub(handed_out_at_crash);
                while at < n {
                    let k = (n - at).min(w.batch);
                    match node.submit_batch(&w.commands[at..at + k]) {
                        Ok(batch) => {
                            for p in batch {
                                if p.seq != published + 1 || p.events != reference.events_of(p.seq) {
                                    return Err(fail(format!(
                                        "{ctx}: command {} published out of order or wrong",
                                        p.seq
                                    )));
                                }
                                published = p.seq;
                            }
                            at += k;
                        }
                        Err(NodeError::Stopped { .. }) => {
                            stopped = true;
                            break;
                        }
                        Err(e) => return Err(fail(format!("{ctx}: submit failed: {e}"))),
                    }
                }
                // A crash can also fire where the node goes on (a snapshot or archive step after
                // the last batch): the storage is dead, so restart like after any crash.
                if !stopped && !storage.is_crashed() {
                    break;
                }
            }
            Err(NodeError::Open(OpenError::Storage(_)) | NodeError::Storage(_))
                if !storage.fired_faults().is_empty() =>
            {
                // A fault fired during recovery itself (recovery writes: it rewrites the last
                // segment's valid bytes): restart again.
            }
            Err(e) => return Err(fail(format!("{ctx}: recovery failed: {e}"))),
        }
        handed_out_at_crash = published;
        report.restarts += 1;
        report.faults += storage.fired_faults().len() as u64;
        if report.restarts > 400 {
            return Err(fail("no progress after 400 restarts".into()));
        }
        let mode = match rng.random_range(0..3) {
            0 => CrashMode::Process,
            1 => CrashMode::PowerLoss,
            _ => CrashMode::PowerLossTorn { seed: rng.random() },
        };
        storage = storage.crash(mode);
        if rng.random_range(0..100) < flip_chance {
            flip_old_file(&storage, &config, &reference, published, &mut rng, &mut report).map_err(fail)?;
        }
        storage.set_plan(FaultPlan::seeded(rng.random(), rates));
    }
    report.faults += storage.fired_faults().len() as u64;
    storage.set_plan(FaultPlan::none());
    let v = verify_journal(&storage, None, |_| {}).map_err(|e| fail(format!("final verify: {e}")))?;
    if v.chain.head.seq != n as u64 || v.state_hash != reference.hash_at(n as u64) {
        return Err(fail(format!("final verify: head {} of {n}, state differs: {v:?}", v.chain.head.seq)));
    }
    Ok(report)
}

/// Flips one bit of a sealed (not the newest) segment or of a snapshot, checks that recovery
/// either refuses or recovers the exact reference state, and that verification finds a flipped
/// segment; then flips it back.
fn flip_old_file(
    storage: &MemStorage,
    config: &NodeConfig,
    reference: &Reference,
    published: u64,
    rng: &mut ChaCha8Rng,
    report: &mut SimReport,
) -> Result<(), String> {
    let mut segments: Vec<String> = storage.paths().into_iter().filter(|p| p.ends_with(".seg")).collect();
    // Segment names are their first sequence numbers: the newest is the largest name.
    segments.sort_by(|a, b| a.rsplit('/').next().cmp(&b.rsplit('/').next()));
    segments.pop();
    let snapshots: Vec<String> = storage.paths().into_iter().filter(|p| p.ends_with(".snap")).collect();
    let flip_segment = !segments.is_empty() && (snapshots.is_empty() || rng.random_bool(0.7));
    let Some(path) = (if flip_segment {
        segments.get(rng.random_range(0..segments.len().max(1))).cloned()
    } else {
        snapshots.get(rng.random_range(0..snapshots.len().max(1))).cloned()
    }) else {
        return Ok(());
    };
    let len = storage.file_len(&path).map_err(|e| format!("{path}: {e}"))?;
    if len == 0 {
        return Ok(());
    }
    let bit = rng.random_range(0..len * 8);
    storage.flip_bit(&path, bit);
    report.bit_flips += 1;
    let ctx = format!("bit {bit} of {path} flipped");
    let mut detected = false;
    match Node::open(storage.fork(), config.clone()) {
        Ok((node, recovered)) => {
            let head = recovered.head.seq;
            if head < published || node.engine().state_hash() != reference.hash_at(head) {
                return Err(format!("{ctx}: recovery accepted it and the state after {head} is wrong"));
            }
            if !recovered.skipped_snapshots.is_empty() {
                detected = true;
            }
        }
        Err(NodeError::Open(_) | NodeError::Snapshot { .. }) => detected = true,
        Err(e) => return Err(format!("{ctx}: recovery failed in an unexpected way: {e}")),
    }
    if flip_segment {
        if verify_journal(&storage.fork(), None, |_| {}).is_ok() {
            return Err(format!("{ctx}: verify_journal did not notice"));
        }
        detected = true;
    }
    report.flips_detected += u64::from(detected);
    storage.flip_bit(&path, bit);
    Ok(())
}
