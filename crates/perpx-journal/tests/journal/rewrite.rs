//! Recovery's last step rewrites the last segment through a fresh copy (the torn tail cut, what
//! was read made durable). The copy holds the bytes the walk checked: the segment is read once,
//! so nothing read after the checks can reach the rewritten file.

use std::cell::Cell;

use perpx_journal::{Journal, MemStorage, Storage, StorageError, SyncPolicy, verify_chain};

use crate::support::{journal_with, segment_paths, small_config};

/// A storage whose reads of one file after the first return it with a byte flipped, as a file
/// changed between two reads (or a page cache that went wrong) would.
struct ChangingRereads {
    inner: MemStorage,
    path: String,
    reads: Cell<u32>,
}

impl ChangingRereads {
    fn note_read(&self, path: &str, buf: &mut [u8]) {
        if path == self.path {
            self.reads.set(self.reads.get() + 1);
            if self.reads.get() > 1 && !buf.is_empty() {
                buf[buf.len() / 2] ^= 0x40;
            }
        }
    }
}

impl Storage for ChangingRereads {
    fn create_dir(&mut self, dir: &str) -> Result<(), StorageError> {
        self.inner.create_dir(dir)
    }
    fn create(&mut self, path: &str) -> Result<(), StorageError> {
        self.inner.create(path)
    }
    fn write(&mut self, path: &str, data: &[u8]) -> Result<usize, StorageError> {
        self.inner.write(path, data)
    }
    fn sync(&mut self, path: &str) -> Result<(), StorageError> {
        self.inner.sync(path)
    }
    fn sync_dir(&mut self, dir: &str) -> Result<(), StorageError> {
        self.inner.sync_dir(dir)
    }
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        self.inner.rename(from, to)
    }
    fn truncate(&mut self, path: &str, len: u64) -> Result<(), StorageError> {
        self.inner.truncate(path, len)
    }
    fn read_into(&self, path: &str, buf: &mut Vec<u8>) -> Result<(), StorageError> {
        self.inner.read_into(path, buf)?;
        self.note_read(path, buf);
        Ok(())
    }
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        let n = self.inner.read_at(path, offset, buf)?;
        self.note_read(path, &mut buf[..n]);
        Ok(n)
    }
    fn file_len(&self, path: &str) -> Result<u64, StorageError> {
        self.inner.file_len(path)
    }
    fn exists(&self, path: &str) -> Result<bool, StorageError> {
        self.inner.exists(path)
    }
    fn list(&self, dir: &str) -> Result<Vec<String>, StorageError> {
        self.inner.list(dir)
    }
}

#[test]
fn recovery_rewrites_the_last_segment_with_the_bytes_it_checked_read_once() {
    let (storage, _) = journal_with(20);
    let last = segment_paths(&storage).pop().expect("a segment");
    let before = storage.read(&last).unwrap();
    // A torn tail too, so the rewrite has something to cut.
    storage.corrupt(&last, |b| b.extend_from_slice(&[0xAB; 7]));

    let changing = ChangingRereads { inner: storage.clone(), path: last.clone(), reads: Cell::new(0) };
    let recovery = Journal::open(changing, small_config(SyncPolicy::EveryBatch)).expect("the journal opens");
    assert_eq!(recovery.torn_tail.as_ref().map(|t| t.bytes_dropped), Some(7), "the torn tail is cut");
    let head = recovery.head;
    let reads = recovery.writer.into_storage().reads.get();
    assert_eq!(reads, 1, "recovery reads the last segment once");

    assert_eq!(storage.read(&last).unwrap(), before, "the rewritten segment is the checked bytes, tail cut");
    let summary = verify_chain(&storage, |_| {}).expect("the rewritten journal verifies");
    assert_eq!((summary.head, summary.torn_tail), (head, None));
}
