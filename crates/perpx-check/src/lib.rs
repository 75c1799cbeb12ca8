//! # perpx-check
//!
//! perpx holds people's money; this crate is where it is checked the way TigerBeetle's VOPR and
//! FoundationDB's simulation check theirs (`docs/RELIABILITY.md`):
//! - [`auditor`]: an independent, simple model of every balance and position, fed the
//!   engine's events, compared with the engine after every command;
//! - [`workload`](mod@workload): seeded workloads that draw every option of the venue and mix
//!   valid and invalid commands, edge values and price gaps;
//! - [`sim`]: the deterministic simulation — the engine and its journal (`perpx-node`) on
//!   fault-injecting storage, crashed at random points, recovered and checked against the
//!   model after each crash.
//!
//! `cargo run -p perpx-check --release -- --seed N` reproduces one seed; a failure prints that
//! command.

pub mod auditor;
pub mod sim;
pub mod workload;

use perpx_core::{Engine, Event};

pub use auditor::{AuditTally, Auditor};
pub use workload::{Workload, workload};

/// A failed check, with what is needed to reproduce it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// The workload's length.
    pub commands: usize,
    /// The index of the command after which the check failed (if it is about one).
    pub at: Option<usize>,
    /// What failed.
    pub message: String,
}

impl Failure {
    /// The one-line command that reproduces it.
    #[must_use]
    pub fn repro(&self) -> String {
        format!("cargo run -p perpx-check --release -- --seed {} --commands {}", self.seed, self.commands)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seed {}", self.seed)?;
        if let Some(at) = self.at {
            write!(f, ", command {at}")?;
        }
        write!(f, ": {}\n  reproduce: {}", self.message, self.repro())
    }
}

/// Runs a workload through a plain engine with the auditor: after every command the auditor
/// follows its events and must match every account, the ledger and every fund; its own books
/// must balance; the engine's invariants must hold; every event carries the command's sequence
/// number and time. Returns what the auditor followed.
///
/// # Errors
/// The first failed check, with the command and the few before it.
pub fn audit(w: &Workload) -> Result<AuditTally, Failure> {
    run_audited(w, |_, _| {})
}

/// [`audit`], handing the engine and the events after each command to `each` (the simulation
/// records its reference run this way).
///
/// # Errors
/// As [`audit`].
pub(crate) fn run_audited(w: &Workload, mut each: impl FnMut(&Engine, &[Event])) -> Result<AuditTally, Failure> {
    let mut engine = Engine::new(w.engine.clone());
    let mut auditor = Auditor::new();
    let mut events: Vec<Event> = Vec::new();
    let fail = |at: usize, message: String| Failure { seed: w.seed, commands: w.requested, at: Some(at), message };
    for (i, cmd) in w.commands.iter().enumerate() {
        events.clear();
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            engine.apply_into(cmd, &mut events);
        }));
        if let Err(p) = applied {
            let what = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            return Err(fail(i, format!("the engine panicked: {what}\n  command: {cmd:?}")));
        }
        let seq = engine.seq();
        if let Some(e) = events.iter().find(|e| e.seq != seq || e.ts != cmd.ts) {
            return Err(fail(i, format!("event stamped {} / {} under command {seq}: {e:?}", e.seq, e.ts.0)));
        }
        let checked = auditor
            .apply(cmd, &events)
            .and_then(|()| auditor.compare(&engine))
            .and_then(|()| auditor.check_conservation())
            .and_then(|()| engine.check_invariants().map_err(|e| format!("engine invariant: {e}")));
        if let Err(m) = checked {
            let from = i.saturating_sub(4);
            let before: Vec<String> =
                w.commands[from..i].iter().enumerate().map(|(k, c)| format!("  {}: {c:?}", from + k)).collect();
            return Err(fail(
                i,
                format!("{m}\n  command: {cmd:?}\n  events: {events:?}\n  before:\n{}", before.join("\n")),
            ));
        }
        each(&engine, &events);
    }
    Ok(auditor.tally())
}
