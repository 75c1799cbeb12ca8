//! Storage: the few file-system operations the journal needs, behind one trait.
//!
//! [`FileStorage`] is the real one (std::fs); [`MemStorage`] keeps files in memory, models the
//! page cache (what is not fsync'd may be lost or half written at a crash) and injects faults
//! from a [`FaultPlan`]. The journal code runs unchanged over both, so every crash and fault
//! test exercises the code that runs in production.
//!
//! Paths are relative to the storage root, `/`-separated, made of `A–Z a–z 0–9 . _ -`
//! components (never `.` or `..`); `""` is the root directory. There is no delete: segments are
//! archived by [`Storage::rename`], never removed, and a leftover temporary file is reused by
//! [`Storage::create`], which empties it.
//!
//! Durability contract, as on POSIX: data written to a file is durable after [`Storage::sync`]
//! of that file; a created or renamed name is durable after [`Storage::sync_dir`] of its
//! directory. A failed sync leaves the file in an unknown state (see the crate docs on
//! "fsyncgate"): the journal never retries one.

mod fault;
mod file;
mod mem;

pub use fault::{CrashMode, Fault, FaultPlan, FaultRates, FiredFault};
pub use file::FileStorage;
pub use mem::{MemStorage, OpRecord};

/// The operations of [`Storage`], named in errors and fault logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum StorageOp {
    /// [`Storage::create_dir`].
    #[error("create_dir")]
    CreateDir,
    /// [`Storage::create`].
    #[error("create")]
    Create,
    /// [`Storage::write`].
    #[error("write")]
    Write,
    /// [`Storage::sync`].
    #[error("fsync")]
    Sync,
    /// [`Storage::sync_dir`].
    #[error("fsync of directory")]
    SyncDir,
    /// [`Storage::rename`].
    #[error("rename")]
    Rename,
    /// [`Storage::truncate`].
    #[error("truncate")]
    Truncate,
    /// [`Storage::read`].
    #[error("read")]
    Read,
    /// [`Storage::file_len`].
    #[error("stat")]
    Len,
    /// [`Storage::exists`].
    #[error("exists")]
    Exists,
    /// [`Storage::list`].
    #[error("list")]
    List,
}

/// What went wrong in a storage operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageErrorKind {
    /// The file or directory does not exist.
    #[error("not found")]
    NotFound,
    /// The device is full (ENOSPC).
    #[error("no space left on device")]
    NoSpace,
    /// The (simulated) machine crashed; nothing works until it restarts.
    #[error("crashed")]
    Crashed,
    /// A write accepted no bytes at all.
    #[error("write accepted zero bytes")]
    WriteZero,
    /// The path breaks the path rules (see the module docs).
    #[error("invalid path")]
    InvalidPath,
    /// Too many files have unsynced writes to keep a handle for each (see `OPEN_FILES_MAX`).
    #[error("too many open files with unsynced writes")]
    TooManyOpenFiles,
    /// An injected fault or an operating-system error (EIO and the like).
    #[error("{kind:?}: {message}")]
    Io {
        /// The `std::io::ErrorKind`.
        kind: std::io::ErrorKind,
        /// The error's text.
        message: String,
    },
}

/// A failed storage operation: which, on what, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{op} {path:?} failed: {kind}")]
pub struct StorageError {
    /// The operation.
    pub op: StorageOp,
    /// The path it was applied to.
    pub path: String,
    /// Why it failed.
    pub kind: StorageErrorKind,
}

impl StorageError {
    /// An error of `op` on `path`.
    #[must_use]
    pub fn new(op: StorageOp, path: &str, kind: StorageErrorKind) -> Self {
        Self { op, path: path.to_owned(), kind }
    }

    /// From an operating-system error.
    #[must_use]
    pub fn from_io(op: StorageOp, path: &str, err: &std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => StorageErrorKind::NotFound,
            std::io::ErrorKind::StorageFull => StorageErrorKind::NoSpace,
            std::io::ErrorKind::WriteZero => StorageErrorKind::WriteZero,
            kind => StorageErrorKind::Io { kind, message: err.to_string() },
        };
        Self::new(op, path, kind)
    }
}

/// The file-system operations the journal uses. See the module docs for the path rules and
/// the durability contract.
pub trait Storage {
    /// Creates directory `dir` (and its parents); succeeds if it exists.
    ///
    /// # Errors
    /// On an I/O failure.
    fn create_dir(&mut self, dir: &str) -> Result<(), StorageError>;

    /// Creates `path` empty, or empties it if it exists.
    ///
    /// # Errors
    /// On an I/O failure.
    fn create(&mut self, path: &str) -> Result<(), StorageError>;

