//! The engine thread: the one place commands are applied, in the order they arrive.
//!
//! Gateway tasks send jobs through a bounded queue; when it is full they answer 503 at once
//! rather than wait (the engine is never blocked by a slow client, and an accepted command is
//! never dropped). The thread takes a batch of jobs, stamps each command with the engine clock
//! (`max(wall clock, last stamp)`: time enters the engine only as command timestamps, and never
//! goes backwards), applies it and records it in the [`Store`] (the journal), makes the batch durable
//! with one sync (group commit), and only then answers (output commit). Reads are answered in
//! queue order, after the commands before them: a client reads its own writes.
//!
//! While the liquidation queue is non-empty the thread injects recorded `tick` commands until it
//! drains, between batches, so a cascade finishes without traffic.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use perpx_core::{Command, CommandKind, Engine, Event, EventKind, MarketId, Timestamp};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::stream::{BookTracker, DurableHead, HashHex, Published, PublishedEvent, Specs, refresh_specs};

/// Where commands are applied and made durable: the engine alone ([`Volatile`]) or the engine
/// on its journal ([`Journaled`], the `perpx-node` `Node`).
pub trait Store: Send {
    /// The engine, as applied so far (possibly ahead of what is durable).
    fn engine(&self) -> &Engine;
    /// Applies one command and records it; returns its events.
    ///
    /// # Errors
    /// The journal stopped (the command may have been applied, but it is never acknowledged).
    fn apply(&mut self, command: &Command) -> Result<Vec<Event>, String>;
    /// Makes every record so far durable; returns the durable head (sequence, hash).
    ///
    /// # Errors
    /// The storage failed: the server must stop (nothing after this point is acknowledged).
    fn sync(&mut self) -> Result<Option<(u64, perpx_journal::Hash)>, String>;
    /// The outputs recovery found durable but perhaps never published (published again at
    /// start: consumers drop what they already have by sequence number).
    fn take_redelivered(&mut self) -> Vec<(u64, Vec<Event>)> {
        Vec::new()
    }
}

/// No durability: state lives in memory only.
#[derive(Debug)]
pub struct Volatile(pub Engine);

impl Store for Volatile {
    fn engine(&self) -> &Engine {
        &self.0
    }
    fn apply(&mut self, command: &Command) -> Result<Vec<Event>, String> {
        Ok(self.0.apply(command))
    }
    fn sync(&mut self) -> Result<Option<(u64, perpx_journal::Hash)>, String> {
        Ok(None)
    }
}

/// The engine on its journal: every command is a record before anything it produced leaves.
#[derive(Debug)]
pub struct Journaled(pub perpx_node::Node<perpx_journal::FileStorage>);

impl Store for Journaled {
    fn engine(&self) -> &Engine {
        self.0.engine()
    }
    fn apply(&mut self, command: &Command) -> Result<Vec<Event>, String> {
        let (_, events) = self.0.enqueue_taking_events(command).map_err(|e| e.to_string())?;
        Ok(events)
    }
    fn take_redelivered(&mut self) -> Vec<(u64, Vec<Event>)> {
        self.0.take_published().into_iter().map(|p| (p.seq, p.events)).collect()
    }
    fn sync(&mut self) -> Result<Option<(u64, perpx_journal::Hash)>, String> {
        let head = self.0.flush().map_err(|e| e.to_string())?;
        // The events already left with the answers (taken at apply time); the outbox holds only
        // the released records' places.
        drop(self.0.take_published());
        Ok(Some((head.seq, head.hash)))
    }
}

/// A command's acknowledgement, sent only once it is durable.
#[derive(Debug, Clone)]
pub struct Ack {
    /// Its timestamp.
    pub ts: i64,
    /// The engine's rejection of the command itself, if it was rejected: (code, name, message).
    pub rejection: Option<(u16, &'static str, String)>,
    /// Its output as published: the events (in the JSON form of `docs/REPLAY.md`) and the
    /// durable head. One shared allocation for the answer and the channels, where an `Arc` per
    /// event was 6 % of the engine thread under load (docs/PERFORMANCE.md "Session 8").
    pub output: Arc<Published>,
}

impl Ack {
    /// Its sequence number.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.output.seq
    }

