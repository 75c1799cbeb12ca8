//! The private account streams of the bench accounts, and the latency of the notices on them.
//!
//! Every bench account (makers, takers, and the gap scenario's accounts) keeps one more
//! WebSocket, read-only: a signed `auth`, then `{"op": "subscribe", "channel": "account"}`. Its
//! reader thread stamps every notice with the [`Instant`] it arrived and keeps, per account, the
//! fills by trade id and the liquidation and ADL notices by sequence number. Nothing is matched
//! while the load runs: a fill notice can arrive before the order's own ack (the server pushes
//! it as soon as the batch is durable, before the answer leaves), so matching waits until both
//! sides are in.
//!
//! **How a fill notice is matched to its taker order, exactly.** Each taker order's ack lists
//! the command's events: the `order_accepted` that gives the order its id, then one `fill` per
//! trade with `trade_id`, `taker_order_id`, `maker_account` and `taker_account`. The sender
//! knows the order's **scheduled** send time, so every trade of the order becomes an
//! [`AckedFill`] (trade id → scheduled time, both accounts). Trade ids are unique in the
//! engine, and both the taker's and the maker's fill notices carry the trade id: each notice's
//! latency is its arrival minus the scheduled time of the taker order that made the trade, and
//! a trade whose notice never arrives on an account's stream is `missing` there. No clock is
//! shared with the server and no map is shared between threads during the run.

use std::collections::{BTreeMap, HashMap};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// How long the bench waits for notices still missing after the load (or the price move).
pub const NOTICE_WAIT: Duration = Duration::from_secs(10);

/// How often the waiting thread looks at what has arrived.
const POLL: Duration = Duration::from_millis(20);

/// One trade a taker order's ack reported, with the taker order's scheduled send time.
#[derive(Debug, Clone, Copy)]
pub struct AckedFill {
    pub trade_id: u64,
    pub maker_account: u64,
    pub taker_account: u64,
    pub scheduled: Instant,
}

/// The fields of an ack's event the bench looks at.
#[derive(serde::Deserialize)]
pub struct AckEvent<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: &'a str,
    pub order_id: Option<u64>,
    pub trade_id: Option<u64>,
    pub taker_order_id: Option<u64>,
    pub maker_account: Option<u64>,
    pub taker_account: Option<u64>,
}

/// The trades an order's ack reports for that order as taker: the fills that name the id of
/// the ack's first `order_accepted` (the command's own order; a stop or a liquidation it
/// triggers comes later in the step, and its fills name another taker order).
pub fn taker_fills(events: &[AckEvent], scheduled: Instant, out: &mut Vec<AckedFill>) {
    let Some(order) = events.iter().find(|e| e.kind == "order_accepted").and_then(|e| e.order_id) else {
        return;
    };
    for e in events.iter().filter(|e| e.kind == "fill" && e.taker_order_id == Some(order)) {
        if let (Some(trade_id), Some(maker_account), Some(taker_account)) =
            (e.trade_id, e.maker_account, e.taker_account)
        {
            out.push(AckedFill { trade_id, maker_account, taker_account, scheduled });
        }
    }
}

/// What one account's stream received, stamped on arrival.
#[derive(Debug, Default)]
pub struct Received {
    /// Fill notices by trade id.
    pub fills: HashMap<u64, Instant>,
    /// `liquidation_queued` / `liquidation_started` notices: (seq, arrival).
    pub liquidations: Vec<(u64, Instant)>,
    /// `deleveraged` notices naming this account as the one deleveraged: (seq, arrival).
    pub deleveraged: Vec<(u64, Instant)>,
    /// Why the stream ended early (the server closed it, a read failed).
    pub closed: Option<String>,
}

/// The `type`s of the notices the reader files, as they appear in a message's text.
const FILED: [&str; 4] = [
    r#""type":"fill""#,
    r#""type":"liquidation_queued""#,
    r#""type":"liquidation_started""#,
    r#""type":"deleveraged""#,
];

/// The fields of a stream message the bench looks at.
#[derive(serde::Deserialize)]
struct Notice<'a> {
    #[serde(borrow)]
    channel: Option<&'a str>,
    #[serde(rename = "type", borrow)]
    kind: Option<&'a str>,
    seq: Option<u64>,
    trade_id: Option<u64>,
    account: Option<u64>,
}

struct Stream {
    received: Arc<Mutex<Received>>,
    reader: JoinHandle<()>,
}

/// The account streams, by account id.
#[derive(Default)]
pub struct Streams {
    by_account: BTreeMap<u64, Stream>,
    stop: Arc<AtomicBool>,
}

