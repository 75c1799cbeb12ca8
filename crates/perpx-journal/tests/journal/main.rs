//! Specification tests of the journal: crashes, corruption, faults, snapshots, proofs, format.
//! One test binary (modules below) keeps link time down.

mod corruption;
mod crash;
mod faults;
mod files;
mod format;
mod proofs;
mod rewrite;
mod snapshots;
mod support;
mod writer;
