//! In-memory storage with a page-cache model and deterministic fault injection.
//!
//! Each file has its *live* bytes (what reads return: the page cache) and its *synced* bytes
//! (what the disk holds). `sync` copies live to synced. Names are the same: the *live*
//! namespace changes at once, the *durable* one when a directory fsync commits the pending
//! directory changes (creations, renames), which commit in order as in a journaling file system.
//! [`MemStorage::crash`] returns the storage as it comes back under a [`CrashMode`]; the old
//! handle stays crashed, as a dead process's would.
//!
//! `MemStorage` is a cheap handle (`Arc<Mutex<…>>`): a test keeps a clone to inspect, corrupt or
//! crash the storage that a writer owns.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::fault::SplitMix64;
use super::{
    CrashMode, Fault, FaultPlan, FiredFault, Storage, StorageError, StorageErrorKind, StorageOp, check_path, parent_dir,
};

/// Most fired faults kept in the log.
const FIRED_LOG_MAX: usize = 10_000;
/// Most operations kept in the operation log.
const OP_LOG_MAX: usize = 100_000;

/// One mutating operation, as the operation log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpRecord {
    /// Its index (what a [`FaultPlan`] names).
    pub index: u64,
    /// The operation.
    pub op: StorageOp,
    /// Its path.
    pub path: String,
    /// Bytes it carried (writes).
    pub bytes: usize,
}

/// A shared in-memory file system. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct MemStorage {
    inner: Arc<Mutex<MemState>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Dir,
    File(usize),
}

#[derive(Debug, Clone, Default)]
struct Inode {
    live: Vec<u8>,
    synced: Vec<u8>,
    /// Lowest offset changed since the last sync (`live.len()` when clean).
    dirty_from: usize,
}

#[derive(Debug, Clone)]
enum MetaOp {
    CreateDir(String),
    Create(String, usize),
    Rename { from: String, to: String },
}

#[derive(Debug, Default)]
struct MemState {
    inodes: Vec<Inode>,
    live: BTreeMap<String, Node>,
    durable: BTreeMap<String, Node>,
    pending: Vec<MetaOp>,
    plan: FaultPlan,
    ops: u64,
    crashed: bool,
    fired: Vec<FiredFault>,
    log: Vec<OpRecord>,
}

impl MemStorage {
    /// An empty storage without faults.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty storage that injects faults from `plan`.
    #[must_use]
    pub fn with_plan(plan: FaultPlan) -> Self {
        let storage = Self::new();
        storage.set_plan(plan);
        storage
    }

    /// Replaces the fault plan (operation indices keep counting from where they are).
    pub fn set_plan(&self, plan: FaultPlan) {
        self.state().plan = plan;
    }

    /// Mutating operations so far: the index the next one gets.
    #[must_use]
    pub fn op_count(&self) -> u64 {
        self.state().ops
    }

    /// The faults that fired so far (at most 10,000).
    #[must_use]
    pub fn fired_faults(&self) -> Vec<FiredFault> {
        self.state().fired.clone()
    }

    /// The mutating operations so far, in order (at most 100,000): a recorded workload whose
    /// indices a [`FaultPlan`] can name.
    #[must_use]
    pub fn op_log(&self) -> Vec<OpRecord> {
        self.state().log.clone()
    }

    /// Whether the storage has crashed.
    #[must_use]
    pub fn is_crashed(&self) -> bool {
        self.state().crashed
    }

    /// Crashes the storage now (if a fault has not already) and returns it restarted: the files
    /// as they come back under `mode`, no fault plan, operation count 0. This handle stays
    /// crashed.
    #[must_use]
    pub fn crash(&self, mode: CrashMode) -> MemStorage {
        let mut old = self.state();
        old.crashed = true;
        let restarted = match mode {
            CrashMode::Process => {
                drop(old);
                return self.fork();
            }
            CrashMode::PowerLoss => old.power_loss(None),
            CrashMode::PowerLossTorn { seed } => old.power_loss(Some(SplitMix64::new(seed))),
        };
        MemStorage { inner: Arc::new(Mutex::new(restarted)) }
    }

