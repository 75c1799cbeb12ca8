//! Specification tests of the node: the codecs, the events digest, engine snapshots through
//! bytes, the node's output commit and recovery, crashes through the engine, verification and
//! proofs. One test binary (modules below) keeps link time down.

mod arb;
mod codec;
mod crash;
mod digest;
mod node;
mod snapshots;
mod support;
mod verify;
