//! The real storage: a directory on a local file system, through `std::fs`.
//!
//! Files are written through append-mode handles that stay open until the file is synced, so an
//! fsync always goes through the descriptor that did the writes: on Linux a write-back error is
//! reported to descriptors open when it happened, and one opened later may never see it. At most
//! [`OPEN_FILES_MAX`] handles are kept; only handles without unsynced writes are ever closed.
//! `sync` is `fdatasync` (`File::sync_data`), which also persists the file size an append changed;
//! `sync_dir` opens the directory and fsyncs it. [`FileStorage::open`] creates a missing root
//! but does not fsync its parent: create the journal directory durably at deployment.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{Storage, StorageError, StorageErrorKind, StorageOp, check_path};
use crate::limits::OPEN_FILES_MAX;

/// A journal directory on the local file system.
#[derive(Debug)]
pub struct FileStorage {
    root: PathBuf,
    handles: BTreeMap<String, Handle>,
    /// False only for [`FileStorage::open_without_fsync`].
    fsync: bool,
}

#[derive(Debug)]
struct Handle {
    file: File,
    /// Written since the last successful sync.
    dirty: bool,
}

impl FileStorage {
    /// Storage rooted at `root`, which is created if missing.
    ///
    /// # Errors
    /// If the directory can't be created.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let root = root.into();
        fs::create_dir_all(&root)
            .map_err(|e| StorageError::from_io(StorageOp::CreateDir, &root.display().to_string(), &e))?;
        Ok(Self { root, handles: BTreeMap::new(), fsync: true })
    }

    /// **Not durable.** Like [`FileStorage::open`], but `sync` and `sync_dir` return at once
    /// without asking the kernel to flush anything. For benchmarks that measure the journal
    /// without the disk's flush latency, and never for a journal whose records are acknowledged.
    ///
    /// # Errors
    /// If the directory can't be created.
    pub fn open_without_fsync(root: impl Into<PathBuf>) -> Result<Self, StorageError> {
        Ok(Self { fsync: false, ..Self::open(root)? })
    }

    /// The root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn full(&self, op: StorageOp, path: &str, allow_root: bool) -> Result<PathBuf, StorageError> {
        check_path(op, path, allow_root)?;
        Ok(if path.is_empty() { self.root.clone() } else { self.root.join(path) })
    }

    /// Closes a handle without unsynced writes if the cache is full.
    fn make_room(&mut self, op: StorageOp, path: &str) -> Result<(), StorageError> {
        if self.handles.len() < OPEN_FILES_MAX || self.handles.contains_key(path) {
            return Ok(());
        }
        let clean = self.handles.iter().find(|(_, h)| !h.dirty).map(|(name, _)| name.clone());
        let Some(clean) = clean else {
            return Err(StorageError::new(op, path, StorageErrorKind::TooManyOpenFiles));
        };
        self.handles.remove(&clean);
        Ok(())
    }

    /// The append handle of `path`, opened (and the cache trimmed) if needed.
    fn handle(&mut self, op: StorageOp, path: &str) -> Result<&mut Handle, StorageError> {
        if !self.handles.contains_key(path) {
            let full = self.full(op, path, false)?;
            self.make_room(op, path)?;
            let file = OpenOptions::new().append(true).open(&full).map_err(|e| StorageError::from_io(op, path, &e))?;
            self.handles.insert(path.to_owned(), Handle { file, dirty: false });
        }
        Ok(self.handles.get_mut(path).expect("inserted above"))
    }
}

impl Storage for FileStorage {
    fn create_dir(&mut self, dir: &str) -> Result<(), StorageError> {
        let full = self.full(StorageOp::CreateDir, dir, true)?;
        fs::create_dir_all(full).map_err(|e| StorageError::from_io(StorageOp::CreateDir, dir, &e))
    }

    fn create(&mut self, path: &str) -> Result<(), StorageError> {
        let full = self.full(StorageOp::Create, path, false)?;
        let op = StorageOp::Create;
        self.make_room(op, path)?;
        let file =
            OpenOptions::new().append(true).create(true).open(full).map_err(|e| StorageError::from_io(op, path, &e))?;
        file.set_len(0).map_err(|e| StorageError::from_io(op, path, &e))?;
        // The emptying is itself an unsynced change: keep the handle until a sync covers it.
        self.handles.insert(path.to_owned(), Handle { file, dirty: true });
        Ok(())
    }