    /// An independent copy of the storage as it is now (files, names, unsynced changes), without
    /// a fault plan: to look at "what a restart would see" without disturbing this one.
    #[must_use]
    pub fn fork(&self) -> MemStorage {
        let state = self.state();
        let copy = MemState {
            inodes: state.inodes.clone(),
            live: state.live.clone(),
            durable: state.durable.clone(),
            pending: state.pending.clone(),
            ..MemState::default()
        };
        MemStorage { inner: Arc::new(Mutex::new(copy)) }
    }

    /// Every file path (live namespace), sorted.
    #[must_use]
    pub fn paths(&self) -> Vec<String> {
        let state = self.state();
        state.live.iter().filter(|(_, n)| matches!(n, Node::File(_))).map(|(p, _)| p.clone()).collect()
    }

    /// Damages `path` on the medium: `damage` edits its bytes, live and synced alike. This is
    /// corruption, not a write: no operation is counted and no fault fires.
    ///
    /// # Panics
    /// If `path` is not a file.
    pub fn corrupt(&self, path: &str, damage: impl Fn(&mut Vec<u8>)) {
        let mut state = self.state();
        let ino = state.file(path).unwrap_or_else(|| panic!("no file {path}"));
        let inode = &mut state.inodes[ino];
        damage(&mut inode.live);
        damage(&mut inode.synced);
        inode.dirty_from = inode.live.len();
    }

    /// Flips bit `bit` (counted from the file start) of `path` on the medium.
    ///
    /// # Panics
    /// If `path` is not a file or is shorter.
    pub fn flip_bit(&self, path: &str, bit: u64) {
        let byte = usize::try_from(bit / 8).expect("offset fits usize");
        let mask = 1u8 << (bit % 8);
        self.corrupt(path, |bytes| bytes[byte] ^= mask);
    }

    /// Loses `path` entirely (a file deleted behind the journal's back), live and durable.
    ///
    /// # Panics
    /// If `path` is not a file.
    pub fn remove(&self, path: &str) {
        let mut state = self.state();
        assert!(state.file(path).is_some(), "no file {path}");
        state.live.remove(path);
        state.durable.remove(path);
    }

    /// Places a durable file with `bytes` at `path` (creating its directories), as if it had
    /// been written and synced long ago.
    pub fn put(&self, path: &str, bytes: &[u8]) {
        let mut state = self.state();
        let mut dir = parent_dir(path);
        while !dir.is_empty() {
            state.live.insert(dir.to_owned(), Node::Dir);
            state.durable.insert(dir.to_owned(), Node::Dir);
            dir = parent_dir(dir);
        }
        let ino = state.inodes.len();
        state.inodes.push(Inode { live: bytes.to_vec(), synced: bytes.to_vec(), dirty_from: bytes.len() });
        state.live.insert(path.to_owned(), Node::File(ino));
        state.durable.insert(path.to_owned(), Node::File(ino));
    }