fn lock(r: &Mutex<Received>) -> std::sync::MutexGuard<'_, Received> {
    r.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Streams {
    /// Logs in as `account` and subscribes to its channel; returns once the server confirmed
    /// the subscription, so no notice of what follows can be missed.
    ///
    /// # Errors
    /// The connection, the login or the subscription fails.
    pub fn open(&mut self, url: &str, account: u64, key: &str, secret: &str) -> Result<(), String> {
        let mut socket = super::ws::login(url, key, secret)?;
        let subscribe = json!({ "op": "subscribe", "channel": "account" }).to_string();
        socket.send(Message::Text(subscribe.into())).map_err(|e| format!("account {account}: subscribe: {e}"))?;
        socket.get_ref().set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
        super::ws::await_op(&mut socket, "subscribe").map_err(|e| format!("account {account}: subscription: {e}"))?;
        // Short, so the reader sees the stop flag soon after it is set.
        socket.get_ref().set_read_timeout(Some(Duration::from_millis(100))).map_err(|e| e.to_string())?;
        let received = Arc::new(Mutex::new(Received::default()));
        let (r, stop) = (Arc::clone(&received), Arc::clone(&self.stop));
        let reader = std::thread::spawn(move || read(socket, account, &r, &stop));
        self.by_account.insert(account, Stream { received, reader });
        Ok(())
    }

    /// Whether `account` has a stream.
    pub fn has(&self, account: u64) -> bool {
        self.by_account.contains_key(&account)
    }

    /// Runs `f` on what `account`'s stream has received so far.
    pub fn with<T>(&self, account: u64, f: impl FnOnce(&Received) -> T) -> Option<T> {
        self.by_account.get(&account).map(|s| f(&lock(&s.received)))
    }

    /// Waits until `done` holds or `timeout` passes (bounded: the caller then counts what is
    /// still missing).
    pub fn wait_until(&self, timeout: Duration, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(self) && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
    }

    /// The fill-notice latencies of `fills` (every trade the taker orders' acks reported): the
    /// taker's notice and the maker's, each from the taker order's scheduled send time. Waits at
    /// most [`NOTICE_WAIT`] for the notices not in yet.
    pub fn fill_notices(&self, fills: &[AckedFill]) -> (Value, Value) {
        let mut pending: Vec<(u64, u64)> = fills
            .iter()
            .flat_map(|f| [(f.taker_account, f.trade_id), (f.maker_account, f.trade_id)])
            .filter(|(a, _)| self.has(*a))
            .collect();
        // Checked account by account under one lock each; a stream the server closed will
        // deliver nothing more, so its notices stop being waited for (they count as missing).
        // Rechecking every pending notice under its own lock every poll took most of a core for
        // the whole wait once a stream had been cut off (`perf` on the bench, session 10).
        let mut by_account: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for (account, trade) in pending.drain(..) {
            by_account.entry(account).or_default().push(trade);
        }
        self.wait_until(NOTICE_WAIT, |s| {
            by_account.retain(|account, trades| {
                s.with(*account, |r| {
                    trades.retain(|t| !r.fills.contains_key(t));
                    !trades.is_empty() && r.closed.is_none()
                })
                .unwrap_or(false)
            });
            by_account.is_empty()
        });
        let mut taker = Latency::default();
        let mut maker = Latency::default();
        for f in fills {
            for (account, l) in [(f.taker_account, &mut taker), (f.maker_account, &mut maker)] {
                // A maker outside the bench (someone else's resting order) has no stream here.
                if !self.has(account) {
                    continue;
                }
                match self.with(account, |r| r.fills.get(&f.trade_id).copied()).flatten() {
                    Some(arrived) => l.record(arrived, f.scheduled),
                    None => l.missing += 1,
                }
            }
        }
        (taker.report(), maker.report())
    }

    /// Stops the readers and returns why streams ended early, if any did.
    pub fn close(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        let mut errors = Vec::new();
        for (account, s) in std::mem::take(&mut self.by_account) {
            if s.reader.join().is_err() {
                errors.push(format!("account {account}: the stream reader panicked"));
            }
            if let Some(why) = lock(&s.received).closed.take() {
                errors.push(format!("account {account}: {why}"));
            }
        }
        errors
    }
}

/// A run that ends early (an error) still stops the readers: none outlives the bench.
impl Drop for Streams {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One account's reader: stamps and files every notice until told to stop or the stream ends.
fn read(mut socket: WebSocket<TcpStream>, account: u64, received: &Mutex<Received>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let text = match socket.read() {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(frame)) => {
                lock(received).closed = Some(format!("closed by the server: {frame:?}"));
                return;
            }
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
            {
                continue;
            }
            Err(e) => {
                lock(received).closed = Some(format!("read failed: {e}"));
                return;
            }
        };
        let arrived = Instant::now();
        // Only fills, liquidations and ADL are filed: the other notices (order updates,
        // positions, balances — most of a busy stream) are not parsed at all, which keeps this
        // reader, on the same cores as the server, from falling behind its stream.
        if !FILED.iter().any(|kind| text.as_str().contains(kind)) {
            continue;
        }
        let Ok(n) = serde_json::from_str::<Notice>(&text) else { continue };
        if n.channel != Some("account") {
            continue;
        }
        let mut r = lock(received);
        match (n.kind.unwrap_or_default(), n.seq) {
            ("fill", _) => {
                if let Some(t) = n.trade_id {
                    r.fills.entry(t).or_insert(arrived);
                }
            }
            ("liquidation_queued" | "liquidation_started", Some(seq)) => r.liquidations.push((seq, arrived)),
            ("deleveraged", Some(seq)) if n.account == Some(account) => r.deleveraged.push((seq, arrived)),
            _ => {}
        }
    }
    drop(socket.close(None));
    drop(socket.flush());
}

/// A latency histogram (µs) and the notices that never came.
pub struct Latency {
    histogram: Histogram<u64>,
    pub missing: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Self { histogram: super::latency_histogram(), missing: 0 }
    }
}

impl Latency {
    /// A notice that arrived at `arrived` for something that started at `from`.
    pub fn record(&mut self, arrived: Instant, from: Instant) {
        super::record_latency(&mut self.histogram, arrived.saturating_duration_since(from));
    }

    /// The report: `count` received, `missing`, and the percentiles in µs (absent when nothing
    /// was received: there is nothing to measure, and a 0 would read as a measurement).
    pub fn report(&self) -> Value {
        let h = &self.histogram;
        let mut v = json!({ "count": h.len(), "missing": self.missing });
        if !h.is_empty() {
            for (name, value) in super::percentiles(h).as_object().into_iter().flatten() {
                v[format!("{name}_us")] = value.clone();
            }
        }
        v
    }
}
