//! Faults the in-memory storage injects, and how a crash treats unsynced data.
//!
//! A [`FaultPlan`] decides, for each mutating storage operation in order (the *op index*,
//! counted from 0; reads are not counted), whether a fault fires: at explicit indices, or at
//! random from a seed and per-million rates. The same plan against the same workload fires the
//! same faults, so every failure reproduces from its seed.

use std::collections::BTreeMap;

use super::StorageOp;

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The machine (or the process) dies during this operation: the operation does not happen,
    /// except that a write first leaves `torn_bytes` of its data (at most all of it) in the page
    /// cache. Every later operation fails with `Crashed` until [`MemStorage::crash`] hands out
    /// the restarted storage. Applies to every mutating operation.
    ///
    /// [`MemStorage::crash`]: super::MemStorage::crash
    Crash {
        /// Bytes of the interrupted write that reach the page cache.
        torn_bytes: usize,
    },
    /// fsync of a file or directory fails with EIO. For a file, the kernel's behaviour since
    /// "fsyncgate" is modelled: the unsynced pages are marked clean without reaching the disk,
    /// so a later fsync reports success while the data is gone. Applies to `sync`, `sync_dir`.
    SyncError,
    /// The write takes only `bytes` bytes (clamped to at least 1 and fewer than asked) and
    /// succeeds. Applies to `write`.
    ShortWrite {
        /// Bytes taken.
        bytes: usize,
    },
    /// The write takes `bytes` bytes (maybe none) and fails with ENOSPC. Applies to `write`.
    NoSpace {
        /// Bytes taken before the failure.
        bytes: usize,
    },
}

impl Fault {
    /// Whether the fault means anything for `op`; a planned fault that does not is skipped.
    #[must_use]
    pub fn applies_to(&self, op: StorageOp) -> bool {
        match self {
            Fault::Crash { .. } => true,
            Fault::SyncError => matches!(op, StorageOp::Sync | StorageOp::SyncDir),
            Fault::ShortWrite { .. } | Fault::NoSpace { .. } => op == StorageOp::Write,
        }
    }
}

/// Per-million chances of each random fault, drawn once per applicable operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultRates {
    /// Chance of a crash at any mutating operation.
    pub crash_per_million: u32,
    /// Chance that an fsync fails.
    pub sync_error_per_million: u32,
    /// Chance that a write is short.
    pub short_write_per_million: u32,
    /// Chance that a write fails with ENOSPC.
    pub no_space_per_million: u32,
}

/// When and which faults fire.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    explicit: BTreeMap<u64, Fault>,
    random: Option<(SplitMix64, FaultRates)>,
}

impl FaultPlan {
    /// No faults.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Adds `fault` at operation `op_index`.
    #[must_use]
    pub fn at(mut self, op_index: u64, fault: Fault) -> Self {
        self.explicit.insert(op_index, fault);
        self
    }

    /// Random faults at `rates`, drawn from `seed`.
    #[must_use]
    pub fn seeded(seed: u64, rates: FaultRates) -> Self {
        Self { explicit: BTreeMap::new(), random: Some((SplitMix64::new(seed), rates)) }
    }

    /// The fault (if any) for operation `op_index`, an `op` carrying `data_len` bytes.
    pub(crate) fn next(&mut self, op_index: u64, op: StorageOp, data_len: usize) -> Option<Fault> {
        if let Some(fault) = self.explicit.get(&op_index).copied().filter(|f| f.applies_to(op)) {
            return Some(fault);
        }
        let (rng, rates) = self.random.as_mut()?;
        if rng.chance(rates.crash_per_million) {
            return Some(Fault::Crash { torn_bytes: rng.below_usize(data_len + 1) });
        }
        match op {
            StorageOp::Sync | StorageOp::SyncDir if rng.chance(rates.sync_error_per_million) => Some(Fault::SyncError),
            StorageOp::Write if data_len >= 2 && rng.chance(rates.short_write_per_million) => {
                Some(Fault::ShortWrite { bytes: 1 + rng.below_usize(data_len - 1) })
            }
            StorageOp::Write if rng.chance(rates.no_space_per_million) => {
                Some(Fault::NoSpace { bytes: rng.below_usize(data_len + 1) })
            }
            _ => None,
        }
    }
}

/// A fault that fired: the log a failing test prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredFault {
    /// Index of the operation.
    pub op_index: u64,
    /// The operation.
    pub op: StorageOp,
    /// Its path.
    pub path: String,
    /// The fault.
    pub fault: Fault,
}

/// What survives a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// The process dies, the operating system lives on: everything written survives, synced or
    /// not, and so do the page cache's clean-but-lost pages of an earlier failed fsync.
    Process,
    /// Power loss, pessimistic: only fsync'd data and directory changes followed by a directory
    /// fsync survive.
    PowerLoss,
    /// Power loss, seeded: each file keeps its fsync'd bytes plus a random prefix of what was
    /// appended since, possibly followed by zero bytes (the size reached the disk, the data did
    /// not); a file cut or rewritten since its last fsync comes back as either version; a random
    /// prefix of the unsynced directory changes survives, in order.
    PowerLossTorn {
        /// Seed of the choices.
        seed: u64,
    },
}

/// A small, fast, seedable generator (SplitMix64): deterministic and dependency-free.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        let wide = u128::from(self.next_u64()) * u128::from(n);
        u64::try_from(wide >> 64).expect("the high half of a u64 product fits a u64")
    }

    pub(crate) fn below_usize(&mut self, n: usize) -> usize {
        let n = u64::try_from(n).expect("usize fits u64");
        usize::try_from(self.below(n)).expect("below n fits usize")
    }

    pub(crate) fn chance(&mut self, per_million: u32) -> bool {
        per_million > 0 && self.below(1_000_000) < u64::from(per_million)
    }

    pub(crate) fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
}