    fn state(&self) -> MutexGuard<'_, MemState> {
        // A panic while the lock was held can only come from a test assertion; the state is
        // still consistent (every operation checks before it mutates).
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl MemState {
    fn file(&self, path: &str) -> Option<usize> {
        match self.live.get(path) {
            Some(Node::File(ino)) => Some(*ino),
            _ => None,
        }
    }

    fn dir_exists(&self, dir: &str) -> bool {
        dir.is_empty() || self.live.get(dir) == Some(&Node::Dir)
    }

    fn check_alive(&self, op: StorageOp, path: &str) -> Result<(), StorageError> {
        if self.crashed { Err(StorageError::new(op, path, StorageErrorKind::Crashed)) } else { Ok(()) }
    }

    /// Counts a mutating operation and draws its fault. A crash takes effect here.
    fn begin(&mut self, op: StorageOp, path: &str, data_len: usize) -> Option<Fault> {
        let index = self.ops;
        self.ops += 1;
        if self.log.len() < OP_LOG_MAX {
            self.log.push(OpRecord { index, op, path: path.to_owned(), bytes: data_len });
        }
        let fault = self.plan.next(index, op, data_len)?;
        if self.fired.len() < FIRED_LOG_MAX {
            self.fired.push(FiredFault { op_index: index, op, path: path.to_owned(), fault });
        }
        if matches!(fault, Fault::Crash { .. }) {
            self.crashed = true;
        }
        Some(fault)
    }

    fn file_or_not_found(&self, op: StorageOp, path: &str) -> Result<usize, StorageError> {
        self.file(path).ok_or_else(|| StorageError::new(op, path, StorageErrorKind::NotFound))
    }

    fn power_loss(&self, mut rng: Option<SplitMix64>) -> MemState {
        let mut durable = self.durable.clone();
        let kept = rng.as_mut().map_or(0, |rng| rng.below_usize(self.pending.len() + 1));
        for op in &self.pending[..kept] {
            match op {
                MetaOp::CreateDir(dir) => {
                    durable.insert(dir.clone(), Node::Dir);
                }
                MetaOp::Create(path, ino) => {
                    durable.insert(path.clone(), Node::File(*ino));
                }
                MetaOp::Rename { from, to } => {
                    if let Some(node) = durable.remove(from) {
                        durable.insert(to.clone(), node);
                    }
                }
            }
        }
        let inodes = self.inodes.iter().map(|inode| survive(inode, rng.as_mut())).collect();
        MemState { inodes, live: durable.clone(), durable, ..MemState::default() }
    }
}

/// What of one file survives a power loss.
fn survive(inode: &Inode, rng: Option<&mut SplitMix64>) -> Inode {
    let content = match rng {
        None => inode.synced.clone(),
        Some(rng) => {
            let appended_only = inode.dirty_from >= inode.synced.len() && inode.live.len() >= inode.synced.len();
            if appended_only {
                let extra = &inode.live[inode.synced.len()..];
                let keep = rng.below_usize(extra.len() + 1);
                let mut content = inode.synced.clone();
                content.extend_from_slice(&extra[..keep]);
                if keep < extra.len() && rng.coin() {
                    let zeros = 1 + rng.below_usize(extra.len() - keep);
                    content.resize(content.len() + zeros, 0);
                }
                content
            } else if rng.coin() {
                inode.live.clone()
            } else {
                inode.synced.clone()
            }
        }
    };
    Inode { dirty_from: content.len(), live: content.clone(), synced: content }
}

impl Storage for MemStorage {
    fn create_dir(&mut self, dir: &str) -> Result<(), StorageError> {
        let op = StorageOp::CreateDir;
        check_path(op, dir, true)?;
        let mut state = self.state();
        state.check_alive(op, dir)?;
        if state.begin(op, dir, 0).is_some() {
            return Err(StorageError::new(op, dir, StorageErrorKind::Crashed));
        }
        let mut missing = Vec::new();
        let mut at = dir;
        while !at.is_empty() {
            match state.live.get(at) {
                Some(Node::Dir) => break,
                Some(Node::File(_)) => {
                    let kind =
                        StorageErrorKind::Io { kind: std::io::ErrorKind::AlreadyExists, message: "a file".into() };
                    return Err(StorageError::new(op, dir, kind));
                }
                None => missing.push(at.to_owned()),
            }
            at = parent_dir(at);
        }
        for dir in missing.into_iter().rev() {
            state.live.insert(dir.clone(), Node::Dir);
            state.pending.push(MetaOp::CreateDir(dir));
        }
        Ok(())
    }

