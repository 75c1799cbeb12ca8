//! Output commit: nothing a command produced is published before its record is durable.
//!
//! The caller holds each command's output (events, replies) under the command's [`Ticket`] and
//! releases what the durable sequence number has reached after every commit or tick. The gate is
//! bounded: when it is full, the caller must commit before it can hold more.

use std::collections::VecDeque;

use crate::writer::Ticket;

/// The gate is full; commit (and release) before holding more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("output gate full ({capacity} held outputs)")]
pub struct GateFull {
    /// The gate's capacity.
    pub capacity: usize,
}

/// Outputs waiting for their records to become durable, in ticket order.
#[derive(Debug, Clone)]
pub struct OutputGate<T> {
    held: VecDeque<(u64, T)>,
    capacity: usize,
}

impl<T> OutputGate<T> {
    /// A gate holding at most `capacity` outputs.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self { held: VecDeque::new(), capacity }
    }

    /// Holds `output` until `ticket` is durable.
    ///
    /// # Errors
    /// [`GateFull`] when `capacity` outputs are held.
    ///
    /// # Panics
    /// If `ticket` is older than one already held (tickets come in sequence order).
    pub fn hold(&mut self, ticket: Ticket, output: T) -> Result<(), GateFull> {
        if let Some((last, _)) = self.held.back() {
            assert!(ticket.seq >= *last, "tickets must be held in sequence order");
        }
        if self.held.len() >= self.capacity {
            return Err(GateFull { capacity: self.capacity });
        }
        self.held.push_back((ticket.seq, output));
        Ok(())
    }

    /// Releases, in order, every output whose record is at or before `durable_seq`.
    pub fn release(&mut self, durable_seq: u64) -> impl Iterator<Item = T> + '_ {
        let ready = self.held.iter().take_while(|(seq, _)| *seq <= durable_seq).count();
        self.held.drain(..ready).map(|(_, output)| output)
    }

    /// Outputs held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether nothing is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}