    /// The journal head that made it durable, when journaled.
    #[must_use]
    pub fn head(&self) -> Option<&DurableHead> {
        self.output.head.as_ref()
    }

    /// Its events, serialized as a JSON array.
    #[must_use]
    pub fn events(&self) -> crate::stream::EventsJson<'_> {
        crate::stream::EventsJson(&self.output.events)
    }
}

/// What an answer needs besides the publication: filled in at apply time, sent once durable.
struct AckHead {
    ts: i64,
    rejection: Option<(u16, &'static str, String)>,
}

/// A command refused before the engine saw it (it has no sequence number): code, name, message.
pub type Refusal = (u16, &'static str, String);

/// What to apply.
#[derive(Debug)]
pub enum Submission {
    /// A command in its JSON form (`{"type": ..., ...}`), decoded against the live engine.
    Json(Value),
    /// A command parsed on the caller's thread ([`Submission::parse`]), resolved (markets,
    /// scales) by [`Sequencer::submit`] against the copy of the market specifications, or on
    /// the engine thread against the live engine when the copy can't.
    Parsed(perpx_wire::command::ParsedCommand),
    /// A command already built (boxed: a market specification is large).
    Kind(Box<CommandKind>),
}

type ReadFn = Box<dyn FnOnce(&Engine) -> Value + Send>;

enum Job {
    Submit(Submission, oneshot::Sender<Result<Ack, Refusal>>),
    Read(ReadFn, oneshot::Sender<Value>),
}

/// Counters the metrics endpoint reads.
#[derive(Debug, Default)]
pub struct EngineStats {
    /// Jobs waiting in the queue.
    pub queue_depth: AtomicUsize,
    /// Commands applied.
    pub commands: AtomicU64,
    /// Commands the engine rejected, by code.
    pub rejects: Mutex<std::collections::BTreeMap<u16, u64>>,
    /// Ticks injected to drain the liquidation queue.
    pub liquidation_ticks: AtomicU64,
    /// Liquidations started.
    pub liquidations: AtomicU64,
    /// ADL trades.
    pub adl_trades: AtomicU64,
    /// The last sequence number applied.
    pub seq: AtomicU64,
    /// The journal's durable head, when journaled.
    pub durable_head: Mutex<Option<DurableHead>>,
    /// Group commits (one write and fsync per batch), their Σ and max duration in µs.
    pub syncs: AtomicU64,
    /// Σ of the sync durations (µs).
    pub sync_us_sum: AtomicU64,
    /// The longest sync (µs).
    pub sync_us_max: AtomicU64,
    /// Σ of the time spent applying batches (decoding, applying, journaling, publishing), µs:
    /// with `sync_us_sum`, how busy the engine thread is.
    pub apply_us_sum: AtomicU64,
}

/// Why a job could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// The queue is full: retry later.
    Full,
    /// The engine thread stopped.
    Stopped,
}

/// The handle gateway tasks use.
#[derive(Debug, Clone)]
pub struct Sequencer {
    tx: SyncSender<JobBox>,
    /// The engine's counters.
    pub stats: Arc<EngineStats>,
    /// Every command's output, once durable, one message per group commit (WebSocket channels
    /// subscribe here).
    pub published: tokio::sync::broadcast::Sender<PublishedBatch>,
    /// The engine thread's latest copy of the market specifications, for [`Sequencer::submit`].
    specs: Arc<RwLock<Specs>>,
}

struct JobBox(Job);

impl std::fmt::Debug for JobBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

fn wall_clock_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Sequencer {
    /// Starts the engine thread over `store` with a queue of `capacity` jobs. `before` runs
    /// before the thread starts and gets a subscription to the publications, so a consumer
    /// that must see every event (the history read model) misses none, not even the outputs
    /// the journal's recovery redelivers.
    pub fn start<T>(
        store: Box<dyn Store>,
        capacity: usize,
        before: impl FnOnce(tokio::sync::broadcast::Receiver<PublishedBatch>) -> T,
    ) -> (Self, std::thread::JoinHandle<()>, T) {
        let (tx, rx) = sync_channel(capacity);
        let stats = Arc::new(EngineStats::default());
        stats.seq.store(store.engine().seq(), Ordering::Relaxed);
        let s = Arc::clone(&stats);
        let (published, first) = tokio::sync::broadcast::channel(PUBLISH_CAPACITY);
        let t = before(first);
        let p = published.clone();
        let mut initial: Specs = Arc::new([]);
        refresh_specs(&mut initial, store.engine());
        let specs = Arc::new(RwLock::new(initial));
        let shared = Arc::clone(&specs);
        let handle = std::thread::Builder::new()
            .name("perpx-engine".into())
            .spawn(move || run(store, &rx, capacity, &s, &p, &shared))
            .expect("the engine thread starts");
        (Self { tx, stats, published, specs }, handle, t)
    }

    fn send(&self, job: Job) -> Result<(), QueueError> {
        self.stats.queue_depth.fetch_add(1, Ordering::Relaxed);
        self.tx.try_send(JobBox(job)).map_err(|e| {
            self.stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
            match e {
                TrySendError::Full(_) => QueueError::Full,
                TrySendError::Disconnected(_) => QueueError::Stopped,
            }
        })
    }

    /// Queues a command; the answer comes once it is applied and durable.
    ///
    /// # Errors
    /// The queue is full or the engine stopped.
    pub fn submit(&self, s: Submission) -> Result<oneshot::Receiver<Result<Ack, Refusal>>, QueueError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Submit(self.resolve_here(s), reply))?;
        Ok(rx)
    }

    /// Resolves a parsed command's market, prices and sizes here, on the caller's thread,
    /// against the engine thread's copy of the market specifications, so the engine thread
    /// receives it built. The result is the one the engine thread would reach: a command reads
    /// only markets' ids, ticks, lots and oracle source names, none of which ever change, and
    /// symbols are never reused. A command the copy can't resolve (a market created since, or
    /// a mistake) goes as it came, and the engine thread resolves or refuses it as before.
    ///
    /// Why: resolving on the engine thread was 7 % of its instructions (callgrind,
    /// docs/PERFORMANCE.md "Session 9").
    fn resolve_here(&self, s: Submission) -> Submission {
        let Submission::Parsed(p) = s else { return s };
        let specs = Arc::clone(&self.specs.read().expect("specs lock"));
        match p.clone().kind(&*specs) {
            Ok(kind) => Submission::Kind(Box::new(kind)),
            Err(_) => Submission::Parsed(p),
        }
    }

    /// Queues a read of the engine state, answered after the commands queued before it.
    ///
    /// # Errors
    /// The queue is full or the engine stopped.
    pub fn read(
        &self,
        f: impl FnOnce(&Engine) -> Value + Send + 'static,
    ) -> Result<oneshot::Receiver<Value>, QueueError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Read(Box::new(f), reply))?;
        Ok(rx)
    }
}