    fn create(&mut self, path: &str) -> Result<(), StorageError> {
        let op = StorageOp::Create;
        check_path(op, path, false)?;
        let mut state = self.state();
        state.check_alive(op, path)?;
        if !state.dir_exists(parent_dir(path)) {
            return Err(StorageError::new(op, path, StorageErrorKind::NotFound));
        }
        if state.begin(op, path, 0).is_some() {
            return Err(StorageError::new(op, path, StorageErrorKind::Crashed));
        }
        if let Some(ino) = state.file(path) {
            let inode = &mut state.inodes[ino];
            inode.live.clear();
            inode.dirty_from = 0;
        } else {
            let ino = state.inodes.len();
            state.inodes.push(Inode::default());
            state.live.insert(path.to_owned(), Node::File(ino));
            state.pending.push(MetaOp::Create(path.to_owned(), ino));
        }
        Ok(())
    }

    fn write(&mut self, path: &str, data: &[u8]) -> Result<usize, StorageError> {
        let op = StorageOp::Write;
        check_path(op, path, false)?;
        let mut state = self.state();
        state.check_alive(op, path)?;
        let ino = state.file_or_not_found(op, path)?;
        let fault = state.begin(op, path, data.len());
        let (taken, result) = match fault {
            None => (data.len(), Ok(data.len())),
            Some(Fault::ShortWrite { bytes }) => {
                let taken = bytes.clamp(1, data.len().saturating_sub(1).max(1)).min(data.len());
                (taken, Ok(taken))
            }
            Some(Fault::NoSpace { bytes }) => {
                (bytes.min(data.len()), Err(StorageError::new(op, path, StorageErrorKind::NoSpace)))
            }
            Some(Fault::Crash { torn_bytes }) => {
                (torn_bytes.min(data.len()), Err(StorageError::new(op, path, StorageErrorKind::Crashed)))
            }
            Some(Fault::SyncError) => unreachable!("a sync fault never applies to a write"),
        };
        state.inodes[ino].live.extend_from_slice(&data[..taken]);
        result
    }

    fn sync(&mut self, path: &str) -> Result<(), StorageError> {
        let op = StorageOp::Sync;
        check_path(op, path, false)?;
        let mut state = self.state();
        state.check_alive(op, path)?;
        let ino = state.file_or_not_found(op, path)?;
        let fault = state.begin(op, path, 0);
        let inode = &mut state.inodes[ino];
        match fault {
            Some(Fault::Crash { .. }) => return Err(StorageError::new(op, path, StorageErrorKind::Crashed)),
            Some(Fault::SyncError) => {
                // fsyncgate: the dirty pages are dropped from write-back and marked clean. The
                // disk keeps zeros where they were; reads still see them until a restart.
                let dirty_from = inode.dirty_from.min(inode.live.len());
                inode.synced = inode.live[..dirty_from].to_vec();
                inode.synced.resize(inode.live.len(), 0);
                inode.dirty_from = inode.live.len();
                let kind = StorageErrorKind::Io { kind: std::io::ErrorKind::Other, message: "EIO (injected)".into() };
                return Err(StorageError::new(op, path, kind));
            }
            _ => {}
        }
        let keep = inode.dirty_from.min(inode.synced.len()).min(inode.live.len());
        inode.synced.truncate(keep);
        inode.synced.extend_from_slice(&inode.live[keep..]);
        inode.dirty_from = inode.live.len();
        Ok(())
    }