    fn write(&mut self, path: &str, data: &[u8]) -> Result<usize, StorageError> {
        let handle = self.handle(StorageOp::Write, path)?;
        handle.dirty = true;
        // A signal may interrupt a write before it takes any byte; that is not a failure.
        for _ in 0..16 {
            match handle.file.write(data) {
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Ok(n) => return Ok(n),
                Err(e) => return Err(StorageError::from_io(StorageOp::Write, path, &e)),
            }
        }
        Err(StorageError::new(
            StorageOp::Write,
            path,
            StorageErrorKind::Io { kind: ErrorKind::Interrupted, message: "interrupted 16 times".into() },
        ))
    }

    fn sync(&mut self, path: &str) -> Result<(), StorageError> {
        let fsync = self.fsync;
        let handle = self.handle(StorageOp::Sync, path)?;
        if fsync {
            handle.file.sync_data().map_err(|e| StorageError::from_io(StorageOp::Sync, path, &e))?;
        }
        handle.dirty = false;
        Ok(())
    }

    fn sync_dir(&mut self, dir: &str) -> Result<(), StorageError> {
        let full = self.full(StorageOp::SyncDir, dir, true)?;
        if !self.fsync {
            return Ok(());
        }
        let file = File::open(full).map_err(|e| StorageError::from_io(StorageOp::SyncDir, dir, &e))?;
        file.sync_all().map_err(|e| StorageError::from_io(StorageOp::SyncDir, dir, &e))
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        let source = self.full(StorageOp::Rename, from, false)?;
        let target = self.full(StorageOp::Rename, to, false)?;
        fs::rename(source, target).map_err(|e| StorageError::from_io(StorageOp::Rename, from, &e))?;
        // The handle follows the file (same inode); whatever `to` was is gone.
        self.handles.remove(to);
        if let Some(handle) = self.handles.remove(from) {
            self.handles.insert(to.to_owned(), handle);
        }
        Ok(())
    }

    fn truncate(&mut self, path: &str, len: u64) -> Result<(), StorageError> {
        let handle = self.handle(StorageOp::Truncate, path)?;
        handle.dirty = true;
        handle.file.set_len(len).map_err(|e| StorageError::from_io(StorageOp::Truncate, path, &e))
    }

    fn read_into(&self, path: &str, buf: &mut Vec<u8>) -> Result<(), StorageError> {
        let full = self.full(StorageOp::Read, path, false)?;
        let io = |e: std::io::Error| StorageError::from_io(StorageOp::Read, path, &e);
        let mut file = File::open(full).map_err(io)?;
        let len = usize::try_from(file.metadata().map_err(io)?.len()).unwrap_or(usize::MAX);
        buf.clear();
        if buf.capacity() < len {
            // A fresh buffer rather than a grown one: growing copies the old allocation over
            // (64 MiB for a file 5 bytes longer than the one before), and the room to spare
            // lets the next files, a few bytes longer or shorter, fit without it. (The spare
            // pages cost nothing until written.)
            *buf = Vec::with_capacity(len.saturating_add(len / 8));
        }
        // `read_to_end` on a `File` reads into the spare capacity without zeroing it first.
        file.read_to_end(buf).map(drop).map_err(io)
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        let full = self.full(StorageOp::Read, path, false)?;
        let io = |e: std::io::Error| StorageError::from_io(StorageOp::Read, path, &e);
        let mut file = File::open(full).map_err(io)?;
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        loop {
            match file.read(buf) {
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                read => return read.map_err(io),
            }
        }
    }

    fn file_len(&self, path: &str) -> Result<u64, StorageError> {
        let full = self.full(StorageOp::Len, path, false)?;
        fs::metadata(full).map(|m| m.len()).map_err(|e| StorageError::from_io(StorageOp::Len, path, &e))
    }

    fn exists(&self, path: &str) -> Result<bool, StorageError> {
        let full = self.full(StorageOp::Exists, path, false)?;
        full.try_exists().map_err(|e| StorageError::from_io(StorageOp::Exists, path, &e))
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, StorageError> {
        let full = self.full(StorageOp::List, dir, true)?;
        let entries = match fs::read_dir(full) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StorageError::from_io(StorageOp::List, dir, &e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| StorageError::from_io(StorageOp::List, dir, &e))?;
            let is_file = entry.file_type().map_err(|e| StorageError::from_io(StorageOp::List, dir, &e))?.is_file();
            if let (true, Ok(name)) = (is_file, entry.file_name().into_string()) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }
}