impl Submission {
    /// A command's JSON form parsed here, on the caller's thread: what the engine thread does
    /// for it is only the part that needs the engine. Refused as the engine thread would.
    ///
    /// # Errors
    /// The command's shape is wrong (the same code as from the engine thread).
    pub fn parse(command: Value) -> Result<Self, Refusal> {
        perpx_wire::command::parse_command(command).map(Self::Parsed).map_err(|r| refusal(&r))
    }
}

/// A decoding refusal: code, name, message.
fn refusal(r: &perpx_core::RejectReason) -> Refusal {
    (r.code(), r.name(), perpx_wire::event::reject_message(r, None))
}

/// The market a command names (to format its rejection's figures).
fn command_market(kind: &CommandKind) -> Option<MarketId> {
    match kind {
        CommandKind::PlaceOrder(o) => Some(o.market),
        CommandKind::PlaceStop(s) => Some(s.market),
        CommandKind::AmendOrder(a) => Some(a.market),
        CommandKind::CancelOrder { market, .. }
        | CommandKind::SetLeverage { market, .. }
        | CommandKind::SetMarginMode { market, .. }
        | CommandKind::AdjustIsolatedMargin { market, .. } => Some(*market),
        _ => None,
    }
}

/// What one group commit published: its commands' outputs, in order, as one broadcast
/// message. Why a batch and not one message a command: every subscribed connection's task is
/// woken for every message, so at 60 k commands/s four notice streams took 240 k wake-ups a
/// second and fell behind (docs/PERFORMANCE.md, "Session 9"); a group commit holds tens of
/// commands under load.
pub type PublishedBatch = Arc<[Arc<Published>]>;