    /// Appends `data` at the end of `path`; returns how many bytes were taken, which may be
    /// fewer than `data.len()` (a short write) but is never 0 for non-empty data.
    ///
    /// # Errors
    /// On an I/O failure (ENOSPC included); some prefix of `data` may have been written.
    fn write(&mut self, path: &str, data: &[u8]) -> Result<usize, StorageError>;

    /// Makes the contents of `path` durable (fdatasync).
    ///
    /// # Errors
    /// On an I/O failure; the unsynced data of the file is then in an unknown state.
    fn sync(&mut self, path: &str) -> Result<(), StorageError>;

    /// Makes the names in directory `dir` durable (fsync of the directory).
    ///
    /// # Errors
    /// On an I/O failure.
    fn sync_dir(&mut self, dir: &str) -> Result<(), StorageError>;

    /// Renames `from` to `to` atomically, replacing `to` if it exists.
    ///
    /// # Errors
    /// On an I/O failure.
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError>;

    /// Cuts `path` to `len` bytes.
    ///
    /// # Errors
    /// On an I/O failure.
    fn truncate(&mut self, path: &str, len: u64) -> Result<(), StorageError>;

    /// The whole contents of `path`.
    ///
    /// # Errors
    /// On an I/O failure or if the file does not exist.
    fn read(&self, path: &str) -> Result<Vec<u8>, StorageError> {
        let mut bytes = Vec::new();
        self.read_into(path, &mut bytes)?;
        Ok(bytes)
    }

    /// The whole contents of `path`, in `buf` (its old contents replaced).
    ///
    /// For reads of one file after another into the same buffer: a buffer kept across the reads
    /// keeps its memory, where a fresh one for each 64-MiB file has the kernel fault in and zero
    /// 64 MiB of new pages every time (4.2 % of a recovery's `perf` samples when recovery read
    /// every segment whole; docs/PERFORMANCE.md, "Session 17"). A walk of the chain now reads
    /// only the last segment whole, and the others with [`Storage::read_at`].
    ///
    /// # Errors
    /// On an I/O failure or if the file does not exist; `buf`'s contents are then unspecified.
    fn read_into(&self, path: &str, buf: &mut Vec<u8>) -> Result<(), StorageError>;

    /// Reads `path` from byte `offset` into `buf`; returns how many bytes were read: at least
    /// one unless `buf` is empty or `offset` is at or past the end of the file (0 then), and
    /// maybe fewer than asked (call again for the rest).
    ///
    /// For a file read a part at a time, as a walk of the chain reads the segments before the
    /// last (a mebibyte at a time).
    ///
    /// # Errors
    /// On an I/O failure or if the file does not exist.
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError>;

    /// The length of `path` in bytes.
    ///
    /// # Errors
    /// On an I/O failure or if the file does not exist.
    fn file_len(&self, path: &str) -> Result<u64, StorageError>;

    /// Whether `path` exists.
    ///
    /// # Errors
    /// On an I/O failure.
    fn exists(&self, path: &str) -> Result<bool, StorageError>;

    /// The names of the files (not directories) directly in `dir`, sorted; empty if `dir` does
    /// not exist.
    ///
    /// # Errors
    /// On an I/O failure.
    fn list(&self, dir: &str) -> Result<Vec<String>, StorageError>;
}

/// Writes all of `data`, looping over short writes. Each round takes at least one byte, so the
/// loop runs at most `data.len()` times.
///
/// # Errors
/// The first failing write (some prefix of `data` may be on the file).
pub fn write_all<S: Storage + ?Sized>(storage: &mut S, path: &str, data: &[u8]) -> Result<(), StorageError> {
    let mut done = 0;
    while done < data.len() {
        let n = storage.write(path, &data[done..])?;
        if n == 0 {
            return Err(StorageError::new(StorageOp::Write, path, StorageErrorKind::WriteZero));
        }
        done += n.min(data.len() - done);
    }
    Ok(())
}

/// Checks a path against the rules in the module docs. `""` (the root) is allowed only where
/// `allow_root`.
///
/// # Errors
/// `InvalidPath` when a rule is broken.
pub fn check_path(op: StorageOp, path: &str, allow_root: bool) -> Result<(), StorageError> {
    let invalid = || StorageError::new(op, path, StorageErrorKind::InvalidPath);
    if path.is_empty() {
        return if allow_root { Ok(()) } else { Err(invalid()) };
    }
    if path.len() > 255 {
        return Err(invalid());
    }
    for component in path.split('/') {
        let ok_chars = component.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if component.is_empty() || component == "." || component == ".." || !ok_chars {
            return Err(invalid());
        }
    }
    Ok(())
}

/// The directory part of a path (`""` for a file in the root).
#[must_use]
pub fn parent_dir(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// `dir/name`, or `name` in the root.
#[must_use]
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_owned() } else { format!("{dir}/{name}") }
}

#[cfg(test)]
mod tests;