    fn sync_dir(&mut self, dir: &str) -> Result<(), StorageError> {
        let op = StorageOp::SyncDir;
        check_path(op, dir, true)?;
        let mut state = self.state();
        state.check_alive(op, dir)?;
        if !state.dir_exists(dir) {
            return Err(StorageError::new(op, dir, StorageErrorKind::NotFound));
        }
        match state.begin(op, dir, 0) {
            Some(Fault::Crash { .. }) => Err(StorageError::new(op, dir, StorageErrorKind::Crashed)),
            Some(_) => {
                let kind = StorageErrorKind::Io { kind: std::io::ErrorKind::Other, message: "EIO (injected)".into() };
                Err(StorageError::new(op, dir, kind))
            }
            None => {
                // A journaling file system commits directory changes in order, all at once.
                let pending = std::mem::take(&mut state.pending);
                for meta in pending {
                    match meta {
                        MetaOp::CreateDir(dir) => {
                            state.durable.insert(dir, Node::Dir);
                        }
                        MetaOp::Create(path, ino) => {
                            state.durable.insert(path, Node::File(ino));
                        }
                        MetaOp::Rename { from, to } => {
                            if let Some(node) = state.durable.remove(&from) {
                                state.durable.insert(to, node);
                            }
                        }
                    }
                }
                Ok(())
            }
        }
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        let op = StorageOp::Rename;
        check_path(op, from, false)?;
        check_path(op, to, false)?;
        let mut state = self.state();
        state.check_alive(op, from)?;
        let ino = state.file_or_not_found(op, from)?;
        if !state.dir_exists(parent_dir(to)) || state.live.get(to) == Some(&Node::Dir) {
            return Err(StorageError::new(op, to, StorageErrorKind::NotFound));
        }
        if state.begin(op, from, 0).is_some() {
            return Err(StorageError::new(op, from, StorageErrorKind::Crashed));
        }
        state.live.remove(from);
        state.live.insert(to.to_owned(), Node::File(ino));
        state.pending.push(MetaOp::Rename { from: from.to_owned(), to: to.to_owned() });
        Ok(())
    }

    fn truncate(&mut self, path: &str, len: u64) -> Result<(), StorageError> {
        let op = StorageOp::Truncate;
        check_path(op, path, false)?;
        let mut state = self.state();
        state.check_alive(op, path)?;
        let ino = state.file_or_not_found(op, path)?;
        if state.begin(op, path, 0).is_some() {
            return Err(StorageError::new(op, path, StorageErrorKind::Crashed));
        }
        let len = usize::try_from(len).map_err(|_| StorageError::new(op, path, StorageErrorKind::NoSpace))?;
        let inode = &mut state.inodes[ino];
        inode.live.resize(len, 0);
        inode.dirty_from = inode.dirty_from.min(len);
        Ok(())
    }

    fn read_into(&self, path: &str, buf: &mut Vec<u8>) -> Result<(), StorageError> {
        let op = StorageOp::Read;
        check_path(op, path, false)?;
        let state = self.state();
        state.check_alive(op, path)?;
        let ino = state.file_or_not_found(op, path)?;
        buf.clear();
        buf.extend_from_slice(&state.inodes[ino].live);
        Ok(())
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        let op = StorageOp::Read;
        check_path(op, path, false)?;
        let state = self.state();
        state.check_alive(op, path)?;
        let ino = state.file_or_not_found(op, path)?;
        let live = &state.inodes[ino].live;
        let rest = usize::try_from(offset).ok().and_then(|at| live.get(at..)).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    fn file_len(&self, path: &str) -> Result<u64, StorageError> {
        let op = StorageOp::Len;
        check_path(op, path, false)?;
        let state = self.state();
        state.check_alive(op, path)?;
        let ino = state.file_or_not_found(op, path)?;
        Ok(state.inodes[ino].live.len() as u64)
    }

    fn exists(&self, path: &str) -> Result<bool, StorageError> {
        let op = StorageOp::Exists;
        check_path(op, path, false)?;
        let state = self.state();
        state.check_alive(op, path)?;
        Ok(state.live.contains_key(path))
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, StorageError> {
        let op = StorageOp::List;
        check_path(op, dir, true)?;
        let state = self.state();
        state.check_alive(op, dir)?;
        // BTreeMap order is path order, so names come out sorted.
        Ok(state
            .live
            .iter()
            .filter(|(path, node)| matches!(node, Node::File(_)) && parent_dir(path) == dir)
            .map(|(path, _)| path.rsplit('/').next().unwrap_or(path).to_owned())
            .collect())
    }
}