/// Group commits' outputs kept for subscribers; one that falls further behind is cut off.
pub const PUBLISH_CAPACITY: usize = 1_024;

/// Applies one command: stamps, applies, records, and wraps its events for publication (encoded
/// later, by their first reader: [`PublishedEvent`]). The answer (and the publication) is
/// sent by the caller after the batch is durable.
fn apply(
    store: &mut dyn Store,
    stats: &EngineStats,
    clock: &mut i64,
    books: &mut BookTracker,
    specs: &mut Specs,
    kind: CommandKind,
) -> Result<(AckHead, Published), String> {
    *clock = wall_clock_ms().max(*clock);
    let command = Command { ts: Timestamp(*clock), kind };
    let events = store.apply(&command)?;
    let engine = store.engine();
    stats.commands.fetch_add(1, Ordering::Relaxed);
    stats.seq.store(engine.seq(), Ordering::Relaxed);
    let market = command_market(&command.kind);
    refresh_specs(specs, engine);
    let mut rejection = None;
    for e in &events {
        match &e.kind {
            EventKind::Rejected { reason, .. } if rejection.is_none() => {
                *stats.rejects.lock().expect("stats lock").entry(reason.code()).or_default() += 1;
                let m = market.and_then(|id| engine.market(id)).map(|m| &m.spec);
                rejection = Some((reason.code(), reason.name(), perpx_wire::event::reject_message(reason, m)));
            }
            EventKind::LiquidationStarted { .. } => {
                stats.liquidations.fetch_add(1, Ordering::Relaxed);
            }
            EventKind::Deleveraged { .. } => {
                stats.adl_trades.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
    let seq = engine.seq();
    let book = books.diffs(engine, seq, &events);
    let published = PublishedEvent::all(events, specs, market);
    // The head is known once the batch is durable (`run`).
    let publication = Published { seq, durable_at: std::time::Instant::now(), events: published, book, head: None };
    Ok((AckHead { ts: command.ts.0, rejection }, publication))
}

fn run(
    mut store: Box<dyn Store>,
    rx: &Receiver<JobBox>,
    batch_max: usize,
    stats: &EngineStats,
    publish: &tokio::sync::broadcast::Sender<PublishedBatch>,
    shared_specs: &RwLock<Specs>,
) {
    let mut clock = store.engine().now().0;
    let mut answers: Vec<Answer> = Vec::new();
    let mut publications: Vec<Published> = Vec::new();
    let mut outputs: Vec<Arc<Published>> = Vec::new();
    let mut books = BookTracker::default();
    // What recovery redelivers goes out first, in order.
    let mut specs: Specs = Arc::new([]);
    for (seq, events) in store.take_redelivered() {
        refresh_specs(&mut specs, store.engine());
        let events = PublishedEvent::all(events, &specs, None);
        drop(publish.send(Arc::new([Arc::new(Published {
            seq,
            durable_at: std::time::Instant::now(),
            events,
            book: Vec::new(),
            head: None,
        })])));
    }
    loop {
        // Block for work, unless the liquidation queue needs draining.
        let draining = store.engine().liquidation_queue().next().is_some();
        let first = if draining {
            match rx.recv_timeout(Duration::ZERO) {
                Ok(j) => Some(j),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(j) => Some(j),
                Err(_) => break,
            }
        };
        let busy_from = std::time::Instant::now();
        // Group commit: every job waiting now (at most a queue's worth) shares one fsync.
        let batch = first.into_iter().chain(std::iter::from_fn(|| rx.try_recv().ok())).take(batch_max.max(1));
        for JobBox(job) in batch {
            stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
            match job {
                Job::Submit(s, reply) => {
                    let kind = match s {
                        Submission::Kind(k) => Ok(*k),
                        Submission::Json(v) => perpx_wire::command::decode_command(v, Timestamp(clock), store.engine())
                            .map(|c| c.kind)
                            .map_err(|r| refusal(&r)),
                        Submission::Parsed(p) => {
                            p.resolve(Timestamp(clock), store.engine()).map(|c| c.kind).map_err(|r| refusal(&r))
                        }
                    };
                    match kind {
                        Ok(kind) => match apply(store.as_mut(), stats, &mut clock, &mut books, &mut specs, kind) {
                            Ok((head, p)) => {
                                answers.push(Answer::Ack(reply, head, publications.len()));
                                publications.push(p);
                            }
                            Err(e) => {
                                storage_failed(&e);
                            }
                        },
                        Err(refusal) => answers.push(Answer::Refused(reply, refusal)),
                    }
                }
                Job::Read(f, reply) => answers.push(Answer::Read(reply, f(store.engine()))),
            }
        }
        // Drain the liquidation queue a little on every round.
        for _ in 0..16 {
            if store.engine().liquidation_queue().next().is_none() {
                break;
            }
            stats.liquidation_ticks.fetch_add(1, Ordering::Relaxed);
            match apply(store.as_mut(), stats, &mut clock, &mut books, &mut specs, CommandKind::Tick) {
                Ok((_, p)) => publications.push(p),
                Err(e) => {
                    storage_failed(&e);
                }
            }
        }
        // Output commit: nothing is answered before it is durable.
        let started = std::time::Instant::now();
        let busy_us = u64::try_from(started.duration_since(busy_from).as_micros()).unwrap_or(u64::MAX);
        stats.apply_us_sum.fetch_add(busy_us, Ordering::Relaxed);
        let synced = store.sync();
        let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        stats.syncs.fetch_add(1, Ordering::Relaxed);
        stats.sync_us_sum.fetch_add(us, Ordering::Relaxed);
        stats.sync_us_max.fetch_max(us, Ordering::Relaxed);
        let head = match synced {
            Ok(head) => head.map(|(seq, hash)| DurableHead { seq, hash: HashHex::new(&hash) }),
            Err(e) => {
                storage_failed(&e);
            }
        };
        *stats.durable_head.lock().expect("stats lock") = head;
        let durable_at = std::time::Instant::now();
        outputs.extend(publications.drain(..).map(|mut p| {
            p.durable_at = durable_at;
            p.head = head;
            Arc::new(p)
        }));
        if !outputs.is_empty() {
            // No subscriber is not an error.
            drop(publish.send(PublishedBatch::from(outputs.as_slice())));
        }
        for a in answers.drain(..) {
            match a {
                Answer::Ack(reply, AckHead { ts, rejection }, i) => {
                    drop(reply.send(Ok(Ack { ts, rejection, output: Arc::clone(&outputs[i]) })));
                }
                Answer::Refused(reply, r) => drop(reply.send(Err(r))),
                Answer::Read(reply, v) => drop(reply.send(v)),
            }
        }
        outputs.clear();
        // A market was created: the callers' copy follows.
        if specs.len() != shared_specs.read().expect("specs lock").len() {
            *shared_specs.write().expect("specs lock") = Arc::clone(&specs);
        }
    }
    if let Err(e) = store.sync() {
        tracing::error!(error = %e, "final journal sync failed");
    }
}

/// The journal failed (an fsync may have lost the page cache): nothing after the durable point
/// is acknowledged, and the process exits so its supervisor restarts it from what is on disk —
/// an fsync is never retried (docs/JOURNAL.md).
fn storage_failed(e: &str) -> ! {
    tracing::error!(error = %e, "the journal failed; exiting without answering: restart recovers from disk");
    eprintln!("perpx: the journal failed ({e}); exiting so a restart recovers from what is on disk");
    std::process::exit(75);
}

/// An answer held until its batch is durable (an acknowledgement names its publication by index).
enum Answer {
    Ack(oneshot::Sender<Result<Ack, Refusal>>, AckHead, usize),
    Refused(oneshot::Sender<Result<Ack, Refusal>>, Refusal),
    Read(oneshot::Sender<Value>, Value),
}
